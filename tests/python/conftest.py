"""Shared fixtures: the checkout, the launcher, and a real server to test.

`server(...)` starts ./cunicorn on 127.0.0.1 with an ephemeral port, waits
until its workers have booted (by watching the error log, never by
sleeping), and stops it by PID at the end of the test.
"""

import os
import pathlib
import re
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = pathlib.Path(__file__).resolve().parent / "apps"
TIMEOUT = 20


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def launcher():
    path = ROOT / "cunicorn"
    assert os.access(path, os.X_OK), "the ./cunicorn launcher is missing"
    return str(path)


@pytest.fixture
def build_python():
    """The interpreter `make` built the extension for."""
    return (ROOT / "build" / ".python").read_text().strip()


def maker(cls):
    """For a fixture of objects a test makes: make(...) builds a cls;
    close_all() closes each one made and returns them."""
    made = []

    def make(*args, **kw):
        made.append(cls(*args, **kw))
        return made[-1]

    def close_all():
        for x in made:
            x.close()
        return made
    return make, close_all


def wait_for(pred, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % what)


DATE_LINE = re.compile(rb"\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                       rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                       rb"\d\d:\d\d:\d\d GMT(?=\r\n|$)")


def undated(raw):
    """raw with the Date line of each response head taken out, after
    checking there is one, as an IMF-fixdate (RFC 9110 6.6.1): what is
    left compares byte for byte with Gunicorn's pages, which have none."""
    out, rest = b"", raw
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 1"):
            out += head + sep  # an interim response has no Date
            continue
        fixed, n = DATE_LINE.subn(b"", head, count=1)
        assert n == 1, head
        out += fixed + sep
        length = re.search(rb"\r\nContent-Length: (\d+)", head)
        if not length:
            return out + rest
        out += rest[:int(length.group(1))]
        rest = rest[int(length.group(1)):]
    return out


def recv_all(sock):
    """Everything the peer sends until it closes; then closes our end."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    sock.close()
    return out


def stop_process(proc, sig=signal.SIGTERM):
    """Sends sig to a process this test started (by its PID), waits for it
    a bounded time, then kills it. Its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def free_port():
    """A TCP port on 127.0.0.1 free a moment ago, for a program that cannot
    be told to bind port 0 and say which it got."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, tmp, args, app, workers, env, chdir, errorlog=None):
        # errorlog: the file a config file in args names (the command line
        # would override it); else one of ours, by --error-logfile
        self.log = errorlog or tmp / ("error-%d.log" % time.monotonic_ns())
        cmd = [str(ROOT / "cunicorn"), "-b", "127.0.0.1:0"] + (
            ["-w", str(workers)] if workers else []) + (
               [] if errorlog else ["--error-logfile", str(self.log)]) + [
               "--chdir", str(chdir)] + list(args)
        workers = workers or 1  # None: left to the config file
        if app:
            cmd.append(app)
        self.workers = workers
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.port = None

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s: %s %s" % (
                    self.proc.returncode, self.text(),
                    self.proc.stderr.read().decode(errors="replace")))
            t = self.text()
            m = re.search(r"Listening at: https?://127\.0\.0\.1:(\d+)", t)
            if m and t.count("Booting worker") >= self.workers:
                self.port = int(m.group(1))
                return True
            return False
        wait_for(ready, what="the server to boot")
        return self

    def worker_pids(self):
        return [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.text())]

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        return s

    def raw(self, data, shutdown=True):
        """Sends bytes, half-closes, returns everything the server sends."""
        s = self.connect()
        try:
            try:
                s.sendall(data)
                if shutdown:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may answer and close before it all went
            return recv_all(s)
        finally:
            s.close()

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


@pytest.fixture
def server(tmp_path):
    started = []

    def start(*args, app="echo:app", workers=1, env=None, chdir=APPS, errorlog=None):
        s = Server(tmp_path, args, app, workers, env, chdir, errorlog).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
