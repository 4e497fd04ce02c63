"""--log-syslog and its settings over a real server: the messages Gunicorn's
SysLogHandler sends (<PRI>gunicorn.NAME.error|access: [PID] MESSAGE and a
NUL), received by sockets of the test's own: UDP on 127.0.0.1, TCP (one
stream per process), a UNIX datagram and a UNIX stream socket; the name
from syslog_prefix and from proc_name, a facility, the access lines kept
out, a HUP applying new settings, a TCP server that is not there (the
requests are answered all the same), and every bad value refused at
start."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from conftest import APPS, ROOT, TIMEOUT, maker, recv_all, wait_for

MSG = re.compile(rb"<(\d+)>gunicorn\.(.+?)\.(error|access): \[(\d+)\] (.*)", re.S)


class Message:
    def __init__(self, raw, conn=None):
        m = MSG.fullmatch(raw)
        assert m, raw
        self.raw = raw
        self.pri = int(m.group(1))
        self.name = m.group(2).decode()
        self.kind = m.group(3).decode()
        self.pid = int(m.group(4))
        self.text = m.group(5).decode(errors="replace")
        self.conn = conn

    def __repr__(self):
        return repr(self.raw)


class Receiver:
    """A syslog server that only listens: each message as it came, in
    order; its raw bytes must end with one NUL."""

    def __init__(self, kind, path=None):
        self.kind = kind
        self.messages = []
        self.errors = []    # what was no message, or not a whole one
        self.lock = threading.Lock()
        self.stopping = False
        family = socket.AF_UNIX if kind.startswith("unix") else socket.AF_INET
        stype = socket.SOCK_STREAM if kind in ("tcp", "unix-stream") else socket.SOCK_DGRAM
        self.sock = socket.socket(family, stype)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.address = "unix://" + path
        else:
            self.sock.bind(("127.0.0.1", 0))
            self.address = "%s://127.0.0.1:%d" % (kind, self.sock.getsockname()[1])
        if stype == socket.SOCK_STREAM:
            self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.conns = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def add(self, raw, conn=None):
        try:
            m = Message(raw, conn)
        except AssertionError:
            self.errors.append(raw)
            return
        with self.lock:
            self.messages.append(m)

    def read_stream(self, conn, n):
        buf = b""
        conn.settimeout(0.2)
        while not self.stopping:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            *whole, buf = buf.split(b"\0")
            for raw in whole:
                self.add(raw, n)
        if buf:     # a stream ends between messages
            self.errors.append(buf)
        conn.close()

    def run(self):
        while not self.stopping:
            try:
                if self.kind in ("tcp", "unix-stream"):
                    conn, _ = self.sock.accept()
                    self.conns.append(conn)
                    threading.Thread(target=self.read_stream, daemon=True,
                                     args=(conn, len(self.conns))).start()
                else:
                    raw = self.sock.recv(70000)
                    if raw.endswith(b"\0") and raw.count(b"\0") == 1:
                        self.add(raw[:-1])
                    else:
                        self.errors.append(raw)
            except socket.timeout:
                continue
            except OSError:
                return

    def all(self):
        with self.lock:
            return list(self.messages)

    def wait(self, pred, n=1, what="a message"):
        return wait_for(lambda: len([m for m in self.all() if pred(m)]) >= n and
                        [m for m in self.all() if pred(m)], what="%s in %r" % (
                            what, self.all()[-20:]))

    def wait_text(self, kind, text, n=1):
        return self.wait(lambda m: m.kind == kind and text in m.text, n,
                         "%d x %s %r" % (n, kind, text))

    def close(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def receiver():
    make, close_all = maker(Receiver)
    yield make
    for r in close_all():
        assert not r.errors, r.errors     # each message whole, with its NUL


@pytest.fixture
def sockdir():
    """A short directory for UNIX sockets (sun_path holds 107 bytes)."""
    d = tempfile.mkdtemp(prefix="cu-sl-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def get(srv, path):
    s = srv.connect()
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = recv_all(s)
    return int(out.split(b" ", 2)[1]) if out else None


def master_pid(srv):
    return srv.proc.pid     # ./cunicorn execs the interpreter


def check_start_and_requests(srv, rx, name="echo.app", facility=1, access=True):
    """The start's lines and a request's, as they arrive at rx."""
    workers = srv.worker_pids()
    starting = rx.wait_text("error", "Starting cunicorn")[0]
    assert starting.pri == facility * 8 + 6 and starting.name == name
    assert starting.pid == master_pid(srv)
    listening = rx.wait_text("error", "Listening at: http://127.0.0.1:%d" % srv.port)[0]
    assert listening.pid == master_pid(srv) and listening.pri == facility * 8 + 6
    assert re.fullmatch(r"Listening at: http://127\.0\.0\.1:\d+ \(\d+\)", listening.text)
    for pid in workers:
        booting = rx.wait_text("error", "Booting worker with pid: %d" % pid)[0]
        assert booting.pid == pid, booting  # logged by the worker itself
    assert get(srv, "/") == 200
    if access:
        line = rx.wait_text("access", '"GET / HTTP/1.1" 200')[0]
        assert line.pri == facility * 8 + 6 and line.name == name and line.pid in workers
        assert re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1\.1" 200 \d+ "-" "-"',
                            line.text), line
    assert get(srv, "/error") == 500
    error = rx.wait_text("error", "Error handling request GET /error")[0]
    assert error.pri == facility * 8 + 3 and error.pid in workers
    # Ours: the traceback is the next message
    tb = rx.wait(lambda m: m.text.startswith("Traceback (most recent call last):\n"))[0]
    assert tb.pri == facility * 8 + 3 and tb.pid == error.pid
    assert rx.all().index(tb) == rx.all().index(error) + 1 or error.conn is not None
    return workers


@pytest.mark.parametrize("worker", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "gthread"])
def test_udp_error_and_access_lines(server, receiver, tmp_path, worker):
    rx = receiver("udp")
    access = tmp_path / "access.log"
    srv = server("--log-syslog", "--log-syslog-to", rx.address, "--access-logfile",
                 str(access), *worker, workers=2)
    check_start_and_requests(srv, rx)
    # the access line is the one the access log writes
    line = rx.wait_text("access", '"GET / HTTP/1.1" 200')[0]
    wait_for(lambda: access.exists() and line.text + "\n" in access.read_text(),
             what="the same line in the access log")
    # the error log still has every line
    assert "Error handling request GET /error" in srv.text()


def test_access_lines_without_an_access_log(server, receiver):
    """Gunicorn writes access lines when syslog takes them, access log or not."""
    rx = receiver("udp")
    srv = server("--log-syslog", "--log-syslog-to", rx.address)
    assert get(srv, "/x?y=1") == 200
    rx.wait_text("access", '"GET /x?y=1 HTTP/1.1" 200')


def test_tcp_one_stream_per_process(server, receiver):
    rx = receiver("tcp")
    srv = server("--log-syslog", "--log-syslog-to", rx.address, workers=2)
    workers = check_start_and_requests(srv, rx)
    # every stream carries one process's messages: no two processes share one
    by_conn = {}
    for m in rx.all():
        by_conn.setdefault(m.conn, set()).add(m.pid)
    assert all(len(pids) == 1 for pids in by_conn.values()), by_conn
    assert {p for pids in by_conn.values() for p in pids} >= {master_pid(srv), *workers}


@pytest.mark.parametrize("kind,suffix", [("unix-dgram", ""), ("unix-dgram", "#dgram"),
                                         ("unix-stream", ""), ("unix-stream", "#stream")],
                         ids=["dgram", "dgram-explicit", "stream", "stream-explicit"])
def test_unix_sockets(server, receiver, sockdir, kind, suffix):
    rx = receiver(kind, path=os.path.join(sockdir, "log.sock"))
    srv = server("--log-syslog", "--log-syslog-to", rx.address + suffix)
    check_start_and_requests(srv, rx)


def test_prefix_facility_and_proc_name(server, receiver):
    rx = receiver("udp")
    srv = server("--log-syslog", "--log-syslog-to", rx.address, "--log-syslog-prefix",
                 "my:app", "--log-syslog-facility", "LOCAL3")
    check_start_and_requests(srv, rx, name="my:app", facility=19)   # <158>, <155>
    rx2 = receiver("udp")
    srv2 = server("--log-syslog", "--log-syslog-to", rx2.address, "-n", "web:main",
                  "--log-syslog-facility", "local3")
    check_start_and_requests(srv2, rx2, name="web.main", facility=19)


def test_disable_redirect_access_to_syslog(server, receiver, tmp_path):
    rx = receiver("udp")
    access = tmp_path / "access.log"
    srv = server("--log-syslog", "--log-syslog-to", rx.address,
                 "--disable-redirect-access-to-syslog", "--access-logfile", str(access))
    check_start_and_requests(srv, rx, access=False)
    wait_for(lambda: access.exists() and '"GET / HTTP/1.1" 200' in access.read_text(),
             what="the access log's line")
    assert not [m for m in rx.all() if m.kind == "access"], rx.all()


def test_debug_lines(server, receiver):
    rx = receiver("udp")
    server("--log-syslog", "--log-syslog-to", rx.address, "--log-level", "debug")
    conf = rx.wait_text("error", "Current configuration:")[0]
    assert conf.pri == 15 and "\n  syslog: True\n" in conf.text


def test_dead_tcp_server_never_stalls_requests(server, receiver):
    """Nothing listens at the address: the server starts and answers; once
    a server listens there, the messages go to it (Ours: Gunicorn fails to
    start, and never connects again after a break)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = server("--log-syslog", "--log-syslog-to", "tcp://127.0.0.1:%d" % port,
                 "--access-logfile", "-", workers=2)
    for _ in range(50):
        assert get(srv, "/") == 200
    late = socket.socket()
    late.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    late.bind(("127.0.0.1", port))
    late.listen(16)
    late.settimeout(0.1)
    conn = None
    for _ in range(1000):       # a request each time, until a connection comes
        assert get(srv, "/") == 200
        try:
            conn, _ = late.accept()
            break
        except socket.timeout:
            continue
    assert conn is not None, "no connection once the server listens"
    conn.settimeout(TIMEOUT)
    data = b""
    while b"\0" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    Message(data.split(b"\0")[0])
    # the server that was there goes away: the requests are still answered
    conn.close()
    late.close()
    for _ in range(50):
        assert get(srv, "/") == 200


