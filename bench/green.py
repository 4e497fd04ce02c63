#!/usr/bin/python3
"""Greenlet benchmark: cunicorn's gevent and eventlet workers beside
Debian's Gunicorn (20.1) with its gevent and eventlet workers, with wrk.

A benchmark, never a test: it prints numbers and fails only when it cannot
measure. One worker per server (--worker-connections 1100), the whole
server under taskset -c 0, wrk -t1 under taskset -c 1, the app
bench/apps/hello.py on 127.0.0.1 and a free port. Scenarios:

  hello     GET /          keep-alive, wrk -c64
  big       GET /big       a 64 KiB body, keep-alive, wrk -c64
  post      POST /post     a 16 KiB body read whole, keep-alive, wrk -c64
  outbound  GET /outbound  the app makes one HTTP call to a local server
                           that answers after 1 s (asyncio, in this
                           process, on any core); wrk -c1000: at best 1000
                           requests a second, each about 1 s

For each: requests/s, p99, errors, the server's CPU per request (as
bench/http.py counts it) and the RSS of master + worker after the
scenario; then cunicorn's over Gunicorn's, class by class.

--tls: hello only, over TLS (certfile/keyfile, a throw-away certificate;
wrk https://), and cunicorn's gthread class (--threads 2) beside them.

Usage: /usr/bin/python3 bench/green.py [--duration 10] [--tls]
           [--servers cunicorn-gevent,cunicorn-eventlet,gunicorn-gevent,gunicorn-eventlet]
Debian packages: wrk gunicorn python3-gevent python3-eventlet.
"""
import os
import sys

# Keep this folder off sys.path: its http.py would shadow the stdlib's.
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402 (after the sys.path fix on purpose)
import importlib.util
import resource
import shlex
import shutil
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_http", os.path.join(HERE, "http.py"))
http = importlib.util.module_from_spec(_spec)  # bench/http.py: its servers, wrk, /proc
_spec.loader.exec_module(http)
_spec = importlib.util.spec_from_file_location(
    "slowserver", os.path.join(os.path.dirname(HERE), "tests", "python", "slowserver.py"))
slowserver = importlib.util.module_from_spec(_spec)  # the far end of /outbound
_spec.loader.exec_module(slowserver)

SERVERS = ["cunicorn-gevent", "cunicorn-eventlet", "gunicorn-gevent", "gunicorn-eventlet"]
TLS_SERVERS = ["cunicorn-gevent", "cunicorn-eventlet", "cunicorn-gthread", "gunicorn-gevent",
               "gunicorn-eventlet"]
SCENARIOS = http.KA_SCENARIOS + [("outbound", "/outbound", "")]
CONNECTIONS = {"hello": 64, "big": 64, "post": 64, "outbound": 1000}


def server_command(name, port, log, tls):
    """The argv of server `name`, or (None, what is missing). tls: (the
    certificate, its key) or None."""
    impl, kind = name.split("-")
    common = ["-k", kind, "-w", "1", "--worker-connections", "1100",
              "-b", "127.0.0.1:%d" % port, "--chdir", http.APPS,
              "--error-logfile", log, "hello:app"]
    if kind == "gthread":
        common[2:2] = ["--threads", "2"]
    if tls:
        common[:0] = ["--certfile", tls[0], "--keyfile", tls[1]]
    if impl == "cunicorn":
        if not os.path.exists(os.path.join(http.ROOT, "build", ".python")):
            return None, "cunicorn is not built: run 'make' in %s" % http.ROOT
        return [os.path.join(http.ROOT, "cunicorn")] + common, None
    exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
    if not os.path.exists(exe):
        return None, "apt-get install -y gunicorn"
    return [exe] + common, None


