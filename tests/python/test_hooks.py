"""Server hooks (docs/compat.md, Server hooks; docs/hooks.md) on a real
server: a config file whose every hook appends "name pid args" to a file;
then the order, the process (master or worker) and the arguments of each
call are checked."""

import os
import signal
import subprocess

import pytest

from conftest import APPS, ROOT, TIMEOUT, recv_all, wait_for

HOOKS_CONF = r'''
import os, sys
OUT = os.environ["HOOK_OUT"]

def rec(name, *args):
    with open(OUT, "a") as f:
        f.write("%s %d %s\n" % (name, os.getpid(), "|".join(map(str, args))))

def on_starting(server):
    rec("on_starting", server.pid, server.cfg.workers, server.cfg.bind)
def on_reload(server):
    rec("on_reload", server.num_workers)
def when_ready(server):
    rec("when_ready", server.num_workers)
    server.log.info("when_ready says %s", "hello")
def pre_fork(server, worker):
    rec("pre_fork", worker.pid, worker.age)
def post_fork(server, worker):
    rec("post_fork", worker.pid, worker.ppid, worker.age, worker.alive)
def post_worker_init(worker):
    rec("post_worker_init", worker.pid, callable(worker.wsgi))
def worker_int(worker):
    rec("worker_int", worker.pid, worker.alive)
def worker_abort(worker):
    rec("worker_abort", worker.pid)
def pre_request(worker, req):
    rec("pre_request", req.method, req.path, req.query, req.uri,
        req.version, req.headers)
def post_request(worker, req, environ, resp):
    rec("post_request", req.path, environ["PATH_INFO"], resp.status,
        resp.status_code, resp.sent)
def child_exit(server, worker):
    rec("child_exit", worker.pid)
def worker_exit(server, worker):
    rec("worker_exit", worker.pid)
def nworkers_changed(server, new_value, old_value):
    rec("nworkers_changed", new_value, old_value)
def on_exit(server):
    rec("on_exit")
'''


class Calls:
    def __init__(self, path):
        self.path = path

    def all(self):
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            name, pid, args = (line.split(" ", 2) + [""])[:3]
            out.append((name, int(pid), args.split("|") if args else []))
        return out

    def named(self, name):
        return [c for c in self.all() if c[0] == name]

    def names(self):
        return [c[0] for c in self.all()]

    def wait(self, name, n=1):
        return wait_for(lambda: len(self.named(name)) >= n and self.named(name),
                        what="%d call(s) of %s" % (n, name))


@pytest.fixture
def hooked(server, tmp_path):
    """A server with a config file (HOOKS_CONF plus extra); returns it and
    the recorded calls."""
    def start(*args, extra="", workers=2, app="echo:app"):
        conf = tmp_path / "hooks.conf.py"
        conf.write_text(HOOKS_CONF + extra)
        out = tmp_path / ("calls-%d.txt" % len(list(tmp_path.iterdir())))
        env = dict(os.environ, HOOK_OUT=str(out))
        srv = server("-c", str(conf), *args, workers=workers, env=env, app=app)
        return srv, Calls(out)
    return start


def get(srv, path, headers=b""):
    s = srv.connect()
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers +
              b"Connection: close\r\n\r\n")
    return recv_all(s)


def run_cunicorn(tmp_path, conf_text, *args):
    """Runs ./cunicorn with this config file to its end (for start-up
    failures); returns (status, stderr + error log, stdout)."""
    conf = tmp_path / "bad.conf.py"
    conf.write_text(conf_text)
    log = tmp_path / "bad-error.log"
    p = subprocess.run([str(ROOT / "cunicorn"), "-c", str(conf), "-b",
                        "127.0.0.1:0", "--error-logfile", str(log),
                        "--chdir", str(APPS)] + list(args) + ["echo:app"],
                       capture_output=True, timeout=TIMEOUT,
                       env=dict(os.environ, HOOK_OUT=str(tmp_path / "x.txt")))
    text = p.stderr.decode(errors="replace")
    if log.exists():
        text += log.read_text(errors="replace")
    return p.returncode, text, p.stdout.decode(errors="replace")


