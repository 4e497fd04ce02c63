#!/usr/bin/python3
"""Real-app benchmark: cunicorn beside Gunicorn 20.1 and 26.1, uWSGI and bjoern
on three framework apps, measured with wrk.

A benchmark, never a test: it prints numbers and fails only when it cannot
measure. The apps (bench/apps/):

  flask-json  GET /             flask_json:app, a Flask JSON endpoint
  django-orm  GET /items/       djbench.wsgi:application, a Django view
                                rendering a template over ten rows of a
                                model, read with the ORM from SQLite
  drf-list    GET /api/items/   the same project, a Django REST framework
                                ListAPIView of the same rows
  hello       GET /             hello:app, the app that does nothing: what
                                is outside it is the server's least work
                                per request (the floor below)

The SQLite database is created, with its ten rows, in a temporary folder at
start. Every server runs under taskset -c 0 and wrk -t1 under taskset -c 1
(the pinned shape of bench/http.py), in one of two shapes:

  keep-alive  wrk -c64 keeping its connections: cunicorn gthread, 1 worker
              with 1 and with 4 threads; Gunicorn 20.1 (Debian's) and 26.1
              (from its source, --gunicorn26) gthread, 1 worker, 4 threads;
              bjoern (one process, --bjoern or $BJOERN; not in Debian).
  close       the shape a process-per-request server is fair in, as in
              bench/http.py's close table: every request says
              "Connection: close", 2 workers: cunicorn sync, Gunicorn 20.1
              sync, uWSGI (--http-socket, 2 processes).

Per server and app: req/s, p99, errors, the server's CPU µs per request
(utime+stime of the whole process tree over the run / requests), RSS and Pss
of the tree after the run, and the share of that CPU outside the app.

The share outside the app: Python 3.11 has no perf trampoline, so a profile
cannot tell the app's Python frames from the server's. Instead every server
runs the app through bench/apps/insitu.py (its spec in $INSITU_APP), which
adds up each thread's CPU time (time.thread_time()) spent calling the app,
iterating its body and closing it, and has each thread rewrite a file
"calls seconds" in a folder of the run every 500 calls; the files are read
before and after the measured run, and the summed deltas, seconds over
calls, are the app's CPU per call in situ (column "situ us"), whatever the
server's processes and threads. The share is
(server CPU per request - in-situ app CPU per call) / server CPU per
request: its parsing, environ, socket calls, logging, and the kernel's TCP
work it is charged with. The wrapper costs about 1.2 µs per call (two
thread_time() calls, 0.95 µs, most of it), about half of it inside the
measured window: about 1 % of flask-json's request, in both figures. The
window also holds the server's start_response, which the app calls (under
a microsecond).

The app alone, for comparison (column "alone us"): a child pinned to core 0
calls the WSGI app in a tight loop with a prepared environ (the keys a
server sets for wrk's GET), reads the body and closes it, and the same loop
with a null app is subtracted; measured right before each server's runs of
the app. It is lower than in situ: in the loop the app's code and data stay
in the caches, inside a server the server's and the kernel's work evict
them, so the difference is the app's, not the server's. --plain serves the
apps without the wrapper (no in-situ column) to see the wrapper's cost in
the server's CPU. The goal is cunicorn below 10 % on flask-json, in situ.

Usage: /usr/bin/python3 bench/realapps.py [--quick] [--duration 10]
           [--connections 64] [--servers a,b] [--apps a,b] [--plain]
           [--gunicorn26 PATH]
--quick: 2 s per run and 0.5 s per app-cost loop, about two minutes in all.
Debian packages: wrk gunicorn uwsgi uwsgi-plugin-python3 python3-flask
python3-django python3-djangorestframework; bjoern: make bench-bjoern.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/http.py would shadow the stdlib's http (Django and Flask import it).
if sys.path and sys.path[0] == HERE:
    del sys.path[0]

import argparse  # noqa: E402 (after the sys.path fix on purpose)
import importlib.util  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402


def load_http_bench():
    """bench/http.py as the module bench_http (its helpers, not copies)."""
    spec = importlib.util.spec_from_file_location("bench_http",
                                                  os.path.join(HERE, "http.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hb = load_http_bench()

APPS = [  # name, WSGI app spec in bench/apps, path
    ("flask-json", "flask_json:app", "/"),
    ("django-orm", "djbench.wsgi:application", "/items/"),
    ("drf-list", "djbench.wsgi:application", "/api/items/"),
    ("hello", "hello:app", "/"),  # the floor: a server's own work, app doing nothing
]
SERVERS = [  # name, shape
    ("cunicorn-gthread1", "keep-alive"), ("cunicorn-gthread4", "keep-alive"),
    ("gunicorn20-gthread4", "keep-alive"), ("gunicorn26-gthread4", "keep-alive"),
    ("bjoern", "keep-alive"),
    ("cunicorn-sync", "close"), ("gunicorn20-sync", "close"), ("uwsgi", "close"),
]
CLOSE_LUA = 'wrk.headers["Connection"] = "close"\n'
SERVER_CORE, WRK_CORE = hb.MODES["pinned"]
GOAL_SHARE = 10.0  # % of cunicorn's CPU per flask-json request outside the app


def cunicorn_argv(worker, threads, workers, bind, log, spec):
    if not os.path.exists(os.path.join(hb.ROOT, "build", ".python")):
        return None, "cunicorn is not built: run 'make' in %s" % hb.ROOT
    return ([os.path.join(hb.ROOT, "cunicorn"), "-k", worker, "--threads", str(threads),
             "-w", str(workers), "-b", bind, "--chdir", hb.APPS,
             "--error-logfile", log, spec], None)


def gunicorn_argv(worker, threads, workers, bind, log, spec, source=None):
    """Debian's Gunicorn 20.1, or with source, 26.1 run from that checkout."""
    args = ["-k", worker, "--threads", str(threads), "-w", str(workers), "-b", bind,
            "--chdir", hb.APPS, "--error-logfile", log, spec]
    if source is None:
        exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        if not os.path.exists(exe):
            return None, "apt-get install -y gunicorn"
        return [exe] + args, None
    if not source or not os.path.exists(os.path.join(source, "gunicorn", "__init__.py")):
        return None, ("Gunicorn 26.1's source is needed: --gunicorn26 PATH, e.g. after "
                      "git clone --depth 1 --branch 26.1.0 "
                      "https://github.com/benoitc/gunicorn /tmp/g26")
    return ["/usr/bin/env", "PYTHONPATH=" + source, "/usr/bin/python3", "-m",
            "gunicorn"] + args, None


