"""A PROXY protocol header, then HTTP/2 in the clear (docs/compat.md,
PROXY protocol and HTTP/2): the header is taken before the h2c preface is
looked for, so a proxy that sends it and then speaks h2c by prior
knowledge (HAProxy's `send-proxy proto h2`) is served as HTTP/2, the
header's client in every stream's REMOTE_ADDR; an h2c Upgrade after a
header too. In gthread, gevent and asgi, with python3-h2 over raw sockets
and HAProxy in front.
"""

import json
import shutil
import socket
import subprocess

import pytest

from conftest import TIMEOUT, stop_process, wait_for
from test_h2c_upgrade import head as upgrade_head
from test_h2c_upgrade import switched
from test_http2 import PREFACE, Client, curl
from test_proxy_tls import V1, haproxy, remote, v2

import h2.config  # noqa: E402 (test_http2 skipped without it)
import h2.connection  # noqa: E402

CLASSES = {"gthread": ("-k", "gthread", "--threads", "2"), "gevent": ("-k", "gevent"),
           "asgi": ("-k", "asgi")}
BOTH = ("--http-protocols", "h2,h1", "--http2-cleartext", "both")


@pytest.fixture(params=sorted(CLASSES))
def kind(request):
    if request.param == "gevent":
        pytest.importorskip("gevent")
    return request.param


def start(server, kind, *extra):
    return server(*CLASSES[kind], *BOTH, *extra,
                  app="asgiecho:app" if kind == "asgi" else "echo:app")


class Proxied(Client):
    """python3-h2 by prior knowledge, after the PROXY header first; split:
    the header and the preface in pieces of a few bytes each."""

    def __init__(self, port, header, split=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.events = []
        data = header + self.conn.data_to_send()
        if split:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cut = len(header) + len(PREFACE) + 4
            for i in range(0, cut, 7):
                self.sock.sendall(data[i:min(i + 7, cut)])
            data = data[cut:]
        self.sock.sendall(data)


class ProxiedUpgrade(Client):
    """The PROXY header, then an HTTP/1.1 request asking for h2c by
    Upgrade, which must get the 101: stream 1 is that request."""

    def __init__(self, port, header):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn, req = upgrade_head(port)
        self.events = []
        self.sock.sendall(header + req)
        switched(self.sock)
        self.flush()  # the preface and our SETTINGS


def answers(c, sids):
    """The app's JSON for streams sids of client c, which must be 200s;
    closes c."""
    try:
        outs = [c.response(sid) for sid in sids]
    finally:
        c.close()
    for status, headers, body in outs:
        assert status == 200, (status, headers, body)
    return [json.loads(body) for _, _, body in outs]


def h2_get(port, header, split=False):
    """The app's JSON for GET / over HTTP/2 by prior knowledge after
    header: the first of two streams'."""
    c = Proxied(port, header, split=split)
    return answers(c, [c.request("/"), c.request("/two")])[0]


def version(out):
    return out["scope"]["http_version"] if "scope" in out else out["environ"]["SERVER_PROTOCOL"]


def test_v1_then_prior_knowledge(server, kind):
    """The header, then the preface and a request at once, and again in
    pieces (the header whole, the preface still to come); the h2c Upgrade
    after a header; HTTP/1.1 after one on the same port."""
    srv = start(server, kind, "--proxy-protocol", "v1")
    for split in (False, True):
        out = h2_get(srv.port, V1, split=split)
        assert version(out) in ("2", "HTTP/2.0")
        assert remote(out)[:2] == ("203.0.113.7", "4242")
        if kind != "asgi":
            e = out["environ"]
            assert e["PROXY_PROTOCOL"] == "TCP4"
            assert (e["PROXY_ADDR"], e["PROXY_PORT"]) == ("198.51.100.1", "443")
    # Upgrade: h2c, its request the header's client's too (stream 1), and
    # the next stream
    c = ProxiedUpgrade(srv.port, V1)
    for out in answers(c, [1, c.request("/next")]):
        assert version(out) in ("2", "HTTP/2.0")
        assert remote(out)[:2] == ("203.0.113.7", "4242")
    # HTTP/1.1 after a header, h2 on
    raw = srv.raw(V1 + b"GET /h1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    out = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert version(out) in ("1.1", "HTTP/1.1") and remote(out)[0] == "203.0.113.7"


def test_v2_then_prior_knowledge(server):
    srv = start(server, "gthread", "--proxy-protocol", "v2")
    out = h2_get(srv.port, v2(), split=True)
    assert remote(out) == ("203.0.113.9", "5151", "198.51.100.2", "8443")
    assert out["environ"]["SERVER_PROTOCOL"] == "HTTP/2.0"


def test_refused_header_before_the_preface(server, kind):
    """As for HTTP/1: a header from a peer not in proxy_allow_ips is 403, a
    bad one 400, both before any HTTP/2; without a header the preface
    still opens HTTP/2."""
    srv = start(server, kind, "--proxy-protocol", "auto", "--proxy-allow-from", "192.0.2.1")
    out = srv.raw(V1 + PREFACE)
    assert out.startswith(b"HTTP/1.1 403 "), out[:200]
    wait_for(lambda: "Proxy request from '127.0.0.1' not allowed" in srv.text(),
             what="the refusal in the log")
    out = h2_get(srv.port, b"")
    assert remote(out)[0] == "127.0.0.1" and version(out) in ("2", "HTTP/2.0")
    srv = start(server, kind, "--proxy-protocol", "auto")
    for bad in (b"PROXY TCP4 nonsense\r\n", v2()[:13] + b"\x99" + v2()[14:]):
        out = srv.raw(bad + PREFACE)
        assert out.startswith(b"HTTP/1.1 400 "), (bad, out[:200])


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is missing")
def test_haproxy_send_proxy_proto_h2(server, tmp_path):
    """HAProxy in HTTP mode, its server line `send-proxy proto h2`; curl
    asks it over HTTP/1.1: the app answers over HTTP/2, the client's port
    (curl's own) as REMOTE_PORT, HAProxy's frontend's as PROXY_PORT."""
    srv = start(server, "gthread", "--proxy-protocol", "v1")
    proc, port = haproxy(tmp_path, "http", srv.port, "send-proxy proto h2")
    try:
        def answered():
            if proc.poll() is not None:
                raise AssertionError("haproxy exited %s" % proc.returncode)
            try:
                return curl("--http1.1", "-w", "\n%{local_port}",
                            "http://127.0.0.1:%d/via?x=1" % port)
            except (AssertionError, subprocess.TimeoutExpired):
                return None
        body, local_port = wait_for(answered, what="haproxy to pass a request").rsplit(b"\n", 1)
        e = json.loads(body)["environ"]
        assert e["SERVER_PROTOCOL"] == "HTTP/2.0" and e["QUERY_STRING"] == "x=1"
        assert (e["REMOTE_ADDR"], e["REMOTE_PORT"]) == ("127.0.0.1", local_port.decode())
        assert (e["PROXY_PROTOCOL"], e["PROXY_PORT"]) == ("TCP4", str(port))
    finally:
        stop_process(proc)
