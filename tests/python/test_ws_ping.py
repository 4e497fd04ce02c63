"""The server's own WebSocket pings under the asgi worker (uvicorn's
--ws-ping-interval and --ws-ping-timeout): a raw client that never
answers is closed with 1011 and the app hears websocket.disconnect 1011;
one that answers stays; 0 turns either off; Debian's websockets client
answers them by itself."""

import asyncio
import struct

import pytest

from conftest import wait_for
from test_asgi import events, events_env
from test_websocket import Raw, frame, run, start, uri

websockets = pytest.importorskip("websockets")


def next_ping(r):
    """Reads frames until a ping; the frames before it are returned too."""
    before = []
    while True:
        b0, payload = r.frame()
        if b0 == 0x89:
            return payload, before
        before.append((b0, payload))


@pytest.mark.parametrize("path", ["/echo", "/hold"])
def test_a_client_that_never_answers_is_closed_with_1011(server, tmp_path, path):
    env, events_path = events_env(tmp_path)
    srv = start(server, "--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.2", env=env)
    r = Raw(srv, path)
    assert r.head().startswith("HTTP/1.1 101 ")
    payload, _ = next_ping(r)
    assert len(payload) == 4
    # no pong: the close, and the end of the connection
    assert r.close_code() == (1011, b"keepalive ping timeout")
    assert r.rest() == b""
    if path == "/echo":   # the app that receives hears it
        wait_for(lambda: "disconnect 1011" in events(events_path), what="the app's disconnect")


def test_a_client_that_answers_stays(server, tmp_path):
    env, events_path = events_env(tmp_path)
    srv = start(server, "--ws-ping-interval", "0.2", "--ws-ping-timeout", "5", env=env)
    r = Raw(srv)
    r.head()
    seen = set()
    for _ in range(3):
        payload, before = next_ping(r)
        assert before == []
        seen.add(payload)
        r.s.sendall(frame(0x8A, payload))
    assert len(seen) == 3, "each ping carries its own number"
    r.s.sendall(frame(0x81, b"still here"))
    got = r.frame()
    while got[0] == 0x89:   # pings may come between
        r.s.sendall(frame(0x8A, got[1]))
        got = r.frame()
    assert got == (0x81, b"still here")
    r.s.sendall(frame(0x88, struct.pack("!H", 1000)))
    wait_for(lambda: "disconnect 1000" in events(events_path), what="the app's disconnect")


def test_timeout_0_never_closes(server):
    srv = start(server, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "0")
    r = Raw(srv)
    r.head()
    numbers = [next_ping(r)[0] for _ in range(4)]   # unanswered, and on they come
    assert len(set(numbers)) == 4
    r.s.sendall(frame(0x81, b"alive"))
    got = r.frame()
    while got[0] == 0x89:
        got = r.frame()
    assert got == (0x81, b"alive")


def test_websockets_client_answers_the_pings(server, tmp_path):
    from websockets.legacy.client import WebSocketClientProtocol

    class Counting(WebSocketClientProtocol):
        pongs = 0

        async def pong(self, data=b""):
            Counting.pongs += 1
            await super().pong(data)

    env, events_path = events_env(tmp_path)
    srv = start(server, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "0.5", env=env)

    async def main():
        async with websockets.connect(uri(srv, "/echo"), ping_interval=None,
                                      create_protocol=Counting) as ws:
            i = 0
            # the client's pongs answer our pings; the app's messages go on
            while Counting.pongs < 3:
                await ws.send("m%d" % i)
                assert await ws.recv() == "m%d" % i
                i += 1
                await asyncio.sleep(0.05)
            assert ws.open
    run(main())
    wait_for(lambda: "disconnect 1000" in events(events_path), what="the app's disconnect")


def test_pings_and_timeout_in_a_config_file(server, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("ws_ping_interval = 0.2\nws_ping_timeout = 0.2\n")
    srv = start(server, "-c", str(conf))
    r = Raw(srv)
    r.head()
    next_ping(r)
    assert r.close_code() == (1011, b"keepalive ping timeout")
