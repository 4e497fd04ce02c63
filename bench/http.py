#!/usr/bin/python3
"""HTTP benchmark: cunicorn beside Gunicorn, uWSGI and nginx, measured with wrk.

A benchmark, never a test: it prints numbers and fails only when it cannot
measure. Two tables, each run with the same app, bench/apps/hello.py, on
127.0.0.1 and a free port:

close      cunicorn, Gunicorn and uWSGI with the same number of sync workers;
           every request carries "Connection: close" (sync workers close
           after each response anyway, and this way no server gets
           keep-alive the others lack).
keepalive  wrk -c64 reusing its connections: cunicorn gthread (--threads 4,
           and cunicorn-1t: --threads 1, gthread's default), Gunicorn
           gthread (--threads 4), uWSGI --http11-socket, and nginx answering
           the same bodies itself (bench/nginx/nginx.conf), the C ceiling.
           Each in two modes: "unpinned" (--workers processes, wrk
           unpinned) and "pinned" (1 worker, the whole server under
           taskset -c 0, wrk -t1 under taskset -c 1). Beside them, the
           asgi servers on bench/apps/hello_asgi.py (the same routes):
           cunicorn -k asgi on uvloop (when installed) and on asyncio's
           loop, and uvicorn with uvloop and httptools; the first is
           compared with the last. And the tornado rows: cunicorn -k
           tornado serving bench/apps/hello_tornado.py (a
           tornado.web.Application) beside tornado's own HTTPServer on it
           (mode pinned only: one process); and cunicorn -k tornado beside
           Debian's Gunicorn 20.1 -k tornado on hello.py, the WSGI app
           (Gunicorn 20.1 wraps every app in tornado's WSGIContainer, a
           tornado Application too, which then fails: it serves WSGI apps
           only).

Scenarios, the same in both tables:

  hello  GET /       14-byte body
  big    GET /big    a 64 KiB body
  post   POST /post  a 16 KiB body that the app reads whole

For each server and scenario: requests/s, p99 latency, errors (socket errors
plus non-2xx responses), and the server's CPU time per request (utime+stime
of the master and all its descendants from /proc, sampled right before and
right after wrk, divided by the requests wrk counted). The close table adds,
per server, the RSS of master + workers after a warm-up and the time from
spawn to the first 200. The keep-alive table adds the TCP connections the
machine accepted during the run (/proc/net/snmp PassiveOpens) and how many
still waited in the server's listen queue halfway through (/proc/net/tcp).

tls        keep-alive hello over TLS (wrk -c64 https://), cunicorn gthread
           with certfile/keyfile beside nginx terminating TLS itself, with
           the same throw-away certificate (RSA 2048, made by the openssl
           command for the run), in mode pinned: the server's CPU per
           request is the number to read. Then new TLS connections, each
           with one GET / (4 openssl s_time clients at once): full
           handshakes (-new) and resumed ones (-reuse), the server's CPU
           per connection, with Debian's Gunicorn 20.1 (gthread) beside.
h2         hello over HTTP/2 (h2load -c64 -m10: 64 connections, 10 streams
           each at a time), pinned as above: cunicorn gthread over TLS (ALPN
           h2) and h2c (prior knowledge), cunicorn -k asgi (uvloop when
           installed, bench/apps/hello_asgi.py) the same two ways, nginx
           the same two ways (its
           http_v2 module), and Gunicorn 26.1's own HTTP/2 (gthread with a
           thread per connection, TLS) when --gunicorn26 names a checkout
           of its source (Debian's gunicorn is 20.1, without HTTP/2; 26.1
           runs on Debian's python3-h2); cunicorn -k gevent over TLS and
           h2c, and Gunicorn 26.1's gevent worker over TLS. --h2-servers
           picks rows.

Usage: /usr/bin/python3 bench/http.py [--table close|keepalive|tls|h2|all]
           [--duration 10] [--servers cunicorn,gunicorn,uwsgi,nginx]
           [--modes unpinned,pinned] [--connections N] [--threads 1]
           [--workers 2] [--gunicorn26 PATH] [--h2-servers NAME,...]
Stdlib only. Debian packages: wrk gunicorn uwsgi uwsgi-plugin-python3
nginx-light uvicorn (with python3-uvloop and python3-httptools);
nghttp2-client (h2load) and python3-h2 for the h2 table.
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
import ssl
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APPS = os.path.join(HERE, "apps")
NGINX_CONF = os.path.join(HERE, "nginx", "nginx.conf")
NGINX_ECHO = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
UWSGI_PLUGIN = "/usr/lib/uwsgi/plugins/python3_plugin.so"
# bjoern is not in Debian: `make bench-bjoern` builds it into this folder
# (bench/README.md says how); $BJOERN names another.
BJOERN = os.environ.get("BJOERN", "/tmp/bjoern-3.2.2")
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

# The keep-alive table: the same routes, no Connection header, so HTTP/1.1
# keeps each of wrk's connections open for as long as the run lasts.
KA_SCENARIOS = [
    ("hello", "/", ""),
    ("big", "/big", ""),
    ("post", "/post", 'wrk.method = "POST"\n'
                      'wrk.body = string.rep("x", 16384)\n'
                      'wrk.headers["Content-Type"] = "application/octet-stream"\n'),
]
KA_THREADS = 4          # --threads of the two gthread workers
CLOSE_CONNECTIONS = 32  # wrk -c of each table unless --connections says
KA_CONNECTIONS = 64
CLOSE_SERVERS = ["cunicorn", "gunicorn", "uwsgi"]
KA_SERVERS = ["cunicorn", "cunicorn-1t", "gunicorn", "uwsgi", "nginx", "cunicorn-asgi",
              "cunicorn-asgi-asyncio", "uvicorn", "cunicorn-tornado", "tornado",
              "cunicorn-tornado-wsgi", "gunicorn-tornado-wsgi", "bjoern"]
# mode: (server core list for taskset or None, wrk core or None)
MODES = {"unpinned": (None, None), "pinned": ("0", "1")}


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


def bjoern_command(spec, bind, app_dir=APPS):
    """(argv, None) running WSGI app `spec` ("module:name" in app_dir) on
    bjoern, one process, or (None, how to build bjoern)."""
    if not os.path.exists(os.path.join(BJOERN, "bjoern.py")):
        return None, ("bjoern is not built in %s: make bench-bjoern (or set "
                      "$BJOERN; see bench/README.md)" % BJOERN)
    module, name = spec.split(":")
    host, port = bind.split(":")
    code = ("import bjoern, importlib; bjoern.run(getattr(importlib.import_module"
            "(%r), %r), %r, %s)" % (module, name, host, port))
    return ["/usr/bin/env", "PYTHONPATH=%s:%s" % (BJOERN, app_dir),
            "/usr/bin/python3", "-c", code], None


def nginx_config(port, workers, log, prefix):
    """Writes bench/nginx/nginx.conf, filled in, to prefix/nginx.conf.

    Returns (path, scenarios it cannot serve): without the echo module it
    cannot read a request body whole, so post is skipped for it.
    """
    with open(NGINX_CONF) as f:
        text = f.read()
    skip = set()
    if not os.path.exists(NGINX_ECHO):
        text = "".join(l for l in text.splitlines(True)
                       if not l.rstrip().endswith("#echo"))
        skip.add("post")
    for word, value in (("@ECHO_MODULE@", NGINX_ECHO),
                        ("@WORKERS@", str(workers)), ("@PREFIX@", prefix),
                        ("@LOG@", log), ("@PORT@", str(port)),
                        ("@X2K@", "x" * 2048)):
        text = text.replace(word, value)
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(text)
    return path, skip


def ka_server_command(name, port, workers, log, tmp):
    """(argv, None, scenarios to skip) for the keep-alive table, or
    (None, why it is missing, None)."""
    bind = "127.0.0.1:%d" % port
    threads = ["--threads", str(KA_THREADS)]
    if name in ("cunicorn", "cunicorn-1t"):
        if not os.path.exists(os.path.join(ROOT, "build", ".python")):
            return None, "cunicorn is not built: run 'make' in %s" % ROOT, None
        if name == "cunicorn-1t":  # gthread's default: one pool thread
            threads = ["--threads", "1"]
        return ([os.path.join(ROOT, "cunicorn"), "-k", "gthread"] + threads +
                ["-w", str(workers), "-b", bind, "--chdir", APPS,
                 "--error-logfile", log, "hello:app"], None, set())
    if name == "gunicorn":
        exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        if not os.path.exists(exe):
            return None, "apt-get install -y gunicorn", None
        return ([exe, "-k", "gthread"] + threads +
                ["-w", str(workers), "-b", bind, "--chdir", APPS,
                 "--error-logfile", log, "hello:app"], None, set())
    if name == "uwsgi":
        exe = shutil.which("uwsgi") or "/usr/bin/uwsgi"
        if not os.path.exists(exe) or not os.path.exists(UWSGI_PLUGIN):
            return None, "apt-get install -y uwsgi uwsgi-plugin-python3", None
        # --http11-socket: HTTP/1.1 with keep-alive, answered by the worker
        # processes themselves (no router process in front). A sync worker
        # then keeps serving the connection it has until the client closes
        # it: with wrk's 64 connections only `workers` of them are answered.
        return ([exe, "--plugin", "python3", "--http11-socket", bind,
                 "--wsgi-file", os.path.join(APPS, "hello.py"),
                 "--callable", "app", "--processes", str(workers), "--master",
                 "--disable-logging", "--die-on-term", "--need-app",
                 "--logto", log], None, set())
    if name in ("cunicorn-asgi", "cunicorn-asgi-asyncio"):
        if not os.path.exists(os.path.join(ROOT, "build", ".python")):
            return None, "cunicorn is not built: run 'make' in %s" % ROOT, None
        loop = "asyncio" if name.endswith("asyncio") else "auto"
        return ([os.path.join(ROOT, "cunicorn"), "-k", "asgi", "--asgi-lifespan", "off",
                 "--asgi-loop", loop,
                 "-w", str(workers), "-b", bind, "--chdir", APPS,
                 "--error-logfile", log, "hello_asgi:app"], None, set())
    if name == "uvicorn":
        exe = shutil.which("uvicorn") or "/usr/bin/uvicorn"
        if not os.path.exists(exe):
            return None, "apt-get install -y uvicorn", None
        host, port_ = bind.split(":")
        return ([exe, "--host", host, "--port", port_, "--workers", str(workers),
                 "--loop", "uvloop", "--http", "httptools", "--lifespan", "off",
                 "--no-access-log", "--app-dir", APPS, "hello_asgi:app"], None, set())
    if name in ("cunicorn-tornado", "cunicorn-tornado-wsgi"):
        if not os.path.exists(os.path.join(ROOT, "build", ".python")):
            return None, "cunicorn is not built: run 'make' in %s" % ROOT, None
        return ([os.path.join(ROOT, "cunicorn"), "-k", "tornado",
                 "-w", str(workers), "-b", bind, "--chdir", APPS, "--error-logfile", log,
                 "hello:app" if name.endswith("wsgi") else "hello_tornado:app"], None, set())
    if name == "tornado":  # tornado's own HTTPServer, one process
        if workers != 1:
            return None, "tornado's own server runs as one process (mode pinned)", None
        return (["/usr/bin/python3", os.path.join(APPS, "hello_tornado.py"),
                 bind.split(":")[1]], None, set())
    if name == "bjoern":  # one process, one thread, libev
        if workers != 1:
            return None, "bjoern runs as one process (mode pinned)", None
        argv, missing = bjoern_command("hello:app", bind)
        return argv, missing, set()
    if name == "gunicorn-tornado-wsgi":
        # Gunicorn 20.1's tornado worker wraps every app in tornado's
        # WSGIContainer, a tornado Application too (which then fails):
        # with tornado 6 it serves WSGI apps only
        exe = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        if not os.path.exists(exe):
            return None, "apt-get install -y gunicorn", None
        return ([exe, "-k", "tornado", "-w", str(workers), "-b", bind, "--chdir", APPS,
                 "--error-logfile", log, "hello:app"], None, set())
    if name == "nginx":
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(exe):
            return None, "apt-get install -y nginx-light", None
        prefix = tempfile.mkdtemp(prefix="nginx-", dir=tmp)
        # Workers started by a root master run as nobody: let them reach
        # the prefix (the folder above is traversable, see main()).
        os.chmod(prefix, 0o755)
        conf, skip = nginx_config(port, workers, log, prefix)
        return [exe, "-p", prefix, "-c", conf], None, skip
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


def tree_sum_kib(root, proc_file, key):
    """The kB of field `key` ("VmRSS:") of /proc/PID/proc_file, summed over
    root and its descendants."""
    total = 0
    for pid in process_tree(root):
        try:
            with open("/proc/%d/%s" % (pid, proc_file)) as f:
                for line in f:
                    if line.startswith(key):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def pss_kib(root):
    """Sum of Pss over root and its descendants: each page shared by n of
    them counted 1/n times, so a page the workers share with the master
    (fork's copy-on-write) counts once in all, unlike in rss_kib."""
    return tree_sum_kib(root, "smaps_rollup", "Pss:")


def rss_kib(root):
    return tree_sum_kib(root, "status", "VmRSS:")


def passive_opens():
    """TCP connections accepted by this network namespace so far."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [l.split() for l in f if l.startswith("Tcp:")]
        return int(rows[1][rows[0].index("PassiveOpens")])
    except (OSError, IndexError, ValueError):
        return None


def listen_queue(port):
    """Connections waiting in the accept queue of 127.0.0.1:port, or None.

    For a listening socket /proc/net/tcp gives the queue's length as
    rx_queue: connections the kernel completed that the server has not
    accept()ed yet.
    """
    try:
        with open("/proc/net/tcp") as f:
            for line in f:
                fields = line.split()
                if (fields[1] == "0100007F:%04X" % port
                        and fields[3] == "0A"):  # 0A: LISTEN
                    return int(fields[4].split(":")[1], 16)
    except (OSError, IndexError, ValueError):
        pass
    return None


def affinity_problems(root, cores):
    """Processes of the tree allowed on other cores than `cores`."""
    want = {int(c) for c in cores.split(",")}
    bad = []
    for pid in process_tree(root):
        try:
            got = os.sched_getaffinity(pid)
        except OSError:
            continue
        if got != want:
            bad.append("%d on %s" % (pid, sorted(got)))
    return bad


# ---- servers -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(port, path="/", tls=False):
    """Status code of one GET, or None if the server did not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                s = ctx.wrap_socket(s)
            s.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n"
                      b"Connection: close\r\n\r\n" % path.encode())
            head = s.recv(64)
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(m.group(1)) if m else None


