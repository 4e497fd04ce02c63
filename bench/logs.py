#!/usr/bin/python3
"""Logging benchmark: what the access log, Python logging, statsd and syslog
cost per request, in cunicorn and in Gunicorn, measured with wrk.

A benchmark, never a test. One table: keep-alive hello (GET /, 14 bytes,
bench/apps/hello.py) with wrk -t1 -c64 under taskset -c 1 and one gthread
worker (--threads 4) with the whole server under taskset -c 0, the way
bench/http.py's pinned mode runs. Each row is one way of logging:

  quiet      no access log (the error log to a file)
  access     --access-logfile FILE (cunicorn: the C logger)
  pylogging  a config file's logconfig_dict with a FileHandler for
             gunicorn.access (cunicorn: Python's logging, as Gunicorn)
  statsd     --statsd-host 127.0.0.1:PORT, a UDP socket this script drains
  syslog     --log-syslog --log-syslog-to udp://127.0.0.1:PORT, likewise

for cunicorn and for Debian's Gunicorn (20.1; it has no syslog row when
its SysLogHandler needs a resolver, it is run the same way). Printed per
row: req/s, p99, errors, server CPU us per request, RSS after the run.

Usage: /usr/bin/python3 bench/logs.py [--duration 10] [--servers cunicorn,gunicorn]
       [--rows quiet,access,pylogging,statsd,syslog]
"""
import os
import sys

# bench/http.py would shadow the stdlib's http: keep this folder off sys.path.
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402 (after the sys.path fix on purpose)
import importlib.util
import shlex
import shutil
import socket
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_http", os.path.join(HERE, "http.py"))
bh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bh)

ROWS = ["quiet", "access", "pylogging", "statsd", "syslog"]
SERVERS = ["cunicorn", "gunicorn"]

PYLOG_CONF = """\
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%%(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "filename": %r,
                          "formatter": "plain"}},
    "loggers": {"gunicorn.access": {"handlers": ["file"], "level": "INFO",
                                    "propagate": False}},
    "root": {"level": "INFO", "handlers": []},
}
"""


class Sink:
    """A UDP socket on 127.0.0.1 that reads and drops what it gets."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self):
        while not self.stopping:
            try:
                self.sock.recv(65536)
                self.got += 1
            except socket.timeout:
                pass

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


def row_args(row, tmp, sink):
    """The flags of one row, the same for both servers."""
    if row == "access":
        return ["--access-logfile", os.path.join(tmp, "access.log")]
    if row == "pylogging":
        conf = os.path.join(tmp, "pylog.conf.py")
        with open(conf, "w") as f:
            f.write(PYLOG_CONF % os.path.join(tmp, "pyaccess.log"))
        return ["-c", conf]
    if row == "statsd":
        return ["--statsd-host", "127.0.0.1:%d" % sink.port]
    if row == "syslog":
        return ["--log-syslog", "--log-syslog-to", "udp://127.0.0.1:%d" % sink.port]
    return []


def argv_of(name, port, log, extra):
    if name == "cunicorn":
        exe = os.path.join(bh.ROOT, "cunicorn")
        if not os.path.exists(os.path.join(bh.ROOT, "build", ".python")):
            return None
    else:
        exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        if not os.path.exists(exe):
            return None
    return (["taskset", "-c", "0", exe, "-k", "gthread", "--threads",
             str(bh.KA_THREADS), "-w", "1", "-b", "127.0.0.1:%d" % port,
             "--chdir", bh.APPS, "--error-logfile", log] + extra + ["hello:app"])


def one(name, row, args, tmp, load, notes):
    sink = Sink()
    port = bh.free_port()
    log = os.path.join(tmp, "%s-%s.log" % (name, row))
    argv = argv_of(name, port, log, row_args(row, tmp, sink))
    if argv is None:
        sink.close()
        notes.append("%s: not found (make; apt-get install -y gunicorn)" % name)
        return None
    print("%s %s: %s" % (name, row, " ".join(shlex.quote(a) for a in argv)))
    server = bh.Server(name, argv, log)
    try:
        server.start(port)
        bh.run_wrk(load, port, "/", None, 1)  # warm-up
        res = bh.measure(load, args.duration, server, port,
                         [("hello", "/", "")], {"hello": None}, notes,
                         "%s %s" % (name, row)).get("hello")
        if res:
            res["rss"] = bh.rss_kib(server.proc.pid)
            res["datagrams"] = sink.got
        return res
    except RuntimeError as e:
        notes.append("%s %s: %s" % (name, row, e))
        return None
    finally:
        server.stop()
        sink.close()
        notes += ["%s %s log: %s" % (name, row, l) for l in server.log_problems()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--rows", default=",".join(ROWS))
    args = ap.parse_args()
    servers, rows = args.servers.split(","), args.rows.split(",")
    if set(servers) - set(SERVERS) or set(rows) - set(ROWS):
        ap.error("--servers takes %s; --rows takes %s" % (SERVERS, ROWS))
    if not shutil.which("wrk") or not shutil.which("taskset"):
        print("wrk and taskset are needed: apt-get install -y wrk util-linux")
        return 2
    if not {0, 1} <= os.sched_getaffinity(0):
        print("needs cores 0 and 1")
        return 2
    load = bh.Load(1, bh.KA_CONNECTIONS, "1")
    print("keep-alive hello, 1 gthread worker (--threads %d) on core 0, %s; "
          "load average %.2f" % (bh.KA_THREADS, load.describe(args.duration),
                                 os.getloadavg()[0]))
    results, notes = [], []
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        for row in rows:
            for name in servers:
                results.append((row, name, one(name, row, args, tmp, load, notes)))
    print()
    print("%-10s %-9s %10s %8s %7s %11s %9s %10s" % (
        "row", "server", "req/s", "p99 ms", "errors", "CPU us/req", "RSS KiB",
        "datagrams"))
    for row, name, r in results:
        if r is None:
            print("%-10s %-9s %10s" % (row, name, "-"))
            continue
        print("%-10s %-9s %10.0f %8s %7d %11s %9s %10s" % (
            row, name, r["rps"], bh.fmt(r["p99"], "%.2f"), r["sock"] + r["non2xx"],
            bh.fmt(r["cpu_us"], "%.1f"), bh.fmt(r["rss"], "%d"),
            r["datagrams"] if row in ("statsd", "syslog") else ""))
    bh.print_notes(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
