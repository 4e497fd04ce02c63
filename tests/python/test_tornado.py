"""The tornado worker class (-k tornado): a real tornado.web.Application
(apps/tornadoapp.py) and plain WSGI apps, over real sockets; its responses
compared byte for byte with tornado's own HTTPServer, which is what
Gunicorn's tornado worker runs; and its life under the master (TERM with
requests in flight, HUP and --max-requests under load, --timeout, hooks).
Skipped without tornado (Debian: python3-tornado)."""

import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import APPS, TIMEOUT, recv_all, wait_for
from test_frameworks import call
from test_operations import Load, alive, live_workers

pytest.importorskip("tornado")

TORNADO = ("-k", "tornado")


@pytest.fixture
def site(server):
    return server(*TORNADO, app="tornadoapp:app")


def head_and_body(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, raw[:300]
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], [tuple(x.split(": ", 1)) for x in lines[1:]], body


def header(hdrs, name):
    vals = [v for k, v in hdrs if k.lower() == name.lower()]
    assert len(vals) <= 1, (name, vals)
    return vals[0] if vals else None


def dechunk(body):
    out, pos = b"", 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            assert body[pos:] == b"\r\n"
            return out
        out += body[pos:pos + size]
        assert body[pos + size:pos + size + 2] == b"\r\n"
        pos += size + 2


# ---- names ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tornado", "egg:gunicorn#tornado",
                                  "gunicorn.workers.gtornado.TornadoWorker"])
def test_the_class_under_each_name(server, name):
    srv = server("-k", name, app="tornadoapp:app")
    assert "Using worker: tornado" in srv.text()
    r, data = call(srv, "GET", "/hello")
    assert r.status == 200 and data == b"Hello, world"