def port_open(port):
    """Whether a connection to the port is accepted."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def keepalive_probe(port):
    """None if two GETs of / are answered on one connection, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            f = s.makefile("rb")
            for n in (1, 2):
                s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                status = f.readline()
                if not status.startswith(b"HTTP/1.1 200"):
                    return "response %d: %r" % (n, status[:40])
                length, close = None, False
                while True:
                    line = f.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = line.partition(b":")
                    key, value = key.strip().lower(), value.strip().lower()
                    if key == b"content-length":
                        length = int(value)
                    elif key == b"connection" and value == b"close":
                        close = True
                if close:
                    return "response %d says Connection: close" % n
                if length is None:
                    return "response %d has no Content-Length" % n
                if len(f.read(length)) != length:
                    return "response %d: short body" % n
    except (OSError, ValueError) as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


class Server:
    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        self.proc = None
        self.known = {}  # pid -> starttime of every process seen in its tree

    def start(self, port, tls=False, env=None, h2c=False):
        """Spawns it and returns seconds from spawn to the first 200 (h2c:
        to the first connection accepted, which nginx's h2c port only
        speaks HTTP/2 on)."""
        t0 = time.monotonic()
        with open(self.log + ".out", "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, env=env)
        while time.monotonic() - t0 < START_TIMEOUT:
            if port_open(port) if h2c else get_status(port, tls=tls) == 200:
                elapsed = time.monotonic() - t0
                self.remember()
                return elapsed
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s during start-up%s"
                                   % (self.name, self.proc.returncode,
                                      self.last_words()))
            time.sleep(0.001)
        raise RuntimeError("%s gave no 200 within %.0fs"
                           % (self.name, START_TIMEOUT))

    def last_words(self):
        """': ' and the last non-empty line it printed, or ''."""
        lines = []
        for path in (self.log + ".out", self.log):
            try:
                with open(path, errors="replace") as f:
                    lines += [l.strip() for l in f if l.strip()]
            except OSError:
                pass
        return ": " + lines[-1][:200] if lines else ""

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
                         r"core dumped|signal \d+|emerg|alert|crit)|"
                         r"\bdied\b|\bkilled\b", re.I)
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


