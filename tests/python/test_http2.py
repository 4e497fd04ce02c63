"""HTTP/2 (http_protocols with h2; docs/compat.md, HTTP/2) on the gthread
worker: real clients -- curl, nghttp, h2load -- over TLS (ALPN) and h2c
(prior knowledge), and hand-made frames with Debian's python3-h2 for the
protocol's edge cases and the defences (rapid reset, CONTINUATION,
SETTINGS and PING floods, HPACK bombs, stalled windows, a client that
never reads), each followed by a normal request that must still work.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import TIMEOUT, recv_all, wait_for
from test_tls import certs, client_ctx, tls_args  # noqa: F401 (a fixture)

h2 = pytest.importorskip("h2")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
from hyperframe.frame import (ContinuationFrame, HeadersFrame, PingFrame,  # noqa: E402
                              SettingsFrame)

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")
H2LOAD = shutil.which("h2load")
GTHREAD = ("-k", "gthread", "--threads", "4")
H2C = GTHREAD + ("--http-protocols", "h2,h1", "--http2-cleartext", "prior-knowledge")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ENHANCE_YOUR_CALM = 0xb
INTERNAL_ERROR = 0x2


def curl(*args, data=None):
    r = subprocess.run([CURL, "-sS", "--max-time", str(TIMEOUT)] + list(args),
                       input=data, capture_output=True, timeout=TIMEOUT + 5)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tls_srv(server, certs, *extra, app="echo:app"):  # noqa: F811
    return server(*tls_args(certs, *GTHREAD, "--http-protocols", "h2,h1", *extra), app=app)


# ---- a hand-driven client ----------------------------------------------------------

class Client:
    """python3-h2 over a socket: h2c by prior knowledge, or TLS with ALPN."""

    def __init__(self, port, ctx=None, settings=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if ctx:
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(s, server_hostname="localhost")
            assert s.selected_alpn_protocol() == "h2"
        self.sock = s
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events = []

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path, method="GET", body=None, headers=(), end=True):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", method), (":path", path),
                                     (":scheme", "http"), (":authority", "localhost")]
                               + list(headers), end_stream=body is None and end)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        return sid

    def pump(self):
        """One read: the events it made. [] when the server closed. What
        we owe the server (the WINDOW_UPDATEs of the data acknowledged)
        goes first: else both sides could wait for each other."""
        self.flush()
        data = self.sock.recv(65536)
        if not data:
            return None
        ev = self.conn.receive_data(data)
        self.flush()
        self.events += ev
        return ev

    def response(self, sid):
        """(status, headers, body) of stream sid, or ("reset", code); the
        fields of its trailing HEADERS in self.trailers (None: none came)."""
        headers, body = {}, b""
        self.trailers = None
        while True:
            for e in list(self.events):
                if getattr(e, "stream_id", None) != sid:
                    continue
                self.events.remove(e)
                if isinstance(e, h2.events.ResponseReceived):
                    headers = dict(e.headers)
                elif isinstance(e, h2.events.DataReceived):
                    body += e.data
                    self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
                elif isinstance(e, h2.events.TrailersReceived):
                    # h2 takes trailers only with END_STREAM, after DATA
                    self.trailers = list(e.headers)
                elif isinstance(e, h2.events.StreamReset):
                    return "reset", e.error_code
                elif isinstance(e, h2.events.StreamEnded):
                    return int(headers[":status"]), headers, body
            assert self.pump() is not None, "the server closed the connection"

    def close(self):
        self.sock.close()


def works(srv, ctx=None):
    """The server still answers a normal HTTP/2 request."""
    c = Client(srv.port, ctx)
    try:
        status, _, body = c.response(c.request("/after"))
        assert status == 200 and body
    finally:
        c.close()


# ---- real clients ----------------------------------------------------------------------

@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_h2_over_tls_environ(server, certs):  # noqa: F811
    srv = tls_srv(server, certs)
    out = curl("--http2", "--cacert", str(certs / "ca.pem"), "-H", "Cookie: a=1",
               "-H", "Cookie: b=2", "-w", "\n%{http_version}",
               "https://localhost:%d/p%%C3%%A9?x=1" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    env = json.loads(body)["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/2.0"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "localhost:%d" % srv.port
    assert env["PATH_INFO"] == "/p\xc3\xa9" and env["QUERY_STRING"] == "x=1"
    assert env["HTTP_COOKIE"] == "a=1; b=2"  # RFC 9113 8.2.3
    assert "HTTP_TRANSFER_ENCODING" not in env


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_http11_over_tls_with_h2_on(server, certs):  # noqa: F811
    srv = tls_srv(server, certs)
    out = curl("--http1.1", "--cacert", str(certs / "ca.pem"), "-w", "\n%{http_version}",
               "https://localhost:%d/one" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"1.1"
    assert json.loads(body)["environ"]["SERVER_PROTOCOL"] == "HTTP/1.1"


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_h1_only_offers_no_h2(server, certs):  # noqa: F811
    srv = server(*tls_args(certs, *GTHREAD))
    out = curl("--http2", "--cacert", str(certs / "ca.pem"), "-o", "/dev/null",
               "-w", "%{http_version}", "https://localhost:%d/" % srv.port)
    assert out == b"1.1"


@pytest.mark.skipif(not CURL, reason="curl is missing")
@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 300001])
def test_request_bodies(server, certs, size):  # noqa: F811
    """With a length, and without one (streamed, framed as chunked for
    the app): the window is given back as the app reads."""
    srv = tls_srv(server, certs)
    data = os.urandom(size)
    for extra in (("--data-binary", "@-"), ("-T", "-")):  # -T: no length
        out = curl("--http2", "--cacert", str(certs / "ca.pem"), "-X", "POST",
                   *extra, "https://localhost:%d/post" % srv.port, data=data)
        got = json.loads(out)
        assert got["body_len"] == size
        assert got["body_sha256"] == hashlib.sha256(data).hexdigest()
        assert got["environ"].get("CONTENT_LENGTH") == (str(size) if extra[0] != "-T"
                                                       else None)


@pytest.mark.skipif(not CURL, reason="curl is missing")
@pytest.mark.parametrize("path", ["/list", "/chunks", "/file"])
def test_large_responses(server, certs, path):  # noqa: F811
    srv = tls_srv(server, certs, app="big:app")
    n = 3 * 1024 * 1024 + 7
    out = curl("--http2", "--cacert", str(certs / "ca.pem"),
               "https://localhost:%d%s?%d" % (srv.port, path, n))
    assert len(out) == n
    assert all(out[i] == i % 251 for i in range(0, n, 4099))


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_h2c_prior_knowledge(server):
    srv = server(*H2C)
    out = curl("--http2-prior-knowledge", "-w", "\n%{http_version}",
               "http://127.0.0.1:%d/pk" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    env = json.loads(body)["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/2.0" and env["wsgi.url_scheme"] == "http"
    # HTTP/1.1 on the same port still works
    assert json.loads(curl("http://127.0.0.1:%d/h1" % srv.port))["environ"][
        "SERVER_PROTOCOL"] == "HTTP/1.1"


PLUGIN_LIBS = ("_cunicorn_h2tls.cpython-", "libnghttp2.so", "libssl.so", "libcrypto.so")


def mapped(pid):
    """Which of PLUGIN_LIBS process pid has mapped."""
    with open("/proc/%d/maps" % pid) as f:
        text = f.read()
    return {lib for lib in PLUGIN_LIBS if "/" + lib in text}


def test_the_plugin_is_loaded_only_for_h2_or_tls(server):
    """TLS and HTTP/2 live in the plugin (_cunicorn_h2tls + EXT_SUFFIX) with the libraries they
    link (src/http2/plugin.h): a server without them maps none of those;
    with h2 on, the master loads them before it forks, so its workers
    share them (docs/operations.md, Memory)."""
    srv = server(*GTHREAD, app="modules:app")  # echo's hashlib maps libcrypto
    assert mapped(srv.proc.pid) == set() and mapped(srv.worker_pids()[0]) == set()
    srv = server(*H2C, app="modules:app")
    assert mapped(srv.proc.pid) == set(PLUGIN_LIBS)
    assert mapped(srv.worker_pids()[0]) == set(PLUGIN_LIBS)


def test_h2c_off_is_http1(server):
    """Without http2_cleartext the preface is an HTTP/1 request, refused."""
    srv = server(*GTHREAD, "--http-protocols", "h2,h1")
    assert srv.raw(PREFACE).startswith(b"HTTP/1.1 400 ")


def test_h2c_untrusted_peer_is_http1(server):
    """h2c only for peers in forwarded_allow_ips (Gunicorn's rule)."""
    srv = server(*H2C, "--forwarded-allow-ips", "10.0.0.1")
    assert srv.raw(PREFACE).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("kind", ["sync", "tornado"])
def test_refused_for_other_classes(server, kind):
    with pytest.raises(AssertionError) as e:
        server("-k", kind, "--http-protocols", "h2,h1")
    assert "http_protocols: HTTP/2 is not built for the %s worker class" % kind in str(e.value)


def test_streams_run_concurrently(server):
    """/wait returns only once /release ran: on the same connection, at
    the same time, on the pool."""
    srv = server(*H2C, app="h2app:app")
    c = Client(srv.port)
    try:
        wait = c.request("/wait")
        release = c.request("/release")
        assert c.response(release)[0] == 200
        assert c.response(wait)[2] == b"released"
    finally:
        c.close()


def test_response_with_many_fields(server):
    """Every field of a response head goes out, however many there are."""
    srv = server(*H2C, app="h2app:app")
    c = Client(srv.port)
    try:
        status, headers, body = c.response(c.request("/many"))
    finally:
        c.close()
    assert status == 200 and body == b"many"
    assert [headers.get("x-field-%d" % i) for i in range(300)] == [str(i) for i in range(300)]


@pytest.mark.skipif(not NGHTTP, reason="nghttp is missing")
def test_nghttp_many_streams(server, certs):  # noqa: F811
    srv = tls_srv(server, certs)
    urls = ["https://127.0.0.1:%d/n%d" % (srv.port, i) for i in range(20)]
    r = subprocess.run([NGHTTP, "-n", "-s", "-t", str(TIMEOUT)] + urls,
                       capture_output=True, text=True, timeout=TIMEOUT + 5)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" 200 ") == 20


