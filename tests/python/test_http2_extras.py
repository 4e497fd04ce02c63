"""What Gunicorn 26.1 gives an HTTP/2 stream beyond HTTP/1 (docs/compat.md,
HTTP/2): response trailers as a HEADERS frame with END_STREAM after the
body -- WSGI's gunicorn.http2.send_trailers on gthread, ASGI's
http.response.trailers on asgi -- and the priority the client sent
(gunicorn.http2.priority_weight / priority_depends_on, the scope's
http.response.priority), read with Debian's python3-h2."""

import http.client
import json

import pytest

from conftest import TIMEOUT

h2 = pytest.importorskip("h2")
from hyperframe.frame import HeadersFrame  # noqa: E402
from test_http2 import Client, goaway  # noqa: E402

GTHREAD = ("-k", "gthread", "--threads", "4", "--http-protocols", "h2,h1",
           "--http2-cleartext", "prior-knowledge")
ASGI = ("-k", "asgi", "--http-protocols", "h2,h1", "--http2-cleartext", "prior-knowledge")
GEVENT = ("-k", "gevent", "--http-protocols", "h2,h1", "--http2-cleartext", "prior-knowledge")
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2


def stream(c, sid):
    """(status, body, trailers) of stream sid -- trailers the trailing
    HEADERS' fields (h2 takes them only with END_STREAM, after any DATA),
    None when none came -- or ("reset", code)."""
    got = c.response(sid)
    return got if got[0] == "reset" else (got[0], got[2], c.trailers)


def get(c, path, **priority):
    """A GET of path on a new stream, with priority's HEADERS fields."""
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                              (":authority", "localhost")], end_stream=True, **priority)
    c.flush()
    return sid


def self_dependent_then(srv, path, **priority):
    """A HEADERS whose priority names its own stream, hand-made (h2 will
    not send it): nghttp2 takes it as a connection error (RFC 9113 5.3.1
    allows a stream error), so GOAWAY PROTOCOL_ERROR. Then, on a new
    connection, path's JSON with priority."""
    c = Client(srv.port)
    try:
        sid = c.conn.get_next_available_stream_id()
        block = c.conn.encoder.encode([(":method", "GET"), (":path", path),
                                       (":scheme", "http"), (":authority", "localhost")])
        c.sock.sendall(HeadersFrame(sid, block, flags=["END_HEADERS", "END_STREAM", "PRIORITY"],
                                    depends_on=sid, stream_weight=9).serialize())
        assert goaway(c.sock) == PROTOCOL_ERROR
    finally:
        c.close()
    c = Client(srv.port)
    try:
        status, body, _ = stream(c, get(c, path, **priority))
        assert status == 200
        return json.loads(body)
    finally:
        c.close()


# ---- WSGI on gthread ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gthread", "gevent"])
def test_wsgi_send_trailers(server, kind):
    """Trailers after a body with a Content-Length (two calls: both sets,
    names lower-cased, a value made str as Gunicorn's str(value)), after a
    streamed body, none without a call; the callable of a request that is
    over raises and sends nothing. A gevent stream's greenlet too."""
    if kind == "gevent":
        pytest.importorskip("gevent")
    srv = server(*(GTHREAD if kind == "gthread" else GEVENT), app="h2app:app")
    c = Client(srv.port)
    try:
        assert stream(c, c.request("/trailers")) == (
            200, b"body", [("grpc-status", "0"), ("x-count", "2"), ("x-more", "yes")])
        assert stream(c, c.request("/trailers-stream")) == (
            200, b"one,two", [("x-checksum", "abc")])
        status, _, trailers = stream(c, c.request("/echo"))
        assert status == 200 and trailers is None
        status, body, trailers = stream(c, c.request("/late"))
        assert json.loads(body) == {"raised": "RuntimeError"}
        assert trailers == [("x-after", "ok")]
    finally:
        c.close()