def uwsgi_argv(bind, log, spec):
    exe = shutil.which("uwsgi") or "/usr/bin/uwsgi"
    if not os.path.exists(exe) or not os.path.exists(hb.UWSGI_PLUGIN):
        return None, "apt-get install -y uwsgi uwsgi-plugin-python3"
    module, name = spec.split(":")
    # as in bench/http.py's close table: --die-on-term, and "Connection:
    # close" said, since its http-socket closes after each response
    return [exe, "--plugin", "python3", "--http-socket", bind, "--chdir", hb.APPS,
            "--module", module, "--callable", name, "--processes", "2", "--master",
            "--disable-logging", "--die-on-term", "--need-app",
            "--add-header", "Connection: close", "--logto", log], None


def server_argv(name, port, log, spec, gunicorn26):
    """(argv, None) for server `name` on app spec, or (None, why not)."""
    bind = "127.0.0.1:%d" % port
    if name.startswith("cunicorn-gthread"):
        return cunicorn_argv("gthread", int(name[-1]), 1, bind, log, spec)
    if name == "cunicorn-sync":
        return cunicorn_argv("sync", 1, 2, bind, log, spec)
    if name == "gunicorn20-gthread4":
        return gunicorn_argv("gthread", 4, 1, bind, log, spec)
    if name == "gunicorn26-gthread4":
        return gunicorn_argv("gthread", 4, 1, bind, log, spec, gunicorn26)
    if name == "gunicorn20-sync":
        return gunicorn_argv("sync", 1, 2, bind, log, spec)
    if name == "uwsgi":
        return uwsgi_argv(bind, log, spec)
    if name == "bjoern":
        return hb.bjoern_command(spec, bind)
    raise ValueError(name)


