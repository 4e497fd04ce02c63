"""Gunicorn 26.1's settings on a real server (docs/settings.md,
docs/compat.md Settings): every one known; those not built yet refused at
start from the command line, GUNICORN_CMD_ARGS and a config file alike;
raw_env in os.environ of the master and the workers, across a HUP;
--spew; --enable-stdio-inheritance with --daemon; the settings that are
taken but change nothing."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess

import pytest

from conftest import APPS, ROOT, TIMEOUT, wait_for

# an app that says what its os.environ held at import and holds now
ENVAPP = r'''
import os
NAMES = ("CU_T", "CU_GONE", "CU_KEEP")
AT_IMPORT = {k: os.environ.get(k) for k in NAMES}
def app(environ, start_response):
    body = json.dumps({"import": AT_IMPORT, "now": {k: os.environ.get(k) for k in NAMES},
                       "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
import json
'''

# a config-file tail whose master hooks record os.environ
MASTER_ENV_HOOKS = r'''
import json, os
def _rec(name):
    with open(os.environ["ENV_OUT"], "a") as f:
        f.write(json.dumps([name, os.getpid(), os.environ.get("CU_T"),
                            os.environ.get("CU_GONE"), os.environ.get("CU_KEEP")]) + "\n")
def when_ready(server):
    _rec("when_ready")
def on_reload(server):
    _rec("on_reload")
'''


def clean_env(**extra):
    """The test's environment without the variables these tests set."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GUNICORN_CMD_ARGS", "DJANGO_SETTINGS_MODULE", "CU_T",
                        "CU_GONE", "CU_KEEP")}
    env.update(extra)
    return env


def run_cli(*args, cwd=APPS, env=None):
    return subprocess.run([str(ROOT / "cunicorn")] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env() if env is None else env)


def get(port_or_srv, path="/", method="GET", body=None, headers=None):
    port = getattr(port_or_srv, "port", port_or_srv)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
    return out


# ---- every setting known ---------------------------------------------------

def test_print_config_lists_every_setting():
    r = run_cli("--print-config", "echo:app")
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^(\w+)\s+= ", r.stdout, re.M)
    assert len(names) == 137, names  # Gunicorn 26.1's 119 and our 18
    for line in ("certfile = None", "http_protocols = ['h1']",
                 "control_socket_mode = 384", "logconfig_dict = {}",
                 "syslog_addr = udp://localhost:514", "spew = False",
                 "logger_class = gunicorn.glogging.Logger", "root_path = ",
                 "dirty_post_fork = None", "suppress_ragged_eofs = True"):
        name, value = line.split(" = ")
        assert re.search(r"^%s\s+= %s$" % (name, re.escape(value)), r.stdout, re.M), line


def test_help_lists_the_new_flags():
    r = run_cli("--help")
    assert r.returncode == 0
    for flag in ("--certfile FILE", "--paste STRING, --paster STRING", "--spew",
                 "-R, --enable-stdio-inheritance", "--no-control-socket",
                 "--http-protocols STRING", "--dirty-app STRING", "--root-path STRING"):
        assert flag in r.stdout, flag
    assert "Refused: the uWSGI protocol is not built yet." in r.stdout
    assert "logconfig_dict" in r.stdout and "on_dirty_starting" in r.stdout


def test_server_cfg_has_every_setting(server, tmp_path):
    out = tmp_path / "cfg.json"
    conf = tmp_path / "c.py"
    conf.write_text(
        "import json\n"
        "def when_ready(server):\n"
        "    c = server.cfg\n"
        "    json.dump({'n': len(c.settings), 'h': c.http_protocols, 'root': c.root_path,\n"
        "               'cert': c.certfile, 'mode': c.control_socket_mode,\n"
        "               'tags': c.dogstatsd_tags, 'spew': c.spew}, open(%r, 'w'))\n"
        % str(out))
    server("-c", str(conf))
    got = json.loads(wait_for(lambda: out.exists() and out.read_text(), what="the hook"))
    assert got == {"n": 138, "h": ["h1"], "root": "", "cert": None, "mode": 384,
                   "tags": "", "spew": False}  # 137 settings and the app


