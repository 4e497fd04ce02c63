"""slowhttptest's attacks against cunicorn, while a normal client asks for
a small page every 100 ms: how long the normal requests take, and how many
get no answer within 5 s (docs/operations.md, Facing the internet without
a proxy, has the numbers). Prints; never passes or fails.

    /usr/bin/python3 bench/slowhttp.py [--classes gthread,sync]
        [--connections 1000] [--seconds 20] [--build DIR]

--build runs another build of cunicorn (a checkout's build directory,
e.g. one made before a change) for a before-and-after comparison. The
server runs `-w 2` (with `--threads 4` for gthread), on 127.0.0.1 and a
free port, and is stopped by its PID.
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
APPS = ROOT / "tests" / "python" / "apps"
PROBE_TIMEOUT = 5.0
CLASS_ARGS = {"gthread": ["-k", "gthread", "--threads", "4"], "sync": ["-k", "sync"]}


def start(cls, build, tmp):
    log = tmp / ("error-%s-%d.log" % (cls, time.monotonic_ns()))
    env = dict(os.environ)
    if build:
        env["CUNICORN_BUILD_DIR"] = build
    cmd = [str(ROOT / "cunicorn"), "-b", "127.0.0.1:0", "-w", "2", "--chdir", str(APPS),
           "--error-logfile", str(log), "-c", "/dev/null"] + CLASS_ARGS[cls] + ["bodyapp:app"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if m and text.count("Booting worker") >= 2:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit("cunicorn did not start: %s" % (log.read_text() if log.exists() else ""))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def probe(port):
    """One small request on a new connection: seconds, or None (no answer
    within PROBE_TIMEOUT)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as s:
            s.sendall(b"GET /noread HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if not data.startswith(b"HTTP/1.0 200"):
                return None
    except OSError:
        return None
    return time.monotonic() - t0


def attack(port, args, seconds, connections):
    cmd = ["slowhttptest", "-c", str(connections), "-r", "200", "-l", str(seconds),
           "-i", "1", "-p", "3"] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times, failed = [], 0
    time.sleep(min(5, seconds / 3))  # the attack's connections open
    end = time.monotonic() + seconds * 2 / 3 - 2
    while time.monotonic() < end:
        t = probe(port)
        if t is None:
            failed += 1
        else:
            times.append(t)
        time.sleep(0.1)
    try:
        proc.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return times, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", default="gthread,sync")
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--build", default=None)
    o = ap.parse_args()
    if not shutil.which("slowhttptest"):
        sys.exit("needs slowhttptest: apt-get install -y slowhttptest")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="slowhttp-"))
    big = tmp / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    attacks = [
        ("slow body, 4 KiB", ["-B", "-s", "4096", "-x", "10"], "/"),
        ("slow body, 1 MiB", ["-B", "-s", str(1 << 20), "-x", "10"], "/"),
        ("slow read, a file", ["-X", "-w", "512", "-y", "1024", "-n", "1", "-z", "32",
                               "-k", "3"], "/file?" + str(big)),
        ("slow read, a stream", ["-X", "-w", "512", "-y", "1024", "-n", "1", "-z", "32",
                                 "-k", "3"], "/stream?32"),
        ("range", ["-R", "-a", "10", "-b", "3000"], "/stream?4"),
    ]
    print("| class | attack (%d connections, %d s) | normal requests | median | slowest "
          "| unanswered in %.0f s |" % (o.connections, o.seconds, PROBE_TIMEOUT))
    print("|---|---|---|---|---|---|")
    for cls in o.classes.split(","):
        for name, args, path in attacks:
            proc, port = start(cls, o.build, tmp)
            try:
                times, failed = attack(port, args + ["-u", "http://127.0.0.1:%d%s" % (port, path)],
                                       o.seconds, o.connections)
            finally:
                stop(proc)
            med = "%.1f ms" % (statistics.median(times) * 1000) if times else "-"
            worst = "%.1f ms" % (max(times) * 1000) if times else "-"
            print("| %s | %s | %d | %s | %s | %d |" % (cls, name, len(times) + failed, med,
                                                       worst, failed), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
