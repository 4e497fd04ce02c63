"""permessage-deflate (RFC 7692) under the asgi worker: Debian's websockets
client, which offers it by default, and a raw socket that compresses with
zlib itself, for what the server sends (RSV1, the context kept or not),
what the negotiation answers to good and bad offers, and what a client
must not do (RSV1 misused, no deflate data, a deflate bomb)."""

import os
import struct
import zlib

import pytest

from conftest import wait_for
from test_asgi import events, events_env
from test_websocket import KEY, Raw, frame, run, start, uri

websockets = pytest.importorskip("websockets")
from websockets.extensions.permessage_deflate import PerMessageDeflate  # noqa: E402

TAIL = b"\x00\x00\xff\xff"
# compressible, but not to nothing: its second copy is what shrinks
TEXT = " ".join("%d:%x" % (i, i * 7919) for i in range(200)).encode()


def offer(ext):
    """A handshake offering the extension line ext (or none)."""
    return (b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
            % (KEY, b"Sec-WebSocket-Extensions: %s\r\n" % ext if ext else b""))


def extension(head):
    """The response's Sec-WebSocket-Extensions value, or None."""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "sec-websocket-extensions":
            return value.strip()
    return None


def deflate(data, c=None):
    """data compressed as a message (the sync flush's tail dropped)."""
    c = c or zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def connect(srv, ext=b"permessage-deflate"):
    r = Raw(srv, head=offer(ext))
    head = r.head()
    assert head.startswith("HTTP/1.1 101 "), head
    return r, extension(head)


# ---- with Debian's websockets client ----------------------------------------------

def test_negotiated_by_default_and_echoes(server, tmp_path):
    env, path = events_env(tmp_path)
    srv = start(server, env=env)
    text = "héllo wörld, " * 500
    data = bytes(range(256)) * 64

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            assert ws.response_headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
            assert [type(e) for e in ws.extensions] == [PerMessageDeflate]
            for m in (text, data, "small", b"\x00", "", text):
                await ws.send(m)
                assert await ws.recv() == m
    run(main())
    wait_for(lambda: "disconnect 1000" in events(path), what="the app's disconnect")


def test_large_compressible_message(server):
    srv = start(server, "--ws-max-size", str(8 << 20))
    text = "ünïcödé € " * (500 << 10)   # about 7 MiB of UTF-8, under the limit
    assert len(text.encode()) < 8 << 20

    async def main():
        async with websockets.connect(uri(srv, "/echo"), max_size=None) as ws:
            await ws.send(text)
            assert await ws.recv() == text
            # in fragments, compressed as one message
            await ws.send(text[i:i + 100000] for i in range(0, len(text), 100000))
            assert await ws.recv() == text
    run(main())


def test_setting_off_means_no_extension(server):
    srv = start(server, "--ws-per-message-deflate", "false")

    async def main():
        async with websockets.connect(uri(srv, "/echo")) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response_headers
            assert ws.extensions == []
            await ws.send(TEXT.decode())
            assert await ws.recv() == TEXT.decode()
    run(main())
    # a compressed frame is then a protocol error: RSV1 without an extension
    r, ext = connect(srv)
    assert ext is None
    r.s.sendall(frame(0xC1, deflate(TEXT)))
    assert r.close_code() == (1002, b"")


# ---- the raw client: what the server sends ------------------------------------------

def test_server_compresses_and_keeps_its_context(server):
    srv = start(server)
    r, ext = connect(srv)
    assert ext == "permessage-deflate"
    c, d = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    sizes = []
    for _ in range(2):
        # the client keeps its context too: the second message refers to the first
        r.s.sendall(frame(0xC1, deflate(TEXT, c)))
        b0, payload = r.frame()
        assert b0 == 0xC1, "a compressed text frame: FIN, RSV1, text"
        assert d.decompress(payload + TAIL) == TEXT
        sizes.append(len(payload))
    assert sizes[1] < sizes[0] // 4, "the second message refers to the first: %s" % sizes
    # a small message goes uncompressed; binary is compressed as well
    r.s.sendall(frame(0xC1, deflate(b"tiny")) + frame(0xC2, deflate(TEXT)))
    assert r.frame() == (0x81, b"tiny")
    b0, payload = r.frame()
    assert b0 == 0xC2 and d.decompress(payload + TAIL) == TEXT
    # an uncompressed message from the client is fine as well
    r.s.sendall(frame(0x82, b"plain"))
    assert r.frame() == (0x82, b"plain")


