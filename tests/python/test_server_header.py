"""`gunicorn.SERVER` and `gunicorn.SERVER_SOFTWARE` set in a config file.

Gunicorn's worker takes both from its `gunicorn` module when its worker
class is imported, after the first config file ran, so `import gunicorn;
gunicorn.SERVER = "..."` in a config file is how its users change (or hide)
the Server header. cunicorn honours it, with Gunicorn installed or not (a
stand-in module then lives while the file runs). Real servers, real sockets.
"""

import json
import os
import signal
import subprocess

import pytest

from conftest import APPS, ROOT, wait_for


# Run with this on PYTHONPATH, a process cannot import gunicorn, installed or not.
NO_GUNICORN = '''
import sys


class NoGunicorn:
    def find_spec(self, name, path=None, target=None):
        if name == "gunicorn" or name.startswith("gunicorn."):
            raise ModuleNotFoundError("No module named %r" % name, name=name)
        return None


sys.meta_path.insert(0, NoGunicorn())
'''


def without_gunicorn(tmp_path):
    """An environment in which gunicorn is not installed."""
    site = tmp_path / "no-gunicorn"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_GUNICORN)
    return dict(os.environ, PYTHONPATH=str(site))


def installed_gunicorn():
    """The file of the gunicorn the server's interpreter would import, or None."""
    r = subprocess.run([(ROOT / "build" / ".python").read_text().strip(), "-c",
                        "import gunicorn; print(gunicorn.__file__)"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def head_of(srv, path=b"/"):
    raw = srv.raw(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def conf(tmp_path, text, name="conf.py"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


# the worker says whether the app could import gunicorn, and which
HOOK = '''
def post_worker_init(worker):
    import sys
    g = sys.modules.get("gunicorn")
    worker.log.info("gunicorn in the worker: %s" % (getattr(g, "__file__", None) if g else None))
'''


def test_without_gunicorn_the_default_is_ours(server):
    lines, _ = head_of(server())
    assert b"Server: cunicorn" in lines


def test_server_set_without_gunicorn_installed(server, tmp_path):
    c = conf(tmp_path, "import gunicorn\ngunicorn.SERVER = 'hidden'\n"
                       "gunicorn.SERVER_SOFTWARE = 'hidden/1'\n" + HOOK)
    srv = server("-c", c, env=without_gunicorn(tmp_path))
    lines, body = head_of(srv)
    assert lines[1] == b"Server: hidden", lines
    assert json.loads(body)["environ"]["SERVER_SOFTWARE"] == "hidden/1"
    # the stand-in was for the config file only: the app has no gunicorn
    wait_for(lambda: "gunicorn in the worker: None" in srv.text(), what="the hook's line")


def test_server_values_as_gunicorn_formats_them(server, tmp_path):
    srv = server("-c", conf(tmp_path, "import gunicorn\ngunicorn.SERVER = ''\n"))
    lines, body = head_of(srv)
    assert lines[1] == b"Server: ", lines          # an empty value, as Gunicorn sends it
    assert json.loads(body)["environ"]["SERVER_SOFTWARE"].startswith("cunicorn/")
    srv = server("-c", conf(tmp_path, "import gunicorn\ngunicorn.SERVER = None\n", "n.py"))
    assert head_of(srv)[0][1] == b"Server: None"  # "%s" % None
    srv = server("-c", conf(tmp_path, "import gunicorn as g\nsetattr(g, 'SERVER', 'caf\\xe9')\n",
                            "l.py"))
    assert head_of(srv)[0][1] == b"Server: caf\xe9"  # latin-1 on the wire


def test_a_real_gunicorn_module(server, tmp_path):
    """With a gunicorn package importable (here a small one on PYTHONPATH),
    the file changes that module; an explicit "gunicorn" is kept too."""
    pkg = tmp_path / "site" / "gunicorn"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        'version_info = (26, 1, 0)\n__version__ = "26.1.0"\nSERVER = "gunicorn"\n'
        'SERVER_SOFTWARE = "%s/%s" % (SERVER, __version__)\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    srv = server("-c", conf(tmp_path, "import gunicorn\ngunicorn.SERVER = 'gunicorn'\n" + HOOK),
                 env=env)
    assert head_of(srv)[0][1] == b"Server: gunicorn"
    wait_for(lambda: "gunicorn in the worker: %s" % (pkg / "__init__.py") in srv.text(),
             what="the real module kept: " + srv.text())
    # imported, never set: the header stays ours
    srv = server("-c", conf(tmp_path, "import gunicorn\nx = gunicorn.SERVER\n", "r.py"), env=env)
    assert head_of(srv)[0][1] == b"Server: cunicorn"


def test_a_hup_does_not_change_it(server, tmp_path):
    """As in Gunicorn, where the worker module took the value at start."""
    c = conf(tmp_path, "import gunicorn\ngunicorn.SERVER = 'first'\n")
    srv = server("-c", c)
    first = srv.worker_pids()
    (tmp_path / "conf.py").write_text("import gunicorn\ngunicorn.SERVER = 'second'\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(srv.worker_pids()) > len(first) and
             "retiring the old ones" in srv.text(), what="the new worker: " + srv.text())
    assert head_of(srv)[0][1] == b"Server: first"


def run_conf(tmp_path, text, env=None):
    r = subprocess.run([str(ROOT / "cunicorn"), "-b", "127.0.0.1:0", "-c",
                        conf(tmp_path, text, "bad.py"), "echo:app"], cwd=APPS,
                       capture_output=True, text=True, timeout=30, env=env)
    return r.returncode, r.stderr


def test_bad_values_stop_the_start(tmp_path):
    """A value that cannot be a header line stops the start (Gunicorn would
    put a CR LF on the wire as it is, or fail every response)."""
    for value, why in [("'a\\r\\nX-Injected: yes'", "no control characters in a header"),
                       ("'tab\\tok but nul\\x00'", "no control characters in a header"),
                       ("'\\u20ac'", "a Server header is latin-1 text"),
                       ("'x' * 1025", "longer than 1024 bytes")]:
        code, err = run_conf(tmp_path, "import gunicorn\ngunicorn.SERVER = %s\n" % value)
        assert code == 1 and "Failed to read config file" in err and \
            "ValueError: gunicorn.SERVER" in err and why in err, (value, code, err)
    code, err = run_conf(tmp_path, "import gunicorn\ngunicorn.SERVER_SOFTWARE = '\\udcff'\n")
    assert code == 1 and "gunicorn.SERVER_SOFTWARE = " in err and "not text" in err, err
    # the longest value that fits is taken
    code, err = run_conf(tmp_path, "import gunicorn\ngunicorn.SERVER = 'x' * 1024\n"
                                   "check_config = True\n")
    assert code == 0, err


def test_the_stand_in_has_nothing_else(tmp_path):
    """Without Gunicorn, what else a file takes from it fails as it would,
    but for gunicorn.glogging: cunicorn's Logger API (docs/compat.md,
    Python logging)."""
    env = without_gunicorn(tmp_path)
    code, err = run_conf(tmp_path, "import gunicorn.arbiter\n", env)
    assert code == 1 and "No module named 'gunicorn.arbiter'" in err, err
    code, err = run_conf(tmp_path, "from gunicorn import util\n", env)
    assert code == 1 and "cannot import name 'util'" in err, err
    for line in ("import gunicorn.glogging as g", "from gunicorn import glogging as g"):
        code, err = run_conf(tmp_path, line + "\nassert g.Logger.__module__ == "
                                       "'cunicorn.glogging'\ncheck_config = True\n", env)
        assert code == 0, err
    code, err = run_conf(tmp_path, "import gunicorn\nassert gunicorn.version_info == "
                                   "(26, 1, 0)\ncheck_config = True\n", env)
    assert code == 0, err


@pytest.mark.skipif(installed_gunicorn() is None, reason="no gunicorn installed")
def test_the_installed_gunicorn(server, tmp_path):
    """Gunicorn itself installed (Debian's, for the benchmarks): the file
    sets its module, which the app then has too."""
    srv = server("-c", conf(tmp_path, "import gunicorn\ngunicorn.SERVER = 'behind a proxy'\n"
                                      + HOOK))
    assert head_of(srv)[0][1] == b"Server: behind a proxy"
    wait_for(lambda: "gunicorn in the worker: %s" % installed_gunicorn() in srv.text(),
             what="the installed module kept: " + srv.text())
    # a file that does not import it: nothing imports it for the app either
    # (apps that look for "gunicorn" in sys.modules see no server there)
    srv = server("-c", conf(tmp_path, "workers = 1\n" + HOOK, "plain.py"))
    assert head_of(srv)[0][1] == b"Server: cunicorn"
    wait_for(lambda: "gunicorn in the worker: None" in srv.text(), what="the hook's line")
