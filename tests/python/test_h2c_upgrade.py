"""The h2c upgrade (RFC 7540 3.2; docs/compat.md, HTTP/2) on the gthread
and asgi workers: an HTTP/1.1 request with Upgrade: h2c and HTTP2-Settings, when
http2_cleartext is upgrade or both, is answered 101 and then as stream 1
of an HTTP/2 connection. curl --http2 and nghttp -u over http://, and
Debian's python3-h2 for the edge cases.
"""

import base64
import json
import socket
import struct
import subprocess

import pytest

from conftest import TIMEOUT, recv_all
from test_http2 import CURL, GTHREAD, NGHTTP, PREFACE, Client, curl
from test_tls import certs, client_ctx, tls_args  # noqa: F401 (a fixture)

import h2.config  # noqa: E402 (test_http2 skipped without it)
import h2.connection  # noqa: E402

UPGRADE = GTHREAD + ("--http-protocols", "h2,h1", "--http2-cleartext", "upgrade")
SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\n"


def head(port, path="/up", method="GET", settings=None, extra=b"", body=b"",
         connection=b"Upgrade, HTTP2-Settings", version=b"HTTP/1.1"):
    """An upgrading request's bytes; settings: HTTP2-Settings' value (the
    h2 client's own when None)."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    value = conn.initiate_upgrade_connection() if settings is None else settings
    req = (b"%s %s %s\r\nHost: 127.0.0.1:%d\r\nConnection: %s\r\nUpgrade: h2c\r\n"
           b"HTTP2-Settings: %s\r\n%s" % (method.encode(), path.encode(), version, port,
                                          connection, value, extra))
    if body:
        req += b"Content-Length: %d\r\n" % len(body)
    return conn, req + b"\r\n" + body


def switched(sock):
    """Reads the answer's head, byte by byte (what follows is HTTP/2's):
    it must be the 101."""
    got = b""
    while b"\r\n\r\n" not in got:
        data = sock.recv(1)
        assert data, "closed before the 101: %r" % got
        got += data
    assert got.startswith(SWITCHING), got
    assert b"\r\nUpgrade: h2c\r\n" in got


class Upgraded(Client):
    """python3-h2 on a connection that asked for the upgrade and got 101:
    stream 1 is the request that asked. eager: the preface is sent with
    the request, without waiting for the 101."""

    def __init__(self, port, path="/up", method="GET", extra=b"", eager=False,
                 connection=b"Upgrade, HTTP2-Settings"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn, req = head(port, path, method=method, extra=extra, connection=connection)
        self.events = []
        if eager:
            req += self.conn.data_to_send()
        self.sock.sendall(req)
        switched(self.sock)
        self.flush()  # the preface and our SETTINGS, unless sent


def http1(srv, req):
    """The server's answer to req, which must be HTTP/1.1 (no upgrade)."""
    out = srv.raw(req)
    assert out.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")), out[:200]
    return json.loads(out.split(b"\r\n\r\n", 1)[1])


# ---- real clients ----------------------------------------------------------------

