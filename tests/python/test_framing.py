"""Exact framing both ways (docs/compat.md, Framing), on raw sockets, for
every worker class: sync, gthread and asgi. One test per rule the wire
decides; the parser's own rules have their C tests (tests/http/).

The apps (a WSGI one and an ASGI one with the same routes) write every
request they see to a file, so a test can tell what reached the app."""

import json
import os
import re
import textwrap

import pytest

from conftest import recv_all, undated, wait_for

WSGI_APP = textwrap.dedent('''
    import json
    import os


    def seen(environ):
        with open(os.environ["SEEN"], "a") as f:
            f.write(environ["REQUEST_METHOD"] + " " + environ["RAW_URI"] + "\\n")


    def app(environ, start_response):
        seen(environ)
        path, q = environ["PATH_INFO"], environ["QUERY_STRING"]
        if path == "/read":
            try:
                body = environ["wsgi.input"].read()
            except OSError as e:
                if q == "catch":
                    with open(os.environ["SEEN"], "a") as f:
                        f.write("read failed: %s %s\\n" % (type(e).__name__, e))
                    start_response("200 OK", [("Content-Length", "2")])
                    return [b"ok"]
                raise
            out = json.dumps({"len": len(body), "sum": sum(body)}).encode()
            start_response("200 OK", [("Content-Length", str(len(out)))])
            return [out]
        if path == "/short":
            start_response("200 OK", [("Content-Length", "10")])
            return [b"12345"]
        if path == "/badheader":
            start_response("200 OK", [("X-Bad", "a\\r\\nInjected: 1")])
            return [b"never"]
        if path == "/badstatus":
            start_response({"nul": "200 O\\x00K", "lf": "200 OK\\nX: y", "word": "OK",
                            "ctl": "200 O\\x07K"}[q], [])
            return [b"never"]
        if path == "/cl":
            cl = {"conflict": ["5", "6"], "equal": ["5", "5"]}[q]
            start_response("200 OK", [("Content-Length", v) for v in cl])
            return [b"hello"]
        if path == "/error":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
''')

ASGI_APP = textwrap.dedent('''
    import json
    import os


    def seen(scope):
        with open(os.environ["SEEN"], "a") as f:
            q = scope["query_string"].decode()
            f.write(scope["method"] + " " + scope["path"] + ("?" + q if q else "") + "\\n")


    async def reply(send, status, headers, body):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen(scope)
        path, q = scope["path"], scope["query_string"].decode()
        if path == "/read":
            parts = []
            while True:
                m = await receive()
                if m["type"] == "http.disconnect":
                    with open(os.environ["SEEN"], "a") as f:
                        f.write("read failed: http.disconnect\\n")
                    return
                parts.append(m.get("body", b""))
                if not m.get("more_body"):
                    break
            body = b"".join(parts)
            out = json.dumps({"len": len(body), "sum": sum(body)}).encode()
            return await reply(send, 200, [(b"content-length", str(len(out)).encode())], out)
        if path == "/short":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"10")]})
            await send({"type": "http.response.body", "body": b"12345", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/badheader":
            return await reply(send, 200, [(b"x-bad", b"a\\r\\nInjected: 1")], b"never")
        if path == "/badstatus":
            return await reply(send, {"nul": 0, "lf": 1000, "word": 99, "ctl": -1}[q], [], b"x")
        if path == "/cl":
            cl = {"conflict": [b"5", b"6"], "equal": [b"5", b"5"]}[q]
            return await reply(send, 200, [(b"content-length", v) for v in cl], b"hello")
        if path == "/error":
            raise RuntimeError("boom")
        await reply(send, 200, [(b"content-length", b"2")], b"ok")
''')

WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2"), "asgi": ("-k", "asgi")}


@pytest.fixture(params=sorted(WORKERS))
def srv(request, server, tmp_path):
    (tmp_path / "wsgiframe.py").write_text(WSGI_APP)
    (tmp_path / "asgiframe.py").write_text(ASGI_APP)
    s = server(*WORKERS[request.param], "--access-logfile", str(tmp_path / "access.log"),
               app="asgiframe:app" if request.param == "asgi" else "wsgiframe:app",
               chdir=tmp_path, env=dict(os.environ, SEEN=str(tmp_path / "seen")))
    s.worker = request.param
    s.seen = lambda: (tmp_path / "seen").read_text() if (tmp_path / "seen").exists() else ""
    s.access = lambda: ((tmp_path / "access.log").read_text()
                        if (tmp_path / "access.log").exists() else "")
    return s


def status(raw):
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None


def head_of(raw):
    return raw.partition(b"\r\n\r\n")[0]


# ---- responses the app makes ambiguous ------------------------------------