class Load:
    """How wrk runs: threads, connections, and the core it is pinned to."""

    def __init__(self, threads, connections, core=None, scheme="http"):
        self.threads, self.connections, self.core = threads, connections, core
        self.scheme = scheme

    def argv(self, port, path, script, duration):
        cmd = ["taskset", "-c", self.core] if self.core else []
        cmd += ["wrk", "-t", str(self.threads), "-c", str(self.connections),
                "-d", "%ds" % duration, "--latency"]
        if script:
            cmd += ["-s", script]
        return cmd + ["%s://127.0.0.1:%d%s" % (self.scheme, port, path)]

    def describe(self, duration):
        """The command line, with the parts each run fills in as words."""
        argv = self.argv(0, "", None, duration)
        return (" ".join(shlex.quote(a) for a in argv[:-1]) +
                " [-s SCRIPT.lua] %s://127.0.0.1:PORT/PATH" % self.scheme)


def run_wrk(load, port, path, script, duration, midway=None):
    """wrk's numbers, or None if it hung. midway() runs halfway through the
    run and its result is res["midway"]."""
    cmd = load.argv(port, path, script, duration)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = None
    try:
        if midway:
            try:
                proc.wait(duration / 2)
            except subprocess.TimeoutExpired:
                seen = midway()
        out = proc.communicate(timeout=duration + 30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    res = {"requests": 0, "rps": 0.0, "p99": None, "sock": 0,
           "non2xx": 0, "detail": "", "midway": seen}
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


def measure(load, duration, server, port, scenarios, scripts, notes,
            label=None, skip=(), midway=None):
    label = label or server.name
    results = {}
    for name, path, _ in scenarios:
        if name in skip:
            continue
        before, opens = cpu_seconds(server.proc.pid), passive_opens()
        res = run_wrk(load, port, path, scripts[name], duration, midway)
        after, opens2 = cpu_seconds(server.proc.pid), passive_opens()
        server.remember()
        if res is None:
            notes.append("%s %s: wrk did not finish" % (label, name))
            continue
        res["cpu_us"] = ((after - before) * 1e6 / res["requests"]
                         if res["requests"] else None)
        res["opened"] = (opens2 - opens
                         if opens is not None and opens2 is not None else None)
        if res["sock"]:
            notes.append("%s %s: %s" % (label, name, res["detail"]))
        if not server.alive():
            notes.append("%s: master exited (%s) during %s"
                         % (label, server.proc.returncode, name))
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
    print("%-18s %22s %22s %14s" % ("server", "RSS MiB (1+%d procs)" % workers,
                                    "Pss MiB (1+%d procs)" % workers, "start-up ms"))
    for n in names:
        if n in runs:
            print("%-18s %22.1f %22.1f %14.0f" % (n, runs[n]["rss"] / 1024,
                                                  runs[n]["pss"] / 1024,
                                                  runs[n]["startup"] * 1e3))
    if "cunicorn" in runs:
        c = runs["cunicorn"]
        for o in others:
            print("%-18s %22s %22s %14s" % ("cunicorn/" + o,
                                            ratio(c["rss"], runs[o]["rss"]),
                                            ratio(c["pss"], runs[o]["pss"]),
                                            ratio(c["startup"], runs[o]["startup"])))


def print_ka_report(names, runs):
    """One mode of the keep-alive table; runs: {server: {scenario: res}}."""
    print()
    print("%-7s %-18s %10s %9s %7s %11s %7s %6s %8s %8s" % (
        "scen.", "server", "req/s", "p99 ms", "errors", "CPU us/req",
        "conns", "queued", "RSS MiB", "Pss MiB"))
    for scen, _, _ in KA_SCENARIOS:
        if not any(scen in r for r in runs.values()):
            continue
        for n in names:
            r = runs.get(n, {}).get(scen)
            if r is None:
                continue
            print("%-7s %-18s %10.0f %9s %7d %11s %7s %6s %8s %8s" % (
                scen, n, r["rps"], fmt(r["p99"], "%.2f"),
                r["sock"] + r["non2xx"], fmt(r["cpu_us"], "%.1f"),
                fmt(r["opened"], "%d"), fmt(r["midway"], "%d"),
                fmt(r.get("rss") and r["rss"] / 1024, "%.1f"),
                fmt(r.get("pss") and r["pss"] / 1024, "%.1f")))
        for ours, theirs, label in (("cunicorn-asgi", "uvicorn", "c-asgi/uvicorn"),
                                    ("cunicorn-tornado", "tornado", "c-tornado/tornado"),
                                    ("cunicorn-tornado-wsgi", "gunicorn-tornado-wsgi",
                                     "c-t-wsgi/g-t-wsgi")):
            a, u = runs.get(ours, {}).get(scen), runs.get(theirs, {}).get(scen)
            if a and u:
                print("%-7s %-18s %10s %9s %7s %11s" % (
                    scen, label, ratio(a["rps"], u["rps"]),
                    ratio(a["p99"], u["p99"]), "", ratio(a["cpu_us"], u["cpu_us"])))
        for ours in ("cunicorn", "cunicorn-1t"):
            c = runs.get(ours, {}).get(scen)
            for o in ("gunicorn", "uwsgi", "bjoern", "nginx"):
                r = runs.get(o, {}).get(scen)
                if not (c and r):
                    continue
                if o == "nginx":  # the ceiling: only CPU per request compares
                    print("%-7s %-18s %10s %9s %7s %11s" % (
                        scen, ours + "/nginx", "", "", "",
                        ratio(c["cpu_us"], r["cpu_us"])))
                else:
                    print("%-7s %-18s %10s %9s %7s %11s" % (
                        scen, ours + "/" + o, ratio(c["rps"], r["rps"]),
                        ratio(c["p99"], r["p99"]), "",
                        ratio(c["cpu_us"], r["cpu_us"])))
        print()


# ---- the tables ----------------------------------------------------------

def write_scripts(tmp, scenarios, prefix):
    scripts = {}
    for name, _, lua in scenarios:
        scripts[name] = None
        if lua:
            scripts[name] = os.path.join(tmp, "%s-%s.lua" % (prefix, name))
            with open(scripts[name], "w") as f:
                f.write(lua)
    return scripts


def close_table(args, names, tmp):
    connections = args.connections or CLOSE_CONNECTIONS
    load = Load(args.threads, connections)
    print("== Connection: close table ==")
    print("wrk -t%d -c%d, %ds per scenario, %d sync workers, %d CPUs; "
          "load average %.2f" % (args.threads, connections,
                                 args.duration, args.workers,
                                 os.cpu_count(), os.getloadavg()[0]))
    runs, notes = {}, []
    scripts = write_scripts(tmp, SCENARIOS, "close")
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
            run_wrk(load, port, "/", scripts["hello"], 1)  # warm-up
            first = server.workers()
            rss, pss = rss_kib(server.proc.pid), pss_kib(server.proc.pid)
            results = measure(load, args.duration, server, port, SCENARIOS,
                              scripts, notes)
            if server.alive() and server.workers() != first:
                notes.append("%s: workers changed during the run: %s -> %s"
                             % (name, first, server.workers()))
            runs[name] = {"startup": startup, "rss": rss, "pss": pss,
                          "results": results}
        except RuntimeError as e:
            notes.append(str(e))
        finally:
            server.stop()
            notes += ["%s log: %s" % (name, l)
                      for l in server.log_problems()]
    print_report(names, runs, args.workers)
    print_notes(notes)


def ka_mode(args, mode, names, tmp, scripts):
    server_cores, wrk_core = MODES[mode]
    connections = args.connections or KA_CONNECTIONS
    if mode == "pinned":
        workers, load = 1, Load(1, connections, wrk_core)
        how = ("1 worker, server under taskset -c %s, wrk under taskset -c %s"
               % (server_cores, wrk_core))
    else:
        workers, load = args.workers, Load(args.threads, connections)
        how = "%d workers, nothing pinned" % workers
    print()
    print("-- keep-alive, mode %s: %s; load average %.2f --"
          % (mode, how, os.getloadavg()[0]))
    print("wrk: %s" % load.describe(args.duration))
    runs, notes = {}, []
    for name in names:
        label = "%s (%s)" % (name, mode)
        port = free_port()
        log = os.path.join(tmp, "ka-%s-%s.log" % (mode, name))
        argv, missing, skip = ka_server_command(name, port, workers, log, tmp)
        if argv is None:
            print("skipping %s: %s" % (label, missing))
            continue
        if server_cores:
            argv = ["taskset", "-c", server_cores] + argv
        print("%s: %s" % (label, " ".join(shlex.quote(a) for a in argv)))
        for scen in sorted(skip):
            print("  skipping %s %s: nginx has no echo module to read the "
                  "body (apt-get install -y nginx-light)" % (name, scen))
        server = Server(name, argv, log)
        try:
            server.start(port)
        except RuntimeError as e:
            print("skipping %s: %s" % (label, e))
            server.stop()
            continue
        try:
            why = keepalive_probe(port)
            if why:
                notes.append("%s: does not keep a connection alive for a "
                             "second GET (%s)" % (label, why))
            run_wrk(load, port, "/", scripts["hello"], 1)  # warm-up
            if server_cores:
                bad = affinity_problems(server.proc.pid, server_cores)
                if bad:
                    notes.append("%s: not pinned to core %s: %s"
                                 % (label, server_cores, ", ".join(bad)))
            first = server.workers()
            runs[name] = measure(load, args.duration, server, port,
                                 KA_SCENARIOS, scripts, notes, label, skip,
                                 lambda: listen_queue(port))
            rss = rss_kib(server.proc.pid)  # master + workers, after the run
            pss = pss_kib(server.proc.pid)
            for r in runs[name].values():
                r["rss"], r["pss"] = rss, pss
            if server.alive() and server.workers() != first:
                notes.append("%s: workers changed during the run: %s -> %s"
                             % (label, first, server.workers()))
            for scen, r in runs[name].items():
                if r["midway"]:
                    notes.append(
                        "%s %s: halfway through, %d of wrk's %d connections "
                        "were still in the listen queue, never accepted: "
                        "they got no answer, which wrk counts as no error; "
                        "req/s and p99 are of the others"
                        % (label, scen, r["midway"], connections))
        except RuntimeError as e:
            notes.append(str(e))
        finally:
            server.stop()
            notes += ["%s log: %s" % (label, l)
                      for l in server.log_problems()]
    print_ka_report(names, runs)
    print_notes(notes)


def keepalive_table(args, names, modes, tmp):
    connections = args.connections or KA_CONNECTIONS
    print("== keep-alive table ==")
    print("wrk -c%d keeping its connections, %ds per scenario, gthread "
          "workers with %d threads, %d CPUs" % (connections, args.duration,
                                                KA_THREADS, os.cpu_count()))
    scripts = write_scripts(tmp, KA_SCENARIOS, "ka")
    for mode in modes:
        if mode == "pinned" and not {0, 1} <= os.sched_getaffinity(0):
            print("\nskipping mode pinned: it needs cores 0 and 1, this "
                  "process may run on %s" % sorted(os.sched_getaffinity(0)))
            continue
        if mode == "pinned" and not shutil.which("taskset"):
            print("\nskipping mode pinned: taskset is missing "
                  "(apt-get install -y util-linux)")
            continue
        ka_mode(args, mode, names, tmp, scripts)


def make_cert(tmp):
    """A throw-away self-signed certificate and key for 127.0.0.1."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o644)  # nginx's workers (nobody) read it after the master
    return cert, key


def nginx_tls(cert, key):
    """nginx's TLS lines: the certificate, and TLS 1.3 offered as cunicorn
    offers it (nginx 1.22, Debian 12's, offers TLS 1.2 at most unless told:
    its resumed handshakes would then skip the key exchange TLS 1.3 makes)."""
    return ("        ssl_certificate %s;\n        ssl_certificate_key %s;\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;" % (cert, key))


def tls_server_command(name, port, log, tmp, cert, key):
    """(argv, None) for the TLS table, or (None, why it is missing)."""
    argv, missing, _ = ka_server_command(name, port, 1, log, tmp)
    if argv is None:
        return None, missing
    if name in ("cunicorn", "cunicorn-1t", "gunicorn"):
        return argv + ["--certfile", cert, "--keyfile", key], None
    conf = argv[-1]
    with open(conf) as f:
        text = f.read()
    listen = "listen 127.0.0.1:%d;" % port
    text = text.replace(listen, "listen 127.0.0.1:%d ssl;\n%s" % (port, nginx_tls(cert, key)))
    with open(conf, "w") as f:
        f.write(text)
    return argv, None


def pinned_server(name, argv, missing, cores, log):
    """A Server for argv under taskset -c cores, said aloud; None (and why,
    missing) when argv is None."""
    if argv is None:
        print("skipping %s: %s" % (name, missing))
        return None
    argv = ["taskset", "-c", cores] + argv
    print("%s: %s" % (name, " ".join(shlex.quote(a) for a in argv)))
    return Server(name, argv, log)


def tls_table(args, names, tmp):
    """Keep-alive hello over TLS, pinned: cunicorn beside nginx."""
    connections = args.connections or KA_CONNECTIONS
    server_cores, wrk_core = MODES["pinned"]
    load = Load(1, connections, wrk_core, scheme="https")
    print("== TLS keep-alive table ==")
    print("1 worker, server under taskset -c %s, wrk under taskset -c %s; "
          "load average %.2f" % (server_cores, wrk_core, os.getloadavg()[0]))
    print("wrk: %s" % load.describe(args.duration))
    if not shutil.which("openssl"):
        print("skipping: the openssl command is missing (apt-get install -y openssl)")
        return
    cert, key = make_cert(tmp)
    scripts = write_scripts(tmp, KA_SCENARIOS[:1], "tls")
    runs, notes = {}, []
    for name in names:
        port = free_port()
        log = os.path.join(tmp, "tls-%s.log" % name)
        argv, missing = tls_server_command(name, port, log, tmp, cert, key)
        server = pinned_server(name, argv, missing, server_cores, log)
        if server is None:
            continue
        try:
            server.start(port, tls=True)
            run_wrk(load, port, "/", scripts["hello"], 1)  # warm-up
            runs[name] = measure(load, args.duration, server, port, KA_SCENARIOS[:1],
                                 scripts, notes, "%s (tls)" % name)
        except RuntimeError as e:
            notes.append(str(e))
        finally:
            server.stop()
            notes += ["%s log: %s" % (name, l) for l in server.log_problems()]
    print_ka_report(names, runs)
    handshake_rows(names, tmp, cert, key, args.duration, notes)
    print_notes(notes)


# ---- TLS handshakes --------------------------------------------------------

# openssl s_time clients at a time: one alone leaves the server idle while
# it waits for each answer
S_TIME_CLIENTS = 4


def run_s_time(core, port, reuse, duration):
    """New TLS connections, each with GET / (openssl s_time -new, or -reuse:
    the first connection's session resumed by all the others), from
    S_TIME_CLIENTS clients at once under taskset -c core: how many were
    made, or None when a client hung."""
    cmd = ["taskset", "-c", core, "openssl", "s_time", "-connect",
           "127.0.0.1:%d" % port, "-www", "/", "-reuse" if reuse else "-new",
           "-time", str(duration)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for _ in range(S_TIME_CLIENTS)]
    total = 0
    for p in procs:
        try:
            out = p.communicate(timeout=duration + 30)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            total = None
            continue
        # the last "N connections in T real seconds" is the timed run's
        m = re.findall(r"(\d+) connections in [\d.]+ real seconds", out)
        if not m:
            total = None
        elif total is not None:
            total += int(m[-1])
    return total


def handshake_rows(names, tmp, cert, key, duration, notes):
    """New TLS connections per second with full handshakes and with
    resumption, pinned: the server's CPU per connection, each server
    beside nginx's."""
    if not shutil.which("openssl"):
        return
    server_cores, load_core = MODES["pinned"]
    print("new TLS connections: %d x openssl s_time -new (full handshake) or "
          "-reuse (resumed) -www / under taskset -c %s; load average %.2f"
          % (S_TIME_CLIENTS, load_core, os.getloadavg()[0]))
    runs = {}
    everyone = names + (["gunicorn"] if "gunicorn" not in names else [])
    for name in everyone:
        port = free_port()
        log = os.path.join(tmp, "hs-%s.log" % name)
        argv, missing = tls_server_command(name, port, log, tmp, cert, key)
        server = pinned_server(name, argv, missing, server_cores, log)
        if server is None:
            continue
        try:
            server.start(port, tls=True)
            for reuse in (False, True):
                before = cpu_seconds(server.proc.pid)
                n = run_s_time(load_core, port, reuse, duration)
                after = cpu_seconds(server.proc.pid)
                if not n:
                    notes.append("%s: openssl s_time failed" % name)
                    continue
                runs[(name, reuse)] = (n / duration, (after - before) * 1e6 / n)
        except RuntimeError as e:
            notes.append(str(e))
        finally:
            server.stop()
            notes += ["%s log: %s" % (name, l) for l in server.log_problems()]
    print()
    print("%-10s %-18s %10s %12s" % ("handshake", "server", "conn/s", "CPU us/conn"))
    for reuse, label in ((False, "full"), (True, "resumed")):
        for name in everyone:
            r = runs.get((name, reuse))
            if r:
                print("%-10s %-18s %10.0f %12.1f" % (label, name, r[0], r[1]))
        for ours in ("cunicorn", "cunicorn-1t"):
            c, n = runs.get((ours, reuse)), runs.get(("nginx", reuse))
            if c and n:
                print("%-10s %-18s %10s %12s" % (label, ours + "/nginx", "",
                                                 ratio(c[1], n[1])))
    print()


# ---- the h2 table ----------------------------------------------------------

H2_SERVERS = [  # name, TLS?
    ("cunicorn", True), ("cunicorn-h2c", False), ("cunicorn-asgi", True),
    ("cunicorn-asgi-h2c", False), ("cunicorn-gevent", True),
    ("cunicorn-gevent-h2c", False), ("nginx", True), ("nginx-h2c", False),
    ("gunicorn26", True), ("gunicorn26-gevent", True),
]


def h2_server_command(name, port, log, tmp, cert, key, gunicorn26):
    """(argv, env, None) for the h2 table, or (None, None, why it is missing)."""
    bind = "127.0.0.1:%d" % port
    tls = ["--certfile", cert, "--keyfile", key]
    if name.startswith("cunicorn"):
        # the asgi rows: -k asgi on uvloop when installed (hello_asgi.py)
        argv, missing, _ = ka_server_command(
            "cunicorn-asgi" if name.startswith("cunicorn-asgi") else "cunicorn", port, 1,
            log, tmp)
        if argv is None:
            return None, None, missing
        if name.startswith("cunicorn-gevent"):  # the gthread row's, on gevent
            argv = argv[:1] + ["-k", "gevent"] + argv[argv.index("-w"):]
        extra = ["--http-protocols", "h2,h1"] + (
            ["--http2-cleartext", "prior-knowledge"] if name.endswith("h2c") else tls)
        return argv[:-1] + extra + argv[-1:], None, None
    if name.startswith("nginx"):
        argv, missing, _ = ka_server_command("nginx", port, 1, log, tmp)
        if argv is None:
            return None, None, missing
        conf = argv[-1]
        with open(conf) as f:
            text = f.read()
        listen = "listen 127.0.0.1:%d" % port
        new = listen + (" http2;" if name.endswith("h2c") else
                        " ssl http2;\n" + nginx_tls(cert, key))
        with open(conf, "w") as f:
            f.write(text.replace(listen + ";", new))
        return argv, None, None
    if not gunicorn26 or not os.path.exists(os.path.join(gunicorn26, "gunicorn",
                                                         "http2")):
        return None, None, ("Gunicorn 26.1's source is needed: --gunicorn26 PATH "
                            "(Debian's gunicorn is 20.1, without HTTP/2)")
    env = dict(os.environ, PYTHONPATH=gunicorn26)
    # a thread per connection: Gunicorn's gthread holds a thread for an
    # HTTP/2 connection while it lives (with 4, 60 of h2load's 64 wait)
    kind = (["-k", "gevent"] if name.endswith("gevent") else
            ["-k", "gthread", "--threads", str(KA_CONNECTIONS)])
    return ([sys.executable, "-m", "gunicorn"] + kind +
            ["-w", "1", "-b", bind, "--chdir", APPS, "--error-logfile", log,
             "--http-protocols", "h2,h1"] + tls + ["hello:app"], env, None)


def run_h2load(core, url, duration, connections):
    """h2load's numbers: {"requests", "rps", "failed"}, or None if it hung."""
    cmd = ["taskset", "-c", core, "h2load", "-D", str(duration), "-c",
           str(connections), "-m", "10", "-t", "1", url]
    try:
        out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=duration + 60).stdout
    except subprocess.TimeoutExpired:
        return None
    res = {"requests": 0, "rps": 0.0, "failed": 0}
    m = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if m:
        res["requests"] = int(m.group(1))
        res["failed"] = sum(int(g) for g in m.groups()[1:])
    return res


def h2_table(args, tmp):
    """HTTP/2 hello, pinned: cunicorn (TLS, h2c) beside nginx and Gunicorn 26.1."""
    connections = args.connections or KA_CONNECTIONS
    server_cores, load_core = MODES["pinned"]
    print("== HTTP/2 table ==")
    print("1 worker, server under taskset -c %s; h2load -c%d -m10 -t1 -D%d under "
          "taskset -c %s; load average %.2f" % (server_cores, connections, args.duration,
                                                load_core, os.getloadavg()[0]))
    for tool in ("h2load", "openssl", "taskset"):
        if not shutil.which(tool):
            print("skipping: %s is missing (apt-get install -y nghttp2-client openssl "
                  "util-linux)" % tool)
            return
    cert, key = make_cert(tmp)
    runs, notes = {}, []
    for name, tls in H2_SERVERS:
        if args.h2_servers and name not in args.h2_servers.split(","):
            continue
        port = free_port()
        log = os.path.join(tmp, "h2-%s.log" % name)
        argv, env, missing = h2_server_command(name, port, log, tmp, cert, key,
                                               args.gunicorn26)
        server = pinned_server(name, argv, missing, server_cores, log)
        if server is None:
            continue
        url = "%s://127.0.0.1:%d/" % ("https" if tls else "http", port)
        try:
            server.start(port, tls=tls, env=env, h2c=not tls)
            run_h2load(load_core, url, 1, connections)  # warm-up
            before = cpu_seconds(server.proc.pid)
            res = run_h2load(load_core, url, args.duration, connections)
            after = cpu_seconds(server.proc.pid)
            if res is None:
                notes.append("%s: h2load did not finish" % name)
                continue
            res["cpu_us"] = ((after - before) * 1e6 / res["requests"]
                             if res["requests"] else None)
            runs[name] = res
        except RuntimeError as e:
            notes.append(str(e))
        finally:
            server.stop()
            notes += ["%s log: %s" % (name, l) for l in server.log_problems()]
    print()
    print("%-18s %10s %8s %11s" % ("server", "req/s", "errors", "CPU us/req"))
    for name, _ in H2_SERVERS:
        r = runs.get(name)
        if r:
            print("%-18s %10.0f %8d %11s" % (name, r["rps"], r["failed"],
                                             fmt(r["cpu_us"], "%.1f")))
    for ours, theirs, label in (("cunicorn", "gunicorn26", "cunicorn/g26"),
                                ("cunicorn-gevent", "gunicorn26-gevent",
                                 "gevent/g26-gevent")):
        c, g = runs.get(ours), runs.get(theirs)
        if c and g:
            print("%-18s %10s %8s %11s" % (label, ratio(c["rps"], g["rps"]), "",
                                           ratio(c["cpu_us"], g["cpu_us"])))
    print_notes(notes)


def print_notes(notes):
    if notes:
        print("\nnotes:")
        for n in notes:
            print("  " + n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gunicorn26", default="",
                    help="a checkout of Gunicorn 26.1's source, for the h2 table")
    ap.add_argument("--table", choices=("close", "keepalive", "tls", "h2", "all"),
                    default="all", help="which table to run (all)")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds of wrk per scenario (10)")
    ap.add_argument("--connections", type=int, default=0,
                    help="wrk connections (%d for close, %d for keepalive)"
                    % (CLOSE_CONNECTIONS, KA_CONNECTIONS))
    ap.add_argument("--threads", type=int, default=1,
                    help="wrk threads, but for mode pinned (-t1) (1)")
    ap.add_argument("--workers", type=int, default=2,
                    help="worker processes per server, but for mode pinned "
                         "(1) (2)")
    ap.add_argument("--servers", "--only", dest="servers", default="",
                    help="comma-separated: " + ",".join(KA_SERVERS) +
                         " (the first three are in every table)")
    ap.add_argument("--h2-servers", default="",
                    help="the h2 table's rows to run, comma-separated: " +
                         ",".join(n for n, _ in H2_SERVERS) + " (all)")
    ap.add_argument("--modes", default="unpinned,pinned",
                    help="keep-alive modes: unpinned,pinned")
    args = ap.parse_args()
    wanted = KA_SERVERS
    if args.servers:
        wanted = args.servers.split(",")
        if set(wanted) - set(KA_SERVERS):
            ap.error("--servers takes " + ", ".join(KA_SERVERS))
    modes = args.modes.split(",")
    if set(modes) - set(MODES):
        ap.error("--modes takes unpinned, pinned")
    modes = [m for m in MODES if m in modes]
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk")
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        # nginx workers started by root run as nobody and must get through
        # this folder to their prefix; it stays unlistable.
        os.chmod(tmp, 0o711)
        if args.table in ("close", "all"):
            names = [n for n in CLOSE_SERVERS if n in wanted]
            if names:
                close_table(args, names, tmp)
            else:
                print("== Connection: close table: no server of %s in it"
                      % ",".join(wanted))
        if args.table in ("keepalive", "all"):
            if args.table == "all":
                print()
            keepalive_table(args, [n for n in KA_SERVERS if n in wanted],
                            modes, tmp)
        if args.table in ("tls", "all") and "pinned" in modes:
            if args.table == "all":
                print()
            tls_table(args, [n for n in ("cunicorn", "cunicorn-1t", "nginx") if n in wanted],
                      tmp)
        if args.table in ("h2", "all") and "pinned" in modes:
            if args.table == "all":
                print()
            h2_table(args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
