#!/usr/bin/python3
"""The gthread pool's threads: one worker with 1 and with 4 threads on
three apps that use threads differently, the server pinned to one core and
wrk on the other (bench/http.py's pinned shape).

  hello    GET / of bench/apps/hello.py: an app that returns at once, where
           threads only hand the GIL to each other (wrk -c64)
  cpu250   bench/apps/cpu250.py: 250 µs of Python per request, where
           threads contend for the GIL (wrk -c8)
  sleep5   bench/apps/sleepy.py: a 5 ms sleep per request, where threads
           are what serves several at once (wrk -c16)

Per run: req/s, p99, the worker's CPU µs per request. The pool's design
(src/worker/gate.c: one thread at the poller, spares joining when the app
is stuck) is in docs/architecture.md, One thread at the poller. A
benchmark, never a test.

Usage: /usr/bin/python3 bench/threads.py [--duration 8] [--threads 1,4]
Debian packages: wrk.
"""
import argparse
import importlib.util
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and sys.path[0] == HERE:  # bench/http.py would shadow http
    del sys.path[0]


def load_http_bench():
    """bench/http.py as the module bench_http (its helpers, not copies)."""
    spec = importlib.util.spec_from_file_location("bench_http", os.path.join(HERE, "http.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hb = load_http_bench()
SERVER_CORE, WRK_CORE = hb.MODES["pinned"]
APPS = [  # name, app spec in bench/apps, wrk -c
    ("hello", "hello:app", 64),
    ("cpu250", "cpu250:app", 8),
    ("sleep5", "sleepy:app", 16),
]


def run(app, spec, conns, threads, args, tmp, notes):
    port = hb.free_port()
    log = os.path.join(tmp, "%s-%d.log" % (app, threads))
    argv = ["taskset", "-c", SERVER_CORE, os.path.join(hb.ROOT, "cunicorn"), "-k", "gthread",
            "--threads", str(threads), "-w", "1", "-b", "127.0.0.1:%d" % port,
            "--chdir", hb.APPS, "--error-logfile", log, spec]
    server = hb.Server("cunicorn-%dt" % threads, argv, log)
    load = hb.Load(1, conns, WRK_CORE)
    try:
        server.start(port)
        hb.run_wrk(load, port, "/", None, 2)  # warm-up
        res = hb.measure(load, args.duration, server, port, [(app, "/", None)],
                         {app: None}, notes)
        return res.get(app)
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=8, help="seconds of wrk per run (8)")
    ap.add_argument("--threads", default="1,4", help="pool sizes to run (1,4)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk")
        return 2
    if not os.path.exists(os.path.join(hb.ROOT, "build", ".python")):
        print("cunicorn is not built: run 'make' in %s" % hb.ROOT)
        return 2
    notes = []
    print("== gthread pool: 1 worker, server on core %s, wrk -t1 on core %s, %d s per run; "
          "load average %.2f ==" % (SERVER_CORE, WRK_CORE, args.duration, os.getloadavg()[0]))
    print("%-8s %-8s %5s %10s %9s %12s" % ("app", "threads", "wrk-c", "req/s", "p99 ms",
                                           "CPU us/req"))
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        for app, spec, conns in APPS:
            for threads in (int(t) for t in args.threads.split(",")):
                r = run(app, spec, conns, threads, args, tmp, notes)
                if not r:
                    print("%-8s %-8d %5d  (no result)" % (app, threads, conns))
                    continue
                print("%-8s %-8d %5d %10.0f %9s %12s" % (
                    app, threads, conns, r["rps"], hb.fmt(r["p99"], "%.2f"),
                    hb.fmt(r.get("cpu_us"), "%.1f")), flush=True)
    for n in notes:
        print("note:", n)
    print("load average after: %.2f" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
