"""Python mode over a real server (docs/compat.md, Python logging): with
logconfig, logconfig_dict, logconfig_json or logger_class set, the error
and access lines go through Python's logging as Gunicorn's do -- the
loggers gunicorn.error and gunicorn.access, the access atoms in
record.args -- so that JSON formatters and handlers written for Gunicorn
work unchanged."""

import json
import os
import signal
import subprocess
import threading

import pytest

from conftest import APPS, ROOT, TIMEOUT, Server, wait_for
from test_logging import get, hup

WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2")}

# A formatter as a config file would have it: each record one JSON object,
# the access atoms taken from record.args.
JSON_FORMATTER = '''
import json, logging

class Json(logging.Formatter):
    def format(self, record):
        out = {"logger": record.name, "level": record.levelname,
               "msg": record.getMessage(), "pid": record.process}
        if isinstance(record.args, dict):
            out["atoms"] = {k: record.args[k] for k in
                            ("h", "r", "s", "m", "U", "q", "B", "b", "D", "p",
                             "{user-agent}i", "{x-resp}o", "{path_info}e", "{nope}i")}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)
'''


def dict_config(path, formatter, prefix=""):
    """A logconfig_dict writing every record of both loggers to path."""
    return '''
logconfig_dict = {
    "version": 1,
    "formatters": {"f": %s},
    "handlers": {"file": {"class": "logging.FileHandler", "filename": %r,
                          "formatter": "f"}},
    "root": {"handlers": ["file"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["file"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["file"], "level": "INFO", "propagate": False},
    },
}
''' % (formatter, str(path))


@pytest.fixture
def pyserver(tmp_path):
    """A server whose readiness is read from `ready` (the file its Python
    handlers write), not from its --error-logfile."""
    started = []

    def start(*args, ready, app="logapp:app", workers=1, env=None):
        srv = Server(tmp_path, args, app, workers, env, APPS)
        srv.c_log = srv.log  # what C writes itself
        srv.log = ready
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


def records(path, n=None, pred=None):
    """The JSON records in path, once n of them match pred."""
    def there():
        if not path.exists():
            return None
        recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        hits = [r for r in recs if pred is None or pred(r)]
        return recs if n is None or len(hits) >= n else None
    return wait_for(there, what="records in %s" % path)


def lines(path, n, pred):
    def there():
        got = [x for x in path.read_text().splitlines() if pred(x)] if path.exists() else []
        return got if len(got) >= n else None
    return wait_for(there, what="lines in %s" % path)


def run_cli(*args, cwd=APPS):
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    return subprocess.run([str(ROOT / "cunicorn")] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)


# ---- logconfig_dict and a JSON formatter ------------------------------------

@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_dict_json_lines(pyserver, tmp_path, worker):
    """The done-when of the issue: JSON access and error lines."""
    out = tmp_path / "out.json"
    conf = tmp_path / "conf.py"
    conf.write_text(JSON_FORMATTER + dict_config(out, '{"()": Json}'))
    srv = pyserver("-c", str(conf), *WORKERS[worker], ready=out)
    r, _ = get(srv, "/p?q=1", [("Host", "x"), ("User-Agent", 'ua "1"')])
    assert r.status == 200
    r, _ = get(srv, "/err", [("Host", "x")])
    assert r.status == 500
    recs = records(out, 2, lambda x: x["logger"] == "gunicorn.access")
    errors = [x for x in recs if x["logger"] == "gunicorn.error"]
    msgs = [x["msg"] for x in errors]
    assert msgs[0].startswith("Starting cunicorn ")
    assert any(m.startswith("Listening at: http://127.0.0.1:%d (" % srv.port) for m in msgs)
    booting = [x for x in errors if x["msg"].startswith("Booting worker with pid: ")]
    assert booting and booting[0]["msg"].endswith(str(booting[0]["pid"]))
    assert all(x["level"] == "INFO" for x in errors if x["msg"].startswith(("Starting",
                                                                         "Booting")))
    # the app's exception, with exc_info: the formatter has the traceback
    failed = [x for x in errors if x["msg"] == "Error handling request GET /err"]
    assert len(failed) == 1 and failed[0]["level"] == "ERROR", errors
    assert "RuntimeError: boom in the app" in failed[0]["exc"]
    assert 'raise RuntimeError("boom in the app")' in failed[0]["exc"]
    access = sorted((x for x in recs if x["logger"] == "gunicorn.access"),
                    key=lambda x: x["atoms"]["U"])
    err, ok = access
    a = ok["atoms"]
    assert (a["h"], a["r"], a["s"], a["m"], a["U"], a["q"]) == (
        "127.0.0.1", "GET /p?q=1 HTTP/1.1", "200", "GET", "/p", "q=1")
    assert a["B"] == 5 and a["b"] == "5" and isinstance(a["D"], int)
    assert a["p"] == "<%d>" % booting[0]["pid"]
    # SafeAtoms: '"' escaped in text values, headers by lower-case name,
    # the environ by its key, "-" for what is not there
    assert a["{user-agent}i"] == 'ua \\"1\\"' and a["{x-resp}o"] == "second"
    assert a["{path_info}e"] == "/p" and a["{nope}i"] == "-"
    # the message is access_log_format filled with the atoms, as Gunicorn's
    assert ok["msg"].startswith('127.0.0.1 - - [') and ok["msg"].endswith(
        '] "GET /p?q=1 HTTP/1.1" 200 5 "-" "ua \\"1\\""')
    assert err["atoms"]["s"] == "500" and err["atoms"]["{x-resp}o"] == "-"