def run_one(name, args, tmp, scripts, notes, tls):
    cores, wrk_core = http.MODES["pinned"]
    scheme = "https" if tls else "http"
    port = http.free_port()
    log = os.path.join(tmp, "green-%s.log" % name)
    argv, missing = server_command(name, port, log, tls)
    if argv is None:
        print("skipping %s: %s" % (name, missing))
        return None
    argv = ["taskset", "-c", cores] + argv
    print("%s: %s" % (name, " ".join(shlex.quote(a) for a in argv)))
    server = http.Server(name, argv, log)
    results = {}
    try:
        server.start(port, tls=bool(tls))
        http.run_wrk(http.Load(1, 64, wrk_core, scheme), port, "/", None, 1)  # warm-up
        for scen in SCENARIOS[:1] if tls else SCENARIOS:
            load = http.Load(1, CONNECTIONS[scen[0]], wrk_core, scheme)
            r = http.measure(load, args.duration, server, port, [scen], scripts,
                             notes, name)
            if scen[0] in r:
                r[scen[0]]["rss"] = http.rss_kib(server.proc.pid)
            results.update(r)
    except RuntimeError as e:
        notes.append(str(e))
    finally:
        server.stop()
        notes += ["%s log: %s" % (name, l) for l in server.log_problems()]
    return results


def report(names, runs):
    print()
    print("%-9s %-18s %10s %9s %7s %11s %9s" % (
        "scen.", "server", "req/s", "p99 ms", "errors", "CPU us/req", "RSS MiB"))
    for scen, _, _ in SCENARIOS:
        for n in names:
            r = runs.get(n, {}).get(scen)
            if r is None:
                continue
            print("%-9s %-18s %10.0f %9s %7d %11s %9.1f" % (
                scen, n, r["rps"], http.fmt(r["p99"], "%.2f"), r["sock"] + r["non2xx"],
                http.fmt(r["cpu_us"], "%.1f"), r["rss"] / 1024))
        for kind in ("gevent", "eventlet"):
            c = runs.get("cunicorn-" + kind, {}).get(scen)
            g = runs.get("gunicorn-" + kind, {}).get(scen)
            if c and g:
                print("%-9s %-18s %10s %9s %7s %11s %9s" % (
                    scen, "c/g " + kind, http.ratio(c["rps"], g["rps"]),
                    http.ratio(c["p99"], g["p99"]), "",
                    http.ratio(c["cpu_us"], g["cpu_us"]), http.ratio(c["rss"], g["rss"])))
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds of wrk per scenario (10)")
    ap.add_argument("--servers", default=None,
                    help="comma-separated, of: " + ",".join(TLS_SERVERS))
    ap.add_argument("--tls", action="store_true",
                    help="hello over TLS, cunicorn's gthread beside the greenlet classes")
    args = ap.parse_args()
    known = TLS_SERVERS if args.tls else SERVERS
    names = [n for n in known if n in (args.servers or ",".join(known)).split(",")]
    if not shutil.which("wrk") or not shutil.which("taskset"):
        print("wrk or taskset is missing: apt-get install -y wrk util-linux")
        return 2
    if not {0, 1} <= os.sched_getaffinity(0):
        print("needs cores 0 and 1; this process may run on %s"
              % sorted(os.sched_getaffinity(0)))
        return 2
    # 1000 connections to the server, 1000 from it to the slow server:
    # the servers inherit this limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    slow = slowserver.SlowServer(1.0)
    os.environ["BENCH_SLOW_PORT"] = str(slow.port)
    print("== greenlet workers%s: one worker, server under taskset -c 0, wrk -t1 "
          "under taskset -c 1; %ds per scenario; load average %.2f =="
          % (" over TLS" if args.tls else "", args.duration, os.getloadavg()[0]))
    runs, notes = {}, []
    with tempfile.TemporaryDirectory(prefix="bench-green-") as tmp:
        tls = http.make_cert(tmp) if args.tls else None
        scripts = http.write_scripts(tmp, SCENARIOS, "green")
        for name in names:
            r = run_one(name, args, tmp, scripts, notes, tls)
            if r is not None:
                runs[name] = r
    report(names, runs)
    http.print_notes(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
