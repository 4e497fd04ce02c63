"""Real config files (issue 10, deliverable 7): gunicorn.conf.py files taken
from public projects, kept in tests/python/realconf/, each started with
cunicorn as its project starts Gunicorn and checked to serve and to log as
its author meant.

Each kept file starts with two lines of ours: where it comes from
(repository, commit, path) and the sha256 of the file there. A line we had
to change (a path into the project's own tree) keeps its original right
above it as `# realconf: was: ...` and ends in `# realconf: changed: WHY`;
test_kept_file_is_the_published_one rebuilds the published file from that
and checks the hash. Every file's `bind` is overridden by `-b 127.0.0.1:0`
on the command line, which wins over the file as in Gunicorn.

The stand-in apps are in realconf/apps/: wsgiapp (a plain WSGI app that
says what it was given), djangosite (for the Open edX files, whose hooks
read Django's settings and close its caches), asgiapp, and the two small
libraries socorro's file imports.

What each file needs that cunicorn refuses today (docs/settings.md says
why) keeps its test, marked xfail(strict=True) with the refusal as the
reason: when the part lands the test passes, fails as XPASS, and its mark
has to go.

Access lines are compared with Gunicorn's documented atoms by rendering the
file's own access_log_format with Python's %, as Gunicorn does
(glogging.SafeAtoms); error lines with Gunicorn's documented shape,
`[%Y-%m-%d %H:%M:%S %z] [PID] [LEVEL] message`.
"""

import datetime
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TIMEOUT, wait_for

REAL = Path(__file__).resolve().parent / "realconf"
APPS = REAL / "apps"
KEPT = sorted(p.name for p in REAL.glob("*.py"))

# Every kept file and the tests that start it (the last test checks the two
# lists agree, so no file is kept without being run).
TESTED = {
    "gunicorn_example_config.py", "warehouse_gunicorn-uploads.conf.py",
    "warehouse_gunicorn.conf.py", "warehouse_gunicorn-prod.conf.py",
    "inventree_gunicorn.conf.py", "meinheld-gunicorn-docker_gunicorn_conf.py",
    "uvicorn-gunicorn-docker_gunicorn_conf.py", "netbox-docker_gunicorn_config.py",
    "namex_gunicorn_config.py", "bedrock_config.py",
    "ecommerce_docker_gunicorn_configuration.py",
    "edx-platform_docker_lms_gunicorn.py", "edx-platform_docker_cms_gunicorn.py",
    "asoc_members_gunicorn_cfg.py",
    "rhodecode_gunicorn_config.py", "paperless-ngx_gunicorn.conf.py",
    "socorro_gunicorn_config.py",
}

# Gunicorn's error-log line: glogging's "%(asctime)s [%(process)d]
# [%(levelname)s] %(message)s" with datefmt "[%Y-%m-%d %H:%M:%S %z]".
ERROR_LINE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[(\d+)\] "
                        r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (.*)")
# What varies from one request to the next, as Gunicorn documents the atoms:
# t "[%d/%b/%Y:%H:%M:%S %z]", T seconds, D microseconds, M milliseconds,
# L "%d.%06d" seconds.
TIMED = {"t": r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]",
         "T": r"\d+", "D": r"\d+", "M": r"\d+", "L": r"\d+\.\d{6}"}


# ---- the kept files ---------------------------------------------------------

def published(name):
    """(source line, sha256 in the header, the file as published, changed lines)."""
    lines = (REAL / name).read_text(encoding="utf-8").split("\n")
    source = re.fullmatch(r"# realconf: https://github\.com/[\w.-]+/[\w.-]+/blob/"
                          r"[0-9a-f]{40}/\S+", lines[0])
    sha = re.match(r"# realconf: sha256 ([0-9a-f]{64}) ", lines[1])
    assert source and sha, "%s: the two header lines are missing" % name
    out, changed = [], []
    for i, line in enumerate(lines[2:], 2):
        if line.startswith("# realconf: was: "):
            out.append(line[len("# realconf: was: "):])
            assert "# realconf: changed: " in lines[i + 1], (name, i)
        elif "# realconf: changed: " in line:
            assert lines[i - 1].startswith("# realconf: was: "), (name, i)
            changed.append(line)
        else:
            assert "realconf:" not in line, (name, i, line)
            out.append(line)
    return lines[0], sha.group(1), "\n".join(out).encode("utf-8"), changed