# ---- refused, from every layer ----------------------------------------------

# (command-line words, config-file line, the error)
REFUSED = [
    # TLS is built: a certificate that is not there is refused at start
    (["--certfile", "c.pem"], "certfile = 'c.pem'",
     'certfile "c.pem": No such file or directory'),
    (["--keyfile", "k.pem"], "keyfile = 'k.pem'", "keyfile: needs certfile"),
    # HTTP/2 is built for gthread, gevent, eventlet and asgi: refused by name
    # for sync (the default)
    (["--http-protocols", "h2,h1"], "http_protocols = 'h2, h1'",
     "http_protocols: HTTP/2 is not built for the sync worker class; use gthread, "
     "gevent, eventlet or asgi"),
    (["--protocol", "uwsgi"], "protocol = 'uwsgi'",
     "protocol: the uWSGI protocol is not built yet"),
    (["--http-parser", "fast"], "http_parser = 'FAST'",
     "http_parser: the gunicorn_h1c parser is not built in"),
    (["--dirty-app", "m:C"], "dirty_apps = ['m:C']",
     "dirty_apps: the dirty arbiter is not built yet"),
    (["--control-socket", "/tmp/g.ctl"], "control_socket = '/tmp/g.ctl'",
     "control_socket: the control socket is not built yet"),
]


# Read by Gunicorn only while the setting that turns their feature on is
# set: taken while it is off, whatever their value (a real config file
# sets syslog_prefix with syslog = False: tests/python/realconf/).
DEPENDENT = ("syslog = False\nsyslog_prefix = '[app]'\nsyslog_addr = 'udp://x:1'\n"
             "syslog_facility = 'local0'\ndisable_redirect_access_to_syslog = True\n"
             "statsd_prefix = 'app'\ndogstatsd_tags = 'env:prod'\n"
             "http2_max_concurrent_streams = 10\nhttp2_max_frame_size = 32768\n"
             "uwsgi_allow_ips = '*'\ncontrol_socket_mode = 0o644\n"
             "dirty_workers = 2\ndirty_timeout = 5\n"
             "def on_dirty_starting(arbiter):\n    pass\n")


def test_dependent_settings_taken_while_their_feature_is_off(tmp_path):
    conf = tmp_path / "c.py"
    conf.write_text(DEPENDENT)
    r = run_cli("-c", str(conf), "-b", "127.0.0.1:0", "--check-config", "echo:app",
                env=clean_env())
    assert r.returncode == 0, r.stderr
    # syslog is built: with it on, its settings are read, and checked
    conf.write_text(DEPENDENT.replace("syslog = False", "syslog = True"))
    r = run_cli("-c", str(conf), "-b", "127.0.0.1:0", "--check-config", "echo:app",
                env=clean_env())
    assert r.returncode == 0, r.stderr
    conf.write_text(DEPENDENT.replace("'local0'", "'local9'"))
    r = run_cli("-c", str(conf), "-b", "127.0.0.1:0", "--check-config", "echo:app",
                env=clean_env())
    assert r.returncode == 0, r.stderr
    conf.write_text(DEPENDENT.replace("syslog = False", "syslog = True")
                    .replace("'local0'", "'local9'"))
    r = run_cli("-c", str(conf), "-b", "127.0.0.1:0", "--check-config", "echo:app",
                env=clean_env())
    assert r.returncode == 1, r.stderr
    assert "Error: Invalid value for syslog_facility: 'local9'" in r.stderr


def ids(rows):
    return [row[2].split(":")[0] for row in rows]