@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_upgrades(server):
    srv = server(*UPGRADE)
    out = curl("--http2", "-v", "-H", "Cookie: a=1", "-H", "Cookie: b=2",
               "-w", "\n%{http_version}", "http://127.0.0.1:%d/u?x=1" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    env = json.loads(body)["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/2.0" and env["wsgi.url_scheme"] == "http"
    assert env["PATH_INFO"] == "/u" and env["QUERY_STRING"] == "x=1"
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % srv.port
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    # the upgrade's own fields are HTTP/1's, not the stream's
    for name in ("HTTP_UPGRADE", "HTTP_CONNECTION", "HTTP_HTTP2_SETTINGS"):
        assert name not in env


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_head_upgrades(server):
    srv = server(*UPGRADE)
    r = subprocess.run([CURL, "-sS", "--max-time", str(TIMEOUT), "--http2", "-I",
                        "http://127.0.0.1:%d/h" % srv.port],
                       capture_output=True, timeout=TIMEOUT + 5)
    assert r.returncode == 0, r.stderr
    assert b"101 Switching Protocols" in r.stdout and b"HTTP/2 200" in r.stdout


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_post_is_http1(server):
    """A request with a body is not upgraded: served as HTTP/1.1."""
    srv = server(*UPGRADE)
    out = curl("--http2", "--data-binary", "hello", "-w", "\n%{http_version}",
               "http://127.0.0.1:%d/post" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"1.1"
    got = json.loads(body)
    assert got["body"] == "hello" and got["environ"]["SERVER_PROTOCOL"] == "HTTP/1.1"


@pytest.mark.skipif(not NGHTTP, reason="nghttp is missing")
def test_nghttp_upgrades(server):
    srv = server(*UPGRADE)
    r = subprocess.run([NGHTTP, "-u", "-v", "-t", str(TIMEOUT),
                        "http://127.0.0.1:%d/ng" % srv.port],
                       capture_output=True, timeout=TIMEOUT + 5)
    assert r.returncode == 0, r.stderr
    assert b"HTTP Upgrade success" in r.stdout
    assert b"(stream_id=1) :status: 200" in r.stdout
    assert b'"SERVER_PROTOCOL": "HTTP/2.0"' in r.stdout


# ---- python3-h2 ------------------------------------------------------------------

def test_stream_1_then_stream_3(server):
    """The upgrading request is stream 1; the connection goes on as HTTP/2."""
    srv = server(*UPGRADE)
    c = Upgraded(srv.port, "/first", extra=b"X-Mine: yes\r\n")
    try:
        status, headers, body = c.response(1)
        assert status == 200 and headers["content-type"] == "application/json"
        env = json.loads(body)["environ"]
        assert env["PATH_INFO"] == "/first" and env["HTTP_X_MINE"] == "yes"
        assert env["SERVER_PROTOCOL"] == "HTTP/2.0"
        sid = c.request("/second", method="POST", body=b"abc")
        assert sid == 3
        status, _, body = c.response(3)
        got = json.loads(body)
        assert status == 200 and got["body"] == "abc"
        assert got["environ"]["PATH_INFO"] == "/second"
    finally:
        c.close()


def settings_payload(*pairs):
    return b"".join(struct.pack(">HI", k, v) for k, v in pairs)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@pytest.mark.parametrize("value", [
    b"!!!!",                                     # not base64url
    b"AAMAAABk+AQ/",                             # base64, not base64url
    b"A",                                        # not a whole byte
    b64url(b"\x00\x03\x00\x00\x00"),             # not whole settings
    b64url(settings_payload((2, 2))),            # ENABLE_PUSH 2
    b64url(settings_payload((4, 1 << 31))),      # the window past 2^31-1
    b64url(settings_payload((5, 100))),          # MAX_FRAME_SIZE below 16384
    b64url(settings_payload(*[(3, 100)] * 33)),  # more settings than a frame may have
], ids=["bang", "base64", "short", "partial", "push", "window", "frame", "many"])
def test_bad_http2_settings_is_400(server, value):
    refused_400(server(*UPGRADE), value)


def refused_400(srv, value):
    """An upgrade with the bad HTTP2-Settings value is answered 400, and
    the server goes on."""
    _, req = head(srv.port, settings=value)
    out = srv.raw(req)
    assert out.startswith(b"HTTP/1.1 400 "), out[:200]
    assert SWITCHING not in out
    c = Upgraded(srv.port)  # the server goes on
    try:
        assert c.response(1)[0] == 200
    finally:
        c.close()


def test_fields_connection_names_stay_out_of_stream_1(server):
    """A field the upgrading request's Connection names is that
    connection's (RFC 9110 7.6.1): not the stream's request."""
    srv = server(*UPGRADE)
    c = Upgraded(srv.port, extra=b"X-Hop: 1\r\nX-Kept: 2\r\n",
                 connection=b"Upgrade, X-Hop, HTTP2-Settings")
    try:
        status, _, body = c.response(1)
        env = json.loads(body)["environ"]
        assert status == 200 and env["HTTP_X_KEPT"] == "2" and "HTTP_X_HOP" not in env
    finally:
        c.close()


def test_good_http2_settings_forms(server):
    """Empty (no settings), unknown settings (ignored), '=' padding."""
    srv = server(*UPGRADE)
    for value in (b"", b64url(settings_payload((0x99, 7))),
                  base64.urlsafe_b64encode(settings_payload((3, 5), (4, 100)))):
        _, req = head(srv.port, settings=value)
        out = srv.raw(req + PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        assert out.startswith(SWITCHING), (value, out[:200])


def test_empty_post_upgrades(server):
    """Content-Length: 0 is no body: upgraded."""
    srv = server(*UPGRADE)
    c = Upgraded(srv.port, "/empty", method="POST", extra=b"Content-Length: 0\r\n")
    try:
        status, _, body = c.response(1)
        got = json.loads(body)
        assert status == 200 and got["body"] == ""
        assert got["environ"]["REQUEST_METHOD"] == "POST"
        assert got["environ"]["SERVER_PROTOCOL"] == "HTTP/2.0"
    finally:
        c.close()


def test_upgrade_with_a_body_is_http1(server):
    srv = server(*UPGRADE)
    _, req = head(srv.port, "/post", method="POST", body=b"hello")
    got = http1(srv, req)
    assert got["body"] == "hello"
    assert got["environ"]["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert got["environ"]["HTTP_UPGRADE"] == "h2c"


@pytest.mark.parametrize("args", [
    GTHREAD + ("--http-protocols", "h2,h1"),
    GTHREAD + ("--http-protocols", "h2,h1", "--http2-cleartext", "prior-knowledge"),
    GTHREAD + ("--http2-cleartext", "upgrade"),  # no h2 in http_protocols
    UPGRADE + ("--forwarded-allow-ips", "10.0.0.1"),  # an untrusted peer
], ids=["off", "prior-knowledge", "h1-only", "untrusted"])
def test_upgrade_ignored_without_the_setting(server, args):
    srv = server(*args)
    _, req = head(srv.port, "/plain")
    env = http1(srv, req)["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1" and env["HTTP_UPGRADE"] == "h2c"


@pytest.mark.parametrize("kw", [
    {"connection": b"Upgrade"},          # HTTP2-Settings not a connection option
    {"connection": b"HTTP2-Settings"},   # Upgrade not one either
    {"version": b"HTTP/1.0"},            # no Upgrade in HTTP/1.0
    {"extra": b"HTTP2-Settings: AAMAAABk\r\n"},  # two of them
], ids=["no-settings-option", "no-upgrade-option", "http10", "two-settings"])
def test_not_quite_asked_is_http1(server, kw):
    srv = server(*UPGRADE)
    _, req = head(srv.port, "/plain", **kw)
    assert http1(srv, req)["environ"]["SERVER_PROTOCOL"].startswith("HTTP/1.")


def test_upgrade_over_tls_is_http1(server, certs):  # noqa: F811
    """h2c is cleartext only: over TLS the Upgrade is an HTTP/1.1 field."""
    srv = server(*tls_args(certs, *UPGRADE))
    _, req = head(srv.port, "/tls", connection=b"Upgrade, HTTP2-Settings, close")
    ctx = client_ctx(certs)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(req)
            out = recv_all(s)
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]
    assert json.loads(out.split(b"\r\n\r\n", 1)[1])["environ"]["wsgi.url_scheme"] == "https"


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_both_takes_either(server):
    srv = server(*GTHREAD, "--http-protocols", "h2,h1", "--http2-cleartext", "both")
    for flag in ("--http2", "--http2-prior-knowledge"):
        out = curl(flag, "-o", "/dev/null", "-w", "%{http_version}",
                   "http://127.0.0.1:%d/" % srv.port)
        assert out == b"2", flag
    # HTTP/1.1 without an upgrade still works
    assert curl("--http1.1", "-o", "/dev/null", "-w", "%{http_version}",
                "http://127.0.0.1:%d/" % srv.port) == b"1.1"


def test_preface_sent_before_the_101(server):
    """A client that sends the preface without waiting for the 101."""
    srv = server(*UPGRADE)
    c = Upgraded(srv.port, "/eager", eager=True)
    try:
        assert c.response(1)[0] == 200
    finally:
        c.close()


# ---- the asgi class ----------------------------------------------------------------

ASGI_UPGRADE = ("-k", "asgi", "--http-protocols", "h2,h1", "--http2-cleartext", "upgrade")


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_asgi_curl_upgrades(server):
    """curl's upgrade on the asgi class: its request is stream 1, an ASGI
    http scope of version "2" without the upgrade's own fields."""
    srv = server(*ASGI_UPGRADE, app="h2asgi:app")
    out = curl("--http2", "-w", "\n%{http_version}", "http://127.0.0.1:%d/u?x=1" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    scope = json.loads(body)
    assert version == b"2" and scope["http_version"] == "2"
    assert (scope["path"], scope["query_string"]) == ("/u", "x=1")
    names = [n for n, _ in scope["headers"]]
    assert "host" in names
    for name in ("upgrade", "connection", "http2-settings"):
        assert name not in names


def test_asgi_stream_1_then_stream_3(server):
    """The preface sent with the request (no wait for the 101), stream 1's
    answer, then a POST with a body on stream 3."""
    srv = server(*ASGI_UPGRADE, app="h2asgi:app")
    c = Upgraded(srv.port, "/first", eager=True)
    try:
        status, _, body = c.response(1)
        assert status == 200 and json.loads(body)["path"] == "/first"
        status, _, body = c.response(c.request("/digest", method="POST", body=b"abc"))
        assert status == 200 and json.loads(body)["length"] == 3
    finally:
        c.close()


def test_asgi_bad_http2_settings_is_400(server):
    refused_400(server(*ASGI_UPGRADE, app="h2asgi:app"), b64url(settings_payload((2, 2))))


def test_asgi_not_upgraded_is_http1(server):
    """A body, or a server without upgrade in http2_cleartext: HTTP/1.1."""
    srv = server(*ASGI_UPGRADE, app="h2asgi:app")
    _, req = head(srv.port, "/post", method="POST", body=b"hello")
    assert http1(srv, req)["http_version"] == "1.1"
    srv = server("-k", "asgi", "--http-protocols", "h2,h1", "--http2-cleartext",
                 "prior-knowledge", app="h2asgi:app")
    _, req = head(srv.port, "/plain")
    assert http1(srv, req)["http_version"] == "1.1"
