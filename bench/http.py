#!/usr/bin/python3
"""HTTP benchmark: cunicorn beside Gunicorn and uWSGI, measured with wrk.

A benchmark, never a test: it prints numbers and fails only when it cannot
measure. Every server runs bench/apps/hello.py with the same number of sync
worker processes on 127.0.0.1 and a free port; wrk drives three scenarios:

  hello  GET /       a new connection per request, 14-byte body
  big    GET /big    a 64 KiB body
  post   POST /post  a 16 KiB body that the app reads whole

All requests carry "Connection: close": sync workers close after each
response anyway, and this way no server gets keep-alive the others lack.

For each server and scenario: requests/s, p99 latency, errors (socket errors
plus non-2xx responses), and the server's CPU time per request (utime+stime
of the master and all its descendants from /proc, sampled right before and
right after wrk, divided by the requests wrk counted). Per server: the RSS of
master + workers after a warm-up, and the time from spawn to the first 200.

Usage: /usr/bin/python3 bench/http.py [--duration 10] [--connections 32]
           [--threads 1] [--workers 2] [--only cunicorn,gunicorn,uwsgi]
Stdlib only. Debian packages: wrk gunicorn uwsgi uwsgi-plugin-python3.
"""
import os
import sys

# This file is named http.py: keep its folder off sys.path, or any stdlib
# module that imports http (http.client, ...) would get this script.
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402 (after the sys.path fix on purpose)
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APPS = os.path.join(HERE, "apps")
UWSGI_PLUGIN = "/usr/lib/uwsgi/plugins/python3_plugin.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0   # spawn to first 200
STOP_TIMEOUT = 10.0    # SIGTERM to exit, before SIGKILL

SCENARIOS = [  # name, path, Lua script for wrk
    ("hello", "/", 'wrk.headers["Connection"] = "close"\n'),
    ("big", "/big", 'wrk.headers["Connection"] = "close"\n'),
    ("post", "/post", 'wrk.method = "POST"\n'
                      'wrk.body = string.rep("x", 16384)\n'
                      'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                      'wrk.headers["Connection"] = "close"\n'),
]


def server_command(name, port, workers, log):
    """The argv that starts server `name`, or (None, apt line) if missing."""
    bind = "127.0.0.1:%d" % port
    if name == "cunicorn":
        launcher = os.path.join(ROOT, "cunicorn")
        if not os.path.exists(os.path.join(ROOT, "build", ".python")):
            return None, "cunicorn is not built: run 'make' in %s" % ROOT
        return [launcher, "-k", "sync", "-w", str(workers), "-b", bind,
                "--chdir", APPS, "--error-logfile", log, "hello:app"], None
    if name == "gunicorn":
        exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        if not os.path.exists(exe):
            return None, "apt-get install -y gunicorn"
        return [exe, "-k", "sync", "-w", str(workers), "-b", bind,
                "--chdir", APPS, "--error-logfile", log, "hello:app"], None
    if name == "uwsgi":
        exe = shutil.which("uwsgi") or "/usr/bin/uwsgi"
        if not os.path.exists(exe) or not os.path.exists(UWSGI_PLUGIN):
            return None, "apt-get install -y uwsgi uwsgi-plugin-python3"
        # --die-on-term: uWSGI 2.0 reloads on SIGTERM unless told otherwise.
        # --add-header: its http-socket answers HTTP/1.1 with no
        # "Connection: close" and then closes, so wrk would reuse the dead
        # socket and count a read error per request.
        return [exe, "--plugin", "python3", "--http-socket", bind,
                "--wsgi-file", os.path.join(APPS, "hello.py"),
                "--callable", "app", "--processes", str(workers), "--master",
                "--disable-logging", "--die-on-term", "--need-app",
                "--add-header", "Connection: close",
                "--logto", log], None
    raise ValueError(name)


# ---- /proc ---------------------------------------------------------------

def proc_stat(pid):
    """(ppid, utime+stime in ticks, starttime) of pid, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()  # comm may hold spaces
    # fields[0] is field 3 (state): ppid=4, utime=14, stime=15, start=22
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


def process_tree(root):
    """{pid: stat} for root and all its descendants."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st:
                stats[int(entry)] = st
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid]
            todo.extend(p for p, st in stats.items() if st[0] == pid)
    return tree