def test_no_context_takeover(server):
    srv = start(server)
    r, ext = connect(srv, b"permessage-deflate; server_no_context_takeover; "
                          b"client_no_context_takeover")
    assert ext == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    payloads = []
    for _ in range(3):
        # a fresh compressor per message, as the client said
        r.s.sendall(frame(0xC1, deflate(TEXT)))
        b0, payload = r.frame()
        assert b0 == 0xC1
        # each inflates alone, with no history
        assert zlib.decompressobj(wbits=-15).decompress(payload + TAIL) == TEXT
        payloads.append(payload)
    assert payloads[0] == payloads[1] == payloads[2]


def test_fragmented_compressed_message(server):
    srv = start(server)
    r, _ = connect(srv)
    z = deflate(TEXT * 10)
    third = len(z) // 3
    # RSV1 on the first frame only; a ping between the fragments
    r.s.sendall(frame(0x41, z[:third]) + frame(0x89, b"p") + frame(0x00, z[third:2 * third]) +
                frame(0x80, z[2 * third:]))
    assert r.frame() == (0x8A, b"p")
    b0, payload = r.frame()
    assert b0 == 0xC1
    assert zlib.decompressobj(wbits=-15).decompress(payload + TAIL) == TEXT * 10


@pytest.mark.parametrize("ext,answer", [
    (b"permessage-deflate; client_max_window_bits", "permessage-deflate"),
    (b"permessage-deflate; client_max_window_bits=10",
     "permessage-deflate; client_max_window_bits=10"),
    (b'permessage-deflate; client_max_window_bits="9"',
     "permessage-deflate; client_max_window_bits=9"),
    (b"permessage-deflate; server_max_window_bits=10",
     "permessage-deflate; server_max_window_bits=10"),
    (b"PerMessage-Deflate ;server_no_context_takeover ; client_max_window_bits = 15",
     "permessage-deflate; server_no_context_takeover; client_max_window_bits=15"),
    # the first acceptable offer wins
    (b"x-webkit-deflate-frame, permessage-deflate; foo, permessage-deflate; "
     b"server_max_window_bits=9, permessage-deflate",
     "permessage-deflate; server_max_window_bits=9"),
], ids=["client-bits", "client-bits-10", "quoted", "server-bits", "spaces-and-case",
        "first-acceptable"])
def test_offers_accepted(server, ext, answer):
    srv = start(server)
    r, got = connect(srv, ext)
    assert got == answer
    # and the connection works both ways with those parameters
    c = zlib.compressobj(wbits=-9)   # within any client_max_window_bits
    d = zlib.decompressobj(wbits=-15)
    for _ in range(2):
        r.s.sendall(frame(0xC1, deflate(TEXT, c)))
        b0, payload = r.frame()
        assert b0 == 0xC1 and d.decompress(payload + TAIL) == TEXT


@pytest.mark.parametrize("ext", [
    b"permessage-deflate; foo",
    b"permessage-deflate; server_max_window_bits",
    b"permessage-deflate; server_max_window_bits=8",
    b"permessage-deflate; server_max_window_bits=16",
    b"permessage-deflate; client_max_window_bits=7",
    b"permessage-deflate; client_max_window_bits=010",
    b"permessage-deflate; client_max_window_bits=1x",
    b"permessage-deflate; client_max_window_bits=",
    b"permessage-deflate; server_no_context_takeover=1",
    b"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    b"permessage-deflate; client_max_window_bits; client_max_window_bits=9",
    b"x-webkit-deflate-frame",
    b"permessage-deflateX",
    b", ;;",
], ids=["unknown", "server-bits-no-value", "server-bits-8", "server-bits-16",
        "client-bits-7", "leading-zero", "not-digits", "empty-value", "takeover-value",
        "repeated", "repeated-bits", "other-extension", "other-name", "empty"])
