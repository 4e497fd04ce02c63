#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from the conformance cases.

fuzz/corpus/head/     [options][cut] + each case's bytes
fuzz/corpus/chunked/  [step] + the body of each chunked case
fuzz/corpus/ws/       [step][limit] + WebSocket client frames (ws_seeds())
(fuzz/corpus/proxy/ is written by hand.)

Run again when the corpora change: python3 fuzz/make_seeds.py
"""

import glob
import hashlib
import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTS = [os.path.join(HERE, "..", "tests", "corpus", "gunicorn"),
         os.path.join(HERE, "..", "tests", "corpus", "cunicorn")]
FLAGS = ["permit_unconventional_http_method", "casefold_http_method",
         "strip_header_spaces", "permit_obsolete_folding",
         "permit_unconventional_http_version"]
MAX_SEED = 16384


def options(cfg):
    opt = 0
    for bit, name in enumerate(FLAGS):
        if cfg.get(name):
            opt |= 1 << bit
    opt |= {"drop": 0, "dangerous": 1, "refuse": 2}.get(
        cfg.get("header_map", "drop"), 0) << 5
    return opt


def write(kind, data):
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


def ws_frame(b0, payload, mask=b"\x37\xfa\x21\x3d"):
    """A masked client frame whose first byte is b0."""
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 65536:
        head = bytes([b0, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 0x80 | 127]) + n.to_bytes(8, "big")
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + body


def ws_seeds():
    """Client frames: RFC 6455's examples, fragments, control frames,
    the close, and a few of every error."""
    f = ws_frame
    streams = [
        f(0x81, b"Hello"),
        f(0x01, b"Hel") + f(0x89, b"ping") + f(0x80, b"lo"),
        f(0x82, bytes(range(256)) * 2),
        f(0x01, "\u03ba\u1f79".encode()[:3]) + f(0x80, "\u03ba\u1f79".encode()[3:]),
        f(0x88, b"\x03\xe8bye"),
        f(0x88, b""),
        f(0x8a, b"pong") + f(0x81, b"after"),
        f(0x81, b"ok\xed\xa0\x80"),
        f(0x88, b"\x03\xed"),
        f(0x88, b"\x03"),
        f(0x80, b"cont"),
        f(0x01, b"a") + f(0x81, b"b"),
        f(0xC1, b"rsv"),
        f(0x83, b"op"),
        f(0x09, b"frag ping"),
        bytes([0x81, 0x05]) + b"Hello",
        bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    ]
    os.makedirs(os.path.join(HERE, "corpus", "ws"), exist_ok=True)
    for s in streams:
        write("ws", bytes([3, 0]) + s)
        write("ws", bytes([0, 1]) + s)
    # permessage-deflate (step's top bit): compressed messages, whole and
    # fragmented, kept context, a bomb, bad data, RSV1 misused
    for s in deflate_streams(f):
        write("ws", bytes([0x83, 0]) + s)
        write("ws", bytes([0x80, 2]) + s)


def deflate(data, c=None):
    """data as a compressed message: raw deflate, the sync tail dropped."""
    c = c or zlib.compressobj(wbits=-15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def deflate_streams(f):
    c = zlib.compressobj(wbits=-15)
    z = deflate(b"abcdefgh" * 40)
    return [
        f(0xC1, deflate(b"Hello")),
        f(0xC1, deflate(b"twice " * 10, c)) + f(0xC1, deflate(b"twice " * 10, c)),
        f(0x42, z[:5]) + f(0x89, b"p") + f(0x00, z[5:9]) + f(0x80, z[9:]),
        f(0xC2, deflate(bytes(20000))),
        f(0xC1, deflate(b"ok\xff")),
        f(0xC1, b"\xff\xff not deflate"),
        f(0x41, deflate(b"x")) + f(0xC0, b""),
        f(0xC9, b"ping"),
        f(0x81, b"plain") + f(0xC1, deflate(b"")),
    ]


def main():
    ws_seeds()
    for kind in ("head", "chunked"):
        os.makedirs(os.path.join(HERE, "corpus", kind), exist_ok=True)
    for root in ROOTS:
        for path in sorted(glob.glob(os.path.join(root, "*", "*.http"))):
            data = open(path, "rb").read()
            if len(data) > MAX_SEED:
                continue
            base = path[:-5]
            cfg = {}
            if os.path.exists(base + ".config.json"):
                cfg = json.load(open(base + ".config.json"))
            elif "invalid" in path:
                cfg = json.load(open(base + ".json")).get("config", {})
            write("head", bytes([options(cfg), 128]) + data)
            head_end = data.find(b"\r\n\r\n")
            if b"chunked" in data.lower() and head_end > 0:
                write("chunked", bytes([3]) + data[head_end + 4:])


if __name__ == "__main__":
    main()