def test_python_json_logger(pyserver, tmp_path):
    """Debian's python3-pythonjsonlogger, as Gunicorn users configure it."""
    pytest.importorskip("pythonjsonlogger")
    out = tmp_path / "out.json"
    conf = tmp_path / "conf.py"
    conf.write_text(dict_config(out, '{"()": "pythonjsonlogger.jsonlogger.JsonFormatter", '
                                     '"fmt": "%(name)s %(levelname)s %(message)s"}'))
    srv = pyserver("-c", str(conf), "--access-logformat", "%(m)s %(U)s %(s)s", ready=out)
    get(srv, "/x", [("Host", "x")])
    recs = records(out, 1, lambda x: x["name"] == "gunicorn.access")
    assert {"name": "gunicorn.access", "levelname": "INFO", "message": "GET /x 200"} in recs
    assert any(x["message"].startswith("Booting worker") for x in recs)


def test_level_and_c_lines(pyserver, tmp_path):
    """gunicorn.error's level decides: debug lines when the dict says so;
    and nothing of Python mode reaches the C error log file."""
    out = tmp_path / "out.log"
    conf = tmp_path / "conf.py"
    conf.write_text(dict_config(out, '{"format": "%(levelname)s|%(message)s"}')
                    .replace('"level": "INFO", "propagate"', '"level": "DEBUG", "propagate"', 1))
    srv = pyserver("-c", str(conf), ready=out)
    get(srv, "/x", [("Host", "x")])
    lines(out, 1, lambda x: x == "DEBUG|GET /x")  # Gunicorn's default pre_request
    assert srv.c_log.read_text() == ""


def test_a_hooks_log_exception_is_one_record(pyserver, tmp_path):
    """server.log.exception() in a hook: its traceback goes with its line to
    the handlers, not to the C error log (before: the first line went to
    Python, the traceback to the errorlog file)."""
    out = tmp_path / "out.log"
    conf = tmp_path / "conf.py"
    conf.write_text(JSON_FORMATTER + dict_config(out, '{"()": Json}') + '''
def when_ready(server):
    try:
        raise ValueError("boom in when_ready")
    except ValueError:
        server.log.exception("caught in the hook")
''')
    srv = pyserver("-c", str(conf), ready=out)
    recs = records(out, 1, lambda x: x["msg"].startswith("caught in the hook"))
    hit = [x for x in recs if x["msg"].startswith("caught in the hook")][0]
    assert hit["level"] == "ERROR" and "ValueError: boom in when_ready" in hit["msg"], hit
    get(srv, "/x", [("Host", "x")])
    assert "boom in when_ready" not in srv.c_log.read_text()


# ---- the other settings ----------------------------------------------------------