# ---- the app's own CPU per call ---------------------------------------------

APP_COST_CODE = r"""
import io, sys, time, importlib
spec, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
module, name = spec.split(":")
app = getattr(importlib.import_module(module), name)
BASE = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path,
        "QUERY_STRING": "", "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000", "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False}
def start_response(status, headers, exc_info=None):
    if not status.startswith("200"):
        raise SystemExit("the app answered " + status)
def null_app(environ, start_response):
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]
def per_call(app, seconds):
    calls, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        for _ in range(100):
            env = dict(BASE)
            env["wsgi.input"] = io.BytesIO()
            body = app(env, start_response)
            for _chunk in body:
                pass
            if hasattr(body, "close"):
                body.close()
        calls += 100
    return (time.process_time() - t0) / calls
per_call(app, seconds / 4)  # warm-up: caches, lazy imports, the db connection
print("%.3f" % ((per_call(app, seconds) - per_call(null_app, seconds / 2)) * 1e6))
"""


def app_cost_us(spec, path, seconds):
    """CPU µs per call of the app alone, on core 0, or None (and why)."""
    argv = ["taskset", "-c", SERVER_CORE, "/usr/bin/python3", "-c", APP_COST_CODE,
            spec, path, str(seconds)]
    proc = subprocess.run(argv, cwd=hb.APPS, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=hb.APPS),
                          timeout=seconds * 4 + 60)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
    return float(proc.stdout.split()[-1]), None


# ---- the app's CPU per call inside the server ----------------------------

INSITU_SPEC = "insitu:app"  # bench/apps/insitu.py, wrapping $INSITU_APP


def read_insitu(folder):
    """{thread file: (calls, seconds)} that bench/apps/insitu.py's threads
    last wrote in folder; {} without a folder."""
    out = {}
    for name in os.listdir(folder) if folder else ():
        if name.endswith(".tmp"):
            continue
        with open(os.path.join(folder, name)) as f:
            calls, seconds = f.read().split()
        out[name] = (int(calls), float(seconds))
    return out


