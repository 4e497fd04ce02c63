"""Facing the internet without a proxy (docs/operations.md): attacks by
slow and idle clients, each while a normal client keeps asking, whose
every request must be answered within a loose bound. The deadlines are set
small (and --timeout large, so that only they can cut) to keep each test
short; the connection budget is tested at its defaults."""

import csv
import os
import resource
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import TIMEOUT, recv_all

GT = ("-k", "gthread", "--threads", "4")
SLOW = 5.0  # a normal request answered later than this fails the test


def fd_limit(n):
    """Raises this process's open-file limit (the server inherits it) to
    n, or skips when the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        pytest.skip("needs %d open files, the hard limit is %d" % (n, hard))
    if soft == resource.RLIM_INFINITY or soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


class Prober:
    """A normal client: one GET per new connection, every 0.1 s, until
    stopped. Records each request's time, or why it failed."""

    def __init__(self, port):
        self.port = port
        self.times, self.failures = [], []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def one(self):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        try:
            s.sendall(b"GET /probe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = recv_all(s)
        finally:
            s.close()
        if not data.startswith(b"HTTP/1.1 200 OK"):
            raise AssertionError("answered %r" % data[:80])
        return time.monotonic() - t0

    def run(self):
        while not self.stopped.is_set():
            try:
                self.times.append(self.one())
            except Exception as e:  # noqa: BLE001 -- reported by check()
                self.failures.append(repr(e))
            time.sleep(0.1)

    def check(self, least=5):
        """Stops; every request was answered, none slower than SLOW."""
        self.stopped.set()
        self.thread.join(TIMEOUT + 5)
        assert not self.failures, self.failures[:3]
        assert len(self.times) >= least, "only %d normal requests" % len(self.times)
        print("normal requests: %d, slowest %.0f ms" % (len(self.times),
                                                        max(self.times) * 1000))
        assert max(self.times) < SLOW
        return max(self.times)


def closed_by_server(s, timeout=TIMEOUT):
    """Whether the server closes s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


def trickle(s, lines, every):
    """Sends one line every `every` seconds; the number of lines that went
    before the server cut the connection. Between two lines it watches the
    socket: the server's end (EOF, a reset or an answer) stops it at once,
    not at the next send (closed_by_server then checks the close)."""
    for i, line in enumerate(lines):
        try:
            s.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            return i
        if select.select([s], [], [], every)[0]:
            return i + 1
    return len(lines)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


# ---- the deadlines -------------------------------------------------------

@pytest.mark.parametrize("kind", [("-k", "sync"), GT, ("-k", "asgi")])
def test_head_sent_a_line_at_a_time_is_cut_at_the_header_timeout(server, kind):
    # one header line a second: each read waits afresh, so only a deadline
    # for the whole head (from its first byte) ends it, long before the
    # 120 s --timeout would
    app = "asgiecho:app" if "asgi" in kind else "echo:app"
    srv = server(*kind, "--timeout", "120", "--header-timeout", "2", app=app, workers=2)
    probe = Prober(srv.port)
    s = srv.connect()
    lines = [b"GET / HTTP/1.1\r\n"] + [b"X-%d: y\r\n" % i for i in range(TIMEOUT)]
    sent = trickle(s, lines, 1.0)
    assert sent < len(lines), "the head was never cut"
    assert closed_by_server(s)
    s.close()
    probe.check()


@pytest.mark.parametrize("kind", [("-k", "sync"), GT, ("-k", "asgi")])
def test_silent_new_connection_is_closed_at_the_new_connection_timeout(server, kind):
    app = "asgiecho:app" if "asgi" in kind else "echo:app"
    srv = server(*kind, "--timeout", "120", "--new-connection-timeout", "1", app=app)
    s = srv.connect()
    assert closed_by_server(s)
    s.close()
    # a connection that speaks at once is served as before
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
    s.close()


@pytest.mark.parametrize("kind", [("-k", "sync"), GT, ("-k", "asgi")])
def test_body_slower_than_the_minimum_rate_is_cut(server, kind):
    # a body larger than --buffer-body, which the app reads itself, at
    # 8 bytes a second: below 1000 B/s, cut once 2 s (+ 1 s per 1000 B)
    # have passed, long before the 120 s --timeout
    app = "asgiecho:app" if "asgi" in kind else "echo:app"
    srv = server(*kind, "--timeout", "120", "--body-timeout", "2",
                 "--body-min-rate", "1000", app=app, workers=2)
    probe = Prober(srv.port)
    s = srv.connect()
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
    sent = trickle(s, [b"12345678"] * TIMEOUT, 1.0)
    assert sent < TIMEOUT, "the body was never cut"
    assert closed_by_server(s)
    s.close()
    probe.check()


def test_body_at_a_good_rate_is_not_cut(server):
    # 10 KiB a second against a minimum of 1000 B/s: it takes 1.5 s, past
    # --body-timeout's 1 s, and is still read whole
    srv = server(*GT, "--body-timeout", "1", "--body-min-rate", "1000")
    s = srv.connect()
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              b"Content-Length: 20480\r\n\r\n")
    for i in range(4):
        if i:
            time.sleep(0.5)
        s.sendall(b"x" * 5120)
    s.settimeout(TIMEOUT)
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"body": "xxxxx' in data


@pytest.mark.parametrize("kind", [("-k", "sync"), GT])
def test_client_that_stops_reading_is_cut_at_the_send_timeout(server, kind):
    # a response far larger than the socket buffers, to a client that
    # reads nothing: cut after --send-timeout, not the 120 s --timeout,
    # and the worker serves again
    srv = server(*kind, "--timeout", "120", "--send-timeout", "1", app="big:app",
                 workers=1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(b"GET /chunks?40000000 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(2)  # reading nothing, past the send timeout
    s.settimeout(TIMEOUT)
    got = len(recv_all(s))
    assert got < 40000000, "the whole response went out"
    t = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    t.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert t.recv(100).startswith(b"HTTP/1.1 200 OK")
    t.close()


@pytest.mark.parametrize("kind", [("-k", "sync"), GT, ("-k", "asgi")])
def test_timeout_bounds_a_write_below_the_send_timeout(server, kind):
    # --timeout (2 s) shorter than --send-timeout (its 30 s default): a
    # write's wait without progress lasts the shorter (docs/compat.md:
    # every wait at most timeout, within the deadlines)
    asgi = "asgi" in kind
    srv = server(*kind, "--timeout", "2", app="asgiecho:app" if asgi else "big:app",
                 workers=1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(b"GET /big?38 HTTP/1.1\r\nHost: t\r\n\r\n" if asgi else
              b"GET /chunks?40000000 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(3)  # reading nothing, past --timeout
    s.settimeout(TIMEOUT)
    got = len(recv_all(s))
    assert got < (38 << 20 if asgi else 40000000), "the whole response went out"


# ---- under attack ----------------------------------------------------------

@pytest.mark.skipif(shutil.which("slowhttptest") is None, reason="no slowhttptest")
def test_slowloris_from_slowhttptest(server, tmp_path):
    # 400 connections sending a header line a second (slowhttptest -H);
    # the heads are cut at --header-timeout, and normal clients are
    # answered all along
    fd_limit(4096)
    srv = server(*GT, "--header-timeout", "3", workers=2)
    probe = Prober(srv.port)
    out = tmp_path / "slowloris"
    p = subprocess.Popen(["slowhttptest", "-H", "-c", "400", "-r", "400", "-i", "1",
                          "-l", "8", "-p", "2", "-x", "10", "-g", "-o", str(out),
                          "-u", "http://127.0.0.1:%d/" % srv.port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        said = p.communicate(timeout=TIMEOUT + 20)[0].decode(errors="replace")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    probe.check(least=10)
    with open(str(out) + ".csv") as f:
        rows = list(csv.DictReader(f))
    print("slowhttptest: %s" % rows)
    assert max(int(r["Connected"]) for r in rows) >= 300, "the attack did not get in"
    # the server closed every one before the attack's 8 s were up
    assert "No open connections left" in said
    assert all(int(r["Service Available"]) > 0 for r in rows)


@pytest.mark.parametrize("kind", [GT, ("-k", "asgi")])
def test_idle_flood_past_worker_connections_at_the_defaults(server, kind):
    # 2,400 silent connections against 2 workers of 1000 (the defaults):
    # the oldest silent ones make room for new ones, so the accepting
    # never stops; normal clients are answered all along; and every
    # flood connection is closed within the new connection deadline
    fd_limit(8192)
    srv = server(*kind, workers=2, app="asgiecho:app" if "asgi" in kind else "echo:app")
    flood = []
    try:
        for _ in range(2400):
            flood.append(socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT))
        probe = Prober(srv.port)
        time.sleep(3)  # the flood sits there, past the 1 s grace
        probe.check(least=3)
        deadline = time.monotonic() + TIMEOUT
        for s in flood:
            assert closed_by_server(s, max(0.1, deadline - time.monotonic())), \
                "a flood connection is still open (never accepted?)"
    finally:
        for s in flood:
            s.close()


@pytest.mark.parametrize("kind", [GT, ("-k", "asgi")])
def test_heads_just_under_the_limit_keep_the_workers_memory_bounded(server, kind):
    # 1,000 connections each sending a head of about 800 KB (100 fields
    # of 8000 bytes: just under the limit) that never ends. Unbounded
    # that is about 1 MiB per connection; --max-head-memory (64 MiB by
    # default) caps what a worker holds, and normal clients are answered
    fd_limit(8192)
    srv = server(*kind, workers=2, app="asgiecho:app" if "asgi" in kind else "echo:app")
    pids = srv.worker_pids()
    before = {pid: rss_kib(pid) for pid in pids}
    line = b"X-Pad: " + b"a" * 7990 + b"\r\n"
    head = b"GET / HTTP/1.1\r\nHost: t\r\n" + line * 98
    conns, left = [], {}
    probe = Prober(srv.port)
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            s.setblocking(False)
            conns.append(s)
            left[s] = memoryview(head)
        until = time.monotonic() + TIMEOUT
        while left and time.monotonic() < until:
            for s, rest in list(left.items()):
                try:
                    n = s.send(rest[:262144])
                except BlockingIOError:
                    continue
                except OSError:  # closed by the server: over the budget
                    del left[s]
                    continue
                if n == len(rest):
                    del left[s]
                else:
                    left[s] = rest[n:]
            time.sleep(0.01)
        time.sleep(1)  # the workers read what is in their sockets
        after = {pid: rss_kib(pid) for pid in pids}
        probe.check()
    finally:
        for s in conns:
            s.close()
    grown = {pid: (after[pid] - before[pid]) // 1024 for pid in pids}
    print("worker RSS growth, MiB: %s" % grown)
    # unbounded, each worker would hold about 500 MiB; the cap is 64
    assert all(g < 200 for g in grown.values()), grown