def test_logconfig_ini(pyserver, tmp_path):
    """logconfig: fileConfig, %(here)s known, to a file."""
    ini = tmp_path / "log.ini"
    ini.write_text("""[loggers]
keys = root, error, access

[handlers]
keys = file

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = file

[logger_error]
level = INFO
handlers = file
propagate = 0
qualname = gunicorn.error

[logger_access]
level = INFO
handlers = file
propagate = 0
qualname = gunicorn.access

[handler_file]
class = FileHandler
formatter = plain
args = ('%(here)s/ini.log', 'a')

[formatter_plain]
format = %(name)s|%(levelname)s|%(message)s
""")
    out = tmp_path / "ini.log"
    srv = pyserver("--log-config", str(ini), "--access-logformat", "%(r)s %(s)s", ready=out)
    get(srv, "/a", [("Host", "x")])
    assert lines(out, 1, lambda x: x.startswith("gunicorn.access|")) == [
        "gunicorn.access|INFO|GET /a HTTP/1.1 200"]
    assert any(x.startswith("gunicorn.error|INFO|Booting worker with pid: ")
               for x in out.read_text().splitlines())


def test_logconfig_json(pyserver, tmp_path):
    """logconfig_json: the dict from a JSON file."""
    out = tmp_path / "j.log"
    cfg = {"version": 1,
           "formatters": {"f": {"format": "J %(name)s %(message)s"}},
           "handlers": {"file": {"class": "logging.FileHandler", "filename": str(out),
                                 "formatter": "f"}},
           "root": {"handlers": ["file"], "level": "WARNING"},
           "loggers": {"gunicorn.error": {"handlers": ["file"], "propagate": False},
                       "gunicorn.access": {"handlers": ["file"], "propagate": False,
                                           "level": "INFO"}}}
    path = tmp_path / "log.json"
    path.write_text(json.dumps(cfg))
    srv = pyserver("--log-config-json", str(path), "--access-logformat", "%(U)s", ready=out)
    get(srv, "/j", [("Host", "x")])
    assert lines(out, 1, lambda x: x.startswith("J gunicorn.access")) == [
        "J gunicorn.access /j"]


LOGGER_CLASS = '''
from cunicorn.glogging import Logger

class Rewriting(Logger):
    def access(self, resp, req, environ, request_time):
        self.access_log.info("ACCESS %s %s %s %s", resp.status, req.method, req.path,
                             environ["REMOTE_ADDR"])

logger_class = Rewriting
'''


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_logger_class_rewrites_access(server, tmp_path, worker):
    """logger_class: a subclass of the Logger API, driven as Gunicorn
    drives it: access(resp, req, environ, request_time)."""
    conf = tmp_path / "conf.py"
    conf.write_text(LOGGER_CLASS)
    log = tmp_path / "access.log"
    srv = server("-c", str(conf), "--access-logfile", str(log), *WORKERS[worker],
                 app="logapp:app")
    get(srv, "/r", [("Host", "x")])
    assert lines(log, 1, lambda x: "ACCESS" in x) == ["ACCESS 200 OK GET /r 127.0.0.1"]
    # the error log: the default handler, Gunicorn's line format
    assert "] [INFO] Booting worker with pid: " in srv.text()


def test_logger_class_of_gunicorn(server, tmp_path):
    """A subclass of the real Gunicorn's Logger (Debian's 20.1) works too:
    its own atoms() over the objects cunicorn gives it."""
    pytest.importorskip("gunicorn.glogging")
    conf = tmp_path / "conf.py"
    conf.write_text("from gunicorn.glogging import Logger\n"
                    "class Mine(Logger):\n    pass\nlogger_class = Mine\n")
    log = tmp_path / "access.log"
    srv = server("-c", str(conf), "--access-logfile", str(log), "--access-logformat",
                 "%(h)s %(r)s %(s)s %(b)s %(a)s %({x-resp}o)s %({host}i)s", app="logapp:app")
    get(srv, "/g?z=1", [("Host", "hh"), ("User-Agent", "ua")])
    assert lines(log, 1, lambda x: "GET" in x) == [
        "127.0.0.1 GET /g?z=1 HTTP/1.1 200 5 ua second hh"]


REFUSED_LOGGER = """
from gunicorn.glogging import Logger

class Mine(Logger):
    def access(self, resp, req, environ, request_time):
        super().access(resp, req, environ, request_time)
        self.access_log.info("ACCESS %s %s %s %s %s", resp.status, req.method, req.path,
                             environ["REMOTE_ADDR"], req.headers)

logger_class = Mine
"""


