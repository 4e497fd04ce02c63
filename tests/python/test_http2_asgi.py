"""HTTP/2 on the asgi worker (docs/compat.md, HTTP/2): the sessions of
src/http2/ in their loop mode, each stream's request an ASGI one (scope
http_version "2"). Real clients -- curl, h2load, Debian's python3-h2 --
over TLS (ALPN) and h2c (prior knowledge): plain apps and Starlette,
concurrent streams, flow control both ways, an app's failures, a client's
reset. The defences' tests of test_http2.py run on both classes there."""

import hashlib
import json
import shutil
import signal
import subprocess

import pytest

from conftest import TIMEOUT, wait_for
from test_tls import certs, client_ctx, tls_args  # noqa: F401 (a fixture)

h2 = pytest.importorskip("h2")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
from test_http2 import Client, curl, frames_until_close, raw_h2c  # noqa: E402

CURL = shutil.which("curl")
H2LOAD = shutil.which("h2load")
ASGI = ("-k", "asgi")
H2C = ASGI + ("--http-protocols", "h2,h1", "--http2-cleartext", "prior-knowledge")
APP = "h2asgi:app"
INTERNAL_ERROR = 0x2


def tls_srv(server, certs, app=APP):  # noqa: F811
    return server(*tls_args(certs, *ASGI, "--http-protocols", "h2,h1"), app=app)


def send_rest(c, sid, data, sent):
    """Sends data[sent:] on stream sid as its window allows, then its end."""
    while sent < len(data):
        n = min(c.conn.local_flow_control_window(sid), 16384, len(data) - sent)
        if n:
            c.conn.send_data(sid, data[sent:sent + n], end_stream=sent + n == len(data))
            sent += n
            c.flush()
        else:
            c.pump()


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_h2_over_tls_scope(server, certs):  # noqa: F811
    srv = tls_srv(server, certs)
    out = curl("--http2", "--cacert", str(certs / "ca.pem"), "-w", "\n%{http_version}",
               "https://localhost:%d/p%%C3%%A9?x=1" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    scope = json.loads(body)
    assert (scope["http_version"], scope["scheme"], scope["method"]) == ("2", "https", "GET")
    assert scope["path"] == "/p\u00e9" and scope["query_string"] == "x=1"
    assert ["host", "localhost:%d" % srv.port] in scope["headers"]


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_curl_h2c_prior_knowledge(server):
    srv = server(*H2C, app=APP)
    out = curl("--http2-prior-knowledge", "-w", "\n%{http_version}",
               "-d", "x=1", "http://127.0.0.1:%d/form" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    scope = json.loads(body)
    assert version == b"2" and scope["http_version"] == "2" and scope["scheme"] == "http"
    assert scope["method"] == "POST"
    # an HTTP/1.1 client of the same server is served as before
    out = curl("-w", "\n%{http_version}", "http://127.0.0.1:%d/h1" % srv.port)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"1.1" and json.loads(body)["http_version"] == "1.1"


@pytest.mark.skipif(not CURL, reason="curl is missing")
@pytest.mark.parametrize("tls", [True, False])
def test_starlette(server, certs, tls):  # noqa: F811
    pytest.importorskip("starlette")
    app = "starletteapp:starlette_app"
    if tls:
        srv = tls_srv(server, certs, app=app)
        base, how = "https://localhost:%d" % srv.port, ("--http2", "--cacert",
                                                         str(certs / "ca.pem"))
    else:
        srv = server(*H2C, app=app)
        base, how = "http://127.0.0.1:%d" % srv.port, ("--http2-prior-knowledge",)
    out = curl(*how, "-w", "\n%{http_version}", base + "/")
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2" and body
    out = curl(*how, "-o", "/dev/null", "-w", "%{http_code}", base + "/nowhere")
    assert out == b"404"


def test_streams_run_concurrently(server):
    """/wait answers only once /release ran, on the same connection; and
    ten more streams at once, each answered."""
    srv = server(*H2C, app=APP)
    c = Client(srv.port)
    try:
        wait = c.request("/wait")
        many = [c.request("/n%d" % i) for i in range(10)]
        release = c.request("/release")
        assert c.response(release)[0] == 200
        assert c.response(wait)[2] == b"released"
        for i, sid in enumerate(many):
            status, _, body = c.response(sid)
            assert status == 200 and json.loads(body)["path"] == "/n%d" % i
    finally:
        c.close()


def test_digest_of_a_large_body(server):
    srv = server(*H2C, app=APP)
    c = Client(srv.port)
    data = bytes(range(256)) * 8192  # 2 MiB, more than any window
    try:
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/digest"),
                                  (":scheme", "http"), (":authority", "x")])
        send_rest(c, sid, data, 0)
        status, _, body = c.response(sid)
        assert status == 200
        assert json.loads(body) == {"sha256": hashlib.sha256(data).hexdigest(),
                                    "length": len(data)}
    finally:
        c.close()


