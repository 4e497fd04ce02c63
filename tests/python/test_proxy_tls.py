"""PROXY protocol on a TLS listener (docs/compat.md, PROXY protocol): the
header a TCP-mode proxy sends in the clear ahead of the TLS handshake
(HAProxy's send-proxy, passing TLS through), read before OpenSSL sees a
byte, in every class and over HTTP/2; Gunicorn's header inside TLS still
works. Real clients: raw sockets wrapped in Python's ssl, python3-h2, and
HAProxy in TCP mode in front.
"""

import json
import shutil
import socket
import ssl
import struct
import subprocess
import textwrap
import time

import pytest

from conftest import TIMEOUT, free_port, recv_all, stop_process, wait_for
from test_tls import certs, client_ctx, tls_args  # noqa: F401 (a fixture)

V1 = b"PROXY TCP4 203.0.113.7 198.51.100.1 4242 443\r\n"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src="203.0.113.9", dst="198.51.100.2", sport=5151, dport=8443, tlvs=b""):
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    body = addrs + tlvs
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def tls_get(port, certs, first=b"", path="/", pause=0.0):  # noqa: F811
    """Sends first in the clear (in two halves, pause seconds apart, when
    pause), then GET path over TLS; the JSON the app answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        if pause:
            s.sendall(first[:9])
            time.sleep(pause)
            s.sendall(first[9:])
        elif first:
            s.sendall(first)
        t = client_ctx(certs).wrap_socket(s, server_hostname="localhost")
        t.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  % path.encode())
        raw = recv_all(t)
    finally:
        s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:300]
    return json.loads(body)


def refused(port, certs, first):  # noqa: F811
    """first in the clear, then a TLS handshake that must fail."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        s.sendall(first)
        with pytest.raises((ssl.SSLError, OSError)):
            client_ctx(certs).wrap_socket(s, server_hostname="localhost")
    finally:
        s.close()


def remote(out):
    """(REMOTE_ADDR, REMOTE_PORT, PROXY_ADDR, PROXY_PORT) from echo or asgiecho."""
    if "scope" in out:
        sc = out["scope"]
        return (sc["client"][0], str(sc["client"][1]), None, None)
    e = out["environ"]
    return (e["REMOTE_ADDR"], e["REMOTE_PORT"], e.get("PROXY_ADDR"), e.get("PROXY_PORT"))


CLASSES = {"sync": ("-k", "sync"), "gthread": ("-k", "gthread", "--threads", "2"),
           "gevent": ("-k", "gevent"), "asgi": ("-k", "asgi")}


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_v1_before_tls_in_every_class(server, certs, kind):  # noqa: F811
    if kind == "gevent":
        pytest.importorskip("gevent")
    srv = server(*tls_args(certs, *CLASSES[kind], "--proxy-protocol", "auto"),
                 app="asgiecho:app" if kind == "asgi" else "echo:app")
    got = remote(tls_get(srv.port, certs, V1))
    assert got[:2] == ("203.0.113.7", "4242")
    if kind != "asgi":
        assert got[2:] == ("198.51.100.1", "443")
        # without a header, TLS from the first byte, as before
        assert remote(tls_get(srv.port, certs))[0] == "127.0.0.1"