def test_logger_class_gets_a_refused_request(server, tmp_path):
    """A request refused with Gunicorn's request attached (bad framing)
    reaches the logger as Gunicorn's handle_error() gives it: its status
    line, its method, path and headers, an environ with its request line's
    parts and no PATH_INFO."""
    conf = tmp_path / "conf.py"
    conf.write_text(REFUSED_LOGGER)
    log = tmp_path / "access.log"
    srv = server("-c", str(conf), "--access-logfile", str(log), "--access-logformat",
                 "%(h)s %(r)s %(s)s %(b)s %(U)s %({x-tag}i)s %({raw_uri}e)s", app="logapp:app")
    raw = srv.raw(b"POST /c?q HTTP/1.1\r\nHost: t\r\nX-Tag: t\r\nContent-Length: 1\r\n"
                  b"Content-Length: 2\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert lines(log, 2, lambda x: "POST" in x) == [
        "127.0.0.1 POST /c?q HTTP/1.1 400 0 None t /c?q",
        "ACCESS 400 Bad Request POST /c 127.0.0.1 [('HOST', 't'), ('X-TAG', 't'), "
        "('CONTENT-LENGTH', '1'), ('CONTENT-LENGTH', '2')]"]


# What a machine without Gunicorn looks like to an import (this one has
# Debian's): a sitecustomize on PYTHONPATH that refuses the package.
NO_GUNICORN = """
import sys

class NoGunicorn:
    def find_spec(self, name, path=None, target=None):
        if name == "gunicorn" or name.startswith("gunicorn."):
            raise ImportError("Gunicorn is not installed")
        return None

sys.meta_path.insert(0, NoGunicorn())
"""

MINE = """
from gunicorn.glogging import Logger

class Mine(Logger):
    def access(self, resp, req, environ, request_time):
        self.access_log.info("MINE %s %s %s", req.path, resp.status_code,
                             type(self).__mro__[1].__module__)
"""


@pytest.mark.parametrize("where", ["config file", "module"])
def test_gunicorn_glogging_without_gunicorn(pyserver, tmp_path, where):
    """Without Gunicorn, `from gunicorn.glogging import Logger` gets
    cunicorn's Logger API: in the config file, and in a module that
    logger_class names."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_GUNICORN)
    (site / "mylog.py").write_text(MINE)
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("GUNICORN_CMD_ARGS", None)
    assert subprocess.run(["/usr/bin/python3", "-c", "import gunicorn"], env=env,
                          capture_output=True).returncode == 1
    out = tmp_path / "out.log"
    conf = tmp_path / "conf.py"
    conf.write_text(dict_config(out, '{"format": "%(message)s"}') +
                    (MINE + "logger_class = Mine\n" if where == "config file"
                     else "logger_class = 'mylog.Mine'\n"))
    srv = pyserver("-c", str(conf), ready=out, env=env)
    get(srv, "/m", [("Host", "x")])
    assert lines(out, 1, lambda x: x.startswith("MINE")) == ["MINE /m 200 cunicorn.glogging"]


BROKEN = """
from cunicorn.glogging import Logger

class Broken(Logger):
    def info(self, msg, *args, **kwargs):
        raise ValueError("broken info")

    def access(self, resp, req, environ, request_time):
        raise ValueError("broken access")

logger_class = Broken
"""

BROKEN_HANDLER = """
import logging

class Broken(logging.Handler):
    def emit(self, record):
        try:
            raise ValueError("broken emit")
        except ValueError:
            self.handleError(record)

logconfig_dict = {"version": 1, "handlers": {"b": {"()": Broken}}, "root": {"handlers": []},
                  "loggers": {"gunicorn.access": {"handlers": ["b"], "propagate": False}}}
