"""USR2 binary upgrade, systemd socket activation and sd_notify.

Every hand-over runs under a bounded load generator (a few threads, one
connection per request) that counts what came back; each test prints its
counts and wants zero failures. systemd is played by a small launcher that
puts sockets at fd 3 on with LISTEN_FDS/LISTEN_PID and execs the server,
and by a datagram socket that records the notifications (with the sender's
pid, as systemd sees it). Every process started here is stopped by pid.
"""

import collections
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import ROOT, TIMEOUT, recv_all, wait_for

APP = r'''
import json, os, time

KEYS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "GUNICORN_FD", "GUNICORN_PID")
BOOT_DIR = os.environ.get("BOOT_DIR")
if BOOT_DIR:  # a slow import, then a mark that this worker has loaded the app
    time.sleep(0.5)
    open(os.path.join(BOOT_DIR, "booted-%d" % os.getpid()), "w").close()


def app(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "ppid": os.getppid(),
                       "env": {k: os.environ.get(k) for k in KEYS}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

# As systemd does it: the sockets moved to fds 3, 4, ..., LISTEN_FDS their
# number, LISTEN_PID the process meant to use them (exec keeps our pid).
LAUNCHER = r'''
import fcntl, os, sys
n = int(sys.argv[1])
fds, cmd = [int(x) for x in sys.argv[2:2 + n]], sys.argv[2 + n:]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3 + n) for fd in fds]
for fd in fds:
    os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(n)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(cmd[0], cmd)
