#!/usr/bin/python3
"""Memory of a server with the hello app: master + 2 workers, per process.

A benchmark, never a test. For cunicorn sync and gthread (and Debian's
Gunicorn 20.1 the same two ways, and bjoern when built, one process), it
starts the server on bench/apps/hello.py, sends 2000 GETs of /
(so every worker has served), and prints for each process of the tree, from
/proc/PID/status and /proc/PID/smaps_rollup:

  VmRSS     resident pages mapped, shared ones counted in every process
  Pss       the same with a page shared by n processes counted 1/n
  anon      RssAnon: the heap, Python's objects, the stacks touched
  file      RssFile: the mapped files touched (python3, libpython's parts,
            the extension modules, libssl...)
  private   Private_Dirty: pages only this process wrote to since fork

and the sums. Sum of VmRSS counts what the workers share with the master
once per process; sum of Pss is the memory the group costs the machine.

Before the servers, three times the memory of /usr/bin/python3 doing
nothing (with site, and the .pth files of this machine's site-packages,
as every server here has): a floor under the sum of VmRSS of any master
and two workers that each hold an interpreter.

First it byte-compiles cunicorn's package and the apps (python/cunicorn,
bench/apps: their __pycache__, which git ignores), as an installed package
and a deployed app are: a process that compiles a module's source instead
(PYTHONDONTWRITEBYTECODE=1 and no .pyc, a read-only checkout) keeps about
1 MiB more of heap, in the master and every worker. --no-compile measures
the tree as it is.

Usage: /usr/bin/python3 bench/memory.py [--requests 2000] [--no-compile]
                                        [--only NAME]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and sys.path[0] == HERE:  # bench/http.py would shadow http
    del sys.path[0]

import argparse  # noqa: E402
import compileall  # noqa: E402
import importlib.util  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_http", os.path.join(HERE, "http.py"))
hb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hb)

GOAL_MIB = 25.0  # issue 15: master + 2 workers, hello, summed VmRSS
FIELDS = ("VmRSS", "Pss", "RssAnon", "RssFile", "Private_Dirty")


def proc_memory(pid):
    """{field: kB} of FIELDS for pid, or None if it is gone."""
    out = {}
    try:
        for path in ("/proc/%d/status" % pid, "/proc/%d/smaps_rollup" % pid):
            with open(path) as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key in FIELDS:
                        out[key] = int(rest.split()[0])
    except OSError:
        return None
    return out


def bare_interpreter():
    """{field: kB} of FIELDS for /usr/bin/python3 doing nothing (site and
    this machine's .pth files run, as in every server here), or None."""
    import subprocess
    proc = subprocess.Popen(["/usr/bin/python3", "-c",
                             "import sys; sys.stdout.write('up\\n'); sys.stdout.flush(); "
                             "sys.stdin.read()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()
        return proc_memory(proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def hammer(port, requests):
    """requests GETs of /, each on its own connection (a sync worker closes
    after each response), so that each worker serves some."""
    for _ in range(requests):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass


def servers(port, log):
    """(label, argv or None, why missing)."""
    bind = "127.0.0.1:%d" % port
    cun = os.path.join(hb.ROOT, "cunicorn")
    common = ["-w", "2", "-b", bind, "--chdir", hb.APPS, "--error-logfile", log,
              "hello:app"]
    out = [("cunicorn sync", [cun, "-k", "sync"] + common, None),
           ("cunicorn gthread", [cun, "-k", "gthread", "--threads", "4"] + common, None),
           ("gunicorn20 sync", ["/usr/bin/gunicorn", "-k", "sync"] + common, None),
           ("gunicorn20 gthread", ["/usr/bin/gunicorn", "-k", "gthread", "--threads",
                                   "4"] + common, None)]
    argv, why = hb.bjoern_command("hello:app", bind)
    return out + [("bjoern (1 process)", argv, why)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-compile", action="store_true",
                    help="leave the .pyc of python/cunicorn and bench/apps as found")
    ap.add_argument("--only", default="",
                    help="only the servers whose label starts with this")
    args = ap.parse_args()
    if not args.no_compile:
        for d in (os.path.join(hb.ROOT, "python", "cunicorn"), hb.APPS):
            if not compileall.compile_dir(d, quiet=1, maxlevels=0):
                print("could not byte-compile %s" % d)
                return 1
    print("== memory, hello app, master + 2 workers; load average %.2f; %s =="
          % (os.getloadavg()[0], "bytecode as found" if args.no_compile
             else "byte-compiled"))
    print("%-20s %-8s %8s %8s %8s %8s %8s  (MiB)" % ("server", "process", *FIELDS))
    sums = {}
    bare = bare_interpreter()
    if bare:
        print("%-20s %-8s %s" % ("python3 doing nothing", "x3", " ".join(
            "%8.1f" % (3 * bare.get(f, 0) / 1024) for f in FIELDS)))
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        for n, _ in enumerate(servers(0, "")):
            port = hb.free_port()
            log = os.path.join(tmp, "%d.log" % n)
            label, argv, why = servers(port, log)[n]
            if not label.startswith(args.only):
                continue
            if argv is None:
                print("skipping %s: %s" % (label, why))
                continue
            server = hb.Server(label, argv, log)
            try:
                server.start(port)
                hammer(port, args.requests)
                pids = [server.proc.pid] + server.workers()
                rows = [(("master" if p == pids[0] else "worker") if len(pids) > 1
                         else "server", proc_memory(p)) for p in pids]
                rows = [(k, m) for k, m in rows if m]
                for kind, m in rows:
                    print("%-20s %-8s %s" % (label, kind, " ".join(
                        "%8.1f" % (m.get(f, 0) / 1024) for f in FIELDS)))
                print("%-20s %-8s %s" % (label, "sum", " ".join(
                    "%8.1f" % (sum(m.get(f, 0) for _, m in rows) / 1024)
                    for f in FIELDS)))
                sums[label] = sum(m.get("VmRSS", 0) for _, m in rows) / 1024
            except (RuntimeError, OSError) as e:
                print("skipping %s: %s" % (label, e))
            finally:
                server.stop()
    for label in ("cunicorn sync", "cunicorn gthread"):
        if label in sums:
            print("goal: %s, master + 2 workers, summed VmRSS %.1f MiB (goal <= %.0f): "
                  "%s%s" % (label, sums[label], GOAL_MIB,
                            "met" if sums[label] <= GOAL_MIB else "not met",
                            "; three interpreters doing nothing: %.1f" % (
                                3 * bare["VmRSS"] / 1024) if bare else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
