"""WebSockets under the asgi worker (-k asgi), on real sockets: Debian's
websockets client for what a client does right (echo, fragments, pings,
closes both ways, subprotocols, the limit, Starlette's WebSocket route),
a raw socket for what it must not do (unmasked frames, bad UTF-8, bad
handshakes), the back-pressure of both directions, and a real browser
(Debian's chromium, headless)."""

import asyncio
import base64
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess

import pytest

from conftest import TIMEOUT, wait_for
from test_asgi import events, events_env

websockets = pytest.importorskip("websockets")

ASGI = ("-k", "asgi")
KEY = base64.b64encode(b"0123456789abcdef")


def start(server, *args, app="wsapp:app", env=None):
    return server(*ASGI, *args, app=app, env=env)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def uri(srv, path):
    return "ws://127.0.0.1:%d%s" % (srv.port, path)


# ---- a raw client --------------------------------------------------------------

def frame(b0, payload, mask=b"\x37\xfa\x21\x3d", masked=True):
    n = len(payload)
    if n < 126:
        head = bytes([b0, (0x80 if masked else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


class Raw:
    """A socket that speaks the handshake and reads server frames."""

    def __init__(self, srv, path="/echo", head=None):
        self.s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        self.buf = b""
        self.s.sendall(head or (b"GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                                b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                                b"Sec-WebSocket-Version: 13\r\n\r\n" % (path.encode(), KEY)))

    def _more(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1")

    def take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.take(2)
        assert not b1 & 0x80, "a server frame is never masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.take(8))[0]
        return b0, self.take(n)

    def rest(self):
        """What comes until the server closes."""
        try:
            while True:
                self._more()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b""
        return out

    def close_code(self):
        b0, payload = self.frame()
        assert b0 == 0x88, "a close frame, not %#x" % b0
        return struct.unpack("!H", payload[:2])[0], payload[2:]


# ---- what a client does right ----------------------------------------------------

@pytest.mark.parametrize("loop", ["auto", "asyncio"])
def test_echo_text_and_bytes(server, tmp_path, loop):
    env, path = events_env(tmp_path)
    srv = start(server, "--asgi-loop", loop, env=env)

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            assert ws.response_headers["x-ws"] == "yes"
            assert ws.response_headers["server"] == "cunicorn"
            assert ws.subprotocol is None
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xffbytes")
            assert await ws.recv() == b"\x00\xffbytes"
            await ws.send("")
            assert await ws.recv() == ""
    run(main())
    wait_for(lambda: "disconnect 1000" in events(path), what="the app's disconnect")


def test_scope(server):
    srv = start(server, "--root-path", "/r")

    async def main():
        async with websockets.connect(uri(srv, "/echo/caf%C3%A9?a=1"),
                                      subprotocols=["other", "chat"]) as ws:
            assert ws.subprotocol == "chat"
            await ws.send("scope")
            return json.loads(await ws.recv())
    scope = run(main())
    assert scope["type"] == "websocket" and scope["scheme"] == "ws"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1" and "method" not in scope
    assert scope["path"] == "/echo/café" and scope["raw_path"] == "/echo/caf%C3%A9"
    assert scope["query_string"] == "a=1" and scope["root_path"] == "/r"
    assert scope["subprotocols"] == ["other", "chat"]
    assert ["upgrade", "websocket"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1" and scope["server"] == ["127.0.0.1", srv.port]
    assert scope["state"] == {}
    assert scope["extensions"] == {"websocket.http.response": {}}


def test_large_fragmented_messages(server):
    srv = start(server)
    data = os.urandom(3 << 20)
    text = "ünïcödé €" * 50000

    async def main():
        async with websockets.connect(uri(srv, "/echo"), max_size=None) as ws:
            await ws.send(data[i:i + 65536] for i in range(0, len(data), 65536))
            assert await ws.recv() == data
            await ws.send(text[i:i + 1000] for i in range(0, len(text), 1000))
            assert await ws.recv() == text
    run(main())


def test_a_character_split_across_fragments(server):
    srv = start(server)
    r = Raw(srv)
    assert r.head().startswith("HTTP/1.1 101 ")
    euro = "€".encode()
    r.s.sendall(frame(0x01, b"a" + euro[:1]) + frame(0x00, euro[1:2]) +
                frame(0x80, euro[2:] + b"b"))
    assert r.frame() == (0x81, b"a" + euro + b"b")
    r.s.sendall(frame(0x88, struct.pack("!H", 1000)))
    assert r.close_code() == (1000, b"")
    assert r.rest() == b""


def test_ping_is_answered_by_the_server(server):
    srv = start(server)

    async def main():
        async with websockets.connect(uri(srv, "/echo"), ping_interval=None) as ws:
            pong = await ws.ping(b"are you there")
            await pong
            await ws.send("after the ping")
            assert await ws.recv() == "after the ping"
    run(main())
    # the pong carries the ping's payload, between the app's messages
    r = Raw(srv)
    r.head()
    r.s.sendall(frame(0x81, b"one") + frame(0x89, b"ping!") + frame(0x81, b"two"))
    got = [r.frame(), r.frame(), r.frame()]
    assert (0x8A, b"ping!") in got and got.count((0x81, b"one")) == 1
    assert got.index((0x81, b"one")) < got.index((0x81, b"two"))


def test_client_closes_with_a_code(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)

    async def main():
        ws = await websockets.connect(uri(srv, "/echo"))
        await ws.close(code=4001, reason="bye")
        return ws.close_code, ws.close_reason
    # the server echoes the code
    assert run(main()) == (4001, "")
    wait_for(lambda: "disconnect 4001" in events(path), what="the app's disconnect")


def test_app_closes_with_a_code(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            await ws.send("close:4002:done here")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code, ws.close_reason
    assert run(main()) == (4002, "done here")
    wait_for(lambda: "after close: websocket.disconnect 4002" in events(path),
             what="the app's disconnect after its close")


@pytest.mark.parametrize("code", [1005, 1006, 1015, 2000])
def test_app_close_with_a_reserved_code_raises(server, code):
    # RFC 6455 7.4: 1005, 1006 and 1015 never go in a close frame (and
    # 1016-2999 are unassigned); the app's send raises ValueError, so it
    # fails and the server closes with 1011 instead of a code the client
    # would answer with a protocol error
    srv = start(server)

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            await ws.send("close:%d:x" % code)
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(main()) == 1011
    wait_for(lambda: "Invalid WebSocket close code: %d" % code in srv.text(),
             what="the app's ValueError")


def test_app_returns_or_raises(server):
    srv = start(server)

    async def main(path):
        async with websockets.connect(uri(srv, path)) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(main("/return")) == 1000
    assert run(main("/fail")) == 1011
    wait_for(lambda: "RuntimeError: boom from a websocket" in srv.text(), what="the traceback")
    assert "Error handling request" in srv.text()


def test_rejection_is_a_403(server):
    srv = start(server)

    async def main():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            await websockets.connect(uri(srv, "/reject"))
        return e.value.status_code
    assert run(main()) == 403
    r = Raw(srv, "/deny")
    head = r.head()
    assert head.startswith("HTTP/1.1 401 ") and "content-type: text/plain" in head.lower()
    assert r.rest() == b"denied" and "connection: close" in head.lower()


def test_message_over_the_limit_is_1009(server):
    srv = start(server, "--ws-max-size", "1000")

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            await ws.send(b"x" * 1000)
            assert await ws.recv() == b"x" * 1000
            await ws.send(b"x" * 1001)
            with pytest.raises(websockets.ConnectionClosedError):
                await ws.recv()
            return ws.close_code
    assert run(main()) == 1009
    # fragments count together
    r = Raw(srv)
    r.head()
    r.s.sendall(frame(0x02, b"y" * 600) + frame(0x80, b"y" * 401))
    assert r.close_code() == (1009, b"")


def test_invalid_utf8_is_1007(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    for payload in (b"\xff", b"\xed\xa0\x80", b"\xc0\x80", b"ok\xe2\x82"):
        r = Raw(srv)
        r.head()
        r.s.sendall(frame(0x81, payload))
        assert r.close_code() == (1007, b"")
        assert r.rest() == b""
    wait_for(lambda: events(path).count("disconnect 1007") == 4, what="the app's disconnects")


@pytest.mark.parametrize("data", [
    frame(0x81, b"unmasked", masked=False),
    frame(0xC1, b"rsv1"),
    frame(0x83, b"reserved opcode"),
    frame(0x80, b"continuation of nothing"),
    frame(0x09, b"fragmented ping"),
    frame(0x89, b"p" * 126),
    frame(0x01, b"a") + frame(0x81, b"b"),
    frame(0x88, b"\x03"),
    frame(0x88, struct.pack("!H", 1005)),
], ids=["unmasked", "rsv", "opcode", "continuation", "fragmented-ping", "long-ping",
        "frame-in-fragments", "close-of-one-byte", "close-1005"])
def test_protocol_errors_are_1002(server, data):
    srv = start(server)
    r = Raw(srv)
    r.head()
    r.s.sendall(data)
    assert r.close_code() == (1002, b"")
    assert r.rest() == b""


@pytest.mark.parametrize("head,status", [
    (b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Version: 13\r\n\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n"
     b"Content-Length: 0\r\n\r\n", 400),
    (b"GET /echo HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n"
     b"Content-Length: 5\r\n\r\nhello", 400),
    (b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
], ids=["no-key", "short-key", "post", "http10", "body", "version-8"])
def test_bad_handshake(server, head, status):
    srv = start(server)
    r = Raw(srv, head=head)
    h = r.head()
    assert h.startswith("HTTP/1.1 %d " % status)
    assert ("sec-websocket-version: 13" in h.lower()) == (status == 426)
    r.rest()
    # the app never ran: plain http still works
    assert json.loads(Raw(srv, head=b"GET /progress HTTP/1.0\r\n\r\n").rest().split(
        b"\r\n\r\n", 1)[1]) == {"sent": 0, "received": 0}


def test_upgrade_without_connection_upgrade_is_plain_http(server):
    srv = start(server)
    r = Raw(srv, head=b"GET /progress HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                      b"Connection: close\r\n\r\n")
    assert r.head().startswith("HTTP/1.1 200 ")


# ---- back-pressure -------------------------------------------------------------------

def progress(srv):
    r = Raw(srv, head=b"GET /progress HTTP/1.0\r\n\r\n")
    return json.loads(r.rest().split(b"\r\n\r\n", 1)[1])


def test_slow_client_pauses_the_apps_send(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    n = 64
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", srv.port))
    r = Raw.__new__(Raw)
    r.s, r.buf = s, b""
    s.settimeout(TIMEOUT)
    s.sendall(b"GET /big?%d HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n" % (n, KEY))
    wait_for(lambda: progress(srv)["sent"] >= 1, what="the first send")
    assert progress(srv)["sent"] < n // 2
    assert r.head().startswith("HTTP/1.1 101 ")
    for i in range(n):
        b0, payload = r.frame()
        assert b0 == 0x82 and payload == bytes([65 + i % 26]) * (1 << 20)
    assert progress(srv)["sent"] == n
    s.sendall(frame(0x88, struct.pack("!H", 1000)))
    assert r.close_code() == (1000, b"")
    wait_for(lambda: "big: websocket.disconnect" in events(path), what="the disconnect")


def test_slow_app_stops_reading_the_socket(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    r = Raw(srv, "/hold")
    assert r.head().startswith("HTTP/1.1 101 ")
    s = r.s
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    s.setblocking(False)
    msg = frame(0x82, b"z" * 65536)
    total, sent = 256 * len(msg), 0
    while sent < total:
        try:
            sent += s.send(msg[sent % len(msg):])
        except BlockingIOError:
            if not select.select([], [s], [], 2)[1]:
                break  # the server stopped reading
    assert sent < total // 2, "the server read %d bytes the app did not ask for" % sent
    Raw(srv, head=b"GET /go HTTP/1.0\r\n\r\n").rest()
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    while sent < total:
        sent += s.send(msg[sent % len(msg):])
    s.sendall(frame(0x88, struct.pack("!H", 1000)))
    assert r.close_code() == (1000, b"")
    wait_for(lambda: "hold: %d bytes" % (256 * 65536) in events(path), what="every byte")


# ---- the rest ------------------------------------------------------------------------

def test_graceful_stop_closes_with_1001(server):
    srv = start(server)

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            srv.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(main()) == 1001
    assert srv.proc.wait(TIMEOUT) == 0


def test_access_log_says_101_or_403(server):
    srv = start(server, "--access-logfile", "-", "--access-logformat", '"%(r)s" %(s)s %(b)s')

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            await ws.send("four")
            await ws.recv()
        with pytest.raises(websockets.InvalidStatusCode):
            await websockets.connect(uri(srv, "/reject"))
    run(main())
    assert srv.proc.stdout.readline().decode() == '"GET /echo HTTP/1.1" 101 6\n'
    assert srv.proc.stdout.readline().decode().startswith('"GET /reject HTTP/1.1" 403 ')


def test_starlette_websocket_route(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, app="starletteapp:starlette_app", env=env)

    async def main():
        async with websockets.connect(uri(srv, "/ws")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "echo: hi"
            assert json.loads(await ws.recv()) == {"n": 2, "path": "/ws"}
            await ws.close(code=4000)
    run(main())
    wait_for(lambda: "starlette ws closed 4000" in events(path), what="the route's disconnect")


def test_chromium_opens_a_websocket(server, tmp_path):
    """A real browser (Debian's chromium, headless) loads a page whose
    script opens a WebSocket to the server and talks over it."""
    browser = shutil.which("chromium")
    if not browser:
        pytest.skip("Debian's chromium is not installed")
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    proc = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--user-data-dir=%s" % (tmp_path / "profile"),
         "http://127.0.0.1:%d/page" % srv.port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # the answer (over 64 bytes) came compressed: the browser offered
        # permessage-deflate and says it was taken
        got = "browser: got %sext=permessage-deflate" % ("HELLO FROM THE BROWSER, " * 4)
        wait_for(lambda: got in events(path), timeout=60, what="the browser's second message")
    finally:
        # the browser and its helpers: the process group it leads
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