def test_hup_applies_new_syslog_settings(server, receiver, tmp_path):
    rx1, rx2 = receiver("udp"), receiver("tcp")
    conf = tmp_path / "c.py"
    conf.write_text("syslog = True\nsyslog_addr = %r\nsyslog_prefix = 'one'\n" % rx1.address)
    srv = server("-c", str(conf))
    assert get(srv, "/") == 200
    rx1.wait(lambda m: m.name == "one" and m.kind == "access")
    conf.write_text("syslog = True\nsyslog_addr = %r\nsyslog_prefix = 'two'\n"
                    "syslog_facility = 'daemon'\n" % rx2.address)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reloaded: 1 new worker up" in srv.text(), what="the new worker")
    wait_for(lambda: "exited" in srv.text(), what="the old worker's exit")
    assert get(srv, "/") == 200
    line = rx2.wait(lambda m: m.name == "two" and m.kind == "access")[0]
    assert line.pri == 3 * 8 + 6
    conf.write_text("syslog = False\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.text().count("Reloaded: 1 new worker up") == 2,
             what="the next new worker")
    wait_for(lambda: srv.text().count("exited") >= 2, what="the old worker's exit")
    before = len(rx2.all())
    assert get(srv, "/") == 200
    assert get(srv, "/error") == 500
    wait_for(lambda: srv.text().count("Error handling request GET /error") == 1,
             what="the error line")
    assert not [m for m in rx2.all()[before:] if "/error" in m.text], rx2.all()


