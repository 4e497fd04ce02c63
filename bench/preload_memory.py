#!/usr/bin/python3
"""Memory per worker with and without --preload, for the Django test project.

A benchmark, never a test: it prints numbers. For each mode it starts
./cunicorn with tests/python/apps/djangoproj (4 sync workers by default),
sends a few hundred requests over the project's routes, and reads for the
master and each worker VmRSS (/proc/PID/status) and Pss, Private_Dirty and
Shared_* (/proc/PID/smaps_rollup). Pss is the number that adds up: a page
shared by n processes counts 1/n in each, so the sum of the Pss column is
what the server really costs. Then every worker runs a full gc.collect()
(through a /__gc route the wrapper app adds) and the numbers are read
again: that is where gc.freeze() in the master shows, since a collection
writes into every object it examines, and the page it is on stops being
shared.

Usage: /usr/bin/python3 bench/preload_memory.py [--workers 4] [--requests 300]
Needs make (the extension) and Debian's python3-django.
"""
import os
import sys

# bench/http.py is beside this file: keep the folder off sys.path, or it
# would be imported as the stdlib's http.
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402 (after the sys.path fix on purpose)
import http.client  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(ROOT, "tests", "python", "apps")

WRAPPER = '''\
import gc
import os

from djangoproj.wsgi import application as django


def app(environ, start_response):
    if environ["PATH_INFO"] == "/__gc":
        gc.collect()
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return django(environ, start_response)
'''

ROUTES = [("GET", "/whoami", None), ("POST", "/json", b'{"items": [1, 2, 3]}'),
          ("POST", "/items", b'{"name": "x"}'), ("GET", "/users/7/posts/hello", None),
          ("GET", "/form?a=1&b=2", None), ("GET", "/new", None)]


def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body, headers={"Connection": "close",
                                                    "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(d))
    return sorted(out)


def memory(pid):
    """kB: VmRSS, Pss, Pss_Anon, Private_Dirty, Shared_Clean + Shared_Dirty."""
    status = open("/proc/%d/status" % pid).read()
    roll = open("/proc/%d/smaps_rollup" % pid).read()

    def field(text, name):
        m = re.search(r"^%s:\s+(\d+) kB" % name, text, re.M)
        return int(m.group(1)) if m else 0
    return (field(status, "VmRSS"), field(roll, "Pss"), field(roll, "Pss_Anon"),
            field(roll, "Private_Dirty"),
            field(roll, "Shared_Clean") + field(roll, "Shared_Dirty"))


def table(title, master, workers):
    print("  %s" % title)
    print("    %-12s %8s %8s %8s %10s %8s" % ("process", "VmRSS", "Pss", "Pss_Anon",
                                              "Priv_Dirty", "Shared"))
    rows = [("master", master)] + [("worker %d" % (i + 1), w) for i, w in enumerate(workers)]
    for name, m in rows:
        print("    %-12s %8d %8d %8d %10d %8d" % ((name,) + m))
    n = len(workers)
    avg = tuple(sum(w[i] for w in workers) // n for i in range(5))
    print("    %-12s %8d %8d %8d %10d %8d" % (("worker avg",) + avg))
    print("    Pss of master + workers: %d kB" % (master[1] + sum(w[1] for w in workers)))


def run(preload, workers, requests, tmp):
    log = os.path.join(tmp, "error-%d.log" % preload)
    cmd = [os.path.join(ROOT, "cunicorn"), "-b", "127.0.0.1:0", "-w", str(workers),
           "--chdir", APPS, "--pythonpath", tmp, "--error-logfile", log]
    cmd += ["--preload"] if preload else []
    cmd.append("cu_measure_app:app")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="djangoproj.settings",
               PYTHONDONTWRITEBYTECODE="1")
    print("%s\n  DJANGO_SETTINGS_MODULE=djangoproj.settings %s" % (
        "with --preload" if preload else "without --preload", " ".join(cmd)))
    proc = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + 60
        port = None
        while time.monotonic() < deadline:
            text = open(log).read() if os.path.exists(log) else ""
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
            if m and text.count("Booting worker") >= workers:
                port = int(m.group(1))
                if request(port, "GET", "/whoami")[0] == 200:
                    break
            if proc.poll() is not None:
                sys.exit("the server exited: %s" % text)
            time.sleep(0.05)
        for i in range(requests):
            method, path, body = ROUTES[i % len(ROUTES)]
            status, data = request(port, method, path, body)
            if status >= 400:
                sys.exit("%s %s: %d %r" % (method, path, status, data[:200]))
        pids = children(proc.pid)
        table("after %d requests" % requests, memory(proc.pid), [memory(p) for p in pids])
        done = set()
        while done != set(pids) and time.monotonic() < deadline + 60:
            done.add(int(request(port, "GET", "/__gc")[1]))
        table("after a full gc.collect() in every worker", memory(proc.pid),
              [memory(p) for p in pids])
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cu_measure_app.py"), "w") as f:
            f.write(WRAPPER)
        for preload in (False, True):
            run(preload, args.workers, args.requests, tmp)
            print()


if __name__ == "__main__":
    main()
