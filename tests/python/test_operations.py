"""What the master does while traffic flows: each operation happens under a
bounded load (a few client threads, a new connection per request) and must
lose nothing. Every test prints its counts.

Failures are non-200 answers and connections that were accepted but got no
answer (reset, EOF, timeout). A refused connection after the server has
stopped on purpose (TERM) is counted apart: nobody is listening then."""

import errno
import os
import re
import signal
import socket
import textwrap
import threading
import time

import pytest

from conftest import TIMEOUT, recv_all, wait_for


class Load:
    """Client threads sending GET requests, one connection each."""

    def __init__(self, port, threads=4, path="/", keep=False):
        self.port, self.path, self.keep = port, path, keep
        self.ok = self.failed = self.refused = 0
        self.errors = []
        self.failed_ids = []
        self.n = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def one(self, rid=0):
        """The answer; a reset raises (ConnectionResetError), an end with
        nothing is b""."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        out = b""
        try:
            s.sendall(b"GET " + self.path.encode() + b"?id=%d" % rid +
                      b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        finally:
            s.close()

    def run(self):
        while not self.stop.is_set():
            with self.lock:
                self.n += 1
                rid = self.n
            try:
                data = self.one(rid)
            except ConnectionRefusedError:
                with self.lock:
                    self.refused += 1
                time.sleep(0.01)
                continue
            except OSError as e:
                with self.lock:
                    self.failed += 1
                    self.errors.append(repr(e))
                    self.failed_ids.append(rid)
                continue
            with self.lock:
                if data.startswith(b"HTTP/1.1 200 "):
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(data[:80])
                    self.failed_ids.append(rid)

    def __enter__(self):
        for t in self.threads:
            t.start()
        wait_for(lambda: self.ok >= 20, what="the load to start")
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def more(self, n=50):
        """Waits until n more requests succeeded."""
        start = self.ok
        wait_for(lambda: self.ok >= start + n, what="%d more requests" % n)

    def report(self, what):
        print("%s: %d ok, %d failed, %d refused %s" % (
            what, self.ok, self.failed, self.refused, self.errors[:3]))


def pids(srv):
    return srv.worker_pids()


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def live_workers(srv):
    return sorted(p for p in pids(srv) if alive(p))


@pytest.mark.parametrize("kind", ["sync", "gevent", "eventlet"])
def test_hup_under_load(server, kind):
    srv = server("-k", kind, workers=2)
    old = live_workers(srv)
    with Load(srv.port) as load:
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Reloaded: 2 new workers up" in srv.text(), what="the reload")
        wait_for(lambda: not any(alive(p) for p in old), what="the old workers to go")
        load.more()
    load.report("HUP (%s)" % kind)
    assert load.failed == 0 and load.refused == 0
    assert len(set(live_workers(srv)) & set(old)) == 0
    assert srv.text().count("exited: retired by a reload (HUP)") == 2


def test_hup_with_a_broken_app_keeps_the_old_workers(server, tmp_path):
    app = tmp_path / "hupapp.py"
    app.write_text("def app(e, sr):\n    sr('200 OK', [('Content-Length', '2')])\n"
                   "    return [b'v1']\n")
    srv = server(workers=2, app="hupapp:app", chdir=tmp_path)
    old = live_workers(srv)
    with Load(srv.port) as load:
        app.write_text("def app(e, sr)\n    a syntax error\n")
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Reload failed: a new worker could not start" in srv.text(),
                 what="the failed reload")
        load.more()
        assert live_workers(srv)[:2] == old[:2] or set(old) <= set(live_workers(srv))
        # fixed code: the next HUP goes through
        app.write_text("def app(e, sr):\n    sr('200 OK', [('Content-Length', '2')])\n"
                       "    return [b'v2']\n")
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Reloaded: 2 new workers up" in srv.text(), what="the reload")
        wait_for(lambda: not any(alive(p) for p in old), what="the old workers to go")
        load.more()
    load.report("HUP with a broken app, then fixed")
    assert load.failed == 0 and srv.proc.poll() is None
    assert b"v2" in Load(srv.port).one()


def test_ttin_ttou_under_load(server):
    srv = server(workers=2)
    with Load(srv.port) as load:
        # one at a time: a signal sent while the same one is pending merges
        for n in (3, 4, 5):
            srv.proc.send_signal(signal.SIGTTIN)
            wait_for(lambda: len(live_workers(srv)) == n, what="%d workers" % n)
        load.more()
        for n in (4, 3, 2):
            srv.proc.send_signal(signal.SIGTTOU)
            wait_for(lambda: len(live_workers(srv)) == n, what="%d workers" % n)
        load.more()
    load.report("TTIN x3, TTOU x3")
    assert load.failed == 0
    assert srv.text().count("retired: fewer workers wanted (TTOU)") == 3


def test_max_requests_with_jitter_under_load(server):
    srv = server("--max-requests", "20", "--max-requests-jitter", "5", workers=2)
    with Load(srv.port) as load:
        wait_for(lambda: srv.text().count("recycled after --max-requests") >= 4,
                 what="4 recycles")
        load.more()
    load.report("max-requests 20, jitter 5")
    assert load.failed == 0
    assert "Autorestarting worker after current request." in srv.text()


@pytest.mark.parametrize("args", [("-k", "gthread", "--threads", "2"), ("-k", "gevent"),
                                  ("-k", "eventlet")], ids=["gthread", "gevent", "eventlet"])
def test_max_requests_with_a_pool_under_load(server, args):
    srv = server(*args, "--max-requests", "30", workers=2)
    with Load(srv.port) as load:
        wait_for(lambda: srv.text().count("recycled after --max-requests") >= 3,
                 what="3 recycles")
        load.more()
    load.report("%s max-requests 30" % args[1])
    assert load.failed == 0


LEAK = textwrap.dedent("""
    hoard = []

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/leak":
            hoard.append(bytearray(4 << 20))  # touched: resident
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
""")


def test_max_worker_memory_replaces_a_leaking_worker(server, tmp_path):
    (tmp_path / "leak.py").write_text(LEAK)
    srv = server("--max-worker-memory", "80", workers=1, app="leak:app", chdir=tmp_path)
    first = live_workers(srv)
    with Load(srv.port, threads=2, path="/leak") as load:
        wait_for(lambda: "over --max-worker-memory 80: replacing it" in srv.text(),
                 what="the memory recycle")
        wait_for(lambda: not any(alive(p) for p in first), what="the leaking worker to go")
        load.more(20)
    load.report("max-worker-memory 80 MiB, 4 MiB leaked per request")
    assert load.failed == 0
    assert "recycled over --max-worker-memory" in srv.text()


def test_max_worker_lifetime(server):
    srv = server("--max-worker-lifetime", "2", workers=1)
    first = live_workers(srv)
    with Load(srv.port) as load:
        wait_for(lambda: "recycled after --max-worker-lifetime" in srv.text(),
                 what="the lifetime recycle")
        wait_for(lambda: not any(alive(p) for p in first), what="the first worker to go")
        load.more()
    load.report("max-worker-lifetime 2")
    assert load.failed == 0 and not any(alive(p) for p in first)


WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2"),
           "gevent": ("-k", "gevent"), "eventlet": ("-k", "eventlet"),
           "tornado": ("-k", "tornado")}  # a WSGI app under tornado


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_term_answers_the_backlog_and_in_flight(server, worker):
    # one worker busy for 0.4 s per request: one request in the app, the
    # rest waiting in the listen backlog when TERM comes
    # (gevent, eventlet: one greenlet at most, the others wait in the backlog)
    srv = server(*WORKERS[worker], "--threads", "1", workers=1) if worker == "gthread" \
        else server(*WORKERS[worker], "--worker-connections", "1", workers=1) \
        if worker in ("gevent", "eventlet") else server(workers=1)
    socks = []
    for i in range(5):
        s = srv.connect()
        s.sendall(b"GET /sleep?0.4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        socks.append(s)
    wait_for(lambda: "sleeping in the app" in srv.text(), what="the first request")
    srv.proc.send_signal(signal.SIGTERM)
    answers = []
    for s in socks:
        answers.append(recv_all(s).split(b"\r\n")[0])
    print("TERM with 1 in flight and 4 queued (%s): %s" % (worker, answers))
    assert answers == [b"HTTP/1.1 200 OK"] * 5
    assert srv.proc.wait(timeout=TIMEOUT) == 0


def term_under_load(server, log, worker):
    """A TERM while 6 client threads keep connecting: how many requests
    failed (every one of them never seen by the server)."""
    srv = server(*WORKERS[worker], "--access-logfile", str(log),
                 "--access-logformat", "%(q)s %(s)s", workers=2)
    with Load(srv.port, threads=6) as load:
        load.more(100)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=TIMEOUT) == 0
        time.sleep(0.2)  # clients now see nobody listening
    load.report("TERM %s" % worker)
    assert load.refused > 0  # the stop really happened under load
    # Nothing the server took in went unanswered: a failed request is one
    # the server never saw -- it reached the kernel's queue in the instant
    # between the last worker's final look at it and its close (the kernel
    # then resets it; no server can answer it).
    served = set(re.findall(r"id=(\d+) 200", log.read_text()))
    lost = [i for i in load.failed_ids if str(i) in served]
    print("failed requests the server had served: %s; never seen by it: %d" % (
        lost, load.failed - len(lost)))
    assert not lost
    return load


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_term_under_load(server, tmp_path, worker):
    """Requests the server never saw are rare: a few at most. A holder of
    the listeners that does not drain them before it closes -- a worker
    that keeps them open while it finishes, one whose drain ends early, a
    worker the TERM found importing (test_term_while_importing_lets_the_
    listeners_go), or the master closing its copies after the workers
    (it closes them first) -- has one request of each of the 6 client
    threads reset: 6, every time. The last holder can still be preempted
    between its drain and its close on a loaded machine (1 run in 22 at
    load 1.7): a second run tells that chance from a holder that never
    drains."""
    load = term_under_load(server, tmp_path / "access.log", worker)
    if load.failed > 3:
        load = term_under_load(server, tmp_path / "access-again.log", worker)
    assert load.failed <= 3, load.errors


# An import that waits (20 s at most) for the test's go-PID file, after
# saying importing-PID: the app's own (sync), or tornado's, which the
# tornado class imports in its loop, after the app (a WSGI app here).
SLOW_IMPORT = textwrap.dedent("""\
    import os, sys, time
    HERE = os.path.dirname(os.path.abspath(__file__))
    def wait():
        pid = os.getpid()
        open(os.path.join(HERE, "importing-%d" % pid), "w").close()
        for _ in range(400):
            if os.path.exists(os.path.join(HERE, "go-%d" % pid)):
                return
            time.sleep(0.05)
    class Slow:
        def find_spec(self, name, path=None, target=None):
            if name == "tornado.web":
                sys.meta_path.remove(self)
                wait()
    if "KIND" == "tornado":
        sys.meta_path.insert(0, Slow())
    else:
        wait()
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]
    """)


def listening_inode(port):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":%04X" % port) and fields[3] == "0A":
                return fields[9]
    raise AssertionError("nothing listens on %d" % port)


def holds(pid, inode):
    """Whether process pid has the socket inode open."""
    d = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(d)
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(os.path.join(d, fd)) == "socket:[%s]" % inode:
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("worker", ["sync", "tornado"])
def test_term_while_importing_lets_the_listeners_go(server, tmp_path, worker):
    """A worker TERMed while it imports (its app, or what its class's loop
    imports: tornado) lets go of its copy of the listeners at once, not
    once the import is over: when the master stops, the port refuses new
    clients as soon as no other process holds it, instead of queuing them
    behind the importing worker, which would reset them at its exit."""
    (tmp_path / "slowimport.py").write_text(SLOW_IMPORT.replace("KIND", worker))
    srv = server(*WORKERS[worker], app="slowimport:app", chdir=tmp_path, workers=1)
    inode = listening_inode(srv.port)

    def importing(old=()):
        got = [int(p.name[10:]) for p in tmp_path.glob("importing-*")]
        return [p for p in got if p not in old]

    first = wait_for(importing, what="the import")[0]
    assert holds(first, inode)
    os.kill(first, signal.SIGTERM)  # the worker: the master boots another
    wait_for(lambda: not holds(first, inode), what="the worker to let go")
    assert alive(first)  # still importing
    (tmp_path / ("go-%d" % first)).touch()
    second = wait_for(lambda: importing([first]), what="the next import")[0]
    srv.proc.send_signal(signal.SIGTERM)  # the master: every process lets go

    def refused():
        try:
            socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT).close()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            # This probe reached the backlog just before the last holder
            # let go, and the kernel reset it: the port is about to refuse.
            # A worker that kept the listeners through its import would
            # never get here, so this does not hide that fault.
            return False
        return False
    wait_for(refused, what="the port to refuse")
    assert alive(second)  # still importing
    (tmp_path / ("go-%d" % second)).touch()
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    text = srv.text()
    assert "Worker exiting (pid: %d)" % first in text
    assert "Worker exiting (pid: %d)" % second in text


def test_sigkill_of_a_worker_loses_at_most_what_it_held(server):
    srv = server(workers=2)
    with Load(srv.port, threads=4) as load:
        victim = live_workers(srv)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(live_workers(srv)) == 2 and victim not in live_workers(srv),
                 what="a replacement")
        load.more()
    load.report("SIGKILL of one sync worker")
    assert load.failed <= 1  # the one request that worker was serving
    text = srv.text()
    assert ("Worker (pid:%d) was sent SIGKILL from outside the master" % victim in text or
            "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?" % victim in text)


def test_boot_failure_after_start_backs_off(server, tmp_path):
    app = tmp_path / "flaky.py"
    app.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'ok']\n")
    srv = server(workers=1, app="flaky:app", chdir=tmp_path)
    assert b"200 OK" in Load(srv.port).one()  # booted: the app is loaded
    app.write_text("raise RuntimeError('cannot start')\n")
    os.kill(live_workers(srv)[0], signal.SIGKILL)
    wait_for(lambda: "could not start (the worker failed to boot), 2 times in a row; "
             "next try in 2s" in srv.text(), what="the back-off")
    assert srv.proc.poll() is None  # the master stays up
    app.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'ok']\n")
    wait_for(lambda: len(live_workers(srv)) == 1 and
             srv.text().count("Booting worker") >= 3, what="a worker again")


def check_504(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"), raw[:200]
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert length == len(body) and b"Connection: close" in head


@pytest.mark.parametrize("path", ["/sleep?6", "/spin?6"])
@pytest.mark.parametrize("worker", ["gthread", "sync"])  # gevent, eventlet: refused
def test_request_timeout_answers_504_and_the_rest_is_served(server, worker, path):
    srv = server(*WORKERS[worker], "--request-timeout", "1", workers=2)
    before = live_workers(srv)
    with Load(srv.port) as load:
        t0 = time.monotonic()
        check_504(srv.raw(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n"))
        took = time.monotonic() - t0
        load.more()
    load.report("request-timeout 1 on %s (%s); the stuck one answered 504 after %.1fs" % (
        path, worker, took))
    assert load.failed == 0
    assert took < 5  # well before the app would have finished
    text = srv.text()
    line = "GET %s HTTP/1.1" % path
    assert "Request timeout" in text and line in text
    # the Python stack of the request (faulthandler's or the traceback's)
    wait_for(lambda: 'echo.py", line' in srv.text(), what="the stack in the log")
    assert "WORKER TIMEOUT" not in text
    assert set(before) <= set(live_workers(srv))  # nobody was killed
    # QUIT, not the TERM that would wait for a thread still asleep
    assert srv.stop(signal.SIGQUIT) == 0
