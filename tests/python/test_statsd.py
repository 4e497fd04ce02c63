"""statsd_host, statsd_prefix, dogstatsd_tags and enable_backlog_metric over a
real server: the datagrams Gunicorn's statsd logger sends, received by a
socket of the test's own (UDP on 127.0.0.1, or a UNIX datagram socket);
servers whose statsd host does not answer, or never reads, serving as
usual; and every bad value refused at start."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import APPS, ROOT, TIMEOUT, free_port, maker, recv_all, wait_for

PREFIX = "app."
TAGS = "|#env:test,team"


class Receiver:
    """A statsd server that only listens: every datagram, in order."""

    def __init__(self, family=socket.AF_INET, path=None):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.address = "unix://" + path
        else:
            self.sock.bind(("127.0.0.1", 0))
            self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.setblocking(False)
        self.lines = []

    def poll(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode("ascii"))
            except BlockingIOError:
                return self.lines

    def count(self, line):
        return self.poll().count(line)

    def wait(self, line, n=1, timeout=TIMEOUT):
        wait_for(lambda: self.count(line) >= n, timeout=timeout,
                 what="%d x %r in %r" % (n, line, self.lines[-20:]))

    def matching(self, pattern):
        return [m for m in (re.fullmatch(pattern, x) for x in self.poll()) if m]

    def close(self):
        self.sock.close()


@pytest.fixture
def receiver():
    make, close_all = maker(Receiver)
    yield make
    close_all()


def get(srv, path, close=True):
    s = srv.connect()
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" +
              (b"Connection: close\r\n" if close else b"") + b"\r\n")
    out = recv_all(s)
    return int(out.split(b" ", 2)[1]) if out else None


def durations(rx):
    return [float(m.group(1)) for m in rx.matching(
        re.escape(PREFIX) + r"gunicorn\.request\.duration:(\d+\.\d+)\|ms" + re.escape(TAGS))]


def started(server, rx, *args, workers=2, **kw):
    return server("--statsd-host", rx.address, "--statsd-prefix", "app",
                  "--dogstatsd-tags", "env:test,team", *args, workers=workers, **kw)


@pytest.mark.parametrize("worker", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "gthread"])
def test_requests_statuses_workers_and_log_lines(server, receiver, worker):
    rx = receiver()
    srv = started(server, rx, *worker)
    rx.wait(PREFIX + "gunicorn.workers:2|g" + TAGS)
    assert get(srv, "/") == 200
    assert get(srv, "/status?404+Not+Found") == 404
    assert get(srv, "/error") == 500
    assert get(srv, "/sleep?0.25") == 200
    rx.wait(PREFIX + "gunicorn.requests:1|c|@1.0" + TAGS, 4)
    rx.wait(PREFIX + "gunicorn.request.status.200:1|c|@1.0" + TAGS, 2)
    lines = rx.poll()
    # each request: duration (a timer, in ms), count, status, in this order
    for status in (200, 404, 500, 200):
        i = lines.index(PREFIX + "gunicorn.request.status.%d:1|c|@1.0" % status + TAGS)
        assert lines[i - 1] == PREFIX + "gunicorn.requests:1|c|@1.0" + TAGS, lines
        assert re.fullmatch(re.escape(PREFIX) + r"gunicorn\.request\.duration:"
                            r"\d+\.\d+\|ms" + re.escape(TAGS), lines[i - 2]), lines
        lines = lines[i + 1:]
    d = durations(rx)
    assert len(d) == 4 and d[3] >= 250.0 and d[3] < 5000.0, d
    assert rx.count(PREFIX + "gunicorn.request.status.404:1|c|@1.0" + TAGS) == 1
    assert rx.count(PREFIX + "gunicorn.request.status.500:1|c|@1.0" + TAGS) == 1
    # the app's exception: Gunicorn's log.exception, counted as exception
    rx.wait(PREFIX + "gunicorn.log.exception:1|c|@1.0" + TAGS)
    assert "Error handling request" in srv.text()
    assert rx.count(PREFIX + "gunicorn.log.error:1|c|@1.0" + TAGS) == 0
    # a bad request: a warning, and no request counted (Gunicorn has no
    # request to log then)
    assert b" 400 " in srv.raw(b"BAD\r\n\r\n")
    rx.wait(PREFIX + "gunicorn.log.warning:1|c|@1.0" + TAGS)
    time.sleep(0.3)
    assert rx.count(PREFIX + "gunicorn.requests:1|c|@1.0" + TAGS) == 4
    # TTIN: the master's gauge follows the count
    srv.proc.send_signal(signal.SIGTTIN)
    rx.wait(PREFIX + "gunicorn.workers:3|g" + TAGS)
    assert rx.count(PREFIX + "gunicorn.workers:2|g" + TAGS) == 1
    assert srv.stop() == 0
    # nothing but Gunicorn's names went out
    names = {re.sub(r":.*", "", x) for x in rx.poll()}
    assert names <= {PREFIX + "gunicorn." + n for n in (
        "workers", "requests", "request.duration", "request.status.200",
        "request.status.404", "request.status.500", "log.exception",
        "log.warning")}, names


@pytest.mark.parametrize("worker", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "gthread"])
def test_refused_requests_with_a_request_counted(server, receiver, worker):
    """Gunicorn counts a request refused for a header error it raises with
    the request attached (logged as a 400), and no request-line or limit
    error (nothing to log then)."""
    rx = receiver()
    srv = started(server, rx, *worker, workers=1)
    for data in (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
                 b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"):
        assert srv.raw(data).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 "))
    assert get(srv, "/") == 200
    rx.wait(PREFIX + "gunicorn.request.status.200:1|c|@1.0" + TAGS)
    rx.wait(PREFIX + "gunicorn.log.warning:1|c|@1.0" + TAGS, 4)
    assert rx.count(PREFIX + "gunicorn.request.status.400:1|c|@1.0" + TAGS) == 2
    assert rx.count(PREFIX + "gunicorn.requests:1|c|@1.0" + TAGS) == 3
    assert len(durations(rx)) == 3
    assert not rx.matching(r".*status\.431.*")


def test_keepalive_requests_each_counted(server, receiver):
    rx = receiver()
    srv = started(server, rx, "-k", "gthread", "--threads", "2", "--keep-alive", "5",
                  workers=1)
    s = srv.connect()
    for i in range(5):
        s.sendall(b"GET /status?201+Created HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while not head.endswith(b"hello"):
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 201 ")
    s.close()
    rx.wait(PREFIX + "gunicorn.request.status.201:1|c|@1.0" + TAGS, 5)
    assert len(durations(rx)) == 5


def test_log_lines_counted_whatever_the_level(receiver, tmp_path):
    """Gunicorn's statsd logger counts the lines its level drops too. (At
    level critical no "Listening at" tells when the server is up: it is
    started here, and asked until it answers.)"""
    rx = receiver()
    port, log = free_port(), tmp_path / "error.log"
    p = subprocess.Popen([str(ROOT / "cunicorn"), "-b", "127.0.0.1:%d" % port, "-w", "1",
                          "--statsd-host", rx.address, "--statsd-prefix", "app",
                          "--dogstatsd-tags", "env:test,team", "--log-level", "critical",
                          "--error-logfile", str(log), "--chdir", str(APPS), "echo:app"])

    def answers(path):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except OSError:
            return None
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return recv_all(s)
    try:
        wait_for(lambda: answers(b"/"), what="the server to answer")
        assert b" 500 " in answers(b"/error")
        rx.wait(PREFIX + "gunicorn.log.exception:1|c|@1.0" + TAGS)
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")
        assert b" 400 " in recv_all(s)
        rx.wait(PREFIX + "gunicorn.log.warning:1|c|@1.0" + TAGS)
        text = log.read_text()
        assert "Error handling request" not in text and "Invalid request" not in text, text
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=TIMEOUT) == 0


def test_no_prefix_no_tags_over_a_unix_socket(server, receiver, tmp_path):
    rx = receiver(socket.AF_UNIX, str(tmp_path / "statsd.sock"))
    srv = server("--statsd-host", rx.address, workers=1)
    assert get(srv, "/status?302+Found") == 302
    rx.wait("gunicorn.request.status.302:1|c|@1.0")
    lines = rx.poll()
    assert "gunicorn.workers:1|g" in lines
    assert "gunicorn.requests:1|c|@1.0" in lines
    assert [x for x in lines if re.fullmatch(r"gunicorn\.request\.duration:\d+\.\d+\|ms", x)]


def test_prefix_rule(server, receiver):
    """A '.' is added to a prefix without one; a trailing run of dots is
    one; a one-character prefix is kept as it is (Gunicorn's regex)."""
    for given, want in (("web.app..", "web.app."), ("x", "x")):
        rx = receiver()
        srv = server("--statsd-host", rx.address, "--statsd-prefix", given, workers=1)
        rx.wait(want + "gunicorn.workers:1|g")
        srv.stop()


def test_backlog_metric(server, receiver):
    """enable_backlog_metric: the connections waiting in the listen queue,
    each second, from the kernel's count (TCP_INFO)."""
    rx = receiver()
    srv = started(server, rx, "--enable-backlog-metric", "--log-level", "debug",
                  workers=1)
    rx.wait(PREFIX + "gunicorn.backlog:0|h" + TAGS, 2)
    # the one sync worker busy for 3 s: three more clients wait in the queue
    busy = srv.connect()
    busy.sendall(b"GET /sleep?3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    time.sleep(0.3)
    waiting = [srv.connect() for _ in range(3)]
    rx.wait(PREFIX + "gunicorn.backlog:3|h" + TAGS, timeout=3)
    assert "[DEBUG] socket backlog: 3" in srv.text()
    for s in [busy] + waiting:
        s.close()


def test_backlog_metric_without_statsd_logs_at_debug(server):
    srv = server("--enable-backlog-metric", "--log-level", "debug")
    wait_for(lambda: srv.text().count("socket backlog: 0") >= 2, what="two ticks")


def test_unreachable_host_serves_normally(server, receiver):
    """A statsd host that answers nothing (a closed port: ICMP errors)
    slows no request."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = server("--statsd-host", "127.0.0.1:%d" % port, workers=1)
    t = time.monotonic()
    for _ in range(200):
        assert get(srv, "/") == 200
    took = time.monotonic() - t
    assert took < 10, took
    assert "statsd" not in srv.text()


def test_a_receiver_that_never_reads_blocks_nothing(server, tmp_path):
    path = str(tmp_path / "full.sock")
    full = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    full.bind(path)   # never read: its queue fills at once
    try:
        srv = server("--statsd-host", "unix://" + path, "-k", "gthread",
                     "--threads", "2", workers=1)
        s = srv.connect()
        t = time.monotonic()
        for _ in range(300):
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(65536)
        assert time.monotonic() - t < 10
        s.close()
    finally:
        full.close()


def test_a_unix_socket_not_there_yet_is_reached_once_it_is(server, receiver, tmp_path):
    """Ours: Gunicorn's socket, failing to connect at start, sends nothing
    ever after; cunicorn sends to the path, and reaches it once it exists."""
    path = str(tmp_path / "late.sock")
    srv = server("--statsd-host", "unix://" + path, workers=1)
    assert get(srv, "/") == 200
    rx = receiver(socket.AF_UNIX, path)
    assert get(srv, "/status?418+Teapot") == 418
    rx.wait("gunicorn.request.status.418:1|c|@1.0")


def test_unresolvable_host_warns_and_serves(server):
    srv = server("--statsd-host", "no-such-host.invalid:8125", workers=1)
    assert get(srv, "/") == 200
    assert re.search(r"\[WARNING\] statsd_host no-such-host\.invalid:8125: .+; "
                     r"no metrics are sent", srv.text()), srv.text()


def run(*args, conf=None, env=None):
    return subprocess.run([str(ROOT / "cunicorn"), "-b", "127.0.0.1:0"] + list(args) +
                          ["echo:app"], cwd=APPS, capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)


BAD = [
    ("localhost:x", "Invalid value for statsd_host: 'localhost:x' ('x' is not a valid "
     "port number; expected HOST:PORT or unix://PATH)"),
    ("localhost:", "Invalid value for statsd_host: 'localhost:' ('' is not a valid port"),
    ("udp://localhost:8125", "Invalid value for statsd_host: 'udp://localhost:8125'"),
    ("localhost:70000", "Invalid value for statsd_host: 'localhost:70000' (a port out "
     "of 0..65535)"),
    ("fd://3", "Invalid value for statsd_host: 'fd://3' (statsd sends to HOST:PORT or "
     "unix://PATH, not to a file descriptor)"),
    ("unix://", "Invalid value for statsd_host: 'unix://' (an empty path)"),
]


@pytest.mark.parametrize("value,error", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("layer", ["cli", "env", "file"])
def test_bad_statsd_host_refused_from_every_layer(tmp_path, value, error, layer):
    conf = tmp_path / "c.py"
    conf.write_text("statsd_host = %r\n" % value if layer == "file" else "\n")
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)
    args = ["-c", str(conf)]
    if layer == "cli":
        args += ["--statsd-host", value]
    elif layer == "env":
        env["GUNICORN_CMD_ARGS"] = "--statsd-host " + value
    r = run(*args, "--check-config", env=env)
    assert r.returncode != 0 and error in r.stderr, r.stderr
    assert "Booting worker" not in r.stderr


@pytest.mark.parametrize("args,error", [
    (["--statsd-prefix", "caf\u00e9"], "Invalid value for statsd_prefix: 'caf\u00e9' "
     "(printable ASCII only"),
    (["--dogstatsd-tags", "env:\u00e9t\u00e9"], "Invalid value for dogstatsd_tags: "),
])
def test_prefix_and_tags_not_ascii_refused_only_with_a_host(args, error):
    r = run(*args, "--check-config")
    assert r.returncode == 0, r.stderr   # read only with statsd_host, as Gunicorn
    r = run("--statsd-host", "127.0.0.1:9", *args)
    assert r.returncode == 1 and error in r.stderr, r.stderr
    assert "Booting worker" not in r.stderr


HOOKS = """
def post_request(worker, req, environ, resp):
    worker.log.info("", extra={"metric": "hook.hits", "value": 1, "mtype": "counter"})
    worker.log.debug("said", extra={"metric": "hook.size", "value": 2.5, "mtype": "gauge"})
    worker.log.info("no metric", extra={"metric": "hook.none", "value": None,
                                        "mtype": "counter"})
    worker.log.log(20, "", extra={"metric": "hook.t", "value": 0, "mtype": "timer"})
    worker.log.info("", extra={"metric": "hook.h", "value": 3, "mtype": "histogram"})
    worker.log.info("", extra={"metric": "hook.x", "value": 1, "mtype": "meter"})
    try:
        raise ValueError("from a hook")
    except ValueError:
        worker.log.exception("a hook's exception")
"""


def test_hooks_send_metrics_through_the_log(server, receiver, tmp_path):
    """Gunicorn's statsd logger takes a metric in a log call's `extra`
    (debug, info, log); an empty message is then not logged."""
    rx = receiver()
    conf = tmp_path / "hooks.py"
    conf.write_text(HOOKS)
    srv = started(server, rx, "-c", str(conf), "--log-level", "debug", workers=1)
    assert get(srv, "/") == 200
    rx.wait(PREFIX + "hook.h:3|h" + TAGS)
    lines = rx.poll()
    for want in ("hook.hits:1|c|@1.0", "hook.size:2.5|g", "hook.t:0|ms", "hook.h:3|h",
                 "gunicorn.log.exception:1|c|@1.0"):
        assert PREFIX + want + TAGS in lines, (want, lines)
    assert not [x for x in lines if "hook.none" in x or "hook.x" in x], lines
    text = srv.text()
    assert "[DEBUG] said" in text and "[INFO] no metric" in text
    assert "a hook's exception" in text and "ValueError: from a hook" in text
    assert not re.search(r"\[INFO\] \n", text), text   # the empty ones: not logged


def test_hup_applies_new_statsd_settings(server, receiver, tmp_path):
    """Ours: a HUP applies statsd_host and statsd_prefix (Gunicorn keeps the
    start's logger)."""
    rx1, rx2 = receiver(), receiver()
    conf = tmp_path / "c.py"
    conf.write_text("statsd_host = %r\nstatsd_prefix = 'one'\n" % rx1.address)
    srv = server("-c", str(conf), workers=1)
    assert get(srv, "/") == 200
    rx1.wait("one.gunicorn.request.status.200:1|c|@1.0")
    conf.write_text("statsd_host = %r\nstatsd_prefix = 'two'\n" % rx2.address)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reloaded: 1 new worker up" in srv.text(), what="the new worker")
    wait_for(lambda: "exited" in srv.text(), what="the old worker's exit")
    assert get(srv, "/") == 200
    rx2.wait("two.gunicorn.request.status.200:1|c|@1.0")
    assert not [x for x in rx1.poll() if x.startswith("two.")]
