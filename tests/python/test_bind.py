"""A bind that fails at start (docs/compat.md, Binding): each address is
tried five times, a second apart, with Gunicorn's log lines, before the
start fails with status 1; INT, QUIT or TERM while it waits stops it at
once, and the master's other signals (HUP, USR1, USR2, TTIN, TTOU) are
dropped, neither ending nor stopping it. The port is held by a listening socket of the test's own, on
127.0.0.1."""

import signal
import socket
import subprocess
import time

import pytest

from conftest import APPS, ROOT, TIMEOUT, recv_all, stop_process, wait_for


@pytest.fixture
def held():
    """A port on 127.0.0.1 a listening socket of ours holds: (port, socket)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1], s
    s.close()


def start(port, log, *args):
    return subprocess.Popen([str(ROOT / "cunicorn"), "-b", "127.0.0.1:%d" % port,
                             "--error-logfile", str(log), "--chdir", str(APPS),
                             *args, "echo:app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def text(log):
    return log.read_text(errors="replace") if log.exists() else ""


def failed_once(proc, log, addr):
    """Waits until the first try has failed; the server still runs."""
    def seen():
        assert proc.poll() is None, (proc.returncode, text(log))
        return "connection to %s failed: " % addr in text(log)
    wait_for(seen, what="the first failed bind")


def boots_and_answers(proc, port, log):
    """Once the port is free: the server boots, still runs, and answers."""
    wait_for(lambda: proc.poll() is not None or "Booting worker" in text(log),
             what="the server to boot")
    assert proc.poll() is None, (proc.returncode, text(log))
    c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert recv_all(c).startswith(b"HTTP/1.0 200 OK\r\n")


def test_a_port_let_go_during_the_tries_is_bound(held, tmp_path):
    port, holder = held
    addr = "('127.0.0.1', %d)" % port
    log = tmp_path / "error.log"
    p = start(port, log)
    try:
        failed_once(p, log, addr)
        holder.close()  # as an old server letting the port go
        boots_and_answers(p, port, log)
    finally:
        rc = stop_process(p)
    t = text(log)
    assert rc == 0, (rc, t)
    assert "[ERROR] Connection in use: %s\n" % addr in t, t
    assert "[ERROR] connection to %s failed: bind 127.0.0.1:%d: Address already in use\n" % (
        addr, port) in t, t
    assert "Listening at: http://127.0.0.1:%d" % port in t, t


def test_a_port_held_throughout_fails_after_five_tries(held, tmp_path):
    port, _ = held
    addr = "('127.0.0.1', %d)" % port
    log = tmp_path / "error.log"
    t0 = time.monotonic()
    p = start(port, log, "--log-level", "debug")
    try:
        rc = p.wait(timeout=30)
    finally:
        stop_process(p)
    took = time.monotonic() - t0
    t = text(log)
    assert rc == 1, (rc, t)
    assert took >= 3.9, took
    assert t.count("[ERROR] Connection in use: %s\n" % addr) == 5, t
    assert t.count("[ERROR] connection to %s failed: " % addr) == 5, t
    assert t.count("[DEBUG] Retrying in 1 second.\n") == 4, t  # none after the last
    assert t.endswith("[ERROR] Can't connect to %s\n" % addr), t
    assert "Booting worker" not in t


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_the_tries_stops_at_once(held, tmp_path, sig):
    port, _ = held
    addr = "('127.0.0.1', %d)" % port
    log = tmp_path / "error.log"
    p = start(port, log)
    try:
        failed_once(p, log, addr)
        p.send_signal(sig)
        rc = p.wait(timeout=30)
    finally:
        stop_process(p, signal.SIGKILL)
    t = text(log)
    assert rc == 0, (rc, t)
    # the tries were not run out (the port is held throughout)
    assert t.count("connection to %s failed: " % addr) < 5, t
    assert "Can't connect" not in t, t
    name = signal.Signals(sig).name[3:].lower()
    assert "[INFO] Handling signal: %s\n" % name in t, t
    assert t.endswith("[INFO] Shutting down: Master\n"), t
    assert "Booting worker" not in t


def test_other_signals_during_the_tries_leave_it_running(held, tmp_path):
    """Their default action would end the master (HUP, USR1, USR2) or stop
    it (TTIN, TTOU): its handlers are not there yet while it binds."""
    port, holder = held
    log = tmp_path / "error.log"
    p = start(port, log)
    try:
        failed_once(p, log, "('127.0.0.1', %d)" % port)
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN,
                    signal.SIGTTOU):
            p.send_signal(sig)
        holder.close()
        boots_and_answers(p, port, log)
        with open("/proc/%d/stat" % p.pid) as f:
            assert f.read().rsplit(")", 1)[1].split()[0] != "T", "stopped"
    finally:
        rc = stop_process(p)
    assert rc == 0, (rc, text(log))
