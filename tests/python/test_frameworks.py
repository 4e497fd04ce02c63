"""Real Flask and Django apps served by cunicorn, over real sockets.

apps/flaskapp.py and apps/djangoproj/ answer the same routes the same way,
so every test here runs once against each framework, with the sync worker,
gthread, gevent, eventlet and tornado (which serves a WSGI app with the
WSGI bridge). A framework that is not installed is skipped (Debian:
python3-flask, python3-django).
"""

import hashlib
import http.client
import json
import os
import re
import urllib.parse

import pytest

from conftest import APPS, TIMEOUT, Server, wait_for

APPS_BY_FW = {"flask": "flaskapp:app", "django": "djangoproj.wsgi:application"}
DATA_SIZE = (3 << 20) + 12345          # not a multiple of any block size


@pytest.fixture(scope="module", params=sorted(APPS_BY_FW))
def fw(request):
    pytest.importorskip(request.param)
    return request.param


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    (d / "data.bin").write_bytes(os.urandom(DATA_SIZE))
    return d


WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "4"),
           "gevent": ("-k", "gevent"), "eventlet": ("-k", "eventlet"),
           "tornado": ("-k", "tornado")}


@pytest.fixture(scope="module", params=sorted(WORKERS))
def worker(request):
    return WORKERS[request.param]


def app_env(data_dir, propagate):
    env = dict(os.environ, CUNICORN_TEST_DIR=str(data_dir),
               DJANGO_SETTINGS_MODULE="djangoproj.settings")
    env.pop("CUNICORN_TEST_PROPAGATE", None)
    if propagate:
        env["CUNICORN_TEST_PROPAGATE"] = "1"
    return env


def dressed(srv, fw, data_dir):
    srv.fw = fw
    srv.data = (data_dir / "data.bin").read_bytes()
    srv.data_dir = data_dir
    return srv


@pytest.fixture
def start(fw, worker, server, data_dir):
    """A server of its own, for a test that sets options."""
    def go(*args, propagate=False):
        srv = server(*(worker + args), app=APPS_BY_FW[fw], env=app_env(data_dir, propagate))
        return dressed(srv, fw, data_dir)
    return go


@pytest.fixture(scope="module")
def site(fw, worker, data_dir, tmp_path_factory):
    """One server per framework and worker class, with the default
    options, shared by the tests that only send it requests (a server
    start each would cost most of this file's time)."""
    srv = Server(tmp_path_factory.mktemp("site"), worker, APPS_BY_FW[fw], 1,
                 app_env(data_dir, False), APPS)
    try:
        yield dressed(srv.start(), fw, data_dir)
    finally:
        srv.stop()


# ---- clients ---------------------------------------------------------------