@pytest.mark.parametrize("name", KEPT)
def test_kept_file_is_the_published_one(name):
    _, sha, original, changed = published(name)
    assert hashlib.sha256(original).hexdigest() == sha
    # what we change: paths into the project's own tree, nothing else
    for line in changed:
        assert re.match(r"(pythonpath|pidfile) = ", line), line


def test_every_kept_file_is_started():
    assert set(KEPT) == TESTED
    assert len(KEPT) >= 10


# ---- running one --------------------------------------------------------------

def base_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GUNICORN_CMD_ARGS", "PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS",
                        "SENDFILE", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "BIND", "HOST",
                        "LOG_LEVEL", "LOGLEVEL")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the source tree
    env.update(extra)
    return env


class Server:
    """One cunicorn started with a kept file; its stdout and stderr (where
    the files send the access and error logs) go to files."""

    def __init__(self, tmp, conf, app, args, env, cwd):
        self.tmp = tmp
        self.out, self.err = tmp / "stdout.txt", tmp / "stderr.txt"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [str(ROOT / "cunicorn"), "-c", str(REAL / conf), "-b", "127.0.0.1:0"]
                + list(args) + [app], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err)
        self.pid = self.proc.pid
        self.port = None

    def stdout(self):
        return self.out.read_text(errors="replace")

    def stderr(self):
        return self.err.read_text(errors="replace")

    def booted(self):
        return [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.stderr())]

    def wait_booted(self, workers):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("cunicorn exited %s:\n%s" % (self.proc.returncode,
                                                                  self.stderr()[-3000:]))
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.stderr())
            if m and len(self.booted()) >= workers:
                self.port = int(m.group(1))
                return True
            return False
        wait_for(ready, what="%d workers to boot" % workers)
        return self

    def log(self, what=None):
        """The error log as (pid, level, message), each line checked against
        Gunicorn's shape. A line that does not start like one continues the
        message before it (Gunicorn writes a multi-line message, such as
        the configuration dump or a traceback, as one record)."""
        records = []
        for line in self.stderr().splitlines():
            if re.match(r"\[\d{4}-", line):
                m = ERROR_LINE.fullmatch(line)
                assert m, "not Gunicorn's error-log shape: %r" % line
                stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S %z")
                age = datetime.datetime.now(datetime.timezone.utc) - stamp
                assert abs(age.total_seconds()) < 120, line
                records.append([int(m.group(2)), m.group(3), m.group(4)])
            elif records:
                records[-1][2] += "\n" + line
        records = [tuple(r) for r in records]
        return records if what is None else [r for r in records if what in r[2]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # the workers it started go with it; make sure, by pid
        for pid in self.booted():
            try:
                wait_for(lambda: not alive(pid), timeout=5, what="worker %d to exit" % pid)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
        return self.proc.returncode


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture
def start(tmp_path):
    """start(CONF, workers=N, app=..., env=..., cwd=...): cunicorn with the
    kept file, once its N workers have booted. The stand-in apps are found
    through PYTHONPATH, as an installed project's would be, unless
    apps=False (the file's own pythonpath must find them then)."""
    started = []

    def go(conf, workers=1, app="wsgiapp:app", args=(), env=None, cwd=None, apps=True):
        extra = dict(env or {}, REALCONF_OUT=str(tmp_path))
        if apps:
            extra["PYTHONPATH"] = str(APPS)
        s = Server(tmp_path, conf, app, args, base_env(**extra), str(cwd or tmp_path))
        started.append(s)
        return s.wait_booted(workers)

    yield go
    for s in started:
        s.stop()


def request(srv, path, headers=None, conn=None):
    """GET PATH; (status, response headers, JSON body, raw body)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    raw = r.read()
    if conn is None:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw), raw


# ---- access and error lines, as Gunicorn documents them ----------------------

class SafeAtoms(dict):
    """Gunicorn's glogging.SafeAtoms: {name}i/o/e without case, '-' for
    anything unknown."""

    def __getitem__(self, k):
        if k.startswith("{"):
            return dict.get(self, k.lower(), "-")
        return dict.get(self, k, "-")


def access_pattern(fmt, path, status, body, resp_headers, req_headers=None,
                   worker=None, method="GET"):
    """The regular expression an access line must match: the file's format
    filled as Gunicorn fills each atom, the timed atoms left open."""
    url, _, query = path.partition("?")
    req_headers = dict(req_headers or {})
    atoms = {
        "h": "127.0.0.1", "l": "-", "u": "-",
        "r": "%s %s HTTP/1.1" % (method, path), "s": str(status), "m": method,
        "U": url, "q": query, "H": "HTTP/1.1", "b": str(len(body)), "B": len(body),
        "f": req_headers.get("Referer", "-"), "a": req_headers.get("User-Agent", "-"),
        "p": "<%s>" % worker,
    }
    for k in TIMED:
        atoms[k] = "\x01%s\x01" % k
    atoms.update({"{%s}i" % k.lower(): v for k, v in req_headers.items()})
    atoms.update({"{%s}o" % k.lower(): v for k, v in resp_headers.items()})
    atoms = SafeAtoms({k: v.replace('"', '\\"') if isinstance(v, str) else v
                       for k, v in atoms.items()})
    pattern = re.escape(fmt % atoms)
    for k, rx in TIMED.items():
        pattern = pattern.replace("\x01%s\x01" % k, rx)
    return pattern


def access_line(srv, marker, text=None):
    """The one access line that holds MARKER (a request's unique path)."""
    found = [x for x in (text if text is not None else srv.stdout()).splitlines()
             if marker in x]
    assert len(found) == 1, (marker, found)
    return found[0]


def check_access(srv, fmt, path, status, body, resp_headers, req_headers=None, worker=None):
    line = wait_for(lambda: [x for x in srv.stdout().splitlines() if path in x],
                    what="the access line of " + path)
    assert len(line) == 1, line
    pattern = access_pattern(fmt, path, status, body, resp_headers, req_headers, worker)
    assert re.fullmatch(pattern, line[0]), (line[0], pattern)
    m = re.search(TIMED["t"], line[0])
    if "%(t)s" in fmt:
        # %(t)s is the request's time, in Gunicorn's Apache-style shape
        t = datetime.datetime.strptime(m.group(0), "[%d/%b/%Y:%H:%M:%S %z]")
        assert abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 60
    return line[0]


DEFAULT_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
UA = {"User-Agent": 'realconf/1.0 "quoted"', "Referer": "http://example.test/from"}


def listen_backlog(port):
    """The accept queue's size the kernel reports for a listening socket
    (`ss`'s Send-Q), or None without ss."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                         text=True, timeout=TIMEOUT).stdout.split()
    return int(out[2]) if len(out) > 2 else None


# ---- the files that work today ---------------------------------------------------

def test_gunicorn_example_config(start):
    """benoitc/gunicorn's examples/example_config.py: raw_env, access log to
    stdout in the default format spelled out, error log to stderr, and the
    hooks post_fork, when_ready and worker_int logging through server.log."""
    srv = start("gunicorn_example_config.py")
    status, headers, body, raw = request(srv, "/example?x=1", UA)
    assert status == 200
    assert body["env"] == {"SPAM": "eggs", "DJANGO_SECRET_KEY": "something"}
    worker = body["pid"]
    assert srv.booted() == [worker] and not body["multithread"]
    check_access(srv, DEFAULT_FORMAT, "/example?x=1", 200, raw, headers, UA)
    log = srv.log()
    assert (srv.pid, "INFO", "Using worker: sync") in log
    assert (srv.pid, "INFO", "Server is ready. Spawning workers") in log
    # post_fork runs in the worker, after it logged its boot
    assert (worker, "INFO", "Worker spawned (pid: %d)" % worker) in log
    assert log.index((worker, "INFO", "Booting worker with pid: %d" % worker)) < \
        log.index((worker, "INFO", "Worker spawned (pid: %d)" % worker))
    # worker_int on SIGINT; its stack dump is at debug level, below loglevel info
    os.kill(worker, signal.SIGINT)
    wait_for(lambda: srv.log("worker received INT or QUIT signal"), what="worker_int")
    assert srv.log("worker received INT or QUIT signal") == [
        (worker, "INFO", "worker received INT or QUIT signal")]
    wait_for(lambda: len(srv.booted()) == 2, what="a new worker")
    assert "# Thread:" not in srv.stderr()
    assert request(srv, "/again")[0] == 200
    assert srv.stop() == 0


@pytest.mark.parametrize("conf,backlog", [("warehouse_gunicorn-uploads.conf.py", 512),
                                          ("warehouse_gunicorn.conf.py", 2048)])
def test_warehouse(start, conf, backlog):
    """pypi/warehouse: preload_app, backlog, max_requests with jitter, the
    default access format spelled out, and a when_ready hook that touches
    /tmp/app-initialized (the container's readiness probe)."""
    before = time.time() - 1
    srv = start(conf)
    status, headers, body, raw = request(srv, "/simple/?q", UA)
    assert status == 200
    assert body["imported_in"] == srv.pid != body["pid"]  # imported by the master
    assert os.stat("/tmp/app-initialized").st_mtime >= before
    check_access(srv, DEFAULT_FORMAT, "/simple/?q", 200, raw, headers, UA)
    with open("/proc/sys/net/core/somaxconn") as f:  # the kernel's cap on it
        backlog = min(backlog, int(f.read()))
    got = listen_backlog(srv.port)
    assert got in (None, backlog), got
    if conf == "warehouse_gunicorn-uploads.conf.py":
        # max_requests 32 plus 0 to 8: the restart comes with the 32nd
        # request at the earliest (/simple/?q was the first), by the 40th
        for i in range(30):
            assert request(srv, "/r%d" % i)[0] == 200
        assert "Autorestarting worker" not in srv.stderr()
        for i in range(30, 39):
            assert request(srv, "/r%d" % i)[0] == 200
        wait_for(lambda: srv.log("Autorestarting worker after current request."),
                 what="the worker's restart")
        assert srv.log("Autorestarting")[0][0] == body["pid"]
        wait_for(lambda: len(srv.booted()) == 2, what="its replacement")
        assert request(srv, "/after")[2]["imported_in"] == srv.pid
    assert srv.stop() == 0


def test_inventree(start):
    """inventree/InvenTree: workers = cpu_count() * 2 + 1, max_requests with
    jitter, no access log."""
    n = multiprocessing.cpu_count() * 2 + 1
    srv = start("inventree_gunicorn.conf.py", workers=n)
    pids = {request(srv, "/api/?n=%d" % i)[2]["pid"] for i in range(3)}
    assert pids <= set(srv.booted())
    time.sleep(0.3)
    assert len(srv.booted()) == n
    assert srv.stdout() == ""  # accesslog unset: no access log, as in Gunicorn
    assert srv.stop() == 0


def test_meinheld_gunicorn_docker(start):
    """tiangolo/meinheld-gunicorn-docker: workers from WORKERS_PER_CORE x
    cpu_count(), bind and loglevel from the environment, keepalive, and the
    file prints its settings as JSON each time it is read: at start and on
    HUP."""
    n = int(2.0 * multiprocessing.cpu_count())
    srv = start("meinheld-gunicorn-docker_gunicorn_conf.py", workers=n,
                env={"HOST": "127.0.0.1", "PORT": "8080"})
    assert request(srv, "/")[0] == 200
    time.sleep(0.3)
    assert len(srv.booted()) == n
    # HUP reads the file again (it prints again) and starts n new workers
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(srv.booted()) == 2 * n, what="the new workers")
    assert request(srv, "/")[0] == 200
    assert srv.stop() == 0
    printed = [json.loads(x) for x in srv.stdout().splitlines() if x.startswith("{")]
    assert printed == 2 * [{"loglevel": "info", "workers": n, "bind": "127.0.0.1:8080",
                            "workers_per_core": 2.0, "host": "127.0.0.1", "port": "8080"}]


def test_netbox_docker(start):
    """netbox-community/netbox-docker: pythonpath (the changed line: it
    finds the app), three workers, access and error logs on stdout and
    stderr, loglevel debug, and `command`, which is no setting."""
    srv = start("netbox-docker_gunicorn_config.py", workers=3, cwd=REAL, apps=False)
    status, headers, body, raw = request(srv, "/api/dcim/?brief=1", UA)
    assert status == 200
    check_access(srv, DEFAULT_FORMAT, "/api/dcim/?brief=1", 200, raw, headers, UA)
    log = srv.log()
    assert (srv.pid, "DEBUG", "3 workers") in log  # Gunicorn's own debug line
    assert len(srv.booted()) == 3
    assert srv.stop() == 0


def test_netbox_docker_debug_lines(start):
    srv = start("netbox-docker_gunicorn_config.py", workers=3, cwd=REAL, apps=False)
    status, _, body, _ = request(srv, "/api/ipam/")
    assert status == 200
    wait_for(lambda: (body["pid"], "DEBUG", "GET /api/ipam/") in srv.log(),
             timeout=3, what="the default pre_request line")
    conf = [m for _, level, m in srv.log() if m.startswith("Current configuration:")]
    assert conf and "  workers: 3" in conf[0].splitlines()


def test_namex(start):
    """bcgov/namex (colin-api): every setting from the environment, as its
    docstring says (here 2 gthread workers of 4 threads), every peer trusted
    with forwarded headers, and secure_scheme_headers replacing Gunicorn's
    three with X-Forwarded-Proto alone."""
    srv = start("namex_gunicorn_config.py", workers=2,
                env={"GUNICORN_PROCESSES": "2", "GUNICORN_WORKER_CLASS": "gthread",
                     "GUNICORN_THREADS": "4"})
    assert (srv.pid, "INFO", "Using worker: gthread") in srv.log()
    assert request(srv, "/", {"X-Forwarded-Proto": "https"})[2]["scheme"] == "https"
    assert request(srv, "/", {"X-Forwarded-Proto": "http"})[2]["scheme"] == "http"
    # Gunicorn's default X-Forwarded-Ssl is not in the file's dict
    assert request(srv, "/", {"X-Forwarded-Ssl": "on"})[2]["scheme"] == "http"
    # keep-alive (2 s) with gthread: two requests on one connection
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    first = request(srv, "/ka1", conn=c)
    second = request(srv, "/ka2", conn=c)
    c.close()
    assert first[2]["pid"] == second[2]["pid"] and first[2]["multithread"]
    assert first[1].get("connection") != "close"
    # 4 threads: four slow requests at once take about one's time
    results = []

    def slow():
        results.append(request(srv, "/slow?1")[2])
    t0 = time.monotonic()
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(results) == 4 and time.monotonic() - t0 < 3.5
    assert len({(r["pid"], r["thread"]) for r in results}) == 4
    assert srv.stop() == 0


def test_bedrock(start):
    """mozilla/bedrock (wsgi/config.py) with its GUNICORN_WORKER_CLASS set to
    sync: workers, keepalive and worker_connections come from getenv() as
    strings and are read as numbers; post_fork logs through server.log."""
    srv = start("bedrock_config.py", workers=3,
                env={"GUNICORN_WORKER_CLASS": "sync", "WEB_CONCURRENCY": "3",
                     "WSGI_KEEP_ALIVE": "5", "LOGLEVEL": "info"})
    status, headers, body, raw = request(srv, "/en-US/firefox/", UA)
    assert status == 200
    check_access(srv, DEFAULT_FORMAT, "/en-US/firefox/", 200, raw, headers, UA)
    workers = srv.booted()
    assert len(workers) == 3 and body["pid"] in workers
    spawned = srv.log("Worker spawned")
    assert sorted(spawned) == sorted((w, "INFO", "Worker spawned (pid: %d)" % w)
                                     for w in workers)
    assert srv.stop() == 0


@pytest.mark.xfail(strict=True, reason=(
    "the file's default worker class, meinheld.gmeinheld.MeinheldWorker: cunicorn "
    "takes no third-party worker class ('class uri ... invalid or not found')"))
def test_bedrock_default_worker_class(start):
    srv = start("bedrock_config.py", workers=2)
    assert request(srv, "/")[0] == 200


DJANGO = {"DJANGO_SETTINGS_MODULE": "djangosite.settings"}


def caches_closed(tmp):
    try:
        return [int(x) for x in (tmp / "caches-closed").read_text().split()]
    except FileNotFoundError:
        return []


def test_edx_ecommerce(start, tmp_path):
    """openedx/ecommerce: preload_app, a pre_request hook that logs each
    request, a post_fork hook that closes Django's caches in each worker,
    and a when_ready hook that runs Django's `check` when DEBUG is on."""
    srv = start("ecommerce_docker_gunicorn_configuration.py", workers=2,
                app="djangosite.wsgi:application", env=DJANGO)
    workers = srv.booted()
    wait_for(lambda: set(workers) <= set(caches_closed(tmp_path)), what="post_fork")
    status, _, body, _ = request(srv, "/basket/add/?sku=8CF08E5")
    assert status == 200 and body["imported_in"] == srv.pid  # preloaded
    # pre_request logs through worker.log, in the worker that serves
    wait_for(lambda: srv.log("GET /basket/add/"), what="the pre_request line")
    assert srv.log("GET /basket/add/") == [(body["pid"], "INFO", "GET /basket/add/")]
    assert srv.stop() == 0
    # what `check` printed (Python flushes the master's stdout at exit), and
    # no access log: accesslog is unset
    assert srv.stdout() == "System check identified no issues (0 silenced).\n"


def test_edx_platform_lms(start, tmp_path):
    """openedx/edx-platform (lms/docker_lms_gunicorn.py): 17 workers, no
    preload, pythonpath (the changed line) to find the app, the same
    pre_request and post_fork hooks."""
    srv = start("edx-platform_docker_lms_gunicorn.py", workers=17,
                app="djangosite.wsgi:application", env=DJANGO, cwd=REAL, apps=False)
    workers = srv.booted()
    assert len(workers) == 17
    wait_for(lambda: set(workers) <= set(caches_closed(tmp_path)), what="post_fork")
    status, _, body, _ = request(srv, "/courses/")
    assert status == 200 and body["imported_in"] == body["pid"]  # not preloaded
    wait_for(lambda: srv.log("GET /courses/"), what="the pre_request line")
    assert srv.log("GET /courses/") == [(body["pid"], "INFO", "GET /courses/")]
    assert srv.stop() == 0


def test_edx_platform_cms(start, tmp_path):
    """openedx/edx-platform (cms/docker_cms_gunicorn.py): as the LMS file with
    7 workers; here max_requests = 50 and no jitter, so each worker restarts
    after exactly its 50th request."""
    srv = start("edx-platform_docker_cms_gunicorn.py", workers=7,
                app="djangosite.wsgi:application", env=DJANGO, cwd=REAL, apps=False)
    first = srv.booted()
    wait_for(lambda: set(first) <= set(caches_closed(tmp_path)), what="post_fork")
    served = {}
    for i in range(7 * 49 + 1):  # by then one of the 7 has served 50
        body = request(srv, "/cms/%d" % i)[2]
        served[body["pid"]] = served.get(body["pid"], 0) + 1
        if served[body["pid"]] == 50:
            break
    restarted = [p for p, n in served.items() if n >= 50]
    assert restarted, served
    wait_for(lambda: srv.log("Autorestarting worker after current request."),
             what="the worker's restart")
    # only the worker that served 50 restarts, and it does at its 50th
    assert {p for p, _, _ in srv.log("Autorestarting")} == set(restarted)
    assert srv.log("GET /cms/0") == [(next(iter(served)), "INFO", "GET /cms/0")]
    wait_for(lambda: len(srv.booted()) == 8, what="the replacement")
    assert srv.stop() == 0


def test_warehouse_prod(start):
    """pypi/warehouse's production file: a request header as the access
    log's first field, and statsd to localhost:8125, which a socket of
    ours receives there (when the port is free on this machine)."""
    fmt = '%({Warehouse-Hashed-IP}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 8125))
    except OSError:
        rx.close()
        rx = None
    try:
        srv = start("warehouse_gunicorn-prod.conf.py")
        hdrs = dict(UA, **{"Warehouse-Hashed-IP": "9f86d081884c7d65"})
        status, headers, _, raw = request(srv, "/pypi/cunicorn/json", hdrs)
        check_access(srv, fmt, "/pypi/cunicorn/json", 200, raw, headers, hdrs)
        if rx is not None:
            rx.settimeout(TIMEOUT)
            got = []
            while "gunicorn.request.status.200:1|c|@1.0" not in got:
                got.append(rx.recv(65536).decode())
            assert "gunicorn.workers:1|g" in got and "gunicorn.requests:1|c|@1.0" in got, got
        assert srv.stop() == 0
    finally:
        if rx is not None:
            rx.close()


def test_uvicorn_gunicorn_docker(start):
    """tiangolo/uvicorn-gunicorn-docker: as the meinheld image, with uvicorn
    workers and an ASGI app."""
    n = max(multiprocessing.cpu_count(), 2)
    srv = start("uvicorn-gunicorn-docker_gunicorn_conf.py", workers=n, app="asgiapp:app")
    assert request(srv, "/")[0] == 200
    assert srv.stop() == 0
    assert json.loads(srv.stdout().splitlines()[0])["workers"] == n


# ---- the files that need what is not built yet --------------------------------------

def test_asoc_members(start, tmp_path):
    """PyAr/asoc_members: a pidfile (the changed line), a request header and
    %(L)s in the access format, three workers."""
    fmt = ('%(h)s %({X-Forwarded-For}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s '
           '"%(f)s" "%(a)s" "%(L)s seconds"')
    srv = start("asoc_members_gunicorn_cfg.py", workers=3)
    assert (tmp_path / "asoc_members.pid").read_text() == "%d\n" % srv.pid
    hdrs = dict(UA, **{"X-Forwarded-For": "203.0.113.9"})
    status, headers, _, raw = request(srv, "/socios/?page=2", hdrs)
    check_access(srv, fmt, "/socios/?page=2", 200, raw, headers, hdrs)
    assert srv.stop() == 0 and not (tmp_path / "asoc_members.pid").exists()


def test_rhodecode(start):
    """rhodecode/rhodecode-enterprise-ce: an access format with a padded
    %(p)s and %(L)s, loglevel debug, and hooks that log with %-10s."""
    fmt = ('[%(p)-10s] %(h)s time:%(L)s %(l)s %(u)s '
           '%(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"')
    srv = start("rhodecode_gunicorn_config.py")
    status, headers, body, raw = request(srv, "/_admin/repos?x=1", UA)
    worker = body["pid"]
    check_access(srv, fmt, "/_admin/repos?x=1", 200, raw, headers, UA, worker=worker)
    assert (worker, "INFO", "[<%s>] worker spawned" % worker) in srv.log()
    os.kill(worker, signal.SIGQUIT)
    wait_for(lambda: srv.log("worker received INT or QUIT signal"), what="worker_int")
    assert srv.log("worker received INT or QUIT")[0] == (
        worker, "INFO", "[<%-10s>] worker received INT or QUIT signal" % worker)
    # its stack dump, at debug level
    assert "# Thread: MainThread" in srv.stderr()


def test_paperless_ngx(start):
    """paperless-ngx: its own worker class (a UvicornWorker subclass, run
    as -k asgi), preload_app, and the hooks from Gunicorn's example."""
    pytest.importorskip("uvicorn.workers")
    srv = start("paperless-ngx_gunicorn.conf.py", app="paperless.asgi:application")
    assert request(srv, "/api/")[0] == 200
    assert ("Using worker: asgi (paperless.workers.ConfigurableWorker, as its base "
            "class uvicorn.workers.UvicornWorker)") in srv.stderr()
    assert (srv.pid, "INFO", "Server is ready. Spawning workers") in srv.log()


def test_socorro(start):
    """mozilla-services/socorro: logconfig_dict sends gunicorn.error through
    dockerflow's JSON formatter (mozlog), with a filter from the file. Its
    "loggers" replace Gunicorn's defaults, so gunicorn.access has no handler
    of its own and its lines reach mozlog through "gunicorn", as they do
    under Gunicorn (a logconfig_dict turns the access lines on). The access
    line comes after the response: wait for it."""
    srv = start("socorro_gunicorn_config.py")
    assert request(srv, "/api/")[0] == 200

    def lines():
        return [json.loads(x) for x in srv.stderr().splitlines()]

    wait_for(lambda: any("/api/" in x["Fields"]["msg"] for x in lines()),
             what="the access line")
    got = lines()
    booting = [x for x in got if x["Fields"]["msg"].startswith("Booting worker")]
    access = [x["Fields"]["msg"] for x in got if x["Type"] == "gunicorn.access"]
    assert booting and all(x["Logger"] == "socorro" and
                           x["Type"] in ("gunicorn.error", "gunicorn.access")
                           for x in got)
    assert [x for x in access if '"GET /api/ HTTP/1.1" 200 ' in x]