'''


# ---- processes ------------------------------------------------------------

def proc_state(pid):
    try:
        stat = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def alive(pid):
    s = proc_state(pid)
    return s is not None and s[0] != "Z"


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_state(int(d))
            if s is not None and s[0] != "Z" and int(s[1]) == pid:
                out.append(int(d))
    return sorted(out)


class Master:
    """./cunicorn started here: its log, and the pids it and its USR2
    children have. stdout/stderr go to files, which a new master inherits."""

    def __init__(self, tmp, args, workers=2, env=None, cwd=None, fds=(),
                 systemd=()):
        self.tmp = tmp
        tag = time.monotonic_ns()
        self.log = tmp / ("error-%d.log" % tag)
        cmd = [str(ROOT / "cunicorn"), "-w", str(workers),
               "--error-logfile", str(self.log), "--chdir", str(tmp)] + list(args)
        cmd.append("upapp:app")
        if systemd:
            cmd = [sys.executable, "-c", LAUNCHER, str(len(systemd))] + \
                  [str(s.fileno()) for s in systemd] + cmd
        self.workers = workers
        self.out = open(tmp / ("out-%d.txt" % tag), "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, pass_fds=[s.fileno() for s in systemd] + list(fds))
        self.pid = self.proc.pid

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def listening(self, pid):
        """The addresses master pid said it listens at."""
        return re.findall(r"Listening at: (\S+) \(%d\)" % pid, self.text())

    def wait_booted(self, pid):
        """Waits for master pid to listen and have its workers; returns
        the first TCP port it listens at, or None."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s: %s %s" % (
                    self.proc.returncode, self.text(), self.output()))
            return self.listening(pid) and len(children(pid)) >= self.workers
        wait_for(ready, what="master %d to boot: %s" % (pid, self.text()))
        m = re.search(r"http://127\.0\.0\.1:(\d+)", " ".join(self.listening(pid)))
        return int(m.group(1)) if m else None

    def output(self):
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def new_masters(self, old=r"\d+"):
        """The masters USR2 started (of master old, or of any), oldest first."""
        return [int(p) for p in re.findall(
            r"\[%s\] \[INFO\] USR2: new master started \(pid:(\d+)\)" % old, self.text())]

    def new_master(self, old):
        """The last master that USR2 of old started."""
        return wait_for(lambda: (self.new_masters(old) or [None])[-1],
                        what="a new master: " + self.text())


@pytest.fixture
def masters(tmp_path):
    """Starts servers; at the end stops every master they had by pid."""
    (tmp_path / "upapp.py").write_text(APP)
    started = []
    extra = []

    def start(*args, **kw):
        m = Master(tmp_path, args, **kw)
        started.append(m)
        return m

    start.track = extra.append   # a pid to stop at the end (a new master)
    yield start
    # the new masters first (each log names them all), then the first ones
    pids = extra + [p for m in started for p in m.new_masters()] + [m.pid for m in started]
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        deadline = time.monotonic() + TIMEOUT
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for m in started:
        try:
            m.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            m.proc.kill()
            m.proc.wait()
        m.out.close()


# ---- the load generator ---------------------------------------------------

def request(addr, timeout=10.0):
    """One GET on a fresh connection (Connection: close): (status, body)."""
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = recv_all(s)      # a reset cuts the response: caught below
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no complete head: %r" % data[:200])
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    if not m or int(m.group(1)) != len(body):
        raise ValueError("short body: %r" % data[-200:])
    return status, body


class Load:
    """threads clients sending requests back to back until stopped (or
    limit seconds); counts the 200s and everything else (other statuses,
    socket errors, timeouts, cut responses) per phase of the test."""

    def __init__(self, addr, threads=4, limit=120):
        self.addr = addr
        self.lock = threading.Lock()
        self.ok = self.failed = 0
        self.errors = []
        self.pids = collections.Counter()
        self.phases = []
        self.mark = (0, 0)
        self.done = threading.Event()
        self.deadline = time.monotonic() + limit
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.done.is_set() and time.monotonic() < self.deadline:
            try:
                status, body = request(self.addr)
                pid = json.loads(body)["pid"] if status == 200 else None
            except (OSError, ValueError) as e:
                status, pid, err = None, None, repr(e)
            else:
                err = None if status == 200 else "status %d" % status
            with self.lock:
                if err is None:
                    self.ok += 1
                    self.pids[pid] += 1
                else:
                    self.failed += 1
                    self.errors.append(err)

    def served_by(self, pids):
        with self.lock:
            return sum(self.pids[p] for p in pids)

    def wait_more(self, n=50):
        """Waits until n more requests have been answered."""
        with self.lock:
            target = self.ok + n
        wait_for(lambda: self.ok >= target, what="%d more answers" % n)

    def phase(self, name):
        """Closes a phase: the counts since the last one."""
        with self.lock:
            ok, failed = self.ok, self.failed
        self.phases.append((name, ok - self.mark[0], failed - self.mark[1]))
        self.mark = (ok, failed)

    def stop(self, title):
        self.done.set()
        for t in self.threads:
            t.join(timeout=TIMEOUT)
        self.phase("(rest)")
        print("\n%s -- load on %s" % (title, self.addr))
        for name, ok, failed in self.phases:
            print("  %-44s requests ok %6d  failed %d" % (name, ok, failed))
        print("  %-44s requests ok %6d  failed %d" % ("total", self.ok, self.failed))
        assert not any(t.is_alive() for t in self.threads)
        assert self.failed == 0, self.errors[:10]
        assert all(ok > 0 for name, ok, _ in self.phases if name != "(rest)"), self.phases
        return self.ok, self.failed


def new_socket(family=socket.AF_INET, path=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(path if path else ("127.0.0.1", 0))
    s.listen(64)
    return s


def start_upgrade(masters, m, addr, first="one master"):
    """Load on addr, then USR2 to m's master. Returns (load, old, new)
    once the new master's workers answer too."""
    old = m.pid
    load = Load(addr)
    load.wait_more()
    load.phase(first)
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)
    # both masters' workers take connections from the one socket
    wait_for(lambda: load.served_by(children(new)) > 0, what="a new worker to answer")
    load.phase("USR2: both masters serve")
    return load, old, new


def retire_old(m, load, old, new):
    """The operator's part after USR2: WINCH to the old master (its workers
    finish and leave), then QUIT; the new master is promoted."""
    os.kill(old, signal.SIGWINCH)
    wait_for(lambda: children(old) == [new], what="the old workers to leave: " + m.text())
    load.wait_more()
    load.phase("WINCH: old workers gone, new ones serve")
    os.kill(old, signal.SIGQUIT)
    wait_for(lambda: not alive(old), what="the old master to exit")
    wait_for(lambda: "[%d] [INFO] Master has been promoted." % new in m.text(),
             what="the promotion: " + m.text())
    load.wait_more()
    load.phase("QUIT: old master gone, new one promoted")


# ---- USR2 -----------------------------------------------------------------

def test_usr2_winch_quit_under_load(masters, tmp_path):
    pidfile = tmp_path / "app.pid"
    m = masters("-b", "127.0.0.1:0", "--pid", str(pidfile))
    port = m.wait_booted(m.pid)
    assert pidfile.read_text() == "%d\n" % m.pid
    load, old, new = start_upgrade(masters, m, ("127.0.0.1", port))
    assert m.listening(new) == m.listening(old)          # the same socket
    second = tmp_path / "app.pid.2"
    assert wait_for(lambda: second.exists() and second.read_text()) == "%d\n" % new
    assert pidfile.read_text() == "%d\n" % old
    assert load.served_by(children(old)) > 0
    env = json.loads(request(("127.0.0.1", port))[1])["env"]

    retire_old(m, load, old, new)
    assert pidfile.read_text() == "%d\n" % new
    assert not second.exists()
    assert json.loads(request(("127.0.0.1", port))[1])["ppid"] == new
    # a worker forked after the promotion no longer sees GUNICORN_PID
    before = children(new)
    os.kill(new, signal.SIGTTIN)
    fresh = wait_for(lambda: set(children(new)) - set(before), what="a third worker")

    def fresh_env():
        body = json.loads(request(("127.0.0.1", port))[1])
        return body["env"] if body["pid"] in fresh else None
    assert wait_for(fresh_env, what="the third worker to answer")["GUNICORN_PID"] is None
    load.stop("USR2, WINCH, QUIT (sync, 2 workers)")
    # the old master's pid reached its workers or the new ones; the fds never
    assert env["GUNICORN_FD"] is None and env["GUNICORN_PID"] in (None, str(old))
    os.kill(new, signal.SIGTERM)
    wait_for(lambda: not alive(new), what="the new master to stop")
    assert not pidfile.exists()


@pytest.mark.parametrize("kind", ["sync", "gthread", "gevent", "eventlet", "tornado"])
def test_usr2_then_term_old_under_load(masters, kind):
    m = masters("-b", "127.0.0.1:0", "-k", kind, "--threads", "4" if kind == "gthread" else "1")
    port = m.wait_booted(m.pid)
    load, old, new = start_upgrade(masters, m, ("127.0.0.1", port))
    os.kill(old, signal.SIGTERM)      # graceful: its workers finish first
    wait_for(lambda: not alive(old), what="the old master to exit")
    wait_for(lambda: "Master has been promoted." in m.text(), what="the promotion")
    load.wait_more()
    load.phase("TERM: old master gone, new one promoted")
    load.stop("USR2, TERM to the old master (%s, 2 workers)" % kind)


def test_usr2_over_unix_socket_keeps_the_file(masters, tmp_path):
    path = tempfile.mkdtemp(prefix="cu-up-") + "/s.sock"
    m = masters("-b", "127.0.0.1:0", "-b", "unix:" + path)
    m.wait_booted(m.pid)
    assert len(m.listening(m.pid)) == 2
    load, old, new = start_upgrade(masters, m, path)
    assert m.listening(new) == m.listening(old)
    retire_old(m, load, old, new)
    assert os.path.exists(path)      # the old master left the file alone
    load.stop("USR2, WINCH, QUIT over a UNIX socket")
    os.kill(new, signal.SIGTERM)
    wait_for(lambda: not alive(new), what="the new master to stop")
    assert not os.path.exists(path)  # the last master removes it
    os.rmdir(os.path.dirname(path))


def test_usr2_refused_while_in_progress_and_rollback(masters, tmp_path):
    pidfile = tmp_path / "app.pid"
    m = masters("-b", "127.0.0.1:0", "--pid", str(pidfile), workers=1)
    old = m.pid
    port = m.wait_booted(old)
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)
    os.kill(old, signal.SIGUSR2)
    wait_for(lambda: "USR2 signal ignored. Child exists." in m.text(), what="the refusal")
    # WINCH is still ignored by a master with no USR2 child, in the foreground
    os.kill(new, signal.SIGWINCH)
    os.kill(new, signal.SIGUSR2)
    wait_for(lambda: "USR2 signal ignored. Parent exists." in m.text(), what="the refusal")
    assert len(children(new)) == 1 and "graceful stop of workers" not in m.text()
    # rollback: the new master goes, the old one keeps serving
    os.kill(new, signal.SIGTERM)
    wait_for(lambda: "New master (pid:%d) exited" % new in m.text(), what="the old master to reap it")
    assert not (tmp_path / "app.pid.2").exists()
    assert pidfile.read_text() == "%d\n" % old
    assert len(children(old)) == 1
    assert request(("127.0.0.1", port))[0] == 200
    # and a second upgrade may start
    os.kill(old, signal.SIGUSR2)
    wait_for(lambda: len(m.new_masters(old)) == 2, what="a second new master")
    assert m.new_master(old) != new


def test_usr2_failure_is_reported_and_the_old_master_stays(masters, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    m = masters("-b", "127.0.0.1:0", workers=1, cwd=str(run))
    old = m.pid
    port = m.wait_booted(old)
    run.rmdir()      # the start's directory is gone: the exec cannot happen
    os.kill(old, signal.SIGUSR2)
    wait_for(lambda: "could not chdir to %s" % run in m.text(), what="the failure: " + m.text())
    assert "USR2: new master started" not in m.text()
    assert request(("127.0.0.1", port))[0] == 200
    run.mkdir()      # back: the next USR2 goes through
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)


def test_fd_bind_and_usr2_hand_it_over_once(masters):
    s = new_socket()
    port = s.getsockname()[1]
    m = masters("-b", "fd://%d" % s.fileno(), fds=[s.fileno()], workers=1)
    s.close()
    old = m.pid
    assert m.wait_booted(old) == port
    assert request(("127.0.0.1", port))[0] == 200
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)
    # GUNICORN_FD and the fd:// bind name the same socket: one listener
    assert m.listening(new) == ["http://127.0.0.1:%d" % port]
    os.kill(old, signal.SIGQUIT)
    wait_for(lambda: "Master has been promoted." in m.text(), what="the promotion")
    assert json.loads(request(("127.0.0.1", port))[1])["ppid"] == new


def title(pid):
    """The process title, as ps shows it (/proc/PID/cmdline)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")[0].decode()


@pytest.mark.parametrize("name", [None, "myapp"])
def test_usr2_master_is_named_2_until_promoted(masters, name):
    """Gunicorn's new master has proc_name + ".2" (its title, and its
    workers') and logs as "Master.2" until it is promoted; then "Master",
    and the title without ".2". A HUP before that keeps the ".2" (Ours:
    Gunicorn's reload puts proc_name back)."""
    m = masters("-b", "127.0.0.1:0", *(["-n", name] if name else []), workers=1)
    old = m.pid
    base = name or "upapp:app"
    m.wait_booted(old)
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)
    assert title(old) == "cunicorn: master [%s]" % base
    assert title(new) == "cunicorn: master [%s.2]" % base
    first = children(new)
    wait_for(lambda: all(title(w) == "cunicorn: worker [%s.2]" % base for w in first),
             what="the new master's worker titled .2")
    assert all(title(w) == "cunicorn: worker [%s]" % base for w in children(old) if w != new)
    # a HUP to the new master: its log name and title keep the .2
    os.kill(new, signal.SIGHUP)
    wait_for(lambda: "[%d] [INFO] Hang up: Master.2\n" % new in m.text(), what="the HUP")
    wait_for(lambda: set(children(new)).isdisjoint(first) and children(new),
             what="the reloaded worker: " + m.text())
    assert title(new) == "cunicorn: master [%s.2]" % base
    reloaded = children(new)
    wait_for(lambda: all(title(w) == "cunicorn: worker [%s.2]" % base for w in reloaded),
             what="its worker titled .2")
    # the old master goes: the new one is "Master" again, titled without .2
    os.kill(old, signal.SIGQUIT)
    wait_for(lambda: "[%d] [INFO] Master has been promoted." % new in m.text(),
             what="the promotion")
    assert title(new) == "cunicorn: master [%s]" % base
    # its worker from before keeps its title (as Gunicorn's); a new one has none
    assert all(title(w) == "cunicorn: worker [%s.2]" % base for w in reloaded)
    os.kill(new, signal.SIGTTIN)
    fresh = wait_for(lambda: set(children(new)) - set(reloaded), what="a second worker")
    wait_for(lambda: all(title(w) == "cunicorn: worker [%s]" % base for w in fresh),
             what="the worker forked after the promotion titled without .2")
    os.kill(new, signal.SIGHUP)
    wait_for(lambda: "[%d] [INFO] Hang up: Master\n" % new in m.text(), what="the HUP")
    os.kill(new, signal.SIGTERM)
    wait_for(lambda: "[%d] [INFO] Shutting down: Master\n" % new in m.text(),
             what="the stop")
    assert "Master.2" not in m.text().split("Master has been promoted.")[1]


def test_usr2_rolled_back_master_stops_as_master_2(masters):
    """A new master stopped before its promotion (a rollback) says so."""
    m = masters("-b", "127.0.0.1:0", workers=1)
    old = m.pid
    m.wait_booted(old)
    os.kill(old, signal.SIGUSR2)
    new = m.new_master(old)
    masters.track(new)
    m.wait_booted(new)
    os.kill(new, signal.SIGTERM)
    wait_for(lambda: "[%d] [INFO] Shutting down: Master.2\n" % new in m.text(),
             what="the stop: " + m.text())
    wait_for(lambda: "New master (pid:%d) exited" % new in m.text(), what="the reaping")
    assert title(old) == "cunicorn: master [upapp:app]"


# ---- systemd --------------------------------------------------------------

class Notifications:
    """A datagram socket at NOTIFY_SOCKET that records each message with
    the pid of its sender (SCM_CREDENTIALS, as systemd reads them)."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind("\0" + name[1:] if name.startswith("@") else name)
        self.sock.setblocking(False)
        self.got = []

    def poll(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return self.got
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", cdata[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            self.got.append((pid, fields))

    def wait(self, key, sender, after=0):
        """The first message past index after, from sender, with key."""
        def find():
            for i, (pid, f) in enumerate(self.poll()[after:], after):
                if pid == sender and key in f:
                    return i + 1, f
            return None
        return wait_for(find, what="%s from %d: %s" % (key, sender, self.got))

    def close(self):
        self.sock.close()
        if not self.name.startswith("@"):
            os.unlink(self.name)


def test_systemd_socket_activation(masters, tmp_path):
    a, b = new_socket(), new_socket()
    ports = [a.getsockname()[1], b.getsockname()[1]]
    m = masters("-b", "127.0.0.1:1", systemd=[a, b])   # bind replaced by the sockets
    a.close()
    b.close()
    m.wait_booted(m.pid)
    assert m.listening(m.pid) == ["http://127.0.0.1:%d" % p for p in ports]
    for p in ports:
        status, body = request(("127.0.0.1", p))
        env = json.loads(body)["env"]
        assert status == 200 and env["LISTEN_FDS"] is None and env["LISTEN_PID"] is None


def test_listen_pid_of_another_process_is_not_ours(masters):
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
    m = masters("-b", "127.0.0.1:0", env=env, workers=1)
    port = m.wait_booted(m.pid)                         # it bound its own
    env = json.loads(request(("127.0.0.1", port))[1])["env"]
    assert env["LISTEN_FDS"] is None and env["LISTEN_PID"] is None


def test_sd_notify_ready_reload_stopping(masters, tmp_path):
    boot = tmp_path / "boot"
    boot.mkdir()
    n = Notifications("@cunicorn-test-%d-%d" % (os.getpid(), time.monotonic_ns()))
    env = dict(os.environ, NOTIFY_SOCKET=n.name, BOOT_DIR=str(boot))
    try:
        m = masters("-b", "127.0.0.1:0", env=env)
        master = m.pid
        i, ready = n.wait("READY", master)
        # READY waits for the workers to have loaded the app (0.5 s import)
        assert len(os.listdir(boot)) == 2
        assert ready["READY"] == "1" and ready["MAINPID"] == str(master)
        os.kill(master, signal.SIGHUP)
        i, reloading = n.wait("RELOADING", master, i)
        assert abs(int(reloading["MONOTONIC_USEC"]) / 1e6 - time.monotonic()) < 10
        i, ready = n.wait("READY", master, i)
        assert len(os.listdir(boot)) == 4          # the new workers loaded it
        m.proc.send_signal(signal.SIGTERM)
        n.wait("STOPPING", master, i)
        assert m.proc.wait(timeout=TIMEOUT) == 0
        assert all(pid == master for pid, _ in n.got), n.got
    finally:
        n.close()


def test_systemd_usr2_hands_over_listen_fds_and_mainpid(masters, tmp_path):
    a = new_socket()
    port = a.getsockname()[1]
    d = tempfile.mkdtemp(prefix="cu-sd-")
    n = Notifications(d + "/notify")
    env = dict(os.environ, NOTIFY_SOCKET=n.name)
    try:
        m = masters(env=env, systemd=[a])
        a.close()
        old = m.pid
        i, _ = n.wait("READY", old)
        load, _, new = start_upgrade(masters, m, ("127.0.0.1", port),
                                     first="one master (socket from systemd)")
        assert m.listening(new) == ["http://127.0.0.1:%d" % port]
        assert [p for p, _ in n.poll()[i:] if p == new] == []   # silent until promoted
        retire_old(m, load, old, new)
        i, handed = n.wait("MAINPID", old, i)
        assert handed["MAINPID"] == str(new) and "STOPPING" not in handed
        i, ready = n.wait("READY", new, i)
        assert ready["MAINPID"] == str(new)
        load.stop("USR2, WINCH, QUIT under systemd (LISTEN_FDS hand-over)")
        os.kill(new, signal.SIGTERM)
        n.wait("STOPPING", new, i)
        assert not any("STOPPING" in f for p, f in n.got if p == old)
    finally:
        n.close()
        os.rmdir(d)
