"""HTTP/2 on the gevent and eventlet classes (docs/compat.md, HTTP/2): the
sessions of src/http2/ driven by the hub, each stream's request in a
greenlet of its own (src/worker/green_h2.c). Real clients (curl, h2load,
python3-h2) over TLS (ALPN), h2c by prior knowledge and by Upgrade; the
streams of one connection served at once, flow control both ways, a
client's reset, TERM. The defences themselves are the sessions' and are
tested on gthread and asgi (test_http2.py).
"""

import hashlib
import json
import socket
import subprocess

import pytest

from conftest import TIMEOUT, wait_for
from test_http2 import CURL, H2LOAD, Client, curl, works
from test_tls import certs, tls_args  # noqa: F401 (a fixture)

import h2.config  # noqa: E402 (test_http2 skipped without it)
import h2.connection  # noqa: E402
import h2.settings  # noqa: E402

KINDS = ["gevent", "eventlet"]


def h2c(kind, *extra):
    return ("-k", kind, "--http-protocols", "h2,h1", "--http2-cleartext", "both") + extra


@pytest.fixture(params=KINDS)
def kind(request):
    pytest.importorskip(request.param)
    return request.param


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_over_tls(server, certs, kind, tmp_path):  # noqa: F811
    """ALPN h2: the environ, and a body past the stream's window (flow
    control: the app's reads give it back)."""
    srv = server(*tls_args(certs, "-k", kind, "--http-protocols", "h2,h1"))
    ca = ("--http2", "--cacert", str(certs / "ca.pem"), "-w", "\n%{http_version}")
    body, version = curl(*ca, "https://localhost:%d/p?x=1" % srv.port).rsplit(b"\n", 1)
    env = json.loads(body)["environ"]
    assert version == b"2" and env["SERVER_PROTOCOL"] == "HTTP/2.0"
    assert env["wsgi.url_scheme"] == "https" and env["QUERY_STRING"] == "x=1"
    data = bytes(range(256)) * 1200  # 307200 bytes: past the 65535 window
    (tmp_path / "body").write_bytes(data)
    body, version = curl(*ca, "--data-binary", "@%s" % (tmp_path / "body"),
                         "https://localhost:%d/post" % srv.port).rsplit(b"\n", 1)
    got = json.loads(body)
    assert version == b"2"
    assert got["body_len"] == len(data)
    assert got["body_sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_h2c(server, kind):
    """h2c by prior knowledge and by Upgrade, and HTTP/1.1 on the same
    port."""
    srv = server(*h2c(kind))
    url = "http://127.0.0.1:%d/" % srv.port
    for how in ("--http2-prior-knowledge", "--http2"):  # --http2: Upgrade: h2c
        body, version = curl(how, "-w", "\n%{http_version}", url + "x").rsplit(b"\n", 1)
        assert version == b"2", how
        assert json.loads(body)["environ"]["SERVER_PROTOCOL"] == "HTTP/2.0"
    env = json.loads(curl(url + "h1"))["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_not_quite_the_preface(server):
    """A trusted peer's first bytes, read until they are or are not the
    h2c preface: a part of it then the end, or bytes that part from it,
    are HTTP/1 (the parser's 400 for them); nothing at all is a silent
    close; an untrusted peer's preface is HTTP/1 too."""
    srv = server(*h2c("gevent"))
    assert srv.raw(b"PRI * HTTP/2.0\r\n").startswith(b"HTTP/1.1 400 ")
    assert srv.raw(b"PRI * HTTP/2.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert srv.raw(b"") == b""
    works(srv)
    other = server(*h2c("gevent", "--forwarded-allow-ips", "10.0.0.1"))
    assert other.raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_streams_run_concurrently(server, kind):
    """/wait returns only once /release ran (a green Event): the two
    streams of one connection run at once, each in its greenlet."""
    srv = server(*h2c(kind), app="h2app:app")
    c = Client(srv.port)
    try:
        wait = c.request("/wait")
        release = c.request("/release")
        assert c.response(release)[0] == 200
        assert c.response(wait)[2] == b"released"
    finally:
        c.close()


def test_stalled_stream_parks_on_the_hub(server, kind):
    """A response the client's stream window holds back: its app's write
    waits for the stream, on the hub, while another stream of the same
    connection is served (were the stream's waits poll() on the session's
    socket, always writable, the hub would spin and /small never come);
    then the whole response, once the client reads it."""
    srv = server(*h2c(kind), app="big:app")
    c = Client(srv.port)
    try:
        c.conn.increment_flow_control_window(2 ** 30)  # the connection's: wide open
        c.flush()
        big = c.request("/chunks?2000000")
        small = c.request("/small")
        assert c.response(small)[:3:2] == (200, b"ok")
        status, _, body = c.response(big)
        assert status == 200 and len(body) == 2000000
        assert body[:251 * 4] == bytes(range(251)) * 4
    finally:
        c.close()


def test_client_reset_ends_the_stream(server, kind):
    """RST_STREAM mid-response: the stream's greenlet (parked on its
    full buffer) is woken and ends, so its place among the concurrent
    streams is free again; the connection goes on."""
    srv = server(*h2c(kind, "--http2-max-concurrent-streams", "1"), app="big:app")
    c = Client(srv.port)
    try:
        big = c.request("/chunks?20000000")
        while not any(getattr(e, "stream_id", None) == big for e in c.events):
            assert c.pump() is not None
        c.conn.reset_stream(big)
        c.flush()

        def served():
            r = c.response(c.request("/after"))
            return r[0] == 200 and r[2] == b"ok"
        wait_for(served, what="the reset stream's app to end")
    finally:
        c.close()


def test_zero_window_stall_is_cut_at_the_send_timeout(server):
    """A stream's write the client takes none of (its window 0) parks at
    most --send-timeout, as on HTTP/1, then the stream is reset; another
    client is served meanwhile."""
    srv = server(*h2c("gevent", "--timeout", "120", "--send-timeout", "1"), app="big:app")
    c = Client(srv.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    try:
        sid = c.request("/chunks?1000000")
        works(srv)
        assert c.response(sid)[0] == "reset"  # the client's socket waits TIMEOUT
    finally:
        c.close()


def test_sessions_count_among_worker_connections(server):
    """A session holds one of --worker-connections (no greenlet of the
    pool does): with one, a second client is taken in only once the idle
    session was closed (for it, at the next tick; or at --keep-alive)."""
    srv = server(*h2c("gevent", "--worker-connections", "1", "--keep-alive", "1"))
    c = Client(srv.port)
    try:
        assert c.response(c.request("/first"))[0] == 200
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(12) == b"HTTP/1.1 200"
        s.close()
        # the session was closed before the second was accepted
        c.sock.setblocking(False)
        data = b""
        while True:
            try:
                d = c.sock.recv(65536)
            except BlockingIOError:
                raise AssertionError("the session is still open") from None
            if not d:
                break
            data += d
    finally:
        c.close()


@pytest.mark.skipif(not H2LOAD, reason="h2load is missing")
def test_h2load(server, kind):
    srv = server(*h2c(kind))
    r = subprocess.run([H2LOAD, "-n", "2000", "-c", "4", "-m", "10",
                        "http://127.0.0.1:%d/x" % srv.port],
                       capture_output=True, text=True, timeout=60)
    assert "2000 succeeded, 0 failed, 0 errored" in r.stdout, r.stdout
    assert "status codes: 2000 2xx" in r.stdout, r.stdout
