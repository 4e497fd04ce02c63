"""The sync worker serving real WSGI apps over real sockets."""

import hashlib
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import ROOT, APPS, recv_all, stop_process, undated, wait_for


def get(srv, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def echo(srv, path="/", **kw):
    r, data = get(srv, path, **kw)
    assert r.status == 200, data
    return json.loads(data)


def test_hello_and_response_head(server):
    srv = server(app="hello:app", chdir=ROOT / "examples")
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    names = [l.split(b":")[0] for l in lines[1:]]
    # Server, Date, Connection, then the app's headers (docs/compat.md,
    # Responses)
    assert names == [b"Server", b"Date", b"Connection", b"Content-Type",
                     b"Content-Length"]
    assert b"Connection: close" in lines
    assert re.match(rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", lines[2])
    assert body == b"Hello, World!\n"


HTTP_DATE = (rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
             rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
             rb"\d\d:\d\d:\d\d GMT\r\n")


def test_date_is_english_whatever_the_apps_locale(server, tmp_path):
    # RFC 9110's HTTP-date has English names; strftime's follow the
    # LC_TIME an app may set
    loc = tmp_path / "locales"
    loc.mkdir()
    try:
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8",
                        str(loc / "de_DE.UTF-8")], capture_output=True, timeout=60)
    except OSError:
        pass
    if not (loc / "de_DE.UTF-8").exists():
        pytest.skip("localedef cannot make de_DE.UTF-8 here")
    (tmp_path / "german.py").write_text(
        "import locale, time\n"
        "def app(environ, start_response):\n"
        "    locale.setlocale(locale.LC_TIME, 'de_DE.UTF-8')\n"
        "    body = time.strftime('%A', time.gmtime(0)).encode()\n"
        "    start_response('200 OK', [('Content-Length', str(len(body)))])\n"
        "    return [body]\n")
    srv = server(app="german:app", chdir=tmp_path, env=dict(os.environ, LOCPATH=str(loc)))
    for i in range(2):  # the date is made once a second: a fresh one too
        if i:
            time.sleep(1.1)
        raw = srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.endswith(b"\r\n\r\nDonnerstag"), raw  # the app's locale took
        assert re.search(HTTP_DATE, raw), raw