def test_v2_split_and_inside_tls(server, certs):  # noqa: F811
    srv = server(*tls_args(certs, *CLASSES["gthread"], "--proxy-protocol", "auto"))
    # v2 with a TLV, its bytes coming in two pieces
    tlv = b"\x05" + struct.pack("!H", 4) + b"abcd"  # PP2_TYPE_UNIQUE_ID
    got = remote(tls_get(srv.port, certs, v2(tlvs=tlv), pause=0.3))
    assert got == ("203.0.113.9", "5151", "198.51.100.2", "8443")
    # Gunicorn's place for it, inside TLS, is still honoured
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    t = client_ctx(certs).wrap_socket(s, server_hostname="localhost")
    t.sendall(V1 + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = recv_all(t).partition(b"\r\n\r\n")[2]
    t.close()
    assert remote(json.loads(body))[:2] == ("203.0.113.7", "4242")


def test_one_header_only(server, certs):  # noqa: F811
    """A second header inside TLS after one in the clear is a request line."""
    srv = server(*tls_args(certs, *CLASSES["gthread"], "--proxy-protocol", "auto"))
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(V1)
    t = client_ctx(certs).wrap_socket(s, server_hostname="localhost")
    t.sendall(b"PROXY TCP4 192.0.2.5 192.0.2.6 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert recv_all(t).startswith(b"HTTP/1.1 400 ")
    t.close()


@pytest.mark.parametrize("bad", [b"PROXY TCP4 nonsense\r\n", b"PROXY UNKNOWN\r\n",
                                 b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2" + b" " * 200,
                                 v2(tlvs=b"\x00" * 2100)])
def test_bad_header_refused(server, certs, bad):  # noqa: F811
    srv = server(*tls_args(certs, *CLASSES["gthread"], "--proxy-protocol", "auto"))
    refused(srv.port, certs, bad)
    wait_for(lambda: "a bad PROXY header before the TLS handshake" in srv.text(),
             what="the refusal in the log")
    assert remote(tls_get(srv.port, certs, V1))[0] == "203.0.113.7"


@pytest.mark.parametrize("kind", ["sync", "gthread"])
def test_peer_not_allowed(server, certs, kind):  # noqa: F811
    srv = server(*tls_args(certs, *CLASSES[kind], "--proxy-protocol", "v1",
                           "--proxy-allow-from", "192.0.2.1"))
    refused(srv.port, certs, V1)
    wait_for(lambda: "a PROXY header from a peer not in proxy_allow_ips" in srv.text(),
             what="the refusal in the log")
    assert remote(tls_get(srv.port, certs))[0] == "127.0.0.1"


@pytest.mark.parametrize("kind", ["gthread", "asgi"])
def test_h2_streams_get_the_header(server, certs, kind):  # noqa: F811
    h2 = pytest.importorskip("h2")
    import h2.config
    import h2.connection
    import h2.events
    srv = server(*tls_args(certs, *CLASSES[kind], "--proxy-protocol", "auto",
                           "--http-protocols", "h2,h1"),
                 app="asgiecho:app" if kind == "asgi" else "echo:app")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(V1)
    ctx = client_ctx(certs)
    ctx.set_alpn_protocols(["h2"])
    t = ctx.wrap_socket(s, server_hostname="localhost")
    assert t.selected_alpn_protocol() == "h2"
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    for sid in (1, 3):
        c.send_headers(sid, [(":method", "GET"), (":path", "/"), (":scheme", "https"),
                             (":authority", "localhost")], end_stream=True)
    t.sendall(c.data_to_send())
    bodies, ended = {1: b"", 3: b""}, set()
    while len(ended) < 2:
        data = t.recv(65536)
        assert data, "closed early"
        for e in c.receive_data(data):
            if isinstance(e, h2.events.DataReceived):
                bodies[e.stream_id] += e.data
                c.acknowledge_received_data(len(e.data), e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                ended.add(e.stream_id)
        t.sendall(c.data_to_send())
    t.close()
    for sid in (1, 3):
        assert remote(json.loads(bodies[sid]))[:2] == ("203.0.113.7", "4242")


def haproxy(tmp_path, mode, backend, options):
    """Starts HAProxy in mode (tcp, http), its frontend on a free port of
    127.0.0.1, its one server 127.0.0.1:backend with options (its server
    line's): (the process, the frontend's port). Stop it with
    stop_process."""
    port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(textwrap.dedent("""\
        defaults
          mode %s
          timeout connect 5s
          timeout client 5s
          timeout server 5s
        frontend fe
          bind 127.0.0.1:%d
          default_backend be
        backend be
          server s1 127.0.0.1:%d %s
        """) % (mode, port, backend, options))
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, port


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is missing")
def test_haproxy_tcp_mode_send_proxy_v2(server, certs, tmp_path):  # noqa: F811
    """HAProxy passing TLS through in TCP mode, the client's address in a
    PROXY v2 header: the app sees the client (here 127.0.0.1 too) and the
    frontend's port as PROXY_PORT."""
    srv = server(*tls_args(certs, *CLASSES["gthread"], "--proxy-protocol", "v2"))
    proc, port = haproxy(tmp_path, "tcp", srv.port, "send-proxy-v2")
    try:
        def answered():
            try:
                return tls_get(port, certs)
            except (OSError, AssertionError, ValueError):
                return None
        out = wait_for(answered, what="haproxy to pass a request")
        e = out["environ"]
        assert e["PROXY_PROTOCOL"] == "TCP4" and e["PROXY_PORT"] == str(port)
        assert e["wsgi.url_scheme"] == "https"
    finally:
        stop_process(proc)


@pytest.mark.parametrize("kind", ["gthread", "asgi"])
def test_header_cut_by_the_peers_end(server, certs, kind):  # noqa: F811
    """Part of a header, then the peer's end: refused at once, the bytes
    taken off the socket as they came (peeked and left there, they kept
    the socket readable: the worker spun until the timeout and never saw
    the end)."""
    srv = server(*tls_args(certs, *CLASSES[kind], "--proxy-protocol", "auto"),
                 app="asgiecho:app" if kind == "asgi" else "echo:app")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(V1[:18])
    time.sleep(0.2)  # the worker takes the start in
    s.sendall(V1[18:30])
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == b""
    wait_for(lambda: "a bad PROXY header before the TLS handshake" in srv.text(),
             what="the refusal in the log")
    assert remote(tls_get(srv.port, certs, V1))[0] == "203.0.113.7"


def test_header_start_from_a_peer_not_allowed(server, certs):  # noqa: F811
    """A peer not in proxy_allow_ips is refused at its header's first
    bytes, not once the header is whole."""
    srv = server(*tls_args(certs, *CLASSES["gthread"], "--proxy-protocol", "v1",
                           "--proxy-allow-from", "192.0.2.1"))
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(V1[:12])
    assert recv_all(s) == b""  # closed by the server, the header unfinished
    assert "a PROXY header from a peer not in proxy_allow_ips" in srv.text()
