"""-k: every name Gunicorn users write for a worker class resolves through
the one table of classes (src/worker/classes.c). The built classes serve
under each of their names (asgi's: test_asgi.py, tornado's:
test_tornado.py); an unknown name is refused as Gunicorn refuses it."""

import http.client
import json
import re
import signal
import subprocess

import pytest

from conftest import APPS, ROOT, wait_for


def run_cli(*args, env=None):
    return subprocess.run([str(ROOT / "cunicorn")] + list(args), cwd=APPS,
                          capture_output=True, text=True, timeout=30, env=env)


def get_environ(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200
    out = json.loads(r.read())
    c.close()
    return out["environ"]


@pytest.mark.parametrize("name,cls", [
    ("sync", "sync"),
    ("#sync", "sync"),
    ("egg:gunicorn", "sync"),
    ("egg:gunicorn#sync", "sync"),
    ("gunicorn.workers.sync.SyncWorker", "sync"),
    ("gthread", "gthread"),
    ("egg:gunicorn#gthread", "gthread"),
    ("gunicorn.workers.gthread.ThreadWorker", "gthread"),
    ("gevent", "gevent"),
    ("gevent_wsgi", "gevent"),
    ("gevent_pywsgi", "gevent"),
    ("egg:gunicorn#gevent", "gevent"),
    ("gunicorn.workers.ggevent.GeventWorker", "gevent"),
    ("gunicorn.workers.ggevent.GeventPyWSGIWorker", "gevent"),
    ("eventlet", "eventlet"),
    ("egg:gunicorn#eventlet", "eventlet"),
    ("gunicorn.workers.geventlet.EventletWorker", "eventlet"),
])
def test_built_classes_under_each_name(server, name, cls):
    srv = server("-k", name)
    assert "Using worker: %s" % cls in srv.text()
    env = get_environ(srv)
    # Gunicorn's async workers say multithread too
    assert env["wsgi.multithread"] is (cls != "sync")


def test_sync_with_threads_is_gthread(server):
    srv = server("-k", "sync", "--threads", "2")
    assert "Using worker: gthread" in srv.text()
    assert get_environ(srv)["wsgi.multithread"] is True


def test_class_from_a_config_file(server, tmp_path):
    conf = tmp_path / "k.conf.py"
    conf.write_text('worker_class = "gunicorn.workers.gthread.ThreadWorker"\n')
    srv = server("-c", str(conf))
    assert "Using worker: gthread" in srv.text()


@pytest.mark.parametrize("name", ["fork", "egg:other#sync", "gunicorn.workers.sync",
                                  "egg:gunicorn#"])
def test_unknown_class_is_refused(name):
    r = run_cli("-b", "127.0.0.1:0", "-k", name, "echo:app")
    assert r.returncode == 1, r.stderr
    assert "class uri '%s' invalid or not found" % name in r.stderr, r.stderr


@pytest.mark.parametrize("name,why", [
    ("fork", "class uri 'fork' invalid or not found"),
])
def test_hup_to_a_class_it_cannot_run(server, tmp_path, name, why):
    """docs/compat.md, Worker classes: the HUP fails, the old workers stay."""
    conf = tmp_path / "k.conf.py"
    conf.write_text('worker_class = "sync"\n')
    srv = server("-c", str(conf))
    before = srv.worker_pids()
    conf.write_text('worker_class = "%s"\n' % name)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload in the log")
    assert why in srv.text()
    assert get_environ(srv)["wsgi.multithread"] is False
    assert srv.worker_pids() == before, "no worker was started for it"


# ---- -k MODULE.CLASS: a subclass of a class in the table ------------------------------

SUBCLASSES = '''
from uvicorn.workers import UvicornWorker

class Configured(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "h11", "root_path": "/base"}

class Inherits(Configured):
    pass

class Overrides(UvicornWorker):
    def init_process(self):
        pass

class UnknownKwarg(UvicornWorker):
    CONFIG_KWARGS = {"proxy_headers": True}

class BadLoop(UvicornWorker):
    CONFIG_KWARGS = {"loop": "trio"}

class NotText(UvicornWorker):
    CONFIG_KWARGS = {"root_path": 5}

class NotTextKey(UvicornWorker):
    CONFIG_KWARGS = {1: "asyncio"}

class NoWorker:
    pass

not_a_class = 1

async def app(scope, receive, send):
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["root_path"].encode()})
'''


@pytest.fixture
def workers_module(tmp_path):
    pytest.importorskip("uvicorn.workers")  # Debian's python3-uvicorn and python3-gunicorn
    (tmp_path / "workers_mod.py").write_text(SUBCLASSES)
    return tmp_path


@pytest.mark.parametrize("cls", ["Configured", "Inherits"])
def test_a_uvicorn_worker_subclass_runs_as_asgi(server, workers_module, cls):
    """paperless-ngx's way: a UvicornWorker subclass that sets CONFIG_KWARGS
    runs as -k asgi with them applied (docs/compat.md, Worker classes)."""
    srv = server("--pythonpath", str(workers_module), "-k", "workers_mod." + cls,
                 "--asgi-loop", "uvloop", app="workers_mod:app")
    assert ("Using worker: asgi (workers_mod.%s, as its base class "
            "uvicorn.workers.UvicornWorker)" % cls) in srv.text()
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/x")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"/base")  # CONFIG_KWARGS' root_path
    c.close()
    r = run_cli("--pythonpath", str(workers_module), "-k", "workers_mod." + cls,
                "--asgi-loop", "uvloop", "--print-config", "workers_mod:app")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^asgi_loop +\= asyncio$", r.stdout, re.M)  # over --asgi-loop
    assert re.search(r"^worker_class +\= uvicorn\.workers\.UvicornWorker$", r.stdout, re.M)


@pytest.mark.parametrize("cls,why", [
    ("Overrides", "Error: worker class workers_mod.Overrides cannot run in cunicorn: "
                  "workers_mod.Overrides defines init_process"),
    ("UnknownKwarg", "Error: worker class workers_mod.UnknownKwarg: "
                     "CONFIG_KWARGS[proxy_headers] is not taken by cunicorn"),
    ("BadLoop", "Error: worker class workers_mod.BadLoop: CONFIG_KWARGS[loop]: "
                "Invalid value for asgi_loop"),
    ("NotText", "Error: worker class workers_mod.NotText: "
                "CONFIG_KWARGS[root_path] is not taken by cunicorn"),
    ("NotTextKey", "Error: worker class workers_mod.NotTextKey: "
                   "CONFIG_KWARGS[?] is not taken by cunicorn"),
    ("NoWorker", "Error: class uri 'workers_mod.NoWorker' is no worker class cunicorn "
                 "can run"),
    ("not_a_class", "Error: class uri 'workers_mod.not_a_class' invalid or not found: "
                    "AttributeError: workers_mod.not_a_class is not a class"),
    ("Missing", "Error: class uri 'workers_mod.Missing' invalid or not found: "
                "AttributeError: module 'workers_mod' has no attribute 'Missing'"),
])
def test_a_subclass_it_cannot_run_is_refused(workers_module, cls, why):
    r = run_cli("--pythonpath", str(workers_module), "-b", "127.0.0.1:0",
                "-k", "workers_mod." + cls, "workers_mod:app")
    assert r.returncode == 1, r.stderr
    assert why in r.stderr, r.stderr
    assert "Listening at" not in r.stderr


def test_a_class_whose_module_is_missing(tmp_path):
    r = run_cli("-b", "127.0.0.1:0", "-k", "no_such_module.Worker", "echo:app")
    assert r.returncode == 1, r.stderr
    assert ("Error: class uri 'no_such_module.Worker' invalid or not found: "
            "ModuleNotFoundError: No module named 'no_such_module'") in r.stderr