def test_wsgi_bad_trailers_raise_and_send_nothing(server):
    """Each bad list makes the call raise, queueing none of it (its good
    pair included): the response ends with only the later good call's."""
    srv = server(*GTHREAD, app="h2app:app")
    c = Client(srv.port)
    raised = {"pseudo": "ValueError", "content-length": "ValueError", "crlf": "ValueError",
              "space": "ValueError", "empty": "ValueError", "not-a-tuple": "TypeError",
              "not-str": "TypeError", "not-a-list": "TypeError"}
    try:
        for name, exc in raised.items():
            status, body, trailers = stream(c, c.request("/bad-trailer?" + name))
            assert (status, json.loads(body)["raised"]) == (200, exc), name
            assert trailers == [("x-after", "ok")], name
    finally:
        c.close()


def test_wsgi_priority_keys(server):
    """The priority of the stream's HEADERS, Gunicorn's defaults (16, 0)
    without one; a HEADERS depending on itself ends its connection
    (GOAWAY PROTOCOL_ERROR), the next connection is served; an HTTP/1.1
    request has no such keys (nor Gunicorn's HTTP_VERSION "2")."""
    srv = server(*GTHREAD, app="h2app:app")
    c = Client(srv.port)
    keys = ("gunicorn.http2.priority_weight", "gunicorn.http2.priority_depends_on",
            "send_trailers", "HTTP_VERSION")
    try:
        status, body, _ = stream(c, c.request("/priority", headers=[("http-version", "x")]))
        assert [json.loads(body)[k] for k in keys] == [16, 0, True, "2"]
        sid = get(c, "/priority", priority_weight=201, priority_depends_on=1)
        status, body, _ = stream(c, sid)
        assert [json.loads(body)[k] for k in keys] == [201, 1, True, "2"]
    finally:
        c.close()
    env = self_dependent_then(srv, "/priority", priority_weight=1)
    assert [env[k] for k in keys] == [1, 0, True, "2"]
    h1 = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        h1.request("GET", "/priority")
        env = json.loads(h1.getresponse().read())
        assert [env[k] for k in keys] == ["absent", "absent", False, "absent"]
    finally:
        h1.close()


# ---- ASGI on asgi --------------------------------------------------------------------

def test_asgi_trailers_over_h2(server):
    """http.response.trailers (two messages) as the HEADERS after the body,
    names lower-cased, after a Content-Length body and a streamed one; the
    scope offers the extension; a refused trailer (content-length) makes
    send() raise and the stream is reset, no trailers sent."""
    srv = server(*ASGI, app="h2asgi:app")
    c = Client(srv.port)
    want = [("grpc-status", "0"), ("x-checksum", "abc")]
    try:
        assert stream(c, c.request("/trailers")) == (200, b"body", want)
        assert stream(c, c.request("/trailers?stream")) == (200, b"body", want)
        assert stream(c, c.request("/trailers?bad")) == ("reset", INTERNAL_ERROR)
        status, body, _ = stream(c, c.request("/events"))
        assert json.loads(body) == ["ValueError"]
        status, body, trailers = stream(c, c.request("/extensions"))
        assert trailers is None and "http.response.trailers" in json.loads(body)
    finally:
        c.close()


def test_asgi_priority_extension(server):
    """scope["extensions"]["http.response.priority"] on an h2 stream: the
    HEADERS' priority, or 16 and 0; a self-dependent HEADERS ends its
    connection; HTTP/1.1's scope has none."""
    srv = server(*ASGI, app="h2asgi:app")
    c = Client(srv.port)
    try:
        _, body, _ = stream(c, get(c, "/extensions"))
        assert json.loads(body)["http.response.priority"] == {"weight": 16, "depends_on": 0}
        _, body, _ = stream(c, get(c, "/extensions", priority_weight=32,
                                   priority_depends_on=1))
        assert json.loads(body)["http.response.priority"] == {"weight": 32, "depends_on": 1}
    finally:
        c.close()
    ext = self_dependent_then(srv, "/extensions", priority_weight=256)
    assert ext["http.response.priority"] == {"weight": 256, "depends_on": 0}
    h1 = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        h1.request("GET", "/extensions")
        assert "http.response.priority" not in json.loads(h1.getresponse().read())
    finally:
        h1.close()