@pytest.mark.skipif(not H2LOAD, reason="h2load is missing")
@pytest.mark.parametrize("tls", [True, False])
def test_h2load(server, certs, tls):  # noqa: F811
    srv = tls_srv(server, certs) if tls else server(*H2C)
    url = "%s://127.0.0.1:%d/x" % ("https" if tls else "http", srv.port)
    r = subprocess.run([H2LOAD, "-n", "2000", "-c", "8", "-m", "10", url],
                       capture_output=True, text=True, timeout=60)
    assert "2000 succeeded, 0 failed, 0 errored" in r.stdout, r.stdout


def test_request_trailers(server):
    srv = server(*H2C)
    c = Client(srv.port)
    try:
        sid = c.request("/post", "POST", body=b"hello", end=False)
        c.conn.send_data(sid, b" world")
        c.conn.send_headers(sid, [("x-checksum", "abc")], end_stream=True)
        c.flush()
        status, _, body = c.response(sid)
        assert status == 200 and json.loads(body)["body"] == "hello world"
    finally:
        c.close()


def test_bad_header_is_refused_like_http1(server):
    """The head goes through the HTTP/1 rules: a name with '_' is dropped
    (header_map), a value with a control byte refused by nghttp2."""
    srv = server(*H2C)
    c = Client(srv.port)
    try:
        status, _, body = c.response(c.request("/h", headers=[("x_under", "1"),
                                                             ("x-ok", "2")]))
        env = json.loads(body)["environ"]
        assert status == 200 and env["HTTP_X_OK"] == "2" and "HTTP_X_UNDER" not in env
    finally:
        c.close()