def test_response_short_of_its_content_length_closes(srv):
    """RFC 9112 6.3: the client would wait for the rest, or take the next
    response for it: the connection ends after it, and that is logged."""
    s = srv.connect()
    s.sendall(b"GET /short HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
    s.settimeout(20)
    raw = recv_all(s)  # ends: the server closed
    s.close()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n12345"), raw
    assert raw.count(b"HTTP/1.1") == 1, raw
    wait_for(lambda: "Response shorter than its Content-Length (5 of 10 bytes)" in srv.text(),
             what="the warning")


@pytest.mark.parametrize("q", ["nul", "lf", "word", "ctl"])
def test_bad_status_is_500(srv, q):
    raw = srv.raw(b"GET /badstatus?%s HTTP/1.1\r\nHost: t\r\n\r\n" % q.encode())
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), raw
    assert b"\x00" not in raw and b"\r\nX: y" not in raw


def test_bad_header_is_500(srv):
    raw = srv.raw(b"GET /badheader HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), raw
    assert b"Injected" not in raw
    wait_for(lambda: '"GET /badheader HTTP/1.1" 500 ' in srv.access(), what="the access line")


def test_conflicting_content_lengths_are_500(srv):
    raw = srv.raw(b"GET /cl?conflict HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), raw
    assert b"Content-Length: 6" not in raw and b"content-length: 6" not in raw
    raw = srv.raw(b"GET /cl?equal HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\nhello"), raw
    assert head_of(raw).lower().count(b"content-length: 5") == 1, raw


# ---- Date, and HEAD ---------------------------------------------------------

def test_every_response_has_a_date(srv):
    for req in (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",          # the app's 200
                b"GET /error HTTP/1.1\r\nHost: t\r\n\r\n",     # the app failed: 500
                b"GET / HTTP/1.1\r\nHost: t\r\nBad\r\n\r\n"):  # refused: 400
        raw = srv.raw(req)
        assert undated(raw) != raw, raw  # undated() checks it is there, and its form


def test_head_error_has_no_body(srv):
    for req, code in ((b"HEAD /error HTTP/1.1\r\nHost: t\r\n\r\n", 500),
                      (b"HEAD / HTTP/1.1\r\nHost: t\r\nBad\r\n\r\n", 400)):
        raw = srv.raw(req)
        assert status(raw) == code and raw.endswith(b"\r\n\r\n"), raw
        assert b"<html>" not in raw and b"Content-Length: " in raw


# ---- request framing ---------------------------------------------------------

def test_body_cut_short_is_an_error_the_app_sees(srv):
    """The client closes after 5 of 10 bytes: wsgi.input raises OSError
    (receive() says http.disconnect), and no 200 goes out."""
    raw = srv.raw(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
    assert not raw.startswith(b"HTTP/1.1 200"), raw
    want = ("read failed: http.disconnect" if srv.worker == "asgi" else
            "read failed: OSError request body: the client closed before the end of the body")
    if srv.worker != "asgi":
        raw = srv.raw(b"POST /read?catch HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
    wait_for(lambda: want in srv.seen(), what=want)


@pytest.mark.parametrize("body,name", [
    (b"zz\r\n", b"InvalidChunkSize"),
    (b"5\r\nhelloXX", b"ChunkMissingTerminator"),
    (b"5;a\x01b\r\nhello\r\n0\r\n\r\n", b"InvalidChunkExtension"),
    (b"0000000001\r\nx\r\n" * 8000 + b"0\r\n\r\n", b"ChunkOverhead")],
    ids=["size", "terminator", "extension", "overhead"])
def test_chunk_framing_errors_are_400(srv, body, name):
    raw = srv.raw(b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n") and name in raw, raw[:300]
    wait_for(lambda: '"POST /read HTTP/1.1" 400 ' in srv.access(),
             what="the access line with its 400")


def test_many_one_byte_chunks_are_a_body(srv):
    n = 30000
    body = b"1\r\nx\r\n" * n + b"0\r\n\r\n"
    raw = srv.raw(b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:300]
    assert json.loads(raw.partition(b"\r\n\r\n")[2]) == {"len": n, "sum": n * ord("x")}


@pytest.mark.parametrize("req,code", [
    (b"GET / HTTP/1.1\r\n\r\n", 400),                                    # no Host
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),                       # invalid Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),              # two
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked,\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: x-custom\r\n\r\n", 501)],
    ids=["no-host", "bad-host", "two-hosts", "te-empty-element", "te-quoted", "te-unknown"])
def test_refused_heads(srv, req, code):
    raw = srv.raw(req)
    assert status(raw) == code, raw
    assert b"Connection: close\r\n" in raw
    assert srv.seen() == ""  # nothing reached the app


def test_tls_hello_on_a_plain_port_is_400_and_closed(srv):
    """A ClientHello has no CRLF to wait for: refused at its first byte, the
    socket closed, without the client closing its side."""
    s = srv.connect()
    s.settimeout(20)
    s.sendall(bytes.fromhex("16030100a5010000a10303") + bytes(32))
    raw = recv_all(s)
    s.close()
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"InvalidRequestMethod" in raw
    wait_for(lambda: re.search(r"Invalid request from ip=127\.0\.0\.1: Invalid HTTP method: "
                               r"'\\x16'", srv.text()), what="the warning")