"""


@pytest.mark.parametrize("worker", sorted(WORKERS))
@pytest.mark.parametrize("conf,why", [(BROKEN, "ValueError: broken access"),
                                      (BROKEN_HANDLER, "ValueError: broken emit")],
                         ids=["logger", "handler"])
def test_a_failing_logger_kills_nothing(server, tmp_path, worker, conf, why):
    """A logger (or a handler) that raises: printed, the C line written
    instead (the error log), and the worker goes on serving."""
    path = tmp_path / "conf.py"
    path.write_text(conf)
    srv = server("-c", str(path), *WORKERS[worker], app="logapp:app")
    pids = srv.worker_pids()
    for _ in range(3):
        assert get(srv, "/x", [("Host", "x")])[0].status == 200
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=TIMEOUT)
    err = srv.proc.stderr.read().decode(errors="replace")
    assert err.count(why) == 3, err
    assert srv.worker_pids() == pids and "Worker exiting (pid: %d)" % pids[0] in srv.text()


# ---- errors stop the start ------------------------------------------------------

@pytest.mark.parametrize("args,conf,error", [
    (["--log-config", "nope.ini"], "", "logconfig: log config 'nope.ini' not found"),
    ([], "logconfig = 'nope.ini'", "logconfig: log config 'nope.ini' not found"),
    (["--log-config-json", "nope.json"], "",
     "logconfig_json: [Errno 2] No such file or directory: 'nope.json'"),
    (["--logger-class", "nomodule.Logger"], "",
     "logger_class: No module named 'nomodule'"),
    ([], "logger_class = 'json.Nope'", "logger_class: module 'json' has no class 'Nope'"),
    ([], "logconfig_dict = {'version': 1, 'handlers': {'h': {'class': 'nope.Handler'}}}",
     "logconfig_dict: Unable to configure handler 'h'"),
    ([], "logconfig_dict = {'version': 7}",
     "logconfig_dict: Unsupported version: 7"),
])
def test_bad_config_stops(tmp_path, args, conf, error):
    """--check-config names the setting, in one line, and exits 1."""
    path = tmp_path / "c.py"
    path.write_text(conf + "\n")
    r = run_cli("-c", str(path), *args, "--check-config", "echo:app")
    assert r.returncode == 1 and r.stderr.splitlines() == ["Error: " + error], r.stderr


def test_bad_json_file(tmp_path):
    path = tmp_path / "log.json"
    path.write_text("{not json")
    r = run_cli("--log-config-json", str(path), "--check-config", "echo:app")
    assert r.returncode == 1 and r.stderr.startswith("Error: logconfig_json: Expecting "), \
        r.stderr


def test_a_start_stops_too(tmp_path):
    """Not only --check-config: a real start with a bad one exits 1."""
    r = run_cli("-b", "127.0.0.1:0", "--log-config", str(tmp_path / "no.ini"), "echo:app")
    assert r.returncode == 1 and "Error: logconfig: log config '%s' not found" % (
        tmp_path / "no.ini") in r.stderr


# ---- signals --------------------------------------------------------------------------

def file_server(pyserver, tmp_path, fmt):
    """A server logging both loggers to out.log in fmt, access lines %(U)s;
    its config file, the file and the server."""
    out = tmp_path / "out.log"
    conf = tmp_path / "conf.py"
    conf.write_text(dict_config(out, '{"format": "%s"}' % fmt))
    return conf, out, pyserver("-c", str(conf), "--access-logformat", "%(U)s", ready=out)


def test_usr1_reopens_file_handlers(pyserver, tmp_path):
    """USR1: every FileHandler opens its file again (logrotate), in the
    master and the workers."""
    _, out, srv = file_server(pyserver, tmp_path, "%(name)s %(message)s")
    get(srv, "/before", [("Host", "x")])
    lines(out, 1, lambda x: x == "gunicorn.access /before")
    out.rename(tmp_path / "out.log.1")
    srv.proc.send_signal(signal.SIGUSR1)

    def reopened():
        get(srv, "/after", [("Host", "x")])
        return out.exists() and "gunicorn.access /after" in out.read_text()
    wait_for(reopened, what="the new file")
    assert "gunicorn.access /before" in (tmp_path / "out.log.1").read_text()
    srv.stop()  # the master reopened its own too
    assert "gunicorn.error Shutting down: Master" in out.read_text().splitlines()


def test_hup_applies_a_new_dict(pyserver, tmp_path):
    """HUP: the logger set up again with the new logconfig_dict; the new
    workers log with it."""
    conf, out, srv = file_server(pyserver, tmp_path, "A|%(message)s")
    get(srv, "/one", [("Host", "x")])
    lines(out, 1, lambda x: x == "A|/one")
    conf.write_text(dict_config(out, '{"format": "B|%(message)s"}'))
    srv.proc.send_signal(signal.SIGHUP)

    def applied():
        get(srv, "/two", [("Host", "x")])
        return "B|/two" in out.read_text().splitlines()
    wait_for(applied, what="the new format")
    assert "B|Hang up: Master" not in out.read_text()  # written before the reload
    assert any(x.startswith("B|Booting worker") for x in out.read_text().splitlines())


def test_hup_with_a_bad_dict_keeps_the_old(pyserver, tmp_path):
    conf, out, srv = file_server(pyserver, tmp_path, "A|%(message)s")
    conf.write_text("logconfig_dict = {'version': 1, 'handlers': {'h': {'class': 'no.No'}}}\n")
    srv.proc.send_signal(signal.SIGHUP)
    lines(out, 1, lambda x: x == "A|reloading the logger configuration failed, keeping "
                            "the previous one: logconfig_dict: Unable to configure handler 'h'")
    get(srv, "/still", [("Host", "x")])
    lines(out, 1, lambda x: x == "A|/still")


# Two reports at once: the first one's hook waits until a second one has
# begun, and the second one's (when sys.stderr is being captured) until
# the first one has put sys.stderr back. A report that captured sys.stderr
# in a StringIO and put back what it found would leave sys.stderr a
# StringIO nobody reads: the second report and every later one lost.
RACING_HOOK = """
import io, sys, threading, time
from cunicorn.glogging import Logger