def test_limit_request_fields(server):
    """--limit-request-fields counts a stream's fields as HTTP/1's (Host
    made from :authority among them): at the limit served, past it
    refused as HTTP/1 refuses it."""
    srv = server(*H2C, "--limit-request-fields", "10")
    c = Client(srv.port)
    try:
        ok = [("x-f%d" % i, "v") for i in range(9)]  # and Host: 10
        status, _, body = c.response(c.request("/h", headers=ok))
        assert status == 200 and json.loads(body)["environ"]["HTTP_X_F8"] == "v"
        status, _, _ = c.response(c.request("/h", headers=ok + [("x-f9", "v")]))
        assert status == 431
        # with Host and the cookies (joined into one field) the array is full
        few = ok[:7] + [("cookie", "a=1"), ("cookie", "b=2")]
        status, _, body = c.response(c.request("/h", headers=few))
        env = json.loads(body)["environ"]
        assert status == 200 and env["HTTP_COOKIE"] == "a=1; b=2" and env["HTTP_X_F6"] == "v"
    finally:
        c.close()


def test_header_list_size(server):
    srv = server(*H2C, "--http2-max-header-list-size", "1000")
    c = Client(srv.port)
    try:
        assert c.response(c.request("/big", headers=[("x-big", "a" * 2000)]))[0] == 431
        assert c.response(c.request("/small"))[0] == 200  # the connection goes on
    finally:
        c.close()