@pytest.mark.parametrize("args,line,error", REFUSED, ids=ids(REFUSED))
@pytest.mark.parametrize("layer", ["cli", "env", "file"])
def test_refused_from_every_layer(tmp_path, args, line, error, layer):
    conf = tmp_path / "c.py"
    conf.write_text(line + "\n" if layer == "file" else "\n")
    env = clean_env()
    words = ["-c", str(conf), "-b", "127.0.0.1:0"]
    if layer == "cli":
        words += args
    elif layer == "env":
        env["GUNICORN_CMD_ARGS"] = " ".join(args)
    for check in ([], ["--check-config"]):
        r = run_cli(*words, *check, "echo:app", env=env)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert r.stderr.splitlines()[-1].startswith("Error: " + error), r.stderr
        assert "Listening at" not in r.stderr and "Booting worker" not in r.stderr


@pytest.mark.parametrize("hook,signature,error", [
    ("ssl_context", "config, factory",
     "ssl_context: the hook is not built yet: cunicorn's TLS is OpenSSL in C and cannot "
     "take a Python SSLContext; use certfile, keyfile, ca_certs, cert_reqs and ciphers"),
    # the dirty arbiter's hooks: called only with dirty_apps, refused with it
    ("on_dirty_starting", "arbiter", None),
    ("dirty_post_fork", "arbiter, worker", None),
    ("dirty_worker_init", "worker", None),
    ("dirty_worker_exit", "arbiter, worker", None),
])
def test_refused_hooks_and_file_only_settings(tmp_path, hook, signature, error):
    conf = tmp_path / "c.py"
    conf.write_text("def %s(%s):\n    pass\n" % (hook, signature))
    r = run_cli("-c", str(conf), "--check-config", "echo:app")
    if error is None:
        assert r.returncode == 0, r.stderr
        conf.write_text("dirty_apps = ['m:C']\ndef %s(%s):\n    pass\n" % (hook, signature))
        r = run_cli("-c", str(conf), "--check-config", "echo:app")
        error = "dirty_apps: the dirty arbiter is not built yet"
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == "Error: " + error, r.stderr
    # the hook's arity is checked first, as for every hook
    conf.write_text("def %s(a, b, c):\n    pass\n" % hook)
    r = run_cli("-c", str(conf), "--check-config", "echo:app")
    assert r.returncode == 1 and "Invalid value for %s" % hook in r.stderr, r.stderr


@pytest.mark.parametrize("text,error", [
    ("protocol = 'uwsgi'\nuwsgi_allow_ips = '10.0.0.1'",
     "protocol: the uWSGI protocol is not built yet"),
    ("dirty_apps = ['m:C']\ndirty_timeout = 10", "dirty_apps: the dirty arbiter is not built yet"),
    ("http_protocols = 'h1,h2'\nhttp2_max_frame_size = 32768",
     "http_protocols: HTTP/2 is not built for the sync worker class; use gthread, "
     "gevent, eventlet or asgi"),
])
def test_refused_in_a_config_file(tmp_path, text, error):
    conf = tmp_path / "c.py"
    conf.write_text(text + "\n")
    r = run_cli("-c", str(conf), "--check-config", "echo:app")
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == "Error: " + error, r.stderr


@pytest.mark.parametrize("text,error", [
    ("http_protocols = 'h1,h9'", "Invalid value for http_protocols: 'h1,h9'"),
    ("http2_max_frame_size = 1024", "Invalid value for http2_max_frame_size: '1024'"),
    ("asgi_loop = 'tokio'", "Invalid value for asgi_loop: 'tokio'"),
    ("http_parser = 'rust'", "Invalid value for http_parser: 'rust'"),
    ("uwsgi_allow_ips = 'nginx'", "Invalid value for uwsgi_allow_ips: 'nginx'"),
    ("spew = 'loud'", "Invalid value for spew: 'loud'"),
    ("raw_env = ['NOEQUALS']", "Invalid value for raw_env: 'NOEQUALS' (expected KEY=VALUE)"),
])
def test_bad_values_of_the_new_settings(tmp_path, text, error):
    conf = tmp_path / "c.py"
    conf.write_text(text + "\n")
    r = run_cli("-c", str(conf), "--check-config", "echo:app")
    assert r.returncode == 1 and error in r.stderr, r.stderr