def test_bad_offers_answered_without_the_extension(server, ext):
    srv = start(server)
    r, got = connect(srv, ext)
    assert got is None
    r.s.sendall(frame(0x81, b"plain"))
    assert r.frame() == (0x81, b"plain")


# ---- the raw client: what it must not do ------------------------------------------

@pytest.mark.parametrize("data,code", [
    (frame(0x41, deflate(b"x" * 100)) + frame(0xC0, b""), 1002),   # RSV1 on a continuation
    (frame(0xC9, b"ping"), 1002),                                # RSV1 on a ping
    (frame(0xC8, struct.pack("!H", 1000)), 1002),                # ... on a close
    (frame(0xA1, b"rsv2"), 1002),                                # RSV2: no extension has it
    (frame(0xC1, b"\xff\xff\xff\xff not deflate"), 1002),        # no deflate data
    (frame(0xC1, deflate(b"ok \xff not utf-8")), 1007),          # UTF-8, after inflating
    (frame(0xC1, deflate("caf\u00e9".encode()[:-1])), 1007),     # a character cut
], ids=["rsv1-continuation", "rsv1-ping", "rsv1-close", "rsv2", "bad-deflate", "bad-utf8",
        "cut-character"])
def test_misuse_closes_the_connection(server, data, code):
    srv = start(server)
    r, _ = connect(srv)
    r.s.sendall(data)
    assert r.close_code() == (code, b"")
    assert r.rest() == b""


def hwm_kib(pid):
    """The peak resident memory of pid (VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("fragments", [1, 5])
def test_deflate_bomb_is_1009_and_costs_no_memory(server, tmp_path, fragments):
    env, path = events_env(tmp_path)
    srv = start(server, "--ws-max-size", str(1 << 20), env=env)
    worker = srv.worker_pids()[0]
    # 256 MiB of zeros compress to about 256 KiB: under the limit on the wire
    c = zlib.compressobj(9, wbits=-15)
    bomb = b"".join(c.compress(b"\0" * (1 << 20)) for _ in range(256)) + \
        c.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(bomb) < 1 << 20
    r, _ = connect(srv)
    r.s.sendall(frame(0x82, b"warm") + frame(0xC2, deflate(b"y" * 1000)))
    assert r.frame() == (0x82, b"warm")
    assert r.frame()[0] == 0xC2
    before = hwm_kib(worker)
    step = len(bomb) // fragments + 1
    parts = [bomb[i:i + step] for i in range(0, len(bomb), step)]
    for i, p in enumerate(parts):
        b0 = (0x42 if i == 0 else 0x00) | (0x80 if i == len(parts) - 1 else 0)
        try:
            r.s.sendall(frame(b0, p))
        except OSError:
            break   # the server closed on the first fragment already
    assert r.close_code() == (1009, b"")
    wait_for(lambda: "disconnect 1009" in events(path), what="the app's disconnect")
    # the worker never held the bomb: its peak grew by less than a few
    # times the limit, not by the 256 MiB the bomb inflates to
    assert hwm_kib(worker) - before < 16 << 10, (before, hwm_kib(worker))
    # and it serves on
    r, _ = connect(srv)
    r.s.sendall(frame(0xC1, deflate(TEXT)))
    b0, payload = r.frame()
    assert b0 == 0xC1
    assert zlib.decompressobj(wbits=-15).decompress(payload + TAIL) == TEXT
    assert os.path.exists("/proc/%d" % worker)