# ---- the defences ------------------------------------------------------------------------

# The defences are the sessions' (src/http2/), whichever class serves the
# streams: each test runs on gthread and on asgi (test_http2_asgi.py).
H2C_CLASSES = {"gthread": (H2C, "echo:app"),
               "asgi": (("-k", "asgi", "--http-protocols", "h2,h1",
                         "--http2-cleartext", "prior-knowledge"), "h2asgi:app")}


@pytest.fixture(params=sorted(H2C_CLASSES))
def h2c_server(request, server):
    """server() for h2c by prior knowledge, on each class serving HTTP/2."""
    args, app = H2C_CLASSES[request.param]
    return lambda *extra: server(*args, *extra, app=app)

def raw_h2c(srv):
    """A socket that said the preface and an empty SETTINGS."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(PREFACE + SettingsFrame(0).serialize())
    return s


# the green classes' h2c, for the cap's test (their other HTTP/2 tests are
# in test_http2_green.py)
ROOM_CLASSES = dict(H2C_CLASSES, **{
    kind: (("-k", kind, "--http-protocols", "h2,h1", "--http2-cleartext",
            "prior-knowledge"), "echo:app") for kind in ("gevent", "eventlet")})


@pytest.mark.parametrize("cls", sorted(ROOM_CLASSES))
def test_an_idle_session_makes_room_at_the_connection_cap(server, cls):
    """At --worker-connections, a connection waiting in the backlog closes
    the session idle longest when no HTTP/1 connection is idle (gevent,
    eventlet: whether or not one is, their pool never closes one), as it
    would close an idle keep-alive connection: it does not wait out the
    sessions' keep-alive (30 s here)."""
    if cls in ("gevent", "eventlet"):
        pytest.importorskip(cls)
    args, app = ROOM_CLASSES[cls]
    srv = server(*args, "--worker-connections", "2", "--keep-alive", "30", app=app)
    sessions = []
    for _ in range(2):  # one after the other: the first is idle longest
        c = Client(srv.port)
        assert c.response(c.request("/"))[0] == 200
        sessions.append(c)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /third HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert recv_all(s).startswith(b"HTTP/1.1 200 OK\r\n")  # in 10 s, not 30
    s.close()
    sessions[0].sock.settimeout(TIMEOUT)
    assert sessions[0].pump() is None  # the one idle longest went
    assert sessions[1].response(sessions[1].request("/still"))[0] == 200
    for c in sessions:
        c.close()