def test_refused_settings_at_their_defaults_are_taken(tmp_path):
    # a Gunicorn config file that spells the defaults out starts
    conf = tmp_path / "c.py"
    conf.write_text(
        "certfile = None\nkeyfile = None\nssl_version = 2\ncert_reqs = 0\n"
        "suppress_ragged_eofs = True\ndo_handshake_on_connect = False\n"
        "http_protocols = 'h1'\nhttp2_cleartext = False\nprotocol = 'http'\n"
        "uwsgi_allow_ips = '127.0.0.1,::1'\nhttp_parser = 'python'\n"
        "paste = None\nraw_paste_global_conf = []\nlogger_class = 'simple'\n"
        "logconfig = None\nlogconfig_dict = {}\nsyslog = False\n"
        "syslog_facility = 'user'\nstatsd_host = None\nstatsd_prefix = ''\n"
        "dogstatsd_tags = ''\ndirty_workers = 0\ndirty_apps = []\ndirty_timeout = 300\n"
        "control_socket_mode = 0o600\ncontrol_socket_disable = True\n"
        "ssl_context = None\nnot_a_setting_at_all = object()\n")
    r = run_cli("-c", str(conf), "--check-config", "echo:app")
    assert r.returncode == 0, r.stderr


def test_hup_to_a_refused_setting_keeps_the_workers(server, tmp_path):
    conf = tmp_path / "c.py"
    conf.write_text("workers = 1\n")
    srv = server("-c", str(conf), workers=None)
    first = children(srv.proc.pid)
    conf.write_text("workers = 2\nhttp_protocols = 'h2,h1'\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload")
    assert ("Error: http_protocols: HTTP/2 is not built for the sync worker class; "
            "use gthread, gevent, eventlet or asgi") in srv.text()
    assert children(srv.proc.pid) == first
    assert get(srv)[0] == 200


def test_inert_settings_are_taken_and_change_nothing(server, tmp_path):
    # as in Gunicorn under WSGI: root_path only feeds an ASGI scope,
    # tmp_upload_dir is read by nothing; the heartbeat needs no directory
    conf = tmp_path / "c.py"
    conf.write_text("root_path = '/mounted'\ntmp_upload_dir = '/nonexistent/up'\n"
                    "worker_tmp_dir = '/nonexistent/tmp'\nasgi_loop = 'uvloop'\n"
                    "asgi_lifespan = 'off'\nasgi_disconnect_grace_period = 9\n"
                    "control_socket_disable = True\nhttp_parser = 'python'\n")
    srv = server("-c", str(conf))
    status, body = get(srv, "/mounted/x")
    env = json.loads(body)["environ"]
    assert status == 200 and env["SCRIPT_NAME"] == "" and env["PATH_INFO"] == "/mounted/x"


# ---- raw_env ------------------------------------------------------------------

@pytest.fixture
def envapp(tmp_path):
    (tmp_path / "envapp.py").write_text(ENVAPP)
    return tmp_path


@pytest.mark.parametrize("layer", ["cli", "env", "file"])
@pytest.mark.parametrize("preload", [False, True])
def test_raw_env_in_os_environ_of_master_and_workers(server, envapp, layer, preload):
    out = envapp / "master.txt"
    conf = envapp / "c.py"
    conf.write_text(MASTER_ENV_HOOKS + ("raw_env = ['CU_T=%s']\n" % layer
                                        if layer == "file" else ""))
    env = clean_env(ENV_OUT=str(out))
    args = ["-c", str(conf)] + (["--preload"] if preload else [])
    if layer == "cli":
        args += ["-e", "CU_T=cli"]
    elif layer == "env":
        env["GUNICORN_CMD_ARGS"] = "--env CU_T=env"
    srv = server(*args, app="envapp:app", chdir=envapp, env=env, workers=2)
    seen = {}
    for _ in range(8):
        got = json.loads(get(srv)[1])
        seen[got["pid"]] = got
        assert got["import"]["CU_T"] == layer and got["now"]["CU_T"] == layer, got
    master = json.loads(out.read_text().splitlines()[0])
    assert master[0] == "when_ready" and master[1] == srv.proc.pid and master[2] == layer