def test_http10_status_line(server):
    srv = server(app="hello:app", chdir=ROOT / "examples")
    assert srv.raw(b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 OK\r\n")


def test_environ(server):
    srv = server()
    e = echo(srv, "/a%20b/%C3%A9?x=1&y=%20", headers={
        "X-Multi": "one", "Content-Type": "text/plain", "Host": "example.com:99"})["environ"]
    assert e["REQUEST_METHOD"] == "GET"
    assert e["PATH_INFO"] == "/a b/\u00c3\u00a9"   # percent-decoded, latin-1
    assert e["QUERY_STRING"] == "x=1&y=%20"
    assert e["RAW_URI"] == "/a%20b/%C3%A9?x=1&y=%20"
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["SCRIPT_NAME"] == ""
    assert e["REMOTE_ADDR"] == "127.0.0.1"
    assert e["REMOTE_PORT"].isdigit()
    assert e["SERVER_NAME"] == "127.0.0.1"
    assert e["SERVER_PORT"] == str(srv.port)
    assert e["HTTP_HOST"] == "example.com:99"
    assert e["CONTENT_TYPE"] == "text/plain" and "HTTP_CONTENT_TYPE" not in e
    assert e["wsgi.url_scheme"] == "http"
    assert e["wsgi.version"] == [1, 0]
    assert e["wsgi.multithread"] is False and e["wsgi.multiprocess"] is False
    assert e["wsgi.run_once"] is False and e["wsgi.input_terminated"] is True
    assert e["SERVER_SOFTWARE"].startswith("cunicorn/")


def test_request_method_as_sent(server):
    # the common methods' strings are made once; the others per request
    srv = server()
    for m in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "GETS",
              "POS", "DELETES"):
        raw = srv.raw(b"%s / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                      % m.encode())
        assert raw.startswith(b"HTTP/1.1 200 "), (m, raw)
        e = json.loads(raw.partition(b"\r\n\r\n")[2])["environ"]
        assert e["REQUEST_METHOD"] == m


def test_repeated_headers_joined_and_underscores_dropped(server):
    srv = server()
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nX-A: 2\r\nX_A: 3\r\n\r\n")
    e = json.loads(raw.partition(b"\r\n\r\n")[2])["environ"]
    assert e["HTTP_X_A"] == "1,2"


def test_trusted_scheme_header(server):
    srv = server()
    e = echo(srv, headers={"X-Forwarded-Proto": "https"})["environ"]
    assert e["wsgi.url_scheme"] == "https"
    srv2 = server("--forwarded-allow-ips", "10.0.0.1")
    e = echo(srv2, headers={"X-Forwarded-Proto": "https"})["environ"]
    assert e["wsgi.url_scheme"] == "http"


def test_bodies(server):
    srv = server()
    body = os.urandom(10 << 20)  # a 10 MiB upload
    r = echo(srv, "/", method="POST", body=body)
    assert r["body_len"] == len(body)
    assert r["body_sha256"] == hashlib.sha256(body).hexdigest()
    raw = srv.raw(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["body"] == "hello world"
    raw = srv.raw(b"POST /readline HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nab\ncd\nefgh\n")
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["lines"] == ["ab\n", "cd\n", "efgh\n"]


def test_expect_100_continue(server):
    srv = server()
    s = srv.connect()
    s.sendall(b"PUT / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    got = s.recv(100)
    assert got == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"ok")
    rest = recv_all(s)
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["body"] == "ok"


def test_streaming_and_write(server):
    srv = server()
    raw = srv.raw(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"".join(b"8\r\nchunk %d\n\r\n" % i for i in range(5)) + b"0\r\n\r\n"
    raw = srv.raw(b"GET /stream HTTP/1.0\r\n\r\n")
    assert raw.partition(b"\r\n\r\n")[2] == b"".join(b"chunk %d\n" % i for i in range(5))
    r, data = get(srv, "/write")
    assert data == b"written, then returned"


def test_hop_by_hop_dropped_and_truncation(server):
    srv = server()
    raw = srv.raw(b"GET /headers HTTP/1.1\r\nHost: t\r\n\r\n")
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"X-One: 1" in head and b"X-Two: 2\r\n" in head + b"\r\n"
    assert b"evil" not in head and b"keep-alive" not in head
    assert head.count(b"Transfer-Encoding") == 1  # ours, for the chunked body
    raw = srv.raw(b"GET /status?200+OK HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.endswith(b"\r\n\r\nhello")
    raw = srv.raw(b"HEAD /status?200+OK HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.endswith(b"Content-Length: 5\r\n\r\n")
    raw = srv.raw(b"GET /status?204+No+Content HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.endswith(b"\r\n\r\n") and b"Content-Length" not in raw


def test_app_errors(server):
    srv = server()
    raw = srv.raw(b"GET /error HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    wait_for(lambda: "boom from the app" in srv.text(), what="the traceback")
    assert "Traceback" in srv.text() and "Error handling request GET /error" in srv.text()
    raw = srv.raw(b"GET /badheader HTTP/1.1\r\nHost: t\r\n\r\n")
    # a bad header value is the app's error: 500 (ours; Gunicorn 400), and
    # never reaches the wire
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"\r\nInjected" not in raw


def dechunk(body):
    out = b""
    while True:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            assert rest == b"\r\n"
            return out
        out += rest[:n]
        assert rest[n:n + 2] == b"\r\n"
        body = rest[n + 2:]


def test_file_wrapper(server):
    src = (APPS / "echo.py").read_bytes()
    for args in ((), ("--no-sendfile",)):
        srv = server(*args)
        r, data = get(srv, "/file")
        assert data == src, args
        raw = srv.raw(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in head and dechunk(body) == src
        raw = srv.raw(b"GET /file?100,50 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert raw.partition(b"\r\n\r\n")[2] == src[100:150], args
        raw = srv.raw(b"GET /file?10, HTTP/1.0\r\n\r\n")
        assert raw.partition(b"\r\n\r\n")[2] == src[10:], args
        raw = srv.raw(b"HEAD /file HTTP/1.1\r\nHost: t\r\n\r\n")
        assert raw.endswith(b"\r\n\r\n"), args


def test_wsgiref_validator(server):
    srv = server(app="echo:validated")
    r = echo(srv, "/v", method="POST", body=b"x" * 100)
    assert r["body_len"] == 100
    assert "wsgiref" not in srv.text()


def test_factory_app(server):
    srv = server(app="echo:factory('hi', excited=True)")
    assert get(srv, "/")[1] == b"hi!"


def test_modules_only_the_features_on_need(server, tmp_path):
    """A plain server imports no logging, ast, inspect, json..., nor
    cunicorn's modules for logging, hooks and config files, in its workers
    (each such module is memory in every process); a hook, whose signature
    is checked, brings inspect, _hooks and the config file's module, a
    logger_class that is the default's no _logging, the built-in one's no
    logging (test_pylog.py runs Python-mode logging, which imports logging
    when it is on)."""
    srv = server(app="modules:app")
    assert get(srv, "/")[1] == b"none"
    conf = tmp_path / "conf.py"
    conf.write_text("def post_request(worker, req, environ, resp):\n    pass\n")
    srv = server("-c", str(conf), "--logger-class", "gunicorn.glogging.Logger",
                 app="modules:app")
    loaded = get(srv, "/")[1].decode().split(",")
    assert "inspect" in loaded and "logging" not in loaded, loaded
    assert "cunicorn._configfile" in loaded and "cunicorn._logging" not in loaded, loaded
    srv = server("--logger-class", "simple", app="modules:app")
    loaded = get(srv, "/")[1].decode().split(",")
    # the built-in class asks _logging, which imports no config-file machinery
    assert "logging" not in loaded and "cunicorn._configfile" not in loaded, loaded


def run_cli(*args, cwd=APPS, env=None):
    return subprocess.run([str(ROOT / "cunicorn")] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=30, env=env)


def test_bad_apps_exit_codes(tmp_path):
    for app, code, words in [
            ("echo:missing", 4, "Failed to find attribute 'missing' in 'echo'"),
            ("echo:not_callable", 4, "must be callable"),
            ("echo:none_app", 4, "Failed to find application object"),
            ("echo:a.b", 4, "Failed to parse"),
            ("echo:None", 4, "Failed to parse"),  # a keyword, not a name
            ("echo:if", 4, "Failed to parse"),
            ("echo:factory(x)", 4, "Function arguments must be literals: x"),
            ("no_such_module:app", 3, "No module named 'no_such_module'"),
            ("echo.py", 3, "Did you mean 'echo:application'"),
    ]:
        r = run_cli("-b", "127.0.0.1:0", app)
        assert r.returncode == code, (app, r.returncode, r.stderr)
        assert words in r.stderr, (app, r.stderr)


def test_no_app_and_bad_options():
    r = run_cli("-b", "127.0.0.1:0")
    assert r.returncode == 1 and "No application module specified" in r.stderr
    r = run_cli("--workers", "abc", "echo:app")
    assert r.returncode != 0 and "workers" in r.stderr
    r = run_cli("--no-such-flag", "echo:app")
    assert r.returncode == 2


@pytest.mark.parametrize("flag,low", [
    ("--workers", 1), ("--threads", 1), ("--buffer-body", 0), ("--request-timeout", 0),
    ("--max-worker-lifetime", 0), ("--max-worker-memory", 0)])
def test_values_below_their_floor_are_refused(flag, low):
    r = run_cli(flag, str(low - 1), "-b", "127.0.0.1:0", "echo:app")
    name = flag[2:].replace("-", "_")
    assert r.returncode == 1, r.stderr
    assert ("Invalid value for %s: %d (must be at least %d)" % (name, low - 1, low) in r.stderr
            if low else
            "Invalid value for %s: '-1' (must not be negative)" % name in r.stderr), r.stderr


def test_config_file_and_precedence(tmp_path, server):
    conf = tmp_path / "c.py"
    conf.write_text("workers = 2\nraw_env = ['FROM_FILE=1']\nbogus_name = 3\n")
    env = dict(os.environ, GUNICORN_CMD_ARGS="--workers 3")
    r = run_cli("-c", str(conf), "--print-config", "echo:app", env=env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^workers\s+= 3$", r.stdout, re.M), r.stdout
    r = run_cli("-c", str(conf), "--print-config", "-w", "4", "echo:app", env=env)
    assert re.search(r"^workers\s+= 4$", r.stdout, re.M)
    r = run_cli("-c", str(conf), "--check-config", "echo:missing")
    assert r.returncode == 1


def children(pid):
    """Live child processes of pid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
    return out


def test_signals_ttin_ttou_term(server):
    srv = server(workers=1)
    master = srv.proc.pid
    srv.proc.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(children(master)) == 2 and len(srv.worker_pids()) == 2,
             what="a second worker")
    oldest = srv.worker_pids()[0]
    srv.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: children(master) == [srv.worker_pids()[1]],
             what="the oldest worker to leave: " + srv.text())
    assert oldest not in children(master)
    assert echo(srv)["body_len"] == 0
    assert srv.stop(signal.SIGTERM) == 0
    assert "Shutting down: Master" in srv.text()


def test_killed_worker_is_replaced(server):
    srv = server(workers=1)
    pid = srv.worker_pids()[0]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(srv.worker_pids()) >= 2, what="a new worker")
    assert echo(srv)["pid"] != pid


def test_slow_head_cut_off_without_killing_worker(server):
    srv = server("--timeout", "2", workers=1)
    s = srv.connect()
    pid = srv.worker_pids()[0]
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
    t0 = time.monotonic()
    s.settimeout(10)
    assert s.recv(100) == b""   # closed by the server, without an answer
    assert time.monotonic() - t0 < 8
    s.close()
    assert echo(srv)["pid"] == pid  # the same worker, never timed out
    assert "WORKER TIMEOUT" not in srv.text()


def test_access_log(server, tmp_path):
    log = tmp_path / "access.log"
    srv = server("--access-logfile", str(log))
    get(srv, "/p?q=1", headers={"User-Agent": 'ua "quoted"', "Referer": "http://r/"})
    line = wait_for(lambda: log.exists() and log.read_text(), what="an access line")
    assert re.match(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                    r'"GET /p\?q=1 HTTP/1\.1" 200 \d+ "http://r/" "ua \\"quoted\\""\n$',
                    line), line
    log.write_text("")
    srv2 = server("--access-logfile", str(log), "--access-logformat", "%(m)s %(U)s %(q)s %(H)s %(s)s %({x-t}i)s")
    get(srv2, "/a?b", headers={"X-T": "v"})
    line = wait_for(lambda: log.read_text(), what="an access line")
    assert line == "GET /a b HTTP/1.1 200 v\n", line


# Gunicorn 26.1's util.write_error for the 500 its worker sends on SIGABRT
# (the SystemExit its handler raises goes to handle_error), byte for byte.
PAGE_500_HTML = (b"<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n"
                 b"  <body>\n    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n"
                 b"</html>\n")
PAGE_500 = (b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
            b"Content-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(PAGE_500_HTML)
            + PAGE_500_HTML)


def timed_out(srv, request, pid):
    """Sends request to the one worker (pid), which the master aborts past
    --timeout; returns all it got, once the worker is reaped. The
    connection must end in an orderly close, never a reset (which can
    destroy what was sent before it reaches the client)."""
    s = srv.connect()
    s.sendall(request)
    s.settimeout(20)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        raise AssertionError("reset after %r" % data) from None
    finally:
        s.close()
    wait_for(lambda: "Worker (pid:%d) exited" % pid in srv.text(),
             what="the aborted worker reaped: " + srv.text())
    return data


def test_timeout_answers_500(server):
    """A request in the app past --timeout: the master's SIGABRT, and the
    client gets Gunicorn's 500 page, sent by the worker's signal handler;
    the log has the Python stack, Gunicorn's "Error handling request" line
    and what became of the response."""
    srv = server("--timeout", "1", workers=1)
    pid = srv.worker_pids()[0]
    data = timed_out(srv, b"GET /sleep?30 HTTP/1.1\r\nHost: x\r\n\r\n", pid)
    assert undated(data) == PAGE_500, data
    text = srv.text()
    assert "WORKER TIMEOUT (pid:%d)" % pid in text
    assert 'echo.py", line' in text and "in app" in text  # its Python stack
    assert re.search(r"\[%d\] \[ERROR\] Error handling request GET /sleep\?30\n" % pid, text)
    assert re.search(r"\[%d\] \[ERROR\] Worker aborted by the master's timeout: "
                     r"answered 500 Internal Server Error\n" % pid, text), text
    assert re.search(r"\[%d\] \[INFO\] Worker exiting \(pid: %d\)\n" % (pid, pid), text)
    assert ("Worker (pid:%d) exited with code 1 after WORKER TIMEOUT" % pid) in text
    wait_for(lambda: len(srv.worker_pids()) >= 2, what="a replacement")
    assert echo(srv)["pid"] != pid


def test_timeout_500_keeps_an_unread_body(server):
    """The app never read the request's body: the handler drops it before
    the worker exits, so the close is no reset (which on a real network
    can eat the 500)."""
    srv = server("--timeout", "1", workers=1)
    pid = srv.worker_pids()[0]
    body = b"x" * 60000
    data = timed_out(srv, b"POST /sleep?30 HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body, pid)
    assert undated(data) == PAGE_500, data


def test_timeout_after_the_response_began_cuts_it(server):
    """Bytes of the response went out before the app stalled: no 500 after
    them (Gunicorn writes its page behind them), the response is cut."""
    srv = server("--timeout", "1", workers=1)
    pid = srv.worker_pids()[0]
    data = timed_out(srv, b"GET /sleep-begun?30 HTTP/1.1\r\nHost: x\r\n\r\n", pid)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 100" in head
    assert body == b"first part;", data
    assert re.search(r"\[ERROR\] Error handling request GET /sleep-begun\?30\n", srv.text())
    assert "Worker aborted by the master's timeout: the response had begun; " \
           "connection closed" in srv.text()


def test_timeout_after_early_hints_answers_500(server):
    """A 103 is not the response: the 500 follows it."""
    srv = server("--timeout", "1", workers=1)
    pid = srv.worker_pids()[0]
    data = timed_out(srv, b"GET /sleep-hinted?30 HTTP/1.1\r\nHost: x\r\n\r\n", pid)
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    assert undated(data) == hints + PAGE_500, data


def test_timeout_outside_a_request(server, tmp_path):
    """A worker stuck where no request is (a post_worker_init hook that
    sleeps after the boot) is aborted without an answer to anyone."""
    conf = tmp_path / "conf.py"
    conf.write_text("import time\n"
                    "def post_worker_init(worker):\n"
                    "    worker.log.info('stalling')\n"
                    "    time.sleep(30)\n")
    # the graceful timeout bounds the stop, whose new worker stalls too
    srv = server("-c", str(conf), "--timeout", "1", "--graceful-timeout", "1", workers=1)
    pid = srv.worker_pids()[0]
    wait_for(lambda: "Worker (pid:%d) exited" % pid in srv.text(), what="the abort")
    assert "Worker aborted by the master's timeout while serving: (no request)" in srv.text()
    assert "Error handling request" not in srv.text()


def test_worker_leaves_when_master_dies(server):
    srv = server(workers=1)
    pid = srv.worker_pids()[0]
    srv.proc.kill()
    srv.proc.wait(timeout=10)

    def gone():
        try:
            stat = open("/proc/%d/stat" % pid).read()
        except OSError:
            return True
        return stat[stat.rindex(")") + 2] == "Z"
    wait_for(gone, timeout=10, what="the orphaned worker to exit")
    assert "Parent changed, shutting down" in srv.text()


def test_hup_reloads_config_and_app(server, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("workers = 1\n")
    srv = server("-c", str(conf), workers=None)
    first = srv.worker_pids()
    conf.write_text("workers = 2\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(children(srv.proc.pid)) == 2 and
             not set(first) & set(children(srv.proc.pid)),
             what="two new workers in place of the old one")
    assert "Hang up: Master" in srv.text()
    # a broken config: the old workers keep serving
    now = sorted(children(srv.proc.pid))
    conf.write_text("workers = (\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload in the log")
    assert sorted(children(srv.proc.pid)) == now
    assert echo(srv)["body_len"] == 0
    # why, in the error log (stderr may be nobody's by now)
    assert "Failed to read config file: %s" % conf in srv.text()
    assert "SyntaxError" in srv.text()


def test_hup_to_a_config_without_the_app(server, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("wsgi_app = 'echo:app'\n")
    srv = server("-c", str(conf), app=None)
    first = children(srv.proc.pid)
    conf.write_text("workers = 1\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload in the log")
    # the reason the log line points to ("the reason is above") is there
    assert "No application module specified." in srv.text()
    assert sorted(children(srv.proc.pid)) == sorted(first)
    assert echo(srv)["body_len"] == 0


def test_hup_to_more_workers_than_the_master_keeps(server, tmp_path):
    # refused before anything changes: the old configuration stays whole,
    # for the master and for the workers it forks afterwards
    conf = tmp_path / "conf.py"
    conf.write_text("workers = 1\n")
    srv = server("-c", str(conf), workers=None)
    first = children(srv.proc.pid)
    conf.write_text("workers = 1025\nlimit_request_line = 10\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in srv.text(), what="the failed reload in the log")
    assert "Invalid value for workers: 1025 (must be at most 1024)" in srv.text()
    os.kill(first[0], signal.SIGKILL)
    wait_for(lambda: (lambda now: len(now) == 1 and now != first)(children(srv.proc.pid)),
             what="a worker in place of the killed one")
    wait_for(lambda: srv.text().count("Booting worker") == 2, what="it to boot")
    assert echo(srv, "/a/path/longer/than/ten")["body_len"] == 0, \
        "the old limit_request_line still holds"


def test_raw_env_outlives_a_hup(server, tmp_path):
    # --env is in the C environment (not os.environ): the app asks libc.
    # A HUP frees the configuration it came from; the workers forked
    # after it must still see the variable.
    (tmp_path / "getenv.py").write_text(
        "import ctypes\n"
        "libc = ctypes.CDLL(None)\n"
        "libc.getenv.restype = ctypes.c_char_p\n"
        "def app(environ, start_response):\n"
        "    v = libc.getenv(b'CU_RAW_ENV_TEST') or b'(unset)'\n"
        "    start_response('200 OK', [('Content-Length', str(len(v)))])\n"
        "    return [v]\n")
    value = "a value longer than what free() overwrites"
    srv = server("-e", "CU_RAW_ENV_TEST=" + value, app="getenv:app", chdir=tmp_path)
    assert get(srv, "/")[1] == value.encode()
    for n in (1, 2):
        old = children(srv.proc.pid)
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: srv.text().count("Reloaded: ") == n and
                 len(children(srv.proc.pid)) == 1 and
                 not set(old) & set(children(srv.proc.pid)),
                 what="the new worker of HUP %d alone" % n)
        assert get(srv, "/")[1] == value.encode(), "after HUP %d" % n


def test_capture_output_follows_a_reopened_log(server, tmp_path):
    (tmp_path / "printer.py").write_text(
        "import sys\n"
        "def app(environ, start_response):\n"
        "    print('printed', environ['PATH_INFO'], flush=True)\n"
        "    start_response('200 OK', [('Content-Length', '0')])\n"
        "    return []\n")
    srv = server("--capture-output", app="printer:app", chdir=tmp_path, workers=1)
    get(srv, "/one")
    wait_for(lambda: "printed /one" in srv.text(), what="the first print")
    old = srv.log.with_name("rotated.log")
    srv.log.rename(old)
    srv.proc.send_signal(signal.SIGUSR1)

    def moved():
        get(srv, "/two")
        return "printed /two" in srv.text()
    wait_for(moved, what="prints in the new error log")
    assert "printed /one" in old.read_text() and "printed /one" not in srv.text()


def test_usr1_reopens_logs(server, tmp_path):
    access = tmp_path / "access.log"
    srv = server("--access-logfile", str(access), workers=1)
    get(srv, "/before")
    wait_for(lambda: access.exists() and "/before" in access.read_text(), what="a line")
    old_access, old_error = access.with_name("a.old"), srv.log.with_name("e.old")
    access.rename(old_access)
    srv.log.rename(old_error)
    srv.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: srv.log.exists(), what="the master's new error log")

    def worker_reopened():
        get(srv, "/after")  # until the worker has taken the USR1
        return access.exists() and "/after" in access.read_text()
    wait_for(worker_reopened, what="the worker's new access log")
    assert "Handling signal: usr1" in old_error.read_text()
    assert "/before" in old_access.read_text()


def test_int_and_quit_stop_fast(server):
    for sig in (signal.SIGINT, signal.SIGQUIT):
        srv = server(workers=2)
        pids = children(srv.proc.pid)
        t0 = time.monotonic()
        assert srv.stop(sig) == 0
        assert time.monotonic() - t0 < 10
        for pid in pids:
            assert not os.path.exists("/proc/%d/status" % pid) or \
                "State:\tZ" in open("/proc/%d/status" % pid).read()


def test_term_lets_the_request_finish(server):
    srv = server("--graceful-timeout", "10", workers=1)
    s = srv.connect()
    s.sendall(b"GET /sleep?1 HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_for(lambda: "sleeping in the app" in srv.text(), what="the request in the app")
    srv.proc.send_signal(signal.SIGTERM)
    s.settimeout(20)
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200 OK"), data[:100]
    assert srv.proc.wait(timeout=20) == 0


def status_ids(pid):
    s = open("/proc/%d/status" % pid).read()
    uid = int(re.search(r"^Uid:\s+(\d+)", s, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", s, re.M).group(1))
    return uid, gid


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_user_and_group(server):
    import grp
    import pwd
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    # --preload: the app is imported by root in the master, so the test does
    # not depend on the checkout being readable by nobody
    srv = server("--user", "nobody", "--group", group, "--preload")
    assert status_ids(srv.proc.pid) == (0, 0)          # the master keeps its ids
    worker = children(srv.proc.pid)[0]
    # "Booting worker" is logged before the worker takes on its ids
    wait_for(lambda: status_ids(worker) == (nobody.pw_uid, nobody.pw_gid),
             what="the worker to take on nobody's ids")
    assert echo(srv)["pid"] == worker
    r = run_cli("-b", "127.0.0.1:0", "--user", "no-such-user-here", "echo:app")
    assert r.returncode == 1 and "no such user" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_unix_socket_belongs_to_user_and_group(server, tmp_path):
    """As Gunicorn chowns the UNIX sockets it binds to --user/--group: the
    socket file's owner and group (a proxy running as the user can then
    connect, whatever the umask)."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    path = tmp_path / "u.sock"
    srv = server("-b", "unix:%s" % path, "--user", "nobody", "--preload", "-m", "077")
    st = os.lstat(path)
    # no --group: the user's own group, the one the workers take (Ours)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (nobody.pw_uid, nobody.pw_gid, 0o700)
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(20)
    c.connect(str(path))
    c.sendall(b"GET /u HTTP/1.0\r\n\r\n")
    assert recv_all(c).startswith(b"HTTP/1.0 200 OK\r\n")
    assert srv.stop(signal.SIGTERM) == 0
    path2 = tmp_path / "g.sock"
    server("-b", "unix:%s" % path2, "--user", "nobody", "--group", "4242", "--preload")
    st = os.lstat(path2)
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, 4242)


def test_unix_socket_for_a_user_the_master_cannot_give_it_to(tmp_path):
    """A master that may not chown (not root) and --user someone else: a
    failed bind, as in Gunicorn: logged, naming the socket and why, and to
    be tried again (test_bind.py has the tries), with no socket file left
    in between; TERM then stops it."""
    import tempfile
    run = pathlib.Path(tempfile.mkdtemp(prefix="cu-chown-"))
    run.chmod(0o777)
    path = run / "s.sock"
    log = run / "error.log"
    as_nobody = None
    if os.geteuid() == 0:
        import pwd
        if any(not os.stat(d).st_mode & 0o001 for d in [ROOT, *ROOT.parents]):
            pytest.skip("nobody cannot reach the checkout (a folder above it is "
                        "closed to others), so it cannot run cunicorn as nobody")
        nobody = pwd.getpwnam("nobody")

        def as_nobody():
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        user = "root"
    else:
        user = str(os.geteuid() + 1)
    try:
        p = subprocess.Popen([str(ROOT / "cunicorn"), "-b", "unix:%s" % path, "--user", user,
                              "--error-logfile", str(log), "echo:app"], cwd=APPS,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=as_nobody)
        failed = re.compile(r"\[ERROR\] connection to %s failed: chown unix:%s to user \d+, "
                            r"group -?\d+: Operation not permitted\n" % (
                                re.escape(str(path)), re.escape(str(path))))
        try:
            wait_for(lambda: p.poll() is not None or (log.exists() and failed.search(
                log.read_text())), timeout=10, what="the failed chown")
            text = log.read_text()
            assert p.poll() is None and failed.search(text), (p.returncode, text)
            assert not path.exists()
        finally:
            rc = stop_process(p)
        text = log.read_text()
        assert rc == 0 and "Booting worker" not in text, (rc, text)
        assert not path.exists()
    finally:
        for f in run.iterdir():
            f.unlink()
        run.rmdir()


def test_umask_applies_to_unix_sockets(tmp_path):
    sock = tmp_path / "s.sock"
    log = tmp_path / "e.log"
    p = subprocess.Popen([str(ROOT / "cunicorn"), "-b", "unix:%s" % sock, "-m", "077",
                          "--error-logfile", str(log), "--chdir", str(APPS), "echo:app"])
    try:
        wait_for(lambda: log.exists() and "Booting worker" in log.read_text(), what="boot")
        assert oct(sock.stat().st_mode & 0o777) == oct(0o700)
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(20)
        c.connect(str(sock))
        c.sendall(b"GET /u HTTP/1.0\r\n\r\n")
        data = recv_all(c)
        env = json.loads(data.partition(b"\r\n\r\n")[2])["environ"]
        assert env["REMOTE_ADDR"] == "" and "REMOTE_PORT" not in env
    finally:
        p.terminate()
        p.wait(timeout=20)
    assert not sock.exists()  # unlinked at exit


def test_daemon_and_pidfile(tmp_path):
    pidfile = tmp_path / "c.pid"
    log = tmp_path / "e.log"
    r = run_cli("-D", "-b", "127.0.0.1:0", "-p", str(pidfile), "--error-logfile", str(log),
                "echo:app")
    assert r.returncode == 0, r.stderr   # the command returns; the daemon goes on
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="pidfile"))
    try:
        wait_for(lambda: "Booting worker" in log.read_text(), what="the daemon to boot")
        port = int(re.search(r"127\.0\.0\.1:(\d+)", log.read_text()).group(1))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("GET", "/d")
        assert c.getresponse().status == 200
        os.kill(pid, signal.SIGWINCH)   # daemonised: WINCH stops the workers
        wait_for(lambda: "Worker exiting" in log.read_text(), what="WINCH to stop the workers")
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pidfile.exists(), what="the pidfile to go")


def test_proxy_protocol(server):
    srv = server("--proxy-protocol=auto")
    raw = srv.raw(b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nGET /p HTTP/1.0\r\n\r\n")
    env = json.loads(raw.partition(b"\r\n\r\n")[2])["environ"]
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("192.0.2.7", "5555")
    assert (env["PROXY_PROTOCOL"], env["PROXY_ADDR"], env["PROXY_PORT"]) == \
        ("TCP4", "198.51.100.1", "443")
    raw = srv.raw(b"GET /p HTTP/1.0\r\n\r\n")  # the header is optional
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["environ"]["REMOTE_ADDR"] == "127.0.0.1"
    # a peer that may not send one gets 403
    srv2 = server("--proxy-protocol=v1", "--proxy-allow-from", "192.0.2.1")
    raw = srv2.raw(b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nGET / HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 403 Forbidden\r\n"), raw[:80]


def test_script_name(server):
    env = dict(os.environ, SCRIPT_NAME="/app")
    srv = server(env=env)
    e = echo(srv, "/app/x%20y")["environ"]
    assert (e["SCRIPT_NAME"], e["PATH_INFO"]) == ("/app", "/x y")
    r, _ = get(srv, "/elsewhere")
    assert r.status == 500
    # a trusted proxy's SCRIPT_NAME header (a forwarder header) wins
    e = echo(srv, "/mnt/z", headers={"SCRIPT_NAME": "/mnt"})["environ"]
    assert (e["SCRIPT_NAME"], e["PATH_INFO"]) == ("/mnt", "/z")


def test_exc_info_rules(server, tmp_path):
    app = tmp_path / "excapp.py"
    app.write_text(
        "import sys\n"
        "def app(environ, start_response):\n"
        "    for args in [('200 OK',), ('200 OK', [], None, None)]:\n"
        "        try:\n"   # a wrong count of arguments sets nothing
        "            start_response(*args)\n"
        "        except TypeError:\n"
        "            pass\n"
        "        else:\n"
        "            return [b'accepted %d arguments' % len(args)]\n"
        "    start_response('200 OK', [('X-A', '1')])\n"
        "    try:\n"
        "        start_response('500 X', [('X-B', '2'), ('Bad\\n', 'v')], (None, None, None))\n"
        "    except ValueError:\n"   # a bad header: the first call's headers stay
        "        pass\n"
        "    try:\n"
        "        start_response('500 X', [('X-B', '2'), ('Bad\\n', 'v')], None)\n"
        "    except AssertionError:\n"
        "        pass\n"
        "    write = start_response(status='200 OK', headers=[('X-A', '1')],\n"
        "                           exc_info=(None, None, None))\n"
        "    write(b'')\n"
        "    try:\n"
        "        start_response('500 X', [], (None, None, None))\n"
        "    except TypeError:\n"  # after the head went out, exc_info must be real
        "        pass\n"
        "    return [b'kept']\n")
    srv = server(app="excapp:app", chdir=tmp_path)
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"X-A: 1\r\n" in raw, raw
    assert b"X-B" not in raw and b"accepted" not in raw and b"\r\nkept\r\n" in raw, raw


def test_early_hints(server):
    srv = server()
    raw = srv.raw(b"GET /hints HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                          b"HTTP/1.1 103 Early Hints\r\nLink: </late>\r\n\r\n"
                          b"HTTP/1.1 200 OK\r\n"), raw
    raw = srv.raw(b"GET /hints HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.0 200 OK\r\n"), raw   # no 103 for HTTP/1.0


def test_close_after_an_unread_body_is_graceful(server):
    # The app answers without reading the body the client is still
    # sending. Closing then with unread bytes would reset the connection
    # (and a reset can destroy a response still on its way); the server
    # shuts its side, drops what comes (up to 64 KiB, 2 s), and closes:
    # the client reads the response and then a clean EOF.
    srv = server()
    for path in ("/error", "/status?200+OK"):
        s = srv.connect()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"
                  % path.encode() + b"x" * 30000)
        time.sleep(0.3)  # the answer is out, the close has happened
        data, reset = b"", False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            reset = True
        s.close()
        assert data.startswith(b"HTTP/1.1 500 ") or data.startswith(b"HTTP/1.1 200 "), data[:80]
        assert not reset, "the server reset the connection after %r" % data[:40]