def frames_until_close(s):
    """Reads until the server closes: its frames, (type, stream, payload)."""
    data = recv_all(s)
    frames, i = [], 0
    while i + 9 <= len(data):
        n = int.from_bytes(data[i:i + 3], "big")
        frames.append((data[i + 3], int.from_bytes(data[i + 5:i + 9], "big") & 0x7fffffff,
                       data[i + 9:i + 9 + n]))
        i += 9 + n
    return frames


def goaway(s):
    """The error code of the server's GOAWAY before it closed, or None."""
    codes = [int.from_bytes(p[4:8], "big") for t, _, p in frames_until_close(s) if t == 7]
    return codes[-1] if codes else None


def test_slow_first_head_is_cut_at_the_header_timeout(h2c_server):
    """The preface, then a HEADERS frame that never ends (slowloris over
    HTTP/2): the connection is closed once --header-timeout passed, as an
    HTTP/1 head, not after the 120 s --timeout."""
    srv = h2c_server("--timeout", "120", "--header-timeout", "1")
    s = raw_h2c(srv)
    s.sendall(b"\x00\x00\x64\x01\x04\x00\x00\x00\x01")  # HEADERS of 100 bytes...
    frames_until_close(s)  # ... never sent; the socket waits TIMEOUT
    s.close()
    works(srv)


def test_bad_preface(server, certs):  # noqa: F811
    srv = tls_srv(server, certs)
    ctx = client_ctx(certs)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT),
                        server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 100)
    assert s.recv(65536) is not None  # closed (maybe after our SETTINGS)
    s.close()
    works(srv, client_ctx(certs))


def test_rapid_reset(h2c_server):
    """HEADERS then RST_STREAM, again and again (CVE-2023-44487): nghttp2's
    rate limit (a burst of 200, then 33 a second) says GOAWAY, with
    INTERNAL_ERROR as nghttp2 words it."""
    srv = h2c_server()
    c = Client(srv.port)
    for _ in range(1000):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":path", "/r"), (":scheme", "http"),
                                  (":authority", "x")], end_stream=True)
        c.conn.reset_stream(sid)
    try:
        c.flush()
    except OSError:
        pass
    assert goaway(c.sock) == INTERNAL_ERROR
    works(srv)


def test_continuation_flood(h2c_server):
    """A header block cut into endless CONTINUATION frames
    (CVE-2024-27316): more than 8 and the connection goes."""
    srv = h2c_server()
    s = raw_h2c(srv)
    hf = HeadersFrame(1)
    hf.data = b"\x82"  # :method GET, and never END_HEADERS
    frames = hf.serialize()
    for _ in range(50):
        cf = ContinuationFrame(1)
        cf.data = b"\x40\x01a\x01b"  # a literal field, again and again
        frames += cf.serialize()
    try:
        s.sendall(frames)
    except OSError:
        pass
    assert goaway(s) is not None
    works(srv)


@pytest.mark.parametrize("frame", ["settings", "ping"])
def test_control_frame_floods(h2c_server, frame):
    """SETTINGS or PING frames by the thousand, their ACKs never read:
    GOAWAY (ENHANCE_YOUR_CALM) and the connection closed."""
    srv = h2c_server()
    s = raw_h2c(srv)
    one = (SettingsFrame(0) if frame == "settings" else PingFrame(0)).serialize()
    try:
        s.sendall(one * 5000)
    except OSError:
        pass
    assert goaway(s) == ENHANCE_YOUR_CALM
    works(srv)


def test_too_many_settings_entries(h2c_server):
    srv = h2c_server()
    s = raw_h2c(srv)
    f = SettingsFrame(0)
    f.settings = {0x4242 + i: i for i in range(40)}  # unknown ids, 40 > 32
    s.sendall(f.serialize())
    assert goaway(s) == ENHANCE_YOUR_CALM
    works(srv)