def run(*args, env=None):
    return subprocess.run([str(ROOT / "cunicorn"), "-b", "127.0.0.1:0"] + list(args) +
                          ["echo:app"], cwd=APPS, capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)


BAD = [
    (["--log-syslog-to", "localhost:514"], "Error: Invalid value for syslog_addr: "
     "'localhost:514' (an invalid syslog address: expected udp://HOST[:PORT], "
     "tcp://HOST[:PORT] or unix://PATH[#dgram|#stream])"),
    (["--log-syslog-to", "unix:/dev/log"], "Error: Invalid value for syslog_addr: "
     "'unix:/dev/log' (an invalid syslog address"),
    (["--log-syslog-to", "udp://h:x"], "Error: Invalid value for syslog_addr: "
     "'udp://h:x' ('x' is not a valid port number)"),
    (["--log-syslog-to", "tcp://h:70000"], "Error: Invalid value for syslog_addr: "
     "'tcp://h:70000' (a port out of 1..65535)"),
    (["--log-syslog-to", "udp://:514"], "Error: Invalid value for syslog_addr: "
     "'udp://:514' (no host name)"),
    (["--log-syslog-to", "unix://"], "Error: Invalid value for syslog_addr: "
     "'unix://' (an empty path)"),
    (["--log-syslog-facility", "local8"], "Error: Invalid value for syslog_facility: "
     "'local8' (unknown facility name; one of auth, authpriv, cron, daemon, ftp, kern, "
     "lpr, mail, news, security, syslog, user, uucp, local0, local1, local2, local3, "
     "local4, local5, local6, local7)"),
    (["--log-syslog-prefix", "x" * 1025], "Error: Invalid value for syslog_prefix: "
     "longer than 1024 bytes"),
]