def test_raw_env_follows_a_hup(server, envapp):
    # as Gunicorn: the old names get their start values back (or go), the
    # new ones are set, in the master and so in the workers forked next
    out = envapp / "master.txt"
    conf = envapp / "c.py"
    conf.write_text(MASTER_ENV_HOOKS +
                    "raw_env = ['CU_T=one', 'CU_GONE=x', 'CU_KEEP=over']\n")
    srv = server("-c", str(conf), app="envapp:app", chdir=envapp,
                 env=clean_env(ENV_OUT=str(out), CU_KEEP="orig"))
    assert json.loads(get(srv)[1])["now"] == {"CU_T": "one", "CU_GONE": "x", "CU_KEEP": "over"}
    old = children(srv.proc.pid)
    conf.write_text(MASTER_ENV_HOOKS + "raw_env = ['CU_T=two']\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reloaded: " in srv.text() and len(children(srv.proc.pid)) == 1 and
             not set(old) & set(children(srv.proc.pid)), what="the new worker alone")
    got = json.loads(get(srv)[1])
    assert got["import"] == got["now"] == {"CU_T": "two", "CU_GONE": None, "CU_KEEP": "orig"}
    reload = [json.loads(x) for x in out.read_text().splitlines() if "on_reload" in x]
    assert reload and reload[0][2:] == ["two", None, "orig"], reload
    # a HUP that fails keeps the old raw_env in force
    conf.write_text("raw_env = ['CU_T=three']\nworkers = (\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload")
    os.kill(children(srv.proc.pid)[0], signal.SIGKILL)
    wait_for(lambda: srv.text().count("Booting worker") == 3, what="a replacement worker")
    assert json.loads(get(srv)[1])["now"]["CU_T"] == "two"


@pytest.mark.parametrize("layer", ["cli", "env", "file"])
def test_bad_raw_env_from_every_layer(tmp_path, layer):
    conf = tmp_path / "c.py"
    conf.write_text("raw_env = ['A=1', 'NOEQUALS']\n" if layer == "file" else "\n")
    env = clean_env()
    args = ["-c", str(conf), "-b", "127.0.0.1:0"]
    if layer == "cli":
        args += ["-e", "A=1", "-e", "NOEQUALS"]
    elif layer == "env":
        env["GUNICORN_CMD_ARGS"] = "-e A=1 -e NOEQUALS"
    r = run_cli(*args, "echo:app", env=env)
    assert r.returncode == 1, r.stderr
    assert "Invalid value for raw_env: 'NOEQUALS' (expected KEY=VALUE)" in r.stderr


DJANGO_WSGI = '''
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()   # no setdefault: the server must say
'''


@pytest.mark.parametrize("how", ["cli", "file"])
def test_django_settings_module_from_raw_env_only(server, tmp_path, how):
    pytest.importorskip("django")
    (tmp_path / "plainwsgi.py").write_text(DJANGO_WSGI)
    conf = tmp_path / "c.py"
    conf.write_text("raw_env = ['DJANGO_SETTINGS_MODULE=djangoproj.settings']\n"
                    if how == "file" else "\n")
    common = ["-c", str(conf), "--pythonpath", str(APPS)]
    if how == "cli":
        # without it the app cannot load (how the issue met it)
        r = run_cli(*common, "--check-config", "plainwsgi:application", cwd=tmp_path)
        assert r.returncode == 1 and "DJANGO_SETTINGS_MODULE" in r.stderr, r.stderr
        common += ["-e", "DJANGO_SETTINGS_MODULE=djangoproj.settings"]
    srv = server(*common, app="plainwsgi:application", chdir=tmp_path, env=clean_env(),
                 workers=2)
    for i in range(4):
        status, body = get(srv, "/json", "POST", b'{"items": [1, %d]}' % i,
                           {"Content-Type": "application/json"})
        assert status == 200 and b'"total": %d' % (1 + i) in body, body