def cpu_seconds(root):
    return sum(st[1] for st in process_tree(root).values()) / CLK_TCK


def rss_kib(root):
    total = 0
    for pid in process_tree(root):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---- servers -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(port, path="/"):
    """Status code of one GET, or None if the server did not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n"
                      b"Connection: close\r\n\r\n" % path.encode())
            head = s.recv(64)
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(m.group(1)) if m else None


class Server:
    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        self.proc = None
        self.known = {}  # pid -> starttime of every process seen in its tree

    def start(self, port):
        """Spawns it and returns seconds from spawn to the first 200."""
        t0 = time.monotonic()
        with open(self.log + ".out", "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        while time.monotonic() - t0 < START_TIMEOUT:
            if get_status(port) == 200:
                elapsed = time.monotonic() - t0
                self.remember()
                return elapsed
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s during start-up"
                                   % (self.name, self.proc.returncode))
            time.sleep(0.001)
        raise RuntimeError("%s gave no 200 within %.0fs"
                           % (self.name, START_TIMEOUT))

    def remember(self):
        """Notes the pids in the tree now, so stop() can reach them all."""
        for pid, st in process_tree(self.proc.pid).items():
            self.known.setdefault(pid, st[2])

    def workers(self):
        return sorted(p for p in process_tree(self.proc.pid)
                      if p != self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM the master, bounded wait, then SIGKILL what is left."""
        if self.proc is None:
            return
        if self.alive():
            self.remember()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print("  note: %s ignored SIGTERM for %.0fs; SIGKILL"
                      % (self.name, STOP_TIMEOUT))
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        for pid, start in self.known.items():
            while True:  # a worker outliving its master: same pid, same start
                st = proc_stat(pid)
                if st is None or st[2] != start:
                    break
                if time.monotonic() > deadline:
                    print("  note: %s pid %d outlived its master; SIGKILL"
                          % (self.name, pid))
                    os.kill(pid, signal.SIGKILL)
                    break
                time.sleep(0.01)

    def log_problems(self):
        """Lines of its logs that look like errors (at most 5)."""
        bad = re.compile(r"\b(ERROR|CRITICAL|Traceback|Segmentation|"
                         r"core dumped|signal \d+)|\bdied\b|\bkilled\b", re.I)
        lines = []
        for path in (self.log, self.log + ".out"):
            try:
                with open(path, errors="replace") as f:
                    lines += [l.rstrip() for l in f if bad.search(l)]
            except OSError:
                pass
        return lines[:5]