@pytest.mark.parametrize("args,error", BAD, ids=[b[0][1][:20] for b in BAD])
@pytest.mark.parametrize("check", [False, True], ids=["start", "check-config"])
def test_bad_values_refuse_the_start(args, error, check):
    r = run("--log-syslog", *args, *(["--check-config"] if check else []))
    assert r.returncode == 1 and error in r.stderr, r.stderr
    assert "Booting worker" not in r.stderr and "Starting" not in r.stderr
    # read only with syslog on, as Gunicorn reads them
    r = run(*args, "--check-config")
    assert r.returncode == 0, r.stderr


def test_bad_values_from_a_config_file(tmp_path):
    conf = tmp_path / "c.py"
    conf.write_text("syslog = True\nsyslog_facility = 'nope'\n")
    r = run("-c", str(conf))
    assert r.returncode == 1, r.stderr
    assert "Error: Invalid value for syslog_facility: 'nope'" in r.stderr


def test_unresolvable_host_refuses_the_start():
    """As Gunicorn, whose SysLogHandler resolves the name at start."""
    r = run("--log-syslog", "--log-syslog-to", "udp://no-such-host.invalid:514")
    assert r.returncode == 1, r.stderr
    assert re.search(r"Error: syslog_addr 'udp://no-such-host\.invalid:514': \S", r.stderr), \
        r.stderr
    assert "Booting worker" not in r.stderr


def test_lines_python_logging_takes_are_not_sent(server, receiver, tmp_path):
    """With a logger_class (Python logging), the lines handed to Python are
    its configuration's to send: the C syslog sends none of them (the
    class here, cunicorn's own Logger API, adds no syslog handler)."""
    rx = receiver("udp")
    conf = tmp_path / "c.py"
    conf.write_text("from cunicorn.glogging import Logger\n\n\n"
                    "class Mine(Logger):\n    pass\n\n\nlogger_class = Mine\n")
    srv = server("-c", str(conf), "--log-syslog", "--log-syslog-to", rx.address,
                 "--access-logfile", str(tmp_path / "access.log"))
    assert get(srv, "/") == 200
    wait_for(lambda: "GET / HTTP/1.1" in (tmp_path / "access.log").read_text(),
             what="the access line, written by Python")
    # a message of the test's own, after all of those: the last one there
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"<14>gunicorn.test.error: [1] mark\0",
             ("127.0.0.1", int(rx.address.rsplit(":", 1)[1])))
    s.close()
    rx.wait_text("error", "mark")
    assert not [m for m in rx.all() if "Starting" in m.text or "Listening" in m.text or
                m.kind == "access"], rx.all()
    assert "Starting cunicorn" in srv.text()