def test_boot_order_and_processes(hooked):
    srv, calls = hooked()
    master = srv.proc.pid
    calls.wait("post_worker_init", 2)
    workers = set(srv.worker_pids())
    names = calls.names()
    # master side, at start-up: nworkers_changed(2, None) first (Gunicorn
    # sets num_workers before on_starting), then on_starting, when_ready
    assert names[:3] == ["nworkers_changed", "on_starting", "when_ready"]
    assert calls.named("nworkers_changed")[0][2] == ["2", "None"]
    start = calls.named("on_starting")[0]
    assert start[1] == master and start[2] == [str(master), "2", "['127.0.0.1:0']"]
    assert calls.named("when_ready")[0][2] == ["2"]
    for name in ("nworkers_changed", "on_starting", "when_ready", "pre_fork"):
        assert {c[1] for c in calls.named(name)} == {master}, name
    assert [c[2] for c in calls.named("pre_fork")] == [["[booting]", "1"], ["[booting]", "2"]]
    # worker side: post_fork then post_worker_init in each worker
    for name in ("post_fork", "post_worker_init"):
        assert {c[1] for c in calls.named(name)} == workers, name
    for c in calls.named("post_fork"):
        assert c[2][0] == str(c[1]) and c[2][1] == str(master) and c[2][3] == "True"
    for pid in workers:
        mine = [c[0] for c in calls.all() if c[1] == pid]
        assert mine == ["post_fork", "post_worker_init"]
    assert all(c[2] == [str(c[1]), "True"] for c in calls.named("post_worker_init"))
    assert "[INFO] when_ready says hello" in srv.text()


def test_request_hooks(hooked):
    srv, calls = hooked(workers=1)
    calls.wait("post_worker_init")
    resp = get(srv, b"/some/path?a=1&b=2", b"X-Custom-Thing: yes\r\n")
    assert resp.startswith(b"HTTP/1.1 200 ")
    body = resp.split(b"\r\n\r\n", 1)[1]
    pre = calls.wait("pre_request")[0]
    post = calls.wait("post_request")[0]
    worker = srv.worker_pids()[0]
    assert pre[1] == worker and post[1] == worker
    assert pre[2][:5] == ["GET", "/some/path", "a=1&b=2", "/some/path?a=1&b=2", "(1, 1)"]
    assert "('X-CUSTOM-THING', 'yes')" in pre[2][5] and "('HOST', 'x')" in pre[2][5]
    assert post[2][:5] == ["/some/path", "/some/path", "200 OK", "200", str(len(body))]
    assert calls.names().index("pre_request") < calls.names().index("post_request")


@pytest.mark.parametrize("arity", [2, 3])
def test_post_request_shorter_arity(hooked, arity):
    params = ["worker", "req", "environ"][:arity]
    extra = "\ndef post_request(%s):\n    rec('post_request', len([%s]))\n" % (
        ", ".join(params), ", ".join(params))
    srv, calls = hooked(workers=1, extra=extra)
    assert get(srv, b"/").startswith(b"HTTP/1.1 200 ")
    assert calls.wait("post_request")[0][2] == [str(arity)]


@pytest.mark.parametrize("args", [("--threads", "4"), ("-k", "gevent"), ("-k", "eventlet")],
                         ids=["gthread", "gevent", "eventlet"])
def test_request_hooks_concurrent(hooked, args):
    srv, calls = hooked(*args, workers=1)
    for i in range(3):
        assert get(srv, b"/t%d" % i).startswith(b"HTTP/1.1 200 ")
    posts = calls.wait("post_request", 3)
    assert sorted(c[2][0] for c in posts) == ["/t0", "/t1", "/t2"]
    srv.stop()
    assert calls.named("worker_exit") and calls.named("on_exit")