def test_certfile_is_checked(server, tmp_path):
    """TLS is served (test_tls.py); a missing certificate stops the start."""
    r = subprocess.run([str(APPS.parents[2] / "cunicorn"), "-k", "tornado", "--certfile",
                        str(tmp_path / "c.pem"), "--check-config", "tornadoapp:app"],
                       cwd=APPS, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1 and "c.pem" in r.stderr and "not built" not in r.stderr, r.stderr


# ---- a tornado.web.Application ---------------------------------------------------

def test_handlers_path_args_and_query(site):
    r, data = call(site, "GET", "/users/7/posts/hello?q=search+term&tag=a&tag=b%26c")
    assert r.status == 200 and r.getheader("Content-Type").startswith("application/json")
    assert json.loads(data) == {"uid": 7, "slug": "hello", "q": "search term",
                                "tags": ["a", "b&c"]}
    assert r.getheader("Server") == "TornadoServer/%s (cunicorn/%s)" % (
        __import__("tornado").version, re.search(r"Starting cunicorn (\S+)",
                                                  site.text()).group(1))


def test_post_form_body(site):
    body = urllib.parse.urlencode([("name", "Zoë"), ("c", "1"), ("c", "2")]).encode()
    r, data = call(site, "POST", "/users/1/posts/x", body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 201
    assert json.loads(data) == {"uid": 1, "slug": "x", "form": {"name": ["Zoë"],
                                                                "c": ["1", "2"]},
                                "body_len": len(body)}
    # chunked request bodies reach the handler decoded
    s = site.connect()
    s.sendall(b"POST /users/2/posts/y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n3\r\na=1\r\n4\r\n&b=2\r\n0\r\n\r\n")
    status, hdrs, body = head_and_body(recv_all(s))
    assert status == "HTTP/1.1 201 Created"
    assert json.loads(body)["form"] == {"a": ["1"], "b": ["2"]}


def test_async_handlers(site):
    for path, want in [("/sleep", b"slept"), ("/gen", b"gen slept")]:
        r, data = call(site, "GET", path)
        assert r.status == 200 and data == want


def test_async_handlers_run_concurrently(site):
    """Ten requests that each sleep 0.5 s in their handler are all in
    flight at once on the one worker."""
    socks = []
    for _ in range(10):
        s = site.connect()
        s.sendall(b"GET /sleep?t=0.5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        socks.append(s)
    t0 = time.monotonic()
    answers = [recv_all(s) for s in socks]
    assert all(a.endswith(b"slept") for a in answers)
    assert time.monotonic() - t0 < 4  # not 10 x 0.5 s one after another


def test_streaming_with_flush_is_chunked_and_not_buffered(site, tmp_path):
    gate = tmp_path / "gate"
    s = site.connect()
    s.sendall(("GET /stream?n=3&size=5&gate=%s HTTP/1.1\r\nHost: t\r\n"
               "Connection: close\r\n\r\n" % urllib.parse.quote(str(gate))).encode())
    got = b""
    while b"first\n" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    gate.touch()
    got += recv_all(s)
    status, hdrs, body = head_and_body(got)
    assert header(hdrs, "Transfer-Encoding") == "chunked"
    assert header(hdrs, "Content-Length") is None
    assert dechunk(body) == b"first\nAAAAABBBBBCCCCClast\n"
    # HTTP/1.0: no chunking; the close ends the body
    status, hdrs, body = head_and_body(site.raw(b"GET /stream?n=2&size=3 HTTP/1.0\r\n\r\n"))
    assert status == "HTTP/1.1 200 OK" and header(hdrs, "Transfer-Encoding") is None
    assert body == b"first\nAAABBBlast\n"


def test_cookies_redirects_and_tornado_error_pages(server):
    # tornado logs to stderr (Python's last-resort handler), as under
    # Gunicorn: --capture-output puts it in the error log
    site = server(*TORNADO, "--capture-output", app="tornadoapp:app")
    r, data = call(site, "GET", "/cookies", headers={"Cookie": "a=1; b=two"})
    cookies = r.msg.get_all("Set-Cookie")
    assert len(cookies) == 2 and cookies[0].startswith("session=abc123")
    assert "httponly" in cookies[0].lower() and "expires=" in cookies[1].lower()
    assert r.getheader("X-Custom-Header") == "hello"
    assert json.loads(data) == {"got": {"a": "1", "b": "two"}}
    r, data = call(site, "GET", "/old")
    assert r.status == 302 and r.getheader("Location") == "/hello"
    r, data = call(site, "GET", "/no/such/page")
    assert r.status == 404 and b"<title>404: Not Found</title>" in data
    r, data = call(site, "GET", "/forbidden")
    assert r.status == 403 and b"403: Forbidden" in data
    r, data = call(site, "GET", "/boom")
    assert r.status == 500 and b"500: Internal Server Error" in data
    assert b"boom from" not in data
    # tornado logs the traceback itself; the worker lives on
    wait_for(lambda: "RuntimeError: boom from the tornado handler" in site.text(),
             what="tornado's traceback")
    assert call(site, "GET", "/hello")[1] == b"Hello, world"


def test_head_sends_no_body(site):
    status, hdrs, body = head_and_body(site.raw(
        b"HEAD /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert status == "HTTP/1.1 200 OK" and int(header(hdrs, "Content-Length")) > 100
    assert body == b""


def test_keep_alive_and_pipelining(site):
    reqs = b"".join(b"GET /users/%d/posts/p HTTP/1.1\r\nHost: t\r\n\r\n" % i
                    for i in range(20))
    s = site.connect()
    s.sendall(reqs + b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    raw = recv_all(s)
    assert raw.count(b"HTTP/1.1 200 OK") == 21
    uids = [json.loads(m)["uid"] for m in re.findall(rb'(\{"uid".*?\]\})', raw)]
    assert uids == list(range(20))
    assert raw.endswith(b"Hello, world")
    # the last one, and only it, says close
    assert raw.count(b"Connection: close") == 1
    # HTTP/1.0 with keep-alive asked for gets it
    s = site.connect()
    s.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    first = b""
    while not first.endswith(b"Hello, world"):
        first += s.recv(4096)
    assert b"Connection: Keep-Alive\r\n" in first
    s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
    assert recv_all(s).endswith(b"Hello, world")


def test_stream_request_body(site):
    data = os.urandom(3 << 20)
    r, body = call(site, "PUT", "/upload", body=data)
    got = json.loads(body)
    assert r.status == 200 and got["size"] == len(data)
    assert got["sha256"] == hashlib.sha256(data).hexdigest()
    assert got["chunks"] >= len(data) // 65536  # 64 KiB at most each, as tornado's
    # set_max_body_size: tornado's bare 400, then the close
    raw = site.raw(b"PUT /upload?max=100 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"
                   + b"x" * 1000)
    assert raw == b"HTTP/1.1 400 Bad Request\r\n\r\n"


def test_a_handler_short_of_its_content_length_is_cut(server):
    site = server(*TORNADO, "--capture-output", app="tornadoapp:app")
    raw = site.raw(b"GET /lengthy HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n"
                   b"Host: t\r\n\r\n")
    status, hdrs, body = head_and_body(raw)
    assert header(hdrs, "Content-Length") == "100" and body == b"short"  # then the close
    wait_for(lambda: "Tried to write 95 bytes less than Content-Length" in site.text(),
             what="tornado's error")


@pytest.mark.parametrize("path", ["/badlength", "/badreason"])
def test_a_head_that_cannot_be_written_is_a_500(site, path):
    raw = site.raw(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    status, hdrs, body = head_and_body(raw)
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert header(hdrs, "Connection") == "close"
    assert b"twelve" not in raw and b"Injected" not in raw
    assert call(site, "GET", "/hello")[1] == b"Hello, world"


LENGTHS_APP = """import tornado.httputil, tornado.web
class L(tornado.web.RequestHandler):
    def get(self, how):
        if how == "plus":
            self.set_header("Content-Length", "+5")
        elif how == "huge":
            self.set_header("Content-Length", "99999999999999999999")
        elif how == "two":
            self.set_header("Content-Length", "5")
            self.add_header("Content-Length", "6")
        else:
            self.set_header("Content-Length", "5")
            self.add_header("Content-Length", "5")
        self.write("hello")
class C(tornado.web.RequestHandler):
    def get(self):
        start = tornado.httputil.ResponseStartLine("HTTP/1.1", "200", "OK")
        try:
            self.request.connection.write_headers(start, tornado.httputil.HTTPHeaders())
        except TypeError as e:
            CODE_ERRORS.append(str(e))
        self._finished = True  # the request ended with the 500
class E(tornado.web.RequestHandler):
    def get(self):
        self.write({"errors": CODE_ERRORS})
CODE_ERRORS = []
app = tornado.web.Application([("/code", C), ("/errors", E), (r"/(\\w+)", L)])
"""


@pytest.mark.parametrize("how", ["plus", "huge", "two"])
def test_a_content_length_no_client_could_read_is_a_500(server, tmp_path, how):
    """Digits only, an int64, one value: as the asgi class's (test_asgi.py)."""
    (tmp_path / "lengths.py").write_text(LENGTHS_APP)
    srv = server(*TORNADO, app="lengths:app", chdir=tmp_path)
    raw = srv.raw(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % how.encode())
    status, hdrs, body = head_and_body(raw)
    assert status == "HTTP/1.1 500 Internal Server Error", raw[:300]
    assert b"hello" not in raw and header(hdrs, "Connection") == "close"


def test_a_status_code_that_is_no_int_is_a_500(server, tmp_path):
    (tmp_path / "lengths.py").write_text(LENGTHS_APP)
    srv = server(*TORNADO, app="lengths:app", chdir=tmp_path)
    status, hdrs, body = head_and_body(srv.raw(b"GET /code HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert status == "HTTP/1.1 500 Internal Server Error"
    r, data = call(srv, "GET", "/errors")
    assert json.loads(data) == {"errors": ["'str' object cannot be interpreted as an integer"]}, data


def test_a_repeated_equal_content_length_is_sent_once(server, tmp_path):
    (tmp_path / "lengths.py").write_text(LENGTHS_APP)
    srv = server(*TORNADO, app="lengths:app", chdir=tmp_path)
    status, hdrs, body = head_and_body(srv.raw(b"GET /same HTTP/1.1\r\nHost: t\r\n"
                                               b"Connection: close\r\n\r\n"))
    assert status == "HTTP/1.1 200 OK" and header(hdrs, "Content-Length") == "5"
    assert body == b"hello"


def test_a_chunked_body_past_the_limit(site):
    raw = site.raw(b"PUT /upload?max=10 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                   b"\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
    assert raw == b"HTTP/1.1 400 Bad Request\r\n\r\n"


def test_a_wsgi_container_is_served_through_tornado(server):
    srv = server(*TORNADO, app="tornadoapp:container")
    r, data = call(srv, "GET", "/x")
    # WSGIContainer's own environ and headers: tornado's, as under Gunicorn
    assert data == b"hello from http False"
    assert r.getheader("X-Via") == "container"
    assert r.getheader("Server").startswith("TornadoServer/")


def test_without_tornado_the_worker_cannot_boot(tmp_path):
    fake = tmp_path / "tornado"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no tornado here')\n")
    r = subprocess.run([str(APPS.parents[2] / "cunicorn"), "-k", "tornado", "-b",
                        "127.0.0.1:0", "--pythonpath", str(tmp_path), "echo:app"],
                       cwd=APPS, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 3, r.stderr
    assert "You need tornado installed to use this worker." in r.stderr


def ws_frame(payload, opcode=1):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


def test_websocket_handler(site):
    s = site.connect()
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              b"\r\n" + ws_frame(b"sent with the head"))
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in head.lower()
    s.sendall(ws_frame(b"hello"))
    want = [b"echo: sent with the head", b"echo: hello"]
    while len(rest) < sum(2 + len(w) for w in want):
        rest += s.recv(4096)
    for w in want:
        assert rest[0] == 0x81 and rest[1] == len(w) and rest[2:2 + len(w)] == w
        rest = rest[2 + len(w):]
    s.sendall(ws_frame(struct.pack("!H", 1000), opcode=8))
    assert recv_all(s)[:2] == b"\x88\x02"
    # the worker serves on
    assert call(site, "GET", "/hello")[1] == b"Hello, world"


def test_client_gone_mid_handler(site):
    """A client that leaves while its handler sleeps: the handler finishes
    writing into nothing, and the worker serves on."""
    s = site.connect()
    s.sendall(b"GET /sleep?t=0.3 HTTP/1.1\r\nHost: t\r\n\r\n")
    s.close()
    time.sleep(0.5)
    assert call(site, "GET", "/hello")[1] == b"Hello, world"


# ---- byte for byte against tornado's own HTTPServer ---------------------------------

PLAIN = """
import asyncio, socket, sys
sys.path.insert(0, sys.argv[1])
import tornado.httpserver, tornadoapp
async def main():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); s.setblocking(False)
    server = tornado.httpserver.HTTPServer(tornadoapp.app)
    server.add_socket(s)
    print(s.getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

COMPARED = [
    b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /hello HTTP/1.0\r\n\r\n",
    b"HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    b"GET /users/3/posts/abc?q=1&tag=x HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /users/3/posts/abc HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b=2",
    b"GET /stream?n=3&size=4 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /cookies HTTP/1.1\r\nHost: t\r\nCookie: x=1\r\n\r\n",
    b"GET /old HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /nothing/here HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /forbidden HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    b"GET /hello HTTP/1.1\r\nHost: t\r\nIf-None-Match: "
    b"\"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8\"\r\n\r\n",
]


def normalized(raw):
    raw = re.sub(rb"Date: [^\r]*\r\n", b"Date: -\r\n", raw)
    raw = re.sub(rb"expires=[^;]*;", b"expires=-;", raw)
    return re.sub(rb"Server: TornadoServer/([0-9.]+)[^\r]*", rb"Server: TornadoServer/\1", raw)


def exchange(port, req):
    """req with "Connection: close" (the server ends the exchange: no
    half-close, which tornado's server takes for the client leaving)."""
    if b"Connection: close" not in req:
        line, _, rest = req.partition(b"\r\n")
        req = line + b"\r\nConnection: close\r\n" + rest
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(req)
    return recv_all(s)


def test_responses_match_tornados_own_server(site):
    p = subprocess.Popen([sys.executable, "-c", PLAIN, str(APPS)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        port = int(p.stdout.readline())
        for req in COMPARED:
            theirs, ours = exchange(port, req), exchange(site.port, req)
            assert normalized(ours) == normalized(theirs), (req, ours, theirs)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


# ---- a plain WSGI app under -k tornado ----------------------------------------------

def test_wsgi_app_is_served_by_the_wsgi_bridge(server):
    srv = server(*TORNADO, app="echo:app")
    body = b"x" * 100000
    r, data = call(srv, "POST", "/path?a=1", body=body)
    got = json.loads(data)
    assert r.status == 200 and got["body_len"] == len(body)
    env = got["environ"]
    assert env["wsgi.multithread"] is False and env["PATH_INFO"] == "/path"
    r, data = call(srv, "GET", "/stream")
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert data == b"".join(b"chunk %d\n" % i for i in range(5))
    r, data = call(srv, "GET", "/error")
    assert r.status == 500
    wait_for(lambda: "boom from the app" in srv.text(), what="the traceback")
    # keep-alive, pipelined
    s = srv.connect()
    s.sendall(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n" * 5 +
              b"GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    raw = recv_all(s)
    assert raw.count(b"HTTP/1.1 200 OK") == 6


# ---- supervision ---------------------------------------------------------------------

def test_term_lets_requests_in_flight_finish(server):
    srv = server(*TORNADO, app="tornadoapp:app", workers=1)
    assert call(srv, "GET", "/hello")[1] == b"Hello, world"  # the worker serves
    socks = []
    for _ in range(5):
        s = srv.connect()
        s.sendall(b"GET /sleep?t=0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        socks.append(s)
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    answers = [recv_all(s) for s in socks]
    assert all(a.startswith(b"HTTP/1.1 200 OK") and a.endswith(b"slept")
               for a in answers), answers
    assert all(b"Connection: close" in a for a in answers)  # no keep-alive while stopping
    assert srv.proc.wait(timeout=TIMEOUT) == 0


def test_hup_under_load(server):
    srv = server(*TORNADO, app="tornadoapp:app", workers=2)
    old = live_workers(srv)
    with Load(srv.port, path="/hello") as load:
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Reloaded: 2 new workers up" in srv.text(), what="the reload")
        wait_for(lambda: not any(alive(p) for p in old), what="the old workers to go")
        load.more()
    load.report("HUP tornado")
    assert load.failed == 0 and load.refused == 0


def test_max_requests_under_load(server):
    srv = server(*TORNADO, "--max-requests", "20", "--max-requests-jitter", "5",
                 app="tornadoapp:app", workers=2)
    with Load(srv.port, path="/hello") as load:
        wait_for(lambda: srv.text().count("recycled after --max-requests") >= 4,
                 what="4 recycles")
        load.more()
    load.report("tornado max-requests 20, jitter 5")
    assert load.failed == 0


def test_timeout_kills_a_blocked_worker(server, tmp_path):
    app = tmp_path / "blocky.py"
    app.write_text("import time, tornado.web\n"
                   "class B(tornado.web.RequestHandler):\n"
                   "    def get(self):\n"
                   "        time.sleep(30)\n"
                   "class H(tornado.web.RequestHandler):\n"
                   "    def get(self):\n"
                   "        self.write('ok')\n"
                   "app = tornado.web.Application([('/block', B), ('/', H)])\n")
    srv = server(*TORNADO, "--timeout", "2", app="blocky:app", chdir=tmp_path, workers=1)
    first = live_workers(srv)
    s = srv.connect()
    s.sendall(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_for(lambda: "WORKER TIMEOUT" in srv.text(), what="the timeout")
    wait_for(lambda: live_workers(srv) and live_workers(srv) != first, what="a new worker")
    recv_all(s)
    wait_for(lambda: srv.text().count("Booting worker") >= 2, what="the new worker")
    r, data = call(srv, "GET", "/")
    assert data == b"ok"


def test_request_timeout_answers_504(server):
    srv = server(*TORNADO, "--request-timeout", "1", app="tornadoapp:app")
    raw = srv.raw(b"GET /sleep?t=10 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"), raw[:200]
    assert "Request timeout (--request-timeout): GET /sleep?t=10 HTTP/1.1" in srv.text()
    assert call(srv, "GET", "/hello")[1] == b"Hello, world"


def test_request_hooks(server, tmp_path):
    conf = tmp_path / "hooks.conf.py"
    log = tmp_path / "hooks.log"
    conf.write_text(
        "def pre_request(worker, req):\n"
        "    open(%r, 'a').write('pre %%s %%s\\n' %% (req.method, req.path))\n"
        "def post_request(worker, req, environ, resp):\n"
        "    open(%r, 'a').write('post %%s %%s\\n' %% (req.path, resp.status))\n"
        % (str(log), str(log)))
    srv = server(*TORNADO, "-c", str(conf), app="tornadoapp:app")
    call(srv, "GET", "/hello")
    call(srv, "GET", "/nope")
    wait_for(lambda: log.exists() and log.read_text().count("post") == 2,
             what="the hooks")
    assert log.read_text().splitlines() == ["pre GET /hello", "post /hello 200 OK",
                                            "pre GET /nope", "post /nope 404 Not Found"]


def test_access_log(server, tmp_path):
    log = tmp_path / "access.log"
    srv = server(*TORNADO, "--access-logfile", str(log), "--access-logformat",
                 "%(m)s %(U)s %(s)s %(B)s", app="tornadoapp:app")
    call(srv, "GET", "/hello")
    call(srv, "GET", "/nope")
    wait_for(lambda: log.exists() and log.read_text().count("\n") == 2, what="the lines")
    assert log.read_text().splitlines() == ["GET /hello 200 12", "GET /nope 404 69"]