class Broken(Logger):
    def access(self, resp, req, environ, request_time):
        raise ValueError("broken access")

logger_class = Broken
_lock, _second = threading.Lock(), threading.Event()
_n = [0]

def _hook(u):
    sys.stderr.write("REPORT %s\\n" % u.exc_value)
    sys.stderr.flush()
    with _lock:
        _n[0] += 1
        n = _n[0]
    if n == 1:
        _second.wait(30)
    elif n == 2:
        mine = sys.stderr
        _second.set()
        for _ in range(3000):  # the first report's end, not a timing
            if not isinstance(mine, io.StringIO) or sys.stderr is not mine:
                break
            time.sleep(0.01)

sys.unraisablehook = _hook
"""


def test_reports_from_two_threads_at_once_lose_nothing(server, tmp_path):
    """gthread: two pool threads whose logger fails at the same moment
    each get their report out, and so does every later one."""
    path = tmp_path / "conf.py"
    path.write_text(RACING_HOOK)
    srv = server("-c", str(path), *WORKERS["gthread"], app="logapp:app")
    statuses = []
    pair = [threading.Thread(target=lambda: statuses.append(
        get(srv, "/x", [("Host", "x")])[0].status)) for _ in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join(TIMEOUT)
    assert statuses == [200, 200]
    assert get(srv, "/x", [("Host", "x")])[0].status == 200
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=TIMEOUT)
    err = srv.proc.stderr.read().decode(errors="replace")
    assert err.count("REPORT broken access") == 3, err


def open_on(pid, path):
    """The fds of process pid open on path."""
    fds = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == str(path):
                fds.append(int(fd))
        except OSError:
            pass  # closed meanwhile
    return fds


def test_hup_leaving_python_mode_closes_its_files(server, tmp_path):
    """A HUP that drops logger_class goes back to the C lines, and the
    handlers the Python logger had opened go with it: neither the master
    nor the new worker keeps the old access log open (logrotate could
    never have it go)."""
    conf = tmp_path / "c.py"
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    conf.write_text("from cunicorn.glogging import Logger\n"
                    "class Mine(Logger):\n    pass\n"
                    "logger_class = Mine\naccesslog = %r\n" % str(one))
    srv = server("-c", str(conf))
    get(srv, "/before", [("Host", "x")])
    wait_for(lambda: one.exists() and "/before" in one.read_text(), what="the access line")
    assert open_on(srv.proc.pid, one)
    worker = hup(srv, conf, "accesslog = %r\n" % str(two))
    get(srv, "/after", [("Host", "x")])
    wait_for(lambda: two.exists() and "/after" in two.read_text(), what="the C access line")
    assert "/after" not in one.read_text()
    assert open_on(srv.proc.pid, one) == [] and open_on(worker, one) == []