def three_by_ttin(hooked):
    """A server of 2 workers, then TTIN: 3, and nworkers_changed(3, 2)."""
    srv, calls = hooked()
    master = srv.proc.pid
    calls.wait("post_worker_init", 2)
    os.kill(master, signal.SIGTTIN)
    calls.wait("post_worker_init", 3)
    assert calls.named("nworkers_changed")[1][2] == ["3", "2"]
    return srv, calls, master


def test_ttin_ttou_child_exit_and_exit(hooked):
    srv, calls, master = three_by_ttin(hooked)
    os.kill(master, signal.SIGTTOU)
    retired = calls.wait("child_exit")[0]
    assert calls.named("nworkers_changed")[2][2] == ["2", "3"]
    assert retired[1] == master
    # the retired worker said worker_exit itself, before the master reaped it
    assert [c[1] for c in calls.named("worker_exit")] == [int(retired[2][0])]
    # a worker killed outright: no worker_exit, but child_exit in the master
    victim = next(p for p in srv.worker_pids() if p != int(retired[2][0]) and
                  not [c for c in calls.named("child_exit") if c[2] == [str(p)]])
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: [c for c in calls.named("child_exit") if c[2] == [str(victim)]],
             what="child_exit of the killed worker")
    assert not [c for c in calls.named("worker_exit") if c[1] == victim]
    calls.wait("post_worker_init", 4)  # its replacement
    assert srv.stop() == 0
    names = calls.names()
    assert names[-1] == "on_exit" and calls.named("on_exit")[0][1] == master
    # every live worker ran worker_exit, and each was reaped before on_exit
    assert len(calls.named("child_exit")) == 4
    assert len(calls.named("worker_exit")) == 3


def test_ttin_then_hup_back_to_the_configured_count(hooked):
    """TTIN changes the master's number of workers, not the configuration:
    HUP goes back to the configured number, and the hooks see each one."""
    srv, calls, master = three_by_ttin(hooked)
    old = sorted(c[1] for c in calls.named("post_worker_init"))
    os.kill(master, signal.SIGHUP)
    assert calls.wait("on_reload")[0][2] == ["2"]
    assert calls.named("nworkers_changed")[2][2] == ["2", "3"]
    # two new workers; the three old ones retired once they were up
    calls.wait("post_worker_init", 5)
    exits = calls.wait("child_exit", 3)
    assert sorted(int(c[2][0]) for c in exits) == old
    assert srv.stop() == 0
    assert len(calls.named("post_worker_init")) == 5
    assert len(calls.named("nworkers_changed")) == 3


def test_worker_int_on_quit(hooked):
    srv, calls = hooked(workers=1)
    calls.wait("post_worker_init")
    worker = srv.worker_pids()[0]
    os.kill(worker, signal.SIGINT)
    got = calls.wait("worker_int")[0]
    assert got[1] == worker and got[2] == [str(worker), "False"]
    calls.wait("worker_exit")
    assert calls.wait("child_exit")[0][2] == [str(worker)]