def insitu_us(before, after, res, label, notes):
    """The app's CPU µs per call across a run, from the per-thread counters
    before and after it, or None (and a note)."""
    if not after:
        return None
    calls = sum(c - before.get(k, (0, 0.0))[0] for k, (c, _) in after.items())
    seconds = sum(s - before.get(k, (0, 0.0))[1] for k, (_, s) in after.items())
    if calls < max(res["requests"] // 2, 1):
        notes.append("%s: only %d of %d requests' app calls were counted in situ"
                     % (label, calls, res["requests"]))
        return None
    return seconds * 1e6 / calls


# ---- the runs ------------------------------------------------------------

def run_server(name, shape, spec, apps, args, tmp, scripts, notes):
    """Starts `name` on spec, measures each app of `apps` that it serves;
    {app name: result}."""
    port = hb.free_port()
    log = os.path.join(tmp, "%s-%s.log" % (name, spec.split(":")[0]))
    env, counts = None, None
    if not args.plain:  # the server runs the app through bench/apps/insitu.py
        counts = tempfile.mkdtemp(prefix="insitu-%s-" % name, dir=tmp)
        env = dict(os.environ, INSITU_APP=spec, INSITU_DIR=counts)
    argv, missing = server_argv(name, port, log, spec if args.plain else INSITU_SPEC,
                                args.gunicorn26)
    if argv is None:
        notes.append("skipped %s: %s" % (name, missing))
        return {}
    argv = ["taskset", "-c", SERVER_CORE] + argv
    print("%s: %s%s" % (name, "" if env is None else "INSITU_APP=%s " % spec,
                        " ".join(shlex.quote(a) for a in argv)), flush=True)
    server = hb.Server(name, argv, log)
    load = hb.Load(1, args.connections, WRK_CORE)
    script = scripts[shape]
    out, costs = {}, {}
    for app, spec_, path in apps:  # the app alone, right before its runs
        costs[app], why = app_cost_us(spec_, path, args.cost_seconds)
        if why:
            notes.append("%s: the app alone could not be measured: %s" % (app, why))
    try:
        server.start(port, env=env)
        for app, _, path in apps:
            hb.run_wrk(load, port, path, script, 1)  # warm-up
            bad = hb.affinity_problems(server.proc.pid, SERVER_CORE)
            if bad:
                notes.append("%s: not pinned to core %s: %s"
                             % (name, SERVER_CORE, ", ".join(bad)))
            before = read_insitu(counts)
            res = hb.measure(load, args.duration, server, port, [(app, path, None)],
                             {app: script}, notes, name).get(app)
            if res is not None:
                res["insitu_us"] = insitu_us(before, read_insitu(counts), res,
                                             "%s %s" % (name, app), notes)
                res["rss"] = hb.rss_kib(server.proc.pid)
                res["pss"] = hb.pss_kib(server.proc.pid)
                res["app_us"] = costs[app]
                out[app] = res
    except RuntimeError as e:
        notes.append("skipped %s: %s" % (name, e))
    finally:
        server.stop()
        notes += ["%s log: %s" % (name, line) for line in server.log_problems()]
    return out


def share(cpu_us, app_us):
    """The % of cpu_us outside the app, or None."""
    if not cpu_us or app_us is None:
        return None
    return 100.0 * (cpu_us - app_us) / cpu_us


def print_table(apps, servers, runs):
    print()
    print("%-10s %-20s %-10s %9s %8s %6s %10s %8s %8s %9s %8s %8s" % (
        "app", "server", "shape", "req/s", "p99 ms", "errors", "CPU us/req",
        "alone us", "situ us", "outside %", "RSS MiB", "Pss MiB"))
    for app, _, _ in apps:
        for name, shape in servers:
            r = runs.get(name, {}).get(app)
            if r is None:
                continue
            print("%-10s %-20s %-10s %9.0f %8s %6d %10s %8s %8s %9s %8.1f %8.1f" % (
                app, name, shape, r["rps"], hb.fmt(r["p99"], "%.2f"),
                r["sock"] + r["non2xx"], hb.fmt(r["cpu_us"], "%.1f"),
                hb.fmt(r["app_us"], "%.1f"), hb.fmt(r["insitu_us"], "%.1f"),
                hb.fmt(share(r["cpu_us"], r["insitu_us"]), "%.1f"), r["rss"] / 1024,
                r["pss"] / 1024))
        for ours, theirs in (("cunicorn-gthread4", "gunicorn20-gthread4"),
                             ("cunicorn-gthread4", "gunicorn26-gthread4"),
                             ("cunicorn-gthread1", "bjoern"),
                             ("cunicorn-sync", "gunicorn20-sync"),
                             ("cunicorn-sync", "uwsgi")):
            a, b = runs.get(ours, {}).get(app), runs.get(theirs, {}).get(app)
            if a and b:
                label = "%s/%s" % (ours.replace("cunicorn-", "c-"), theirs)
                print("%-10s %-31s %9s %8s %6s %10s" % (
                    app, label, hb.ratio(a["rps"], b["rps"]), hb.ratio(a["p99"], b["p99"]),
                    "", hb.ratio(a["cpu_us"], b["cpu_us"])))
        print()


def print_goal(runs):
    """The goal's lines for cunicorn, and the same figures for bjoern, the
    C peer, to hold them against."""
    for name in ("cunicorn-gthread1", "cunicorn-gthread4", "cunicorn-sync", "bjoern"):
        r = runs.get(name, {}).get("flask-json")
        if r is None or r["cpu_us"] is None:
            continue
        for how, app_us in (("in situ", r["insitu_us"]), ("alone", r["app_us"])):
            if app_us is None:
                continue
            s = share(r["cpu_us"], app_us)
            print("%s: %s's own share of the flask-json request's CPU, app %s: "
                  "%.1f %% (%.1f of %.1f us; goal < %.0f %% in situ): %s"
                  % ("peer" if name == "bjoern" else "goal", name, how, s,
                     r["cpu_us"] - app_us, r["cpu_us"], GOAL_SHARE,
                     "met" if s < GOAL_SHARE else "not met"))
        h = runs.get(name, {}).get("hello")
        if h and h["cpu_us"] is not None and h["insitu_us"] is not None:
            own = h["cpu_us"] - h["insitu_us"]
            print("floor: %s's own work serving hello: %.1f us a request, %.1f %% of "
                  "its flask-json request (%.1f us); the goal needs that part under "
                  "%.1f us" % (name, own, 100.0 * own / r["cpu_us"], r["cpu_us"],
                              r["cpu_us"] * GOAL_SHARE / 100.0))


def setup_db(tmp):
    """Creates the Django project's SQLite database in tmp; its path."""
    db = os.path.join(tmp, "djbench.sqlite3")
    env = dict(os.environ, BENCH_DJANGO_DB=db, PYTHONPATH=hb.APPS)
    subprocess.run(["/usr/bin/python3", "-c", "import djbench.wsgi as w; w.setup_db()"],
                   cwd=hb.APPS, env=env, check=True, timeout=120)
    return db


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 s per run, 0.5 s per app-cost loop (about two minutes)")
    ap.add_argument("--duration", type=int, default=0,
                    help="seconds of wrk per run (10; 2 with --quick)")
    ap.add_argument("--connections", type=int, default=hb.KA_CONNECTIONS,
                    help="wrk -c (%d)" % hb.KA_CONNECTIONS)
    ap.add_argument("--servers", default="",
                    help="comma-separated: " + ",".join(n for n, _ in SERVERS))
    ap.add_argument("--apps", default="", help="comma-separated: " +
                    ",".join(n for n, _, _ in APPS))
    ap.add_argument("--plain", action="store_true",
                    help="serve the apps themselves, without bench/apps/insitu.py "
                    "(no in-situ column; to see the wrapper's own cost)")
    ap.add_argument("--gunicorn26", default=os.environ.get("GUNICORN26", ""),
                    help="a checkout of Gunicorn 26.1's source ($GUNICORN26)")
    args = ap.parse_args()
    args.duration = args.duration or (2 if args.quick else 10)
    args.cost_seconds = 0.5 if args.quick else 2.0
    servers = [s for s in SERVERS if not args.servers or s[0] in args.servers.split(",")]
    apps = [a for a in APPS if not args.apps or a[0] in args.apps.split(",")]
    if not servers or not apps:
        ap.error("no server or no app left to run")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            print("%s is missing: apt-get install -y wrk util-linux" % tool)
            return 2
    if not {0, 1} <= os.sched_getaffinity(0):
        print("needs cores 0 and 1; this process may run on %s"
              % sorted(os.sched_getaffinity(0)))
        return 2
    print("== real apps ==")
    print("server under taskset -c %s, wrk -t1 -c%d -d%ds under taskset -c %s; "
          "%d CPUs; load average %.2f" % (SERVER_CORE, args.connections, args.duration,
                                          WRK_CORE, os.cpu_count(), os.getloadavg()[0]))
    with tempfile.TemporaryDirectory(prefix="bench-realapps-") as tmp:
        os.environ["BENCH_DJANGO_DB"] = setup_db(tmp)
        notes = []
        scripts = {"keep-alive": None, "close": os.path.join(tmp, "close.lua")}
        with open(scripts["close"], "w") as f:
            f.write(CLOSE_LUA)
        runs = {}
        for name, shape in servers:
            for spec in sorted({s for _, s, _ in apps}):
                served = [a for a in apps if a[1] == spec]
                runs.setdefault(name, {}).update(
                    run_server(name, shape, spec, served, args, tmp, scripts, notes))
        print_table(apps, servers, runs)
        print_goal(runs)
        print("load average after: %.2f" % os.getloadavg()[0])
        hb.print_notes(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