def test_unread_body_is_held_back_by_the_window(server):
    """An app that does not read: the client's window for its stream runs
    out and is not given back (the server does not buffer the body);
    once the app reads (slowly), the whole body arrives."""
    srv = server(*H2C, "--http2-initial-window-size", "65535", app=APP)
    c = Client(srv.port)
    data = b"y" * (1 << 20)
    try:
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/held"),
                                  (":scheme", "http"), (":authority", "x")])
        sent = 0
        while c.conn.local_flow_control_window(sid) > 0:
            n = min(c.conn.local_flow_control_window(sid), 16384)
            c.conn.send_data(sid, data[sent:sent + n])
            sent += n
        c.flush()
        assert sent == 65535
        # a round trip on the same connection: no window came for the body
        status, _, body = c.response(c.request("/sent"))
        assert status == 200 and c.conn.local_flow_control_window(sid) == 0
        assert not any(isinstance(e, h2.events.WindowUpdated) and e.stream_id == sid
                       for e in c.events)
        assert c.response(c.request("/release"))[0] == 200
        send_rest(c, sid, data, sent)
        status, _, body = c.response(sid)
        assert status == 200 and json.loads(body)["length"] == len(data)
    finally:
        c.close()


def test_client_that_never_reads(server):
    """Large responses never read, the windows wide open: the socket
    fills and the apps' sends wait -- what they sent stops growing, far
    short of the 768 MiB they want to send: the server does not buffer
    it -- while another client is served."""
    srv = server(*H2C, app=APP)
    s = raw_h2c(srv)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.clear_outbound_data_buffer()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
    c.increment_flow_control_window(2 ** 30)
    for sid in (1, 3, 5):  # 3 x 256 MiB
        c.send_headers(sid, [(":method", "GET"), (":path", "/stream?4096"),
                             (":scheme", "http"), (":authority", "x")], end_stream=True)
    s.sendall(c.data_to_send())
    other = Client(srv.port)
    seen = []

    def stalled():
        seen.append(int(other.response(other.request("/sent"))[2]))
        return len(seen) > 3 and seen[-1] == seen[-2] == seen[-3] > 0
    try:
        wait_for(stalled, what="the apps' sends to wait")
        assert seen[-1] < 64 << 20, seen  # of 768 MiB
    finally:
        other.close()
        s.close()


def test_app_raising_before_and_after_the_start(server):
    """Before its response's start: 500 on that stream; after: that
    stream is reset; the other streams of the connection are answered."""
    srv = server(*H2C, app=APP)
    c = Client(srv.port)
    try:
        before = c.request("/raise-before")
        after = c.request("/raise-after")
        fine = c.request("/fine")
        assert c.response(before)[0] == 500
        assert c.response(after) == ("reset", INTERNAL_ERROR)
        assert c.response(fine)[0] == 200
        assert c.response(c.request("/again"))[0] == 200
    finally:
        c.close()
    assert "after the response's start" in srv.text()


def test_client_reset_mid_body_is_a_disconnect(server):
    srv = server(*H2C, app=APP)
    c = Client(srv.port)
    try:
        sid = c.request("/disconnect", method="POST", body=b"x" * 1000, end=False)

        def events(want):
            return lambda: json.loads(c.response(c.request("/events"))[2]) == want
        wait_for(events(["reading"]), what="the app to read the body")
        c.conn.reset_stream(sid)
        c.flush()
        wait_for(events(["reading", "disconnect"]), what="the app to see http.disconnect")
    finally:
        c.close()


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_pathsend_over_h2(server, tmp_path):
    """http.response.pathsend on a stream: the file, byte for byte, in
    DATA frames as the client's window lets them go."""
    f = tmp_path / "f.bin"
    f.write_bytes(bytes(range(256)) * 12289)  # 3 MiB and a bit
    srv = server(*H2C, app="asgiext:app")
    out = curl("--http2-prior-knowledge",
               "http://127.0.0.1:%d/file?path=%s&len=%d" % (srv.port, f, f.stat().st_size))
    assert hashlib.sha256(out).digest() == hashlib.sha256(f.read_bytes()).digest()


def test_term_finishes_streams_and_says_goaway(server):
    """On TERM a connection says GOAWAY, its running stream finishes, and
    the connection closes; the worker exits."""
    srv = server(*H2C, app=APP)
    s = raw_h2c(srv)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.clear_outbound_data_buffer()
    c.send_headers(1, [(":method", "GET"), (":path", "/sleep?1"), (":scheme", "http"),
                       (":authority", "x")], end_stream=True)
    s.sendall(c.data_to_send())
    other = Client(srv.port)
    try:
        wait_for(lambda: json.loads(other.response(other.request("/events"))[2]),
                 what="the app to run")
    finally:
        other.close()
    srv.proc.send_signal(signal.SIGTERM)
    frames = frames_until_close(s)
    assert 7 in [t for t, _, _ in frames]  # GOAWAY
    assert any(t == 1 and sid == 1 for t, sid, _ in frames)  # its HEADERS
    assert any(t == 0 and sid == 1 and p == b"slept" for t, sid, p in frames)
    assert srv.proc.wait(TIMEOUT) == 0


@pytest.mark.skipif(not H2LOAD, reason="h2load is missing")
@pytest.mark.parametrize("tls", [False, True])
def test_h2load(server, certs, tls):  # noqa: F811
    if tls:
        srv = tls_srv(server, certs)
        url = "https://localhost:%d/" % srv.port
    else:
        srv = server(*H2C, app=APP)
        url = "http://127.0.0.1:%d/" % srv.port
    r = subprocess.run([H2LOAD, "-c4", "-m10", "-n2000", url], capture_output=True,
                       timeout=TIMEOUT * 4, text=True)
    assert "2000 succeeded" in r.stdout and "2000 2xx" in r.stdout, r.stdout


def test_tornado_refuses_h2(server):
    with pytest.raises(AssertionError) as e:
        server("-k", "tornado", "--http-protocols", "h2,h1")
    assert "HTTP/2 is not built for the tornado worker class" in str(e.value)
