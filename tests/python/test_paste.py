"""paste (--paste FILE.ini[#SECTION]) and raw_paste_global_conf on a real
server (docs/compat.md, PasteDeploy): a Pyramid app whose factory is named
by apps/pyramidapp.ini, from the command line, GUNICORN_CMD_ARGS and a
config file; the section chosen; global_conf as the factory gets it; the
file's [loggers] for Python's logging; and every way it can go wrong, with
Gunicorn's status and words. Needs Debian's python3-pastedeploy and
python3-pyramid."""

import http.client
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import APPS, ROOT, TIMEOUT, wait_for

pytest.importorskip("paste.deploy")
pytest.importorskip("pyramid")

INI = APPS / "pyramidapp.ini"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env.update(extra)
    return env


class Run:
    """./cunicorn on 127.0.0.1, its error log and stderr in files (the
    app's logging writes to stderr), started from `cwd`."""

    def __init__(self, tmp, args, cwd=APPS, env=None, workers=1):
        self.log, self.err = tmp / "error.log", tmp / "stderr.txt"
        self.workers = workers
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [str(ROOT / "cunicorn"), "-b", "127.0.0.1:0", "--error-logfile",
                 str(self.log)] + list(args), cwd=cwd, stdout=subprocess.DEVNULL,
                stderr=err, env=env or clean_env())
        self.port = None

    def text(self):
        return self.log.read_text() if self.log.exists() else ""

    def stderr(self):
        return self.err.read_text()

    def start(self):
        def ready():
            assert self.proc.poll() is None, (self.proc.returncode, self.text(), self.stderr())
            t = self.text()
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", t)
            return m and t.count("Booting worker") >= self.workers and int(m.group(1))
        self.port = wait_for(ready, what="the server")
        return self

    def finish(self):
        """Waits for a start that fails: its status."""
        return self.proc.wait(timeout=TIMEOUT)

    def get(self, path="/"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def conf(self):
        status, body = self.get("/conf")
        assert status == 200, body
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def run(tmp_path):
    started = []

    def go(*args, **kw):
        d = tmp_path / ("run%d" % len(started))
        d.mkdir()
        r = Run(d, args, **kw)
        started.append(r)
        return r

    yield go
    for r in started:
        r.stop()


def cli(*args, cwd=APPS, env=None):
    return subprocess.run([str(ROOT / "cunicorn")] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env=env or clean_env())


# ---- serving ---------------------------------------------------------------

@pytest.mark.parametrize("worker", [[], ["--preload"], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "preload", "gthread"])
def test_paste_serves_the_pyramid_app(run, worker):
    srv = run("--paste", "pyramidapp.ini", *worker).start()
    status, body = srv.get("/")
    assert (status, body) == (200, b"hello from main\n")
    got = srv.conf()
    # the main section's settings, %(db_name)s from [DEFAULT]; PasteDeploy's
    # own globals name the file
    assert got["settings"]["section"] == "main"
    assert got["settings"]["database"] == "default_db"
    assert got["global"] == {"here": str(APPS), "__file__": str(INI),
                             "db_name": "default_db"}


def test_paster_and_a_section(run):
    srv = run("--paster", "pyramidapp.ini#admin").start()
    assert srv.get("/") == (200, b"hello from admin\n")
    assert srv.conf()["settings"] == {"section": "admin", "greeting": "hello from admin"}


def test_paste_global_conf_reaches_the_factory(run):
    srv = run("--paste", "pyramidapp.ini", "--paste-global", "colour=blue",
              "--paste-global", r"a\=b=c\=d=e", "--paste-global", "db_name=from_cli").start()
    got = srv.conf()
    # split at the first '=' without a backslash before it, the escapes undone
    assert got["global"]["colour"] == "blue"
    assert got["global"]["a=b"] == "c=d=e"
    # PasteDeploy's rule: global_conf goes to the factory, but the file's
    # own [DEFAULT] still fills %(db_name)s
    assert got["global"]["db_name"] == "from_cli"
    assert got["settings"]["database"] == "default_db"


def test_paste_in_a_config_file(run, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("paste = 'pyramidapp.ini#admin'\n"
                    "raw_paste_global_conf = ['colour=green', 'size=9']\n")
    srv = run("-c", str(conf)).start()
    got = srv.conf()
    assert got["settings"]["section"] == "admin"
    assert (got["global"]["colour"], got["global"]["size"]) == ("green", "9")


def test_paste_in_gunicorn_cmd_args(run):
    env = clean_env(GUNICORN_CMD_ARGS="--paste pyramidapp.ini#admin --paste-global colour=red")
    srv = run(env=env).start()
    got = srv.conf()
    assert got["settings"]["section"] == "admin" and got["global"]["colour"] == "red"


def test_the_command_line_wins_over_the_config_file(run, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("paste = 'pyramidapp.ini#admin'\nraw_paste_global_conf = ['colour=green']\n")
    srv = run("-c", str(conf), "--paste", "pyramidapp.ini",
              "--paste-global", "colour=blue").start()
    got = srv.conf()
    assert got["settings"]["section"] == "main" and got["global"]["colour"] == "blue"


@pytest.mark.parametrize("how", ["positional", "wsgi_app"])
def test_paste_takes_the_place_of_an_app_module(run, tmp_path, how):
    conf = tmp_path / "conf.py"
    conf.write_text("wsgi_app = 'echo:app'\n" if how == "wsgi_app" else "\n")
    args = ["-c", str(conf), "--paste", "pyramidapp.ini#admin"]
    srv = run(*args, *(["echo:app"] if how == "positional" else [])).start()
    assert srv.get("/") == (200, b"hello from admin\n")
    assert ("paste is set: the application comes from %s#admin, not from the "
            "APP_MODULE echo:app" % INI) in srv.stderr()


def test_chdir_and_a_relative_file(run, tmp_path):
    # the module is found through --chdir; a relative FILE is taken from
    # the directory the server starts in, before --chdir, as in Gunicorn
    srv = run("--chdir", str(APPS), "--paste", str(INI), cwd=tmp_path).start()
    assert srv.get("/") == (200, b"hello from main\n")
    r = cli("--chdir", str(APPS), "--paste", "pyramidapp.ini", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "Error: '%s' not found" % (tmp_path / "pyramidapp.ini")


def test_the_file_names_the_processes(run):
    srv = run("--paste", "pyramidapp.ini#admin").start()
    with open("/proc/%d/cmdline" % srv.proc.pid, "rb") as f:
        title = f.read().split(b"\0")[0].decode()
    assert title == "cunicorn: master [%s]" % INI


def test_a_hup_loads_the_file_again(run, tmp_path):
    # a relative FILE is still the start directory's after --chdir (Ours:
    # Gunicorn looks for it in the --chdir directory on HUP)
    ini = tmp_path / "site.ini"
    text = INI.read_text()
    ini.write_text(text)
    srv = run("--chdir", str(APPS), "--paste", "site.ini", cwd=tmp_path).start()
    assert srv.get("/") == (200, b"hello from main\n")
    # the app and the file's logging set-up are both read again
    ini.write_text(text.replace("hello from main", "hello again")
                   .replace("format = PYRAMIDAPP ", "format = RELOADED "))
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.text().count("Booting worker") >= 2, what="the new worker")
    wait_for(lambda: srv.get("/") == (200, b"hello again\n"), what="the new app")
    # (the old worker may still take a request before it stops)
    wait_for(lambda: srv.get("/log")[0] == 200 and
             "RELOADED INFO [pyramidapp] pyramidapp was asked to log" in srv.stderr(),
             what="the new format")


def test_a_hup_when_the_file_is_gone_keeps_the_workers(run, tmp_path):
    ini = tmp_path / "site.ini"
    ini.write_text(INI.read_text())
    srv = run("--chdir", str(APPS), "--paste", str(ini)).start()
    worker = srv.conf()["pid"]
    ini.unlink()
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reloading the configuration failed" in srv.text(), what="the failed reload")
    assert "Error: '%s' not found" % ini in srv.text()
    assert srv.conf()["pid"] == worker and srv.proc.poll() is None


def test_a_hup_with_a_broken_logging_setup_goes_on(run, tmp_path):
    ini = tmp_path / "site.ini"
    text = INI.read_text()
    ini.write_text(text)
    srv = run("--chdir", str(APPS), "--paste", str(ini)).start()
    ini.write_text(text.replace("hello from main", "hello again")
                   .replace("[formatters]\nkeys = generic\n", ""))
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.get("/") == (200, b"hello again\n"), what="the new app")
    assert "Error: the logging configuration of %s" % ini in srv.text()
    assert "KeyError: 'formatters'" in srv.text()


# ---- what Gunicorn does not read ------------------------------------------

def test_print_config_and_the_server_section(tmp_path):
    # [server:main] asks for port 6543 and 3 workers; with --paste neither
    # Gunicorn nor cunicorn reads it. --print-config also loads the app.
    r = cli("--paste", "pyramidapp.ini#admin", "--paste-global", "k=v", "--print-config")
    assert r.returncode == 0, r.stderr
    values = dict(re.findall(r"^(\w+)\s+= (.*)$", r.stdout, re.M))
    assert values["paste"] == "pyramidapp.ini#admin"
    assert values["raw_paste_global_conf"] == "['k=v']"
    assert values["default_proc_name"] == str(INI)
    assert values["workers"] == "1" and values["bind"] == "['127.0.0.1:8000']"


@pytest.mark.parametrize("where", ["cli", "file", "file names another"])
def test_the_file_is_the_default_proc_name(tmp_path, where):
    conf = tmp_path / "conf.py"
    conf.write_text(("paste = 'pyramidapp.ini'\n" if where != "cli" else "") +
                    ("default_proc_name = 'mine'\n" if where == "file names another" else ""))
    r = cli("-c", str(conf), *(["--paste", "pyramidapp.ini"] if where == "cli" else []),
            "--print-config")
    assert r.returncode == 0, r.stderr
    want = "mine" if where == "file names another" else str(INI)
    assert re.search(r"^default_proc_name\s+= %s$" % re.escape(want), r.stdout, re.M)


def test_check_config_loads_the_app(tmp_path):
    r = cli("--paste", "pyramidapp.ini", "--check-config")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    # the file's logging set-up is the running master's, as in Gunicorn:
    # the factory's INFO line goes nowhere here
    assert "PYRAMIDAPP" not in r.stderr


# ---- logging -------------------------------------------------------------

def test_the_files_loggers_configure_pythons_logging(run):
    srv = run("--paste", "pyramidapp.ini").start()
    assert srv.get("/log")[0] == 200
    wait_for(lambda: "PYRAMIDAPP INFO [pyramidapp] pyramidapp was asked to log" in srv.stderr(),
             what="the app's log line")
    # the factory logged as it was loaded, through the same set-up
    assert "PYRAMIDAPP INFO [pyramidapp] pyramidapp factory: section main" in srv.stderr()
    # cunicorn's own lines stay in its error log, in its format
    assert "PYRAMIDAPP" not in srv.text() and "Booting worker" in srv.text()


def test_a_file_without_loggers_leaves_logging_alone(run, tmp_path):
    ini = tmp_path / "nolog.ini"
    ini.write_text(INI.read_text().split("[loggers]")[0])
    srv = run("--chdir", str(APPS), "--paste", str(ini)).start()
    assert srv.get("/log")[0] == 200
    srv.stop()
    assert "pyramidapp was asked to log" not in srv.stderr()  # INFO: below lastResort's


def test_a_gunicorn_logger_in_the_file_is_named(run, tmp_path):
    ini = tmp_path / "glog.ini"
    ini.write_text(INI.read_text()
                   .replace("keys = root, pyramidapp", "keys = root, pyramidapp, gerror")
                   + "\n[logger_gerror]\nlevel = INFO\nhandlers = console\n"
                     "qualname = gunicorn.error\n")
    srv = run("--chdir", str(APPS), "--paste", str(ini)).start()
    assert ("%s configures the logger gunicorn.error, which cunicorn's own log "
            "lines do not go through" % ini) in srv.text()


def test_a_broken_logging_setup_stops_the_start(run, tmp_path):
    ini = tmp_path / "badlog.ini"
    ini.write_text(INI.read_text().replace("[formatters]\nkeys = generic\n", ""))
    srv = run("--chdir", str(APPS), "--paste", str(ini))
    assert srv.finish() == 1
    assert "Error: the logging configuration of %s" % ini in srv.text()
    assert "KeyError: 'formatters'" in srv.text()
    assert "Listening at" not in srv.text()


# ---- errors ----------------------------------------------------------------

@pytest.mark.parametrize("check", [[], ["--check-config"]], ids=["start", "check"])
def test_a_missing_file(check):
    r = cli("--paste", "nosuch.ini#main", *check)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "Error: '%s' not found" % (APPS / "nosuch.ini")


def test_a_missing_file_named_in_a_config_file(tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("paste = 'gone.ini'\n")
    r = cli("-c", str(conf), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "Error: '%s' not found" % (tmp_path / "gone.ini")


@pytest.mark.parametrize("value", ["", "pyramidapp", "pyramidapp#main"])
def test_a_directory(tmp_path, value):
    # an empty value is the start directory itself
    r = cli("--paste", value)
    assert r.returncode == 1
    path = APPS / value.partition("#")[0] if value else APPS
    assert r.stderr.splitlines()[-1] == (
        "Error: '%s' is a directory, not a PasteDeploy file" % path)


def test_a_file_that_is_no_ini_file(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("not an ini file\n[app:main]\nuse = call:pyramidapp:main\n")
    r = cli("--paste", str(bad))
    assert r.returncode == 1
    assert "Error: File contains no section headers." in r.stderr
    assert "Listening at" not in r.stderr


# PasteDeploy made impossible to import, as where it is not installed
# (Debian's namespace-package .pth files import `paste` at start-up, so
# a stub package in front of it would not hide it)
HIDE_PASTEDEPLOY = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "paste.deploy" or name.startswith("paste.deploy."):
            raise ModuleNotFoundError("No module named %r" % name, name=name)
sys.meta_path.insert(0, Hide())
"""


@pytest.mark.parametrize("check", [[], ["--check-config"]], ids=["start", "check"])
def test_pastedeploy_not_installed(run, tmp_path, check):
    (tmp_path / "sitecustomize.py").write_text(HIDE_PASTEDEPLOY)
    srv = run("--paste", "pyramidapp.ini", *check, env=clean_env(PYTHONPATH=str(tmp_path)))
    assert srv.finish() == 1
    assert srv.stderr().splitlines()[-1] == "Error: No module named 'paste.deploy'"
    assert "Listening at" not in srv.text()


@pytest.mark.parametrize("section,status,words", [
    ("nosuch", 3, "LookupError: No section 'nosuch'"),
    ("broken", 3, "RuntimeError: pyramidapp: the factory was told to fail"),
    ("nothing", 4, "Application object must be callable."),
    ("noegg", 3, "PackageNotFoundError: No package metadata was found for no_such_project"),
])
def test_an_app_that_fails_to_load(run, section, status, words):
    srv = run("--paste", "pyramidapp.ini#" + section)
    assert srv.finish() == status
    text = srv.text()
    assert words in text
    assert ("Reason: Worker failed to boot." if status == 3
            else "Reason: App failed to load.") in text
    r = cli("--paste", "pyramidapp.ini#" + section, "--check-config")
    assert r.returncode == 1 and words in r.stderr


def test_a_factory_that_raises_with_preload(run):
    srv = run("--paste", "pyramidapp.ini#broken", "--preload")
    assert srv.finish() == 3
    assert "RuntimeError: pyramidapp: the factory was told to fail" in srv.text()
    assert "Booting worker" not in srv.text()


@pytest.mark.parametrize("layer", ["cli", "env", "file"])
def test_a_global_conf_entry_without_equals(tmp_path, layer):
    conf = tmp_path / "conf.py"
    conf.write_text("raw_paste_global_conf = ['ok=1', r'only\\=escaped']\n"
                    if layer == "file" else "\n")
    words = ["-c", str(conf), "--paste", "pyramidapp.ini"]
    env = clean_env()
    if layer == "cli":
        words += ["--paste-global", "ok=1", "--paste-global", r"only\=escaped"]
    elif layer == "env":
        env["GUNICORN_CMD_ARGS"] = r"--paste-global ok=1 --paste-global 'only\=escaped'"
    r = cli(*words, env=env)
    assert r.returncode == 1
    assert (r"Invalid value for raw_paste_global_conf: 'only\=escaped' "
            "(expected KEY=VALUE)") in r.stderr


def test_global_conf_without_paste_is_named(run):
    srv = run("--paste-global", "colour=blue", "echo:app").start()
    assert srv.get("/")[0] == 200
    assert "raw_paste_global_conf has no effect without paste" in srv.stderr()