def test_hpack_bomb(h2c_server):
    """One 4 KiB field put in the HPACK table, then named by its index 1000
    times (a byte each): 4 MB of headers from 5 KB. The header list limit
    stops it: 431, and the connection serves on."""
    srv = h2c_server()
    s = raw_h2c(srv)
    big = b"\x40\x01z\x7f\xa1\x1e" + b"v" * 4000  # literal, indexed: z: v...
    block = (b"\x82\x86\x84\x41\x01x" + big + b"\xbe" * 1000)  # GET http / :authority x
    hf = HeadersFrame(1)
    hf.data = block[:16000]
    hf.flags.add("END_STREAM")
    hf.flags.add("END_HEADERS")
    s.sendall(hf.serialize())
    got = b""
    while b"431" not in got:
        d = s.recv(65536)
        assert d, "closed before the answer"
        got += d
    s.close()
    works(srv)


def test_zero_window_stall(server):
    """A client whose window stays 0: the app's write waits at most
    --timeout, then the stream is reset; other clients are served."""
    srv = server(*H2C, "--timeout", "2", app="big:app")
    c = Client(srv.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    try:
        sid = c.request("/chunks?1000000")
        works(srv)
        assert c.response(sid)[0] == "reset"
    finally:
        c.close()


def test_zero_window_stall_is_cut_at_the_send_timeout(server):
    """A stream's write that the client takes none of waits
    --send-timeout, as on HTTP/1, not the 120 s --timeout."""
    srv = server(*H2C, "--timeout", "120", "--send-timeout", "1", app="big:app")
    c = Client(srv.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    try:
        sid = c.request("/chunks?1000000")
        assert c.response(sid)[0] == "reset"  # the client's socket waits TIMEOUT
    finally:
        c.close()
    works(srv)


def test_slow_request_body_is_cut_at_the_body_deadline(server):
    """A stream's body that stops coming: the app's read fails once
    --body-timeout (+ a second per --body-min-rate bytes) passed, as on
    HTTP/1, not after the 120 s --timeout; the stream ends in an error."""
    srv = server(*H2C, "--timeout", "120", "--body-timeout", "1",
                 "--body-min-rate", "1000")
    c = Client(srv.port)
    try:
        sid = c.request("/", method="POST", body=b"x" * 10,
                        headers=[("content-length", "100000")], end=False)
        r = c.response(sid)  # the client's socket waits TIMEOUT
        assert r[0] in ("reset", 500), r
    finally:
        c.close()
    works(srv)


def test_client_that_never_reads(server):
    """Large responses never read, the windows wide open: the socket
    fills, the apps' writes wait (at most --timeout) and their streams are
    reset, another client is served meanwhile, and the connection is
    closed once idle."""
    srv = server(*H2C, "--timeout", "2", "--keep-alive", "1", app="big:app")
    s = raw_h2c(srv)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.clear_outbound_data_buffer()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
    c.increment_flow_control_window(2 ** 30)
    for sid in (1, 3, 5):
        c.send_headers(sid, [(":method", "GET"), (":path", "/list?30000000"),
                             (":scheme", "http"), (":authority", "x")], end_stream=True)
    s.sendall(c.data_to_send())
    works(srv)
    frames = frames_until_close(s)
    assert {sid for t, sid, _ in frames if t == 3} == {1, 3, 5}  # RST_STREAM each


@pytest.mark.skipif(not CURL, reason="curl is missing")
@pytest.mark.parametrize("fw", ["flask", "django"])
def test_frameworks_over_h2(server, certs, fw, tmp_path):  # noqa: F811
    """Flask's and Django's apps (tests/python/apps/) over HTTP/2: routing,
    a JSON body, cookies both ways, a 404."""
    pytest.importorskip(fw)
    app = {"flask": "flaskapp:app", "django": "djangoproj.wsgi:application"}[fw]
    env = dict(os.environ, CUNICORN_TEST_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE="djangoproj.settings")
    srv = server(*tls_args(certs, *GTHREAD, "--http-protocols", "h2,h1"), app=app, env=env)
    base = "https://localhost:%d" % srv.port
    ca = ("--http2", "--cacert", str(certs / "ca.pem"))
    r = json.loads(curl(*ca, base + "/users/7/posts/hello?q=a+b&tag=x&tag=y"))
    assert r == {"framework": fw, "uid": 7, "slug": "hello", "q": "a b", "tags": ["x", "y"]}
    r = json.loads(curl(*ca, "-H", "Content-Type: application/json",
                        "--data-binary", '{"items": [1, 2, 3]}', base + "/json"))
    assert (r["count"], r["total"]) == (3, 6)
    r = json.loads(curl(*ca, "-H", "Cookie: a=1", "-H", "Cookie: b=2", base + "/whoami"))
    assert r["cookies"] == {"a": "1", "b": "2"} and r["host"] == "localhost:%d" % srv.port
    head = curl(*ca, "-D", "-", "-o", "/dev/null", base + "/cookies").decode()
    assert head.startswith("HTTP/2 200") and "set-cookie: session=abc123" in head.lower()
    assert curl(*ca, "-o", "/dev/null", "-w", "%{http_code}", base + "/nowhere") == b"404"


def test_request_timeout_resets_only_its_stream(server):
    """--request-timeout on a stream: the app is interrupted and that
    stream answered 504, as on HTTP/1; the connection goes on."""
    srv = server(*H2C, "--request-timeout", "1")
    c = Client(srv.port)
    try:
        slow = c.request("/spin?30")
        status, _, body = c.response(slow)
        assert status == 504 and b"--request-timeout" in body
        status, _, body = c.response(c.request("/next"))
        assert status == 200 and json.loads(body)["environ"]["PATH_INFO"] == "/next"
    finally:
        c.close()


@pytest.mark.parametrize("kind", ["gthread", "gevent", "eventlet"])
def test_term_finishes_streams_and_says_goaway(server, kind):
    """On TERM a connection says GOAWAY, its running stream finishes, and
    the connection closes (a gevent or eventlet stream's greenlet too)."""
    if kind != "gthread":
        pytest.importorskip(kind)
    srv = server(*(H2C if kind == "gthread" else
                   ("-k", kind, "--http-protocols", "h2,h1", "--http2-cleartext",
                    "prior-knowledge")))
    s = raw_h2c(srv)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.clear_outbound_data_buffer()
    c.send_headers(1, [(":method", "GET"), (":path", "/sleep?1"), (":scheme", "http"),
                       (":authority", "x")], end_stream=True)
    s.sendall(c.data_to_send())
    wait_for(lambda: "sleeping in the app" in srv.text(), what="the app to run")
    srv.proc.send_signal(signal.SIGTERM)
    frames = frames_until_close(s)
    assert 7 in [t for t, _, _ in frames]  # GOAWAY
    assert any(t == 1 and sid == 1 for t, sid, _ in frames)  # its HEADERS
    assert any(t == 0 and sid == 1 for t, sid, _ in frames)  # and its DATA
    assert srv.proc.wait(TIMEOUT) == 0


def test_request_timeout_cancels_a_stuck_stream(server):
    """An app that cannot be interrupted (asleep in C): after
    --request-timeout and its grace, the stream is taken away with
    RST_STREAM CANCEL; the connection goes on."""
    srv = server(*H2C, "--request-timeout", "1")
    c = Client(srv.port)
    try:
        assert c.response(c.request("/sleep?6")) == ("reset", 8)  # CANCEL
        assert c.response(c.request("/next"))[0] == 200
    finally:
        c.close()
    # QUIT, not the TERM that would wait for the thread still asleep
    assert srv.stop(signal.SIGQUIT) == 0