def call(srv, method, path, body=None, headers=None):
    """One request with http.client; returns (response, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def call_json(srv, method, path, status=200, **kw):
    r, data = call(srv, method, path, **kw)
    assert r.status == status, (r.status, data[:2000])
    assert r.getheader("Content-Type", "").startswith("application/json"), r.getheaders()
    return json.loads(data)


def raw(srv, method, path, headers=(), body=b"", version="HTTP/1.1"):
    """Sends one request by hand, reads to EOF; returns (status line,
    [(name, value)], body bytes exactly as they came). Status lines are
    compared upper-cased: Werkzeug sends reasons so ("304 NOT MODIFIED")."""
    lines = ["%s %s %s" % (method, path, version), "Host: 127.0.0.1:%d" % srv.port]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    out = srv.raw("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
    head, sep, rest = out.partition(b"\r\n\r\n")
    assert sep, "no complete response head: %r" % out[:500]
    status, *fields = head.decode("latin-1").split("\r\n")
    hdrs = [tuple(s.strip() for s in f.split(":", 1)) for f in fields]
    return status, hdrs, rest


def header(hdrs, name):
    vals = [v for k, v in hdrs if k.lower() == name.lower()]
    assert len(vals) <= 1, (name, vals)
    return vals[0] if vals else None


def dechunk(body):
    """Decodes a chunked body strictly; returns (payload, number of chunks)."""
    out, n, pos = b"", 0, 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            assert body[pos:] == b"\r\n", "bad chunked trailer: %r" % body[pos:pos + 50]
            return out, n
        out += body[pos:pos + size]
        assert body[pos + size:pos + size + 2] == b"\r\n", "chunk not CRLF-terminated"
        pos += size + 2
        n += 1


def streamed(n, size):
    return b"first\n" + b"".join(bytes([65 + i % 26]) * size for i in range(n)) + b"last\n"


# ---- routing ---------------------------------------------------------------

def test_path_params_and_query_string(site):
    r = call_json(site, "GET", "/users/7/posts/hello-world?q=search+term&tag=a&tag=b%26c")
    assert r == {"framework": site.fw, "uid": 7, "slug": "hello-world",
                 "q": "search term", "tags": ["a", "b&c"]}
    # percent-encoded UTF-8 in the path and the query reaches the view decoded
    r = call_json(site, "GET", "/users/123/posts/caf%C3%A9%20au%20lait?q=%C3%A9t%C3%A9")
    assert (r["uid"], r["slug"], r["q"], r["tags"]) == (123, "café au lait", "été", [])
    # no query string at all
    r = call_json(site, "GET", "/users/0/posts/x")
    assert (r["uid"], r["slug"], r["q"]) == (0, "x", None)
    # the int converter refuses a non-number: no route, 404
    r, _ = call(site, "GET", "/users/abc/posts/x")
    assert r.status == 404


# ---- request bodies ----------------------------------------------------------

def test_html_form_post(site):
    r, page = call(site, "GET", "/form")
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/html")
    assert b'<form method="post" action="/form">' in page
    # post back what a browser would: the hidden inputs and the cookies
    hidden = re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    cookies = [c.split(";", 1)[0] for c in r.msg.get_all("Set-Cookie") or []]
    fields = [(k.decode(), v.decode()) for k, v in hidden]
    fields += [("name", "Zoë & co = 1"), ("color", "red"), ("color", "blue/green")]
    body = urllib.parse.urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    r = call_json(site, "POST", "/form", body=body, headers=headers)
    assert r["content_type"] == "application/x-www-form-urlencoded"
    assert r["fields"] == {"name": ["Zoë & co = 1"], "color": ["red", "blue/green"]}
    if site.fw == "django":
        # the CSRF check really ran: without the cookie and token, 403
        r, _ = call(site, "POST", "/form", body=b"name=x", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 403


def test_multipart_upload_10mib(site):
    big = os.urandom(10 << 20)
    small = "plain text, ünïcode\n".encode() * 100
    boundary = "----cunicorn%s" % os.urandom(8).hex()
    parts = []
    for name, value in [("note", "héllo wörld"), ("tags", "a"), ("tags", "b")]:
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n'
                      % (boundary, name)).encode() + value.encode() + b"\r\n")
    for field, filename, ctype, content in [
            ("file", "blob.bin", "application/octet-stream", big),
            ("extra", "notes.txt", "text/plain", small)]:
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                      'Content-Type: %s\r\n\r\n' % (boundary, field, filename, ctype)).encode()
                     + content + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    r = call_json(site, "POST", "/upload", body=body, headers={
        "Content-Type": "multipart/form-data; boundary=%s" % boundary})
    assert r["fields"] == {"note": ["héllo wörld"], "tags": ["a", "b"]}
    assert r["files"] == [
        {"field": "file", "filename": "blob.bin", "content_type": "application/octet-stream",
         "size": len(big), "sha256": hashlib.sha256(big).hexdigest()},
        {"field": "extra", "filename": "notes.txt", "content_type": "text/plain",
         "size": len(small), "sha256": hashlib.sha256(small).hexdigest()},
    ]


def test_json_request_and_response(site):
    payload = {"items": list(range(1000)), "name": "ünïcode ☃", "nested": {"a": [None, True]}}
    r = call_json(site, "POST", "/json", body=json.dumps(payload).encode(),
                  headers={"Content-Type": "application/json"})
    assert r == {"echo": payload, "count": 1000, "total": sum(range(1000))}
    r = call_json(site, "POST", "/json", status=400, body=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert r == {"error": "invalid JSON"}


# ---- response bodies ---------------------------------------------------------

def test_streaming_response_chunked(site):
    n, size = 64, 65536
    want = streamed(n, size)
    status, hdrs, body = raw(site, "GET", "/stream?n=%d&size=%d" % (n, size))
    assert status.upper() == "HTTP/1.1 200 OK"
    assert header(hdrs, "Transfer-Encoding") == "chunked"
    assert header(hdrs, "Content-Length") is None
    got, chunks = dechunk(body)
    assert len(got) == len(want) and got == want
    assert chunks > 1
    # http.client reads the same body to its end
    r, got = call(site, "GET", "/stream?n=%d&size=%d" % (n, size))
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    assert got == want
    # an HTTP/1.0 client gets no chunking: the body ends when the connection does
    status, hdrs, body = raw(site, "GET", "/stream?n=%d&size=%d" % (n, size),
                             version="HTTP/1.0")
    assert status.upper() == "HTTP/1.0 200 OK"
    assert header(hdrs, "Transfer-Encoding") is None
    assert body == want


def test_streaming_response_is_not_buffered(site, tmp_path):
    """The view holds its second chunk back until the client has the first."""
    gate = tmp_path / "gate"
    s = site.connect()
    try:
        s.sendall(("GET /stream?n=3&size=5&gate=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                   % urllib.parse.quote(str(gate))).encode())
        got = b""
        while b"first\n" not in got:
            chunk = s.recv(65536)
            assert chunk, "connection closed before the first chunk: %r" % got
            got += chunk
        gate.touch()
        # to the last chunk, not to the close: the connection is kept
        while not got.endswith(b"\r\n0\r\n\r\n"):
            chunk = s.recv(65536)
            assert chunk, "connection closed before the last chunk: %r" % got
            got += chunk
    finally:
        s.close()
    body, _ = dechunk(got.partition(b"\r\n\r\n")[2])
    assert b"gate timed out" not in body
    assert body == streamed(3, 5)


@pytest.mark.parametrize("sendfile", [True, False], ids=["sendfile", "no-sendfile"])
def test_file_response_through_file_wrapper(start, sendfile):
    site = start(*([] if sendfile else ["--no-sendfile"]))
    r, got = call(site, "GET", "/file")
    assert r.status == 200
    # the framework handed the server's own wsgi.file_wrapper back
    assert r.getheader("X-App-Iter") == "server-file-wrapper"
    assert r.getheader("Content-Length") == str(DATA_SIZE)
    assert r.getheader("Transfer-Encoding") is None
    assert r.getheader("Content-Type") == "application/octet-stream"
    assert len(got) == DATA_SIZE and got == site.data
    # byte for byte on the wire, too: nothing after the file
    status, hdrs, body = raw(site, "GET", "/file")
    assert status.upper() == "HTTP/1.1 200 OK" and body == site.data
    # HTTP/1.0
    status, hdrs, body = raw(site, "GET", "/file", version="HTTP/1.0")
    assert status.upper() == "HTTP/1.0 200 OK" and body == site.data


def test_static_file_and_conditional_get(site):
    r, got = call(site, "GET", "/static/data.bin")
    assert r.status == 200 and got == site.data
    assert r.getheader("X-App-Iter") == "server-file-wrapper"
    last_modified = r.getheader("Last-Modified")
    assert last_modified
    status, hdrs, body = raw(site, "GET", "/static/data.bin",
                             headers=[("If-Modified-Since", last_modified)])
    assert status.upper() == "HTTP/1.1 304 NOT MODIFIED"
    assert body == b""
    assert header(hdrs, "Transfer-Encoding") is None
    r, _ = call(site, "GET", "/static/missing.bin")
    assert r.status == 404


# ---- status codes and headers -------------------------------------------------

def test_custom_status_codes(site):
    r, data = call(site, "POST", "/items", body=b'{"name": "widget"}',
                   headers={"Content-Type": "application/json"})
    assert r.status == 201 and r.reason.upper() == "CREATED"
    assert r.getheader("Location").endswith("/items/42")
    assert json.loads(data) == {"id": 42, "name": "widget"}

    status, hdrs, body = raw(site, "DELETE", "/items/42")
    assert status.upper() == "HTTP/1.1 204 NO CONTENT"
    assert body == b""
    assert header(hdrs, "Transfer-Encoding") is None
    assert header(hdrs, "Content-Length") in (None, "0")
    r, _ = call(site, "DELETE", "/items/7")
    assert r.status == 404

    r, data = call(site, "GET", "/old")
    assert r.status == 302 and r.reason.upper() == "FOUND"
    location = r.getheader("Location")
    assert location in ("/new", "http://127.0.0.1:%d/new" % site.port), location
    r, data = call(site, "GET", urllib.parse.urlsplit(location).path)
    assert r.status == 200 and data == b"the new place\n"

    r, data = call(site, "GET", "/no/such/page")
    assert r.status == 404 and r.reason.upper() == "NOT FOUND" and data

    r, data = call(site, "PUT", "/json", body=b"{}")
    assert r.status == 405 and r.reason.upper() == "METHOD NOT ALLOWED"
    assert "POST" in r.getheader("Allow", "")
    r, _ = call(site, "GET", "/items")
    assert r.status == 405


def test_response_headers_and_cookies(site):
    status, hdrs, body = raw(site, "GET", "/cookies")
    assert status.upper() == "HTTP/1.1 200 OK" and body == b"cookies set\n"
    cookies = [v for k, v in hdrs if k.lower() == "set-cookie"]
    assert len(cookies) == 2, hdrs           # two headers, not one joined
    by_name = {c.split("=", 1)[0]: c for c in cookies}
    assert by_name["session"].startswith("session=abc123")
    assert "httponly" in by_name["session"].lower()
    assert "Path=/" in by_name["session"]
    assert by_name["theme"].startswith("theme=dark")
    assert "Max-Age=3600" in by_name["theme"]
    assert header(hdrs, "X-Custom-Header") == "hello"
    assert header(hdrs, "Cache-Control") == "no-store"
    assert header(hdrs, "Content-Type").startswith("text/plain")
    # http.client sees them as two as well, and the browser's reply arrives
    r, _ = call(site, "GET", "/cookies")
    assert len(r.msg.get_all("Set-Cookie")) == 2
    r = call_json(site, "GET", "/whoami", headers={"Cookie": "session=abc123; theme=dark"})
    assert r["cookies"] == {"session": "abc123", "theme": "dark"}


def test_request_headers_visible_to_the_app(site):
    r = call_json(site, "GET", "/whoami", headers={
        "X-Test": "the value, with spaces", "User-Agent": "cunicorn-tests/1.0 (+frameworks)",
        "Accept-Language": "fr-CH, fr;q=0.9"})
    assert r["x_test"] == "the value, with spaces"
    assert r["user_agent"] == "cunicorn-tests/1.0 (+frameworks)"
    assert r["accept_language"] == "fr-CH, fr;q=0.9"
    assert r["host"] == "127.0.0.1:%d" % site.port
    assert r["method"] == "GET" and r["remote_addr"] == "127.0.0.1"
    assert r["cookies"] == {}


@pytest.mark.parametrize("path", ["/users/1/posts/x?q=1", "/new", "/form", "/cookies",
                                  "/stream?n=4&size=1000", "/file", "/static/data.bin"])
def test_head_has_no_body(site, path):
    status, get_hdrs, get_body = raw(site, "GET", path)
    assert status.upper() == "HTTP/1.1 200 OK" and get_body
    status, hdrs, body = raw(site, "HEAD", path)
    assert status.upper() == "HTTP/1.1 200 OK"
    assert body == b"", "HEAD %s sent a body: %r" % (path, body[:200])
    if header(get_hdrs, "Content-Length") is not None:
        assert header(hdrs, "Content-Length") == header(get_hdrs, "Content-Length")
    assert header(hdrs, "Content-Type") == header(get_hdrs, "Content-Type")


# ---- errors ------------------------------------------------------------------

def test_view_raises_framework_500(fw, start):
    """The framework catches it and logs the traceback: Flask to
    wsgi.errors, Django to stderr (--capture-output)."""
    site = start("--capture-output")
    marker = "boom from the %s view" % fw
    status, hdrs, body = raw(site, "GET", "/boom")
    assert status.upper() == "HTTP/1.1 500 INTERNAL SERVER ERROR"
    assert marker.encode() not in body        # no traceback for the client
    # each framework writes its record (first line + traceback) at once
    first = {"flask": "Exception on /boom [GET]",
             "django": "Internal Server Error: /boom"}[fw]
    wait_for(lambda: first in site.text(), what="%r in the error log (%s)" % (
        first, {"flask": "via wsgi.errors", "django": "stderr, via --capture-output"}[fw]))
    log = site.text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: " + marker in log, "traceback cut short:\n" + log[-600:]
    # the worker lives on
    r, data = call(site, "GET", "/new")
    assert r.status == 200 and data == b"the new place\n"


def test_view_raises_server_500(fw, start):
    """The framework lets it through (PROPAGATE_EXCEPTIONS,
    DEBUG_PROPAGATE_EXCEPTIONS): the server answers 500 and logs it."""
    site = start(propagate=True)
    marker = "boom from the %s view" % fw
    status, hdrs, body = raw(site, "GET", "/boom")
    assert status.upper() == "HTTP/1.1 500 INTERNAL SERVER ERROR"
    assert marker.encode() not in body
    # the server logs the line and the traceback in one write
    wait_for(lambda: "Error handling request GET /boom" in site.text(),
             what="the server's error record")
    log = site.text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: " + marker in log, "traceback cut short:\n" + log[-600:]
    r, data = call(site, "GET", "/new")
    assert r.status == 200 and data == b"the new place\n"
