"""A pool's threads take the GIL in the order they asked for it
(src/host/gil.c; docs/architecture.md, Threads and the GIL), and the
queue never keeps a request from its answer: a TERM while threads wait,
many clients at once, Python logging from every thread."""

import os
import platform
import signal
import threading

import pytest

from conftest import TIMEOUT, wait_for
from test_gthread import get, session
from test_pylog import dict_config, pyserver  # noqa: F401 (a fixture)

# the numbers of read(2), futex(2), and where an idle pool thread sleeps:
# epoll_wait(2) (or epoll_pwait) for the one at the poller, poll(2) (or
# ppoll) for the spares (src/worker/gate.c); /proc/PID/task/TID/syscall
# shows them
SYSCALLS = {"x86_64": (0, 202, (232, 281, 7, 271)), "aarch64": (63, 98, (22, 73))}
QUEUED = 5

pytestmark = pytest.mark.skipif(platform.machine() not in SYSCALLS or
                                not os.path.exists("/proc/self/task"),
                                reason="reads thread states from Linux's /proc")


def in_syscall(pid, *nrs):
    """The worker's pool threads now blocked in one of the syscalls nrs
    (its main thread, which sleeps in poll(2) too, is left out)."""
    tids = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        if tid == str(pid):
            continue
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                first = f.read().split()[0]
        except (OSError, IndexError):
            continue
        if first.isdigit() and int(first) in nrs:
            tids.add(tid)
    return tids


def queue_up(server, tmp_path):
    """A worker whose GIL /hold keeps while QUEUED requests, sent one at a
    time, each wait for it. (srv, the FIFO's write end, [(sock, Reader)]
    with /hold's first)."""
    read, futex, idle = SYSCALLS[platform.machine()]
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    wfd = os.open(fifo, os.O_RDWR)  # the app's blocking open returns at once
    env = dict(os.environ, GIL_RELEASE=str(fifo))
    srv = server("-k", "gthread", "--threads", str(QUEUED + 1), "--graceful-timeout", "30",
                 app="gilapp:app", env=env)
    pid = srv.worker_pids()[0]
    # each connection has had a request: its gunicorn.socket is made (that
    # drops the GIL, in setblocking), so the next one goes into the app
    # with the GIL it took
    socks = [warm(srv) for _ in range(QUEUED + 1)]
    # the pool's threads, all started, wait at the poller
    wait_for(lambda: len(in_syscall(pid, *idle)) == QUEUED + 1, what="the pool to be idle")
    socks[0][0].sendall(get("/hold"))
    wait_for(lambda: in_syscall(pid, read), what="/hold to hold the GIL")
    held = set()
    for k in range(1, QUEUED + 1):
        socks[k][0].sendall(get("/%d" % k))
        # request k waits (for the GIL, or its turn) before k+1 is sent:
        # one more thread blocked, the same in two looks in a row (a
        # thread may pass through a futex on its way)
        held = wait_for(settled(pid, futex, set(), held, k), what="request %d to wait" % k)
    return srv, wfd, socks


def warm(srv):
    """A keep-alive connection (socket, Reader) that has had a request."""
    s, rd = session(srv)
    s.sendall(get("/order"))
    rd.response()
    return s, rd


def settled(pid, futex, before, held, k):
    seen = []

    def check():
        now = in_syscall(pid, futex) - before
        ok = len(now) == k and held <= now and seen and seen[-1] == now
        seen.append(now)
        return now if ok else None
    return check


def test_threads_enter_the_app_in_the_order_they_asked(server, tmp_path):
    srv, wfd, socks = queue_up(server, tmp_path)
    os.write(wfd, b"x")
    for i, (s, rd) in enumerate(socks):
        status, _, body = rd.response()
        assert status == "HTTP/1.1 200 OK"
        assert body == (b"/hold" if i == 0 else b"/%d" % i)
        s.close()
    assert order(srv) == ["/hold"] + ["/%d" % k for k in range(1, QUEUED + 1)]
    os.close(wfd)


def order(srv):
    s, rd = session(srv)
    s.sendall(get("/order"))
    got = rd.response()[2].decode().split()
    s.close()
    return got


def test_a_thread_that_dropped_the_gil_asks_again_behind_a_waiter(server, tmp_path):
    """The unfairness this is for: on one core, a thread that drops the
    GIL keeps the CPU and, without the queue, takes the GIL back for its
    connection's next pipelined request before a waiting thread has run:
    here all 8 would go before /1. In turn, /1 comes next."""
    read, futex, idle = SYSCALLS[platform.machine()]
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    wfd = os.open(fifo, os.O_RDWR)
    srv = server("-k", "gthread", "--threads", "2", app="gilapp:app",
                 env=dict(os.environ, GIL_RELEASE=str(fifo)))
    pid = srv.worker_pids()[0]
    wait_for(lambda: len(in_syscall(pid, *idle)) == 2, what="the pool to be idle")
    one = min(os.sched_getaffinity(0))
    for tid in os.listdir("/proc/%d/task" % pid):
        os.sched_setaffinity(int(tid), {one})
    a, ard = warm(srv)
    b, brd = warm(srv)
    wait_for(lambda: len(in_syscall(pid, *idle)) == 2, what="the pool to be idle")
    a.sendall(get("/hold") + b"".join(get("/p%d" % i) for i in range(1, 9)))
    wait_for(lambda: in_syscall(pid, read), what="/hold to hold the GIL")
    b.sendall(get("/1"))
    wait_for(settled(pid, futex, set(), set(), 1), what="/1 to wait")
    os.write(wfd, b"x")
    assert brd.response()[2] == b"/1"
    for want in ["/hold"] + ["/p%d" % i for i in range(1, 9)]:
        assert ard.response()[2] == want.encode()
    got = order(srv)
    assert got.index("/1") <= 2, got  # next, or after the one in hand
    os.close(wfd)


def test_term_while_threads_wait_answers_them_all(server, tmp_path):
    srv, wfd, socks = queue_up(server, tmp_path)
    srv.proc.send_signal(signal.SIGTERM)
    os.write(wfd, b"x")
    for s, rd in socks:
        assert rd.response()[0] == "HTTP/1.1 200 OK"
        assert rd.closed()
        s.close()
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    os.close(wfd)


def test_many_clients_with_python_logging_all_answered(pyserver, tmp_path):
    """64 keep-alive clients at once on 4 threads, each request logging
    through Python's logging from its pool thread, and the access lines
    too (src/host/pylog.c takes the GIL outside the queue)."""
    out = tmp_path / "out.log"
    conf = tmp_path / "conf.py"
    conf.write_text(dict_config(out, '{"format": "%(name)s %(message)s"}')
                    .replace('"loggers": {', '"loggers": {"gilapp": {"handlers": ["file"], '
                             '"level": "WARNING", "propagate": False},'))
    srv = pyserver("-c", str(conf), "-k", "gthread", "--threads", "4", "--timeout", "30",
                   app="gilapp:app", ready=out)
    clients, per = 64, 10
    failures = []

    def client():
        try:
            s, rd = session(srv)
            for _ in range(per):
                s.sendall(get("/work"))
                if rd.response()[2] != b"/work":
                    failures.append("bad body")
            s.close()
        except Exception as e:  # the assertion below says which
            failures.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    n = clients * per

    def logged():
        text = out.read_text() if out.exists() else ""
        return (text.count("gilapp work done") >= n and
                text.count('"GET /work HTTP/1.1" 200') >= n)
    wait_for(logged, what="every work and access line")