# ---- --spew -----------------------------------------------------------------------

def start_to_files(tmp_path, *args, env=None):
    """./cunicorn with stdout in a file (a pipe could fill up); returns
    (process, port, stdout path)."""
    out, log = tmp_path / "stdout.txt", tmp_path / "error.log"
    p = subprocess.Popen([str(ROOT / "cunicorn"), "-b", "127.0.0.1:0", "--error-logfile",
                          str(log)] + list(args), cwd=tmp_path, stdout=open(out, "w"),
                         stderr=subprocess.STDOUT, env=env or clean_env())

    def ready():
        assert p.poll() is None, out.read_text()
        t = log.read_text() if log.exists() else ""
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", t)
        return m and "Booting worker" in t and int(m.group(1))
    return p, wait_for(ready, what="the server"), out


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=TIMEOUT) == 0


@pytest.mark.parametrize("spew", [False, True])
@pytest.mark.parametrize("worker", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]])
def test_spew_traces_the_app_line_by_line(envapp, spew, worker):
    p, port, out = start_to_files(envapp, *worker, *(["--spew"] if spew else []),
                                  "envapp:app")
    try:
        assert get(port)[0] == 200
    finally:
        stop(p)
    text = out.read_text()
    # the module's top (imported by the worker) and the app's body
    # (run for the request), as MODULE:LINE: SOURCE
    lines = ["envapp:3: NAMES = (\"CU_T\", \"CU_GONE\", \"CU_KEEP\")",
             "envapp:6:     body = json.dumps({\"import\": AT_IMPORT, \"now\": "
             "{k: os.environ.get(k) for k in NAMES},"]
    for line in lines:
        assert (line in text.splitlines()) == spew, (line, text[-2000:])


# ---- --enable-stdio-inheritance -------------------------------------------------

@pytest.mark.parametrize("inherit", [False, True])
def test_daemon_keeps_stdio_only_with_enable_stdio_inheritance(tmp_path, inherit):
    sock, pidfile, out = tmp_path / "s.sock", tmp_path / "c.pid", tmp_path / "out.txt"
    args = ["-D", "-b", "unix:%s" % sock, "-p", str(pidfile), "--chdir", str(APPS)]
    if inherit:
        args.append("-R")
    with open(out, "w") as f:  # not a terminal: -R leaves it in place
        r = subprocess.run([str(ROOT / "cunicorn")] + args + ["echo:app"], stdout=f,
                           stderr=f, timeout=TIMEOUT, env=clean_env())
    assert r.returncode == 0
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                       what="the pidfile"))
    try:
        def answered():
            try:
                with socket.socket(socket.AF_UNIX) as c:
                    c.settimeout(TIMEOUT)
                    c.connect(str(sock))
                    c.sendall(b"GET /hi HTTP/1.0\r\n\r\n")
                    return b"".join(iter(lambda: c.recv(65536), b""))
            except OSError:
                return b""
        assert b'"PATH_INFO": "/hi"' in wait_for(answered, what="an answer")
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pidfile.exists(), what="the daemon to stop")
    if inherit:
        wait_for(lambda: "Shutting down: Master" in out.read_text(), what="its last line")
    text = out.read_text()
    # the error log is stderr: it reaches the file only when inherited
    assert ("Booting worker" in text) == inherit, text
