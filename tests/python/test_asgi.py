"""The asgi worker (-k asgi) on real sockets: the http scope, request and
response bodies as the app and the client pace them, keep-alive and
pipelining, the lifespan, errors, the graceful stop, --max-requests, the
class's other names, and Starlette and FastAPI apps (Debian's)."""

import http.client
import json
import os
import re
import select
import signal
import socket

import pytest

from conftest import APPS, TIMEOUT, wait_for
from test_gthread import (Reader, get, idle_makes_room, recycles_after_3, session,
                          term_finishes_in_flight, waits_in_the_backlog)

ASGI = ("-k", "asgi")


def start(server, *args, app="asgiecho:app", env=None):
    return server(*ASGI, *args, app=app, env=env)


def events_env(tmp_path):
    path = tmp_path / "events"
    return dict(os.environ, ASGI_EVENTS=str(path)), path


def events(path):
    try:
        return [line.split(" ", 1)[1] if line[0].isdigit() else line
                for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []


def echo(srv, method="GET", path="/", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


# ---- the scope and the bodies --------------------------------------------------

def test_scope(server):
    srv = start(server, "--root-path", "/mounted")
    r, data = echo(srv, "GET", "/caf%C3%A9/x%2Fy?a=1&b=%20", headers={"X-Custom": "Yes"})
    assert r.status == 200 and r.getheader("Server") == "cunicorn"
    scope = json.loads(data)["scope"]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1" and scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/x/y"
    assert scope["raw_path"] == "/caf%C3%A9/x%2Fy"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["root_path"] == "/mounted"
    assert ["x-custom", "Yes"] in scope["headers"]
    assert ["host", "127.0.0.1:%d" % srv.port] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    assert scope["server"] == ["127.0.0.1", srv.port]
    # the lifespan ran before the first request: its state is in the scope
    assert scope["state"] == {"booted_by": json.loads(data)["pid"]}


def test_post_body_and_chunked_request(server):
    srv = start(server)
    r, data = echo(srv, "POST", "/", body=b"a=1&b=2",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    out = json.loads(data)
    assert out["body"] == "a=1&b=2" and out["scope"]["method"] == "POST"
    s, rd = session(srv)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    line, h, body = rd.response()
    assert line == "HTTP/1.1 200 OK"
    assert json.loads(body)["body"] == "hello world"
    s.close()


def test_streaming_response_is_chunked_and_keeps_the_connection(server):
    srv = start(server)
    s, rd = session(srv)
    s.sendall(get("/stream"))
    line, h, body = rd.response()
    assert h["transfer-encoding"] == "chunked" and h["connection"] == "keep-alive"
    assert body == b"".join(b"chunk %d\n" % i for i in range(5))
    s.sendall(get("/"))
    assert rd.response()[0] == "HTTP/1.1 200 OK"
    s.close()


def test_http10_streaming_ends_with_the_connection(server):
    srv = start(server)
    s, rd = session(srv)
    s.sendall(get("/stream", version=b"1.0"))
    line, h, body = rd.response()
    assert line == "HTTP/1.0 200 OK" and "transfer-encoding" not in h
    assert h["connection"] == "close"
    assert body == b"".join(b"chunk %d\n" % i for i in range(5))
    s.close()


def test_head_and_bodiless_statuses(server):
    srv = start(server)
    s, rd = session(srv)
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    line, h, body = rd.response(head_request=True)
    assert line == "HTTP/1.1 200 OK" and int(h["content-length"]) > 0
    for code in (204, 304):
        s.sendall(get("/status?%d" % code))
        line, h, body = rd.response()
        assert line.startswith("HTTP/1.1 %d " % code)
    s.sendall(get("/"))  # nothing of those bodies was sent: the next one parses
    assert json.loads(rd.response()[2])["scope"]["path"] == "/"
    s.close()


def test_keep_alive_and_pipelining(server):
    srv = start(server)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    pids = set()
    for i in range(5):
        c.request("GET", "/n%d" % i)
        r = c.getresponse()
        out = json.loads(r.read())
        assert out["scope"]["path"] == "/n%d" % i
        pids.add(out["pid"])
    c.close()
    assert len(pids) == 1
    s, rd = session(srv)
    s.sendall(b"".join(get("/p%d" % i) for i in range(20)) +
              b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + get("/last"))
    for i in range(20):
        assert json.loads(rd.response()[2])["scope"]["path"] == "/p%d" % i
    assert json.loads(rd.response()[2])["body"] == "abc"
    assert json.loads(rd.response()[2])["scope"]["path"] == "/last"
    s.close()
    # a client that shuts its side once it has sent: every request that
    # came before its end is answered, the bad one last with its 400
    raw = srv.raw(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n0\r\n\r\n" + get("/a") + b"GET /b HTTP/1.1\r\nHost: t\r\nBad\r\n\r\n")
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", raw) == [b"200", b"200", b"400"]


def test_expect_100_continue_when_the_app_reads(server):
    srv = start(server)
    s, rd = session(srv)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert rd.response()[0] == "HTTP/1.1 100 Continue"
    s.sendall(b"hello")
    line, h, body = rd.response()
    assert line == "HTTP/1.1 200 OK" and json.loads(body)["body"] == "hello"
    s.close()


def test_large_body_is_read_only_as_the_app_asks(server, tmp_path):
    """Back-pressure: while the app reads nothing, the server reads no more
    than a buffer of the body, so the client's send stops; once the app
    reads, all of it arrives."""
    srv = start(server)
    go = tmp_path / "go"
    total = 64 << 20
    s = srv.connect()
    s.sendall(b"POST /hold?%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
              % (str(go).encode(), total))
    s.setblocking(False)
    chunk = b"x" * 65536
    sent = 0
    while sent < total:
        try:
            sent += s.send(chunk[:min(len(chunk), total - sent)])
        except BlockingIOError:
            if not select.select([], [s], [], 2)[1]:
                break  # the server stopped reading
    assert sent < total // 2, "the server read %d bytes the app did not ask for" % sent
    go.write_text("")
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    while sent < total:
        sent += s.send(chunk[:min(len(chunk), total - sent)])
    line, h, body = Reader(s).response()
    out = json.loads(body)
    assert out["body_len"] == total and out["chunks"] > 1
    s.close()


def test_slow_client_pauses_the_apps_send(server):
    """Back-pressure the other way: a client that reads nothing holds the
    app's sends back (a few MiB of socket buffers at most), then gets all."""
    srv = start(server)
    n = 32
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(get("/big?%d" % n))

    def progress():
        return echo(srv, "GET", "/progress")[1]

    wait_for(lambda: json.loads(progress())["big"] >= 1, what="the first send")
    assert json.loads(progress())["big"] < n // 2
    s.settimeout(TIMEOUT)
    line, h, body = Reader(s).response()
    assert len(body) == n << 20 and body[:1] == b"A" and body[-1:] == bytes([65 + (n - 1) % 26])
    assert json.loads(progress())["big"] == n
    s.close()


def test_disconnect_after_the_body(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    s = srv.connect()
    s.sendall(b"POST /disconnect HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
    s.close()
    wait_for(lambda: "after body: http.disconnect" in events(path), what="http.disconnect")


def test_task_of_a_client_gone_is_cancelled_after_the_grace_period(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, "--asgi-disconnect-grace-period", "0", "--log-level", "debug",
                env=env)
    s = srv.connect()
    s.sendall(b"GET /linger-on HTTP/1.1\r\nHost: t\r\n\r\n")
    s.close()
    wait_for(lambda: "cancelled" in events(path), what="the task cancelled")
    assert events(path)[-2:] == ["after body: http.disconnect", "cancelled"]
    wait_for(lambda: "Request cancelled (client disconnected)" in srv.text(),
             what="the debug line")
    assert echo(srv)[0].status == 200


# ---- errors ------------------------------------------------------------------------

def test_app_exception_is_a_500_and_a_traceback(server):
    srv = start(server)
    r, data = echo(srv, "GET", "/error?x=1")
    assert r.status == 500 and r.getheader("Connection") == "close"
    assert b"Internal Server Error" in data
    wait_for(lambda: "RuntimeError: boom from the app" in srv.text(), what="the traceback")
    assert "[ERROR] Error handling request GET /error?x=1" in srv.text()
    assert echo(srv)[0].status == 200  # the worker goes on


def test_app_exception_after_the_head_cuts_the_response(server):
    srv = start(server)
    s, rd = session(srv)
    s.sendall(get("/error-after"))
    head = rd._until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 100" in head
    rd._take(len(b"partial"))
    assert rd.closed()  # 93 bytes short: only the close tells the client
    wait_for(lambda: "RuntimeError: boom after the head" in srv.text(), what="the traceback")
    assert "[ERROR] Error handling request\n" in srv.text()
    s.close()


@pytest.mark.parametrize("path, error", [
    ("/nothing", "the app returned without starting a response"),
    ("/badheader", "Invalid HTTP header value"),
    ("/hugelength", "Invalid Content-Length: b'99999999999999999999'"),  # past int64
], ids=["without-a-response", "bad-response-header", "content-length-past-int64"])
def test_bad_app_response_is_a_500(server, path, error):
    srv = start(server)
    r, _ = echo(srv, "GET", path)
    assert r.status == 500
    wait_for(lambda: error in srv.text(), what="the error line")


def test_bad_request_is_refused_by_the_parser(server):
    srv = start(server)
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in raw
    wait_for(lambda: "Invalid request from ip=127.0.0.1" in srv.text(), what="the warning")
    raw = srv.raw(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"LimitRequestLine" in raw


# ---- the lifespan --------------------------------------------------------------

def test_lifespan_startup_then_shutdown_on_term(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    assert echo(srv)[0].status == 200  # served once the startup was over
    assert events(path) == ["startup"]
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    assert events(path) == ["startup", "shutdown"]


def test_lifespan_startup_failure_stops_the_boot(tmp_path):
    from conftest import ROOT
    import subprocess
    r = subprocess.run([str(ROOT / "cunicorn"), "-k", "asgi", "-b", "127.0.0.1:0",
                        "--chdir", str(APPS), "asgiecho:failing_startup"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 3, r.stderr
    assert "Application startup failed: no database" in r.stderr
    assert "Listening at" in r.stderr


@pytest.mark.parametrize("mode,status", [("on", 3), ("auto", None)])
def test_app_without_a_lifespan(server, mode, status):
    from conftest import ROOT
    import subprocess
    if status is None:
        srv = start(server, "--asgi-lifespan", mode, app="asgiecho:no_lifespan")
        wait_for(lambda: "ASGI 'lifespan' protocol appears unsupported." in srv.text(),
                 what="the info line")
        r, data = echo(srv)
        assert r.status == 200 and "state" in json.loads(data)["scope"]
        return
    r = subprocess.run([str(ROOT / "cunicorn"), "-k", "asgi", "-b", "127.0.0.1:0",
                        "--asgi-lifespan", mode, "--chdir", str(APPS),
                        "asgiecho:no_lifespan"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == status, r.stderr
    assert "ASGI lifespan startup failed" in r.stderr
    assert "RuntimeError: this app takes no lifespan" in r.stderr


def test_lifespan_off(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, "--asgi-lifespan", "off", env=env)
    assert echo(srv)[0].status == 200
    assert events(path) == []


# ---- supervision ---------------------------------------------------------------

def test_term_lets_in_flight_requests_finish(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, "--graceful-timeout", "10", env=env)
    socks = []
    for i in range(3):
        s, rd = session(srv)
        s.sendall(get("/sleep?1"))
        socks.append((s, rd))
    idle, ird = session(srv)
    idle.sendall(get("/"))
    ird.response()
    s, rd = session(srv)  # a request in the app, for sure, before the TERM
    s.sendall(get("/progress"))
    rd.response()
    term_finishes_in_flight(srv, socks, ird)
    assert events(path) == ["startup", "shutdown"]


def test_term_with_a_request_that_does_not_finish(server, tmp_path):
    """The request in flight gets most of --graceful-timeout, the lifespan
    shutdown the rest: the worker is gone before the master's SIGKILL."""
    env, path = events_env(tmp_path)
    srv = start(server, "--graceful-timeout", "2", env=env)
    s, rd = session(srv)
    s.sendall(get("/sleep?60"))
    echo(srv)  # the loop has taken the request in before the TERM
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    assert events(path) == ["startup", "shutdown"]
    assert "Worker exiting (pid: %d)" % srv.worker_pids()[0] in srv.text()
    assert "SIGKILL" not in srv.text()
    s.close()


def test_request_timeout(server):
    srv = start(server, "--request-timeout", "1")
    r, data = echo(srv, "GET", "/sleep?60")
    assert r.status == 504 and r.getheader("Connection") == "close"
    text = srv.text()
    assert "[ERROR] Request timeout (--request-timeout): GET /sleep?60 HTTP/1.1" in text
    assert 'asgiecho.py", line' in text  # where the coroutine was
    assert echo(srv, "GET", "/")[0].status == 200  # the worker goes on


def test_max_requests_recycles_the_worker(server):
    recycles_after_3(start(server, "--max-requests", "3"))


def test_a_coroutine_that_blocks_the_loop_past_timeout(server):
    """The loop blocked: no heartbeat, so the master aborts the worker, the
    stack of the coroutine that blocked in the log, and a new one serves."""
    srv = start(server, "--timeout", "1")
    pid = srv.worker_pids()[0]
    s, rd = session(srv)
    s.sendall(get("/block?30"))
    assert rd.closed()
    gone = "Worker (pid:%d) exited with code 1 after WORKER TIMEOUT" % pid
    wait_for(lambda: gone in srv.text(), what="the worker's end")
    text = srv.text()
    assert "Worker aborted by the master's timeout while serving: GET /block?30 HTTP/1.1" in text
    assert 'asgiecho.py", line' in text and "in app" in text
    wait_for(lambda: len(srv.worker_pids()) == 2, what="a new worker")
    assert echo(srv)[0].status == 200
    s.close()


def test_worker_connections_caps_the_open_connections(server):
    srv = start(server, "--worker-connections", "1")
    a, ra = session(srv)
    a.sendall(get("/a"))
    assert ra.response()[1]["connection"] == "keep-alive"
    # at the cap (a idle), b takes the place of the idle a
    # (docs/operations.md, Facing the internet without a proxy)
    b, body = idle_makes_room(srv, a, ra, "/b")
    assert json.loads(body)["scope"]["path"] == "/b"
    # a head being received is never taken: with b part-way through one,
    # c waits in the backlog until b closes
    b.sendall(b"GET /b2 HTTP/1.1\r\n")
    c, body = waits_in_the_backlog(srv, b, "/c")
    assert json.loads(body)["scope"]["path"] == "/c"
    c.close()


def test_hup_boots_new_workers_with_their_lifespan(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    old = json.loads(echo(srv)[1])["pid"]
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: events(path).count("shutdown") == 1, what="the old worker's shutdown")
    assert events(path) == ["startup", "startup", "shutdown"]  # new first, then old
    assert json.loads(echo(srv)[1])["pid"] != old


def test_access_log_line(server):
    srv = start(server, "--access-logfile", "-", "--access-logformat",
                '%(h)s "%(r)s" %(s)s %(b)s %(U)s %({content-type}o)s %({x-none}o)s '
                '%({user-agent}i)s %({path_info}e)s')
    r, data = echo(srv, "GET", "/log%20ged?q=1", headers={"User-Agent": "t/1"})
    assert r.status == 200
    out = srv.proc.stdout.readline().decode()
    assert out == ('127.0.0.1 "GET /log%%20ged?q=1 HTTP/1.1" 200 %d /log%%20ged '
                   'application/json - t/1 -\n' % len(data))


def test_statsd_request_metrics(server):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(TIMEOUT)
        srv = start(server, "--statsd-host", "127.0.0.1:%d" % rx.getsockname()[1])
        assert echo(srv, "GET", "/status?201")[0].status == 201
        got = []
        while "gunicorn.request.status.201:1|c|@1.0" not in got:
            got.append(rx.recv(65536).decode())
        assert "gunicorn.requests:1|c|@1.0" in got
    finally:
        rx.close()


@pytest.mark.parametrize("name", ["asgi", "gunicorn.workers.gasgi.ASGIWorker",
                                  "uvicorn.workers.UvicornWorker",
                                  "uvicorn.workers.UvicornH11Worker"])
def test_the_class_under_each_name(server, name):
    srv = server("-k", name, app="asgiecho:app")
    assert "Using worker: asgi" in srv.text()
    assert echo(srv)[0].status == 200


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_loops(server, loop):
    srv = start(server, "--asgi-loop", loop, "--log-level", "debug")
    assert echo(srv)[0].status == 200
    assert "Using %s event loop" % loop in srv.text()


def test_hooks_around_a_request(server, tmp_path):
    conf = tmp_path / "hooks.py"
    conf.write_text(
        "def pre_request(worker, req):\n"
        "    worker.log.info('pre %s %s' % (req.method, req.path))\n"
        "def post_request(worker, req, environ, resp):\n"
        "    worker.log.info('post %s %s' % (req.path, resp.status))\n")
    srv = start(server, "-c", str(conf))
    assert echo(srv, "GET", "/hooked")[0].status == 200
    wait_for(lambda: "post /hooked 200" in srv.text(), what="post_request")
    assert "pre GET /hooked" in srv.text()


# ---- real apps -------------------------------------------------------------------

def test_starlette(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, app="starletteapp:starlette_app", env=env)
    r, data = echo(srv, "GET", "/?a=b")
    out = json.loads(data)
    assert r.status == 200 and out["query"] == {"a": "b"} and out["booted"] > 0
    r, data = echo(srv, "POST", "/echo", body=b"z" * 300000)
    assert data == b"z" * 300000 and r.getheader("x-len") == "300000"
    r, data = echo(srv, "POST", "/form", body=b"x=1&y=two",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert json.loads(data) == {"x": "1", "y": "two"}
    r, data = echo(srv, "GET", "/stream")
    assert data == b"part 0\npart 1\npart 2\n"
    assert r.getheader("Transfer-Encoding") == "chunked"
    r, data = echo(srv, "GET", "/background")
    assert data == b"queued"
    wait_for(lambda: "background ran" in events(path), what="the background task")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    assert events(path)[-1] == "starlette shutdown"


def test_fastapi(server):
    srv = start(server, "--root-path", "/api", app="starletteapp:fastapi_app")
    r, data = echo(srv, "GET", "/items/42?q=hi")
    assert r.status == 200 and json.loads(data) == {"item_id": 42, "q": "hi"}
    r, data = echo(srv, "GET", "/items/notanint")
    assert r.status == 422
    r, data = echo(srv, "POST", "/items", body=json.dumps({"name": "n", "price": 2.5}),
                   headers={"Content-Type": "application/json"})
    assert json.loads(data) == {"name": "n", "double": 5.0}
    r, data = echo(srv, "GET", "/stream")
    assert data == b"x" * 4000
    r, data = echo(srv, "GET", "/req", headers={"X-Forwarded-Proto": "https"})
    out = json.loads(data)
    assert out["client"][0] == "127.0.0.1" and out["root_path"] == "/api"
    assert out["scheme"] == "https"  # a trusted peer's scheme header