def test_worker_abort_on_timeout(hooked):
    """The master's timeout sends SIGABRT to a worker stuck in the app: the
    hooks' thread runs worker_abort while the app still spins."""
    srv, calls = hooked("--timeout", "1", workers=1)
    calls.wait("post_worker_init")
    worker = srv.worker_pids()[0]
    s = srv.connect()
    s.sendall(b"GET /spin?6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = calls.wait("worker_abort")[0]
    assert got[1] == worker
    calls.wait("worker_exit")
    wait_for(lambda: "Worker (pid:%d)" % worker in srv.text(), what="the reaping")
    # the handler answered before it handed over to the hooks' thread; the
    # app, still spinning meanwhile, could write nothing after it
    s.settimeout(20)
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and \
        data.endswith(b"</html>\n") and data.count(b"HTTP/1.1") == 1, data


def test_hook_raising_is_logged_and_ignored(hooked):
    extra = ("\ndef post_request(worker, req, environ, resp):\n"
             "    raise ValueError('post_request broke')\n"
             "def child_exit(server, worker):\n"
             "    raise KeyError('child_exit broke')\n")
    srv, calls = hooked(workers=1, extra=extra)
    for _ in range(2):
        assert get(srv, b"/").startswith(b"HTTP/1.1 200 ")
    wait_for(lambda: srv.text().count("ValueError: post_request broke") == 2,
             what="the tracebacks")
    assert "[ERROR] Exception in post_request hook" in srv.text()
    worker = srv.worker_pids()[0]
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: "KeyError: 'child_exit broke'" in srv.text(), what="child_exit's")
    calls.wait("post_worker_init", 2)  # the master goes on
    assert get(srv, b"/").startswith(b"HTTP/1.1 200 ")
    assert srv.stop() == 0


@pytest.mark.parametrize("hook", ["on_starting", "when_ready"])
def test_start_hook_raising_stops_the_start(tmp_path, hook):
    rc, text, _ = run_cunicorn(tmp_path, "def %s(server):\n    raise RuntimeError('no start')\n" % hook)
    assert rc == 1
    assert "Exception in %s hook" % hook in text and "RuntimeError: no start" in text


def test_post_fork_raising_fails_the_boot(tmp_path):
    rc, text, _ = run_cunicorn(tmp_path, "def post_fork(server, worker):\n    1/0\n")
    assert rc == 3
    assert "ZeroDivisionError" in text and "Worker failed to boot" in text


@pytest.mark.parametrize("conf, why", [
    ("def post_fork(server):\n    pass\n", "post_fork takes 1 positional argument"),
    ("def post_request(a):\n    pass\n", "a post_request hook takes 2 to 4"),
    ("on_exit = 5\n", "must be a callable"),
    ("on_exit = 'nosuchmodule_x.fn'\n", "cannot load 'fn'"),
])
def test_bad_hooks_refused(tmp_path, conf, why):
    rc, text, _ = run_cunicorn(tmp_path, conf)
    assert rc == 1
    name = conf.split("(")[0].split()[-1] if conf.startswith("def") else conf.split()[0]
    assert "Invalid value for %s:" % name in text and why in text
    assert "bad.conf.py" in text


def test_module_attr_string_and_print_config(tmp_path):
    (tmp_path / "myhooks.py").write_text("def on_exit(server):\n    pass\n")
    conf = ("import sys\nsys.path.insert(0, %r)\non_exit = 'myhooks.on_exit'\n"
            "def post_fork(server, worker):\n    pass\n" % str(tmp_path))
    rc, text, out = run_cunicorn(tmp_path, conf, "--print-config")
    assert rc == 0, text
    shown = dict(l.split(" = ", 1) for l in out.splitlines() if " = " in l)
    shown = {k.strip(): v for k, v in shown.items()}
    assert shown["on_exit"] == "<on_exit()>"
    assert shown["post_fork"] == "<post_fork()>"
    assert shown["pre_fork"] == "None"


def test_pre_exec_on_usr2(hooked):
    srv, calls = hooked(extra="def pre_exec(server):\n    rec('pre_exec', server.pid)\n",
                        workers=1)
    srv.proc.send_signal(signal.SIGUSR2)
    (name, pid, args), = calls.wait("pre_exec")
    # in the forked child, just before the exec: not the master itself
    assert pid != srv.proc.pid and args == [str(srv.proc.pid)]
    new = int(wait_for(lambda: __import__("re").search(
        r"USR2: new master started \(pid:(\d+)\)", srv.text()), what="the new master").group(1))
    assert new == pid  # the exec keeps the pid
    os.kill(new, signal.SIGQUIT)

    def gone():
        try:
            os.kill(new, 0)
        except ProcessLookupError:
            return True
        return False
    wait_for(gone, what="the new master to stop")