# ---- wrk -----------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def run_wrk(args, port, path, script, duration):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", "%ds" % duration, "--latency", "-s", script,
           "http://127.0.0.1:%d%s" % (port, path)]
    try:
        out = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True,
                             timeout=duration + 30).stdout
    except subprocess.TimeoutExpired:
        return None
    res = {"requests": 0, "rps": 0.0, "p99": None, "sock": 0, "non2xx": 0,
           "detail": ""}
    m = re.search(r"(\d+) requests in", out)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if m:
        res["p99"] = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        res["sock"] = sum(int(g) for g in m.groups())
        res["detail"] = m.group(0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    return res


def measure(args, server, port, scripts, notes):
    results = {}
    for name, path, _ in SCENARIOS:
        before = cpu_seconds(server.proc.pid)
        res = run_wrk(args, port, path, scripts[name], args.duration)
        after = cpu_seconds(server.proc.pid)
        server.remember()
        if res is None:
            notes.append("%s %s: wrk did not finish" % (server.name, name))
            continue
        res["cpu_us"] = ((after - before) * 1e6 / res["requests"]
                         if res["requests"] else None)
        if res["sock"]:
            notes.append("%s %s: %s" % (server.name, name, res["detail"]))
        if not server.alive():
            notes.append("%s: master exited (%s) during %s"
                         % (server.name, server.proc.returncode, name))
            results[name] = res
            break
        results[name] = res
    return results


# ---- report --------------------------------------------------------------

def fmt(v, spec):
    return "-" if v is None else spec % v


def ratio(a, b):
    return "-" if not a or not b else "%.2fx" % (a / b)


def print_report(names, runs, workers):
    others = [n for n in ("gunicorn", "uwsgi") if n in runs]
    print()
    print("%-7s %-18s %10s %9s %7s %12s" % ("scen.", "server", "req/s",
                                            "p99 ms", "errors", "CPU us/req"))
    for scen, _, _ in SCENARIOS:
        if not any(scen in run["results"] for run in runs.values()):
            continue
        for n in names:
            r = runs.get(n, {}).get("results", {}).get(scen)
            if r is None:
                continue
            print("%-7s %-18s %10.0f %9s %7d %12s" % (
                scen, n, r["rps"], fmt(r["p99"], "%.2f"),
                r["sock"] + r["non2xx"], fmt(r["cpu_us"], "%.0f")))
        c = runs.get("cunicorn", {}).get("results", {}).get(scen)
        for o in others:
            r = runs[o].get("results", {}).get(scen)
            if c and r:
                print("%-7s %-18s %10s %9s %7s %12s" % (
                    scen, "cunicorn/" + o, ratio(c["rps"], r["rps"]),
                    ratio(c["p99"], r["p99"]), "",
                    ratio(c["cpu_us"], r["cpu_us"])))
        print()
    if not runs:
        return
    print("%-18s %22s %14s" % ("server", "RSS MiB (1+%d procs)" % workers,
                               "start-up ms"))
    for n in names:
        if n in runs:
            print("%-18s %22.1f %14.0f" % (n, runs[n]["rss"] / 1024,
                                           runs[n]["startup"] * 1e3))
    if "cunicorn" in runs:
        c = runs["cunicorn"]
        for o in others:
            print("%-18s %22s %14s" % ("cunicorn/" + o,
                                       ratio(c["rss"], runs[o]["rss"]),
                                       ratio(c["startup"], runs[o]["startup"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds of wrk per scenario (10)")
    ap.add_argument("--connections", type=int, default=32,
                    help="wrk connections (32)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    ap.add_argument("--workers", type=int, default=2,
                    help="sync worker processes per server (2)")
    ap.add_argument("--only", default="",
                    help="comma-separated: cunicorn,gunicorn,uwsgi")
    args = ap.parse_args()
    names = ["cunicorn", "gunicorn", "uwsgi"]
    if args.only:
        wanted = args.only.split(",")
        if set(wanted) - set(names):
            ap.error("--only takes cunicorn, gunicorn, uwsgi")
        names = [n for n in names if n in wanted]
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk")
        return 2

    print("wrk -t%d -c%d, %ds per scenario, %d sync workers, %d CPUs; "
          "load average %.2f" % (args.threads, args.connections,
                                 args.duration, args.workers,
                                 os.cpu_count(), os.getloadavg()[0]))
    runs, notes = {}, []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        scripts = {}
        for name, _, lua in SCENARIOS:
            scripts[name] = os.path.join(tmp, name + ".lua")
            with open(scripts[name], "w") as f:
                f.write(lua)
        for name in names:
            port = free_port()
            log = os.path.join(tmp, name + ".log")
            argv, missing = server_command(name, port, args.workers, log)
            if argv is None:
                print("skipping %s: %s" % (name, missing))
                continue
            print("%s: %s" % (name, " ".join(shlex.quote(a) for a in argv)))
            server = Server(name, argv, log)
            try:
                startup = server.start(port)
                run_wrk(args, port, "/", scripts["hello"], 1)  # warm-up
                first = server.workers()
                rss = rss_kib(server.proc.pid)
                results = measure(args, server, port, scripts, notes)
                if server.alive() and server.workers() != first:
                    notes.append("%s: workers changed during the run: %s -> %s"
                                 % (name, first, server.workers()))
                runs[name] = {"startup": startup, "rss": rss,
                              "results": results}
            except RuntimeError as e:
                notes.append(str(e))
            finally:
                server.stop()
                notes += ["%s log: %s" % (name, l)
                          for l in server.log_problems()]
    print_report(names, runs, args.workers)
    if notes:
        print("\nnotes:")
        for n in notes:
            print("  " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
