"""A WebSocket echo benchmark (not a test): 64 connections each sending a
4 KiB compressible text message and waiting for its echo, for a few
seconds; messages/s and the server's CPU microseconds per message (the
server pinned to one core, this client on the other).

    python3 bench/ws.py [--seconds 10] [--conns 64] [--size 4096]

Servers: cunicorn -k asgi (with and without permessage-deflate) and
uvicorn (its websockets implementation) when Debian's python3-uvicorn is
there, each serving tests/python/apps/wsapp.py's /echo. The client is
raw asyncio sockets with frames made once: a compressed one offers
permessage-deflate with client_no_context_takeover, so every message
compresses to the same bytes; the server's frames are counted, not
inflated.
"""

import argparse
import asyncio
import base64
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(ROOT, "tests", "python", "apps")
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree_cpu(pid):
    """CPU seconds (user + system) of pid and its children, from /proc."""
    total, stats = 0, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            stats[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    todo = [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, (0, 0))[1]
        todo += [c for c, (pp, _) in stats.items() if pp == p]
    return total / HZ


def message(size):
    words = " ".join("%d:%x" % (i, i * 7919 % 65536) for i in range(size))
    return words.encode()[:size]


def client_frame(b0, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 65536:
        head = bytes([b0, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def deflated(data):
    c = zlib.compressobj(wbits=-15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


async def one(port, deflate, frame, until, counts):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    ext = b"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n" \
        if deflate else b""
    w.write(b"GET /echo HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (key, ext))
    head = await r.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    assert (b"permessage-deflate" in head.lower()) == deflate, head
    n = 0
    while time.monotonic() < until:
        w.write(frame)
        b0, b1 = await r.readexactly(2)
        ln = b1 & 0x7F
        if ln == 126:
            ln = struct.unpack("!H", await r.readexactly(2))[0]
        elif ln == 127:
            ln = struct.unpack("!Q", await r.readexactly(8))[0]
        await r.readexactly(ln)
        n += 1
    counts.append(n)
    w.close()


async def load(port, deflate, conns, seconds, size):
    data = message(size)
    frame = client_frame(0xC1, deflated(data)) if deflate else client_frame(0x81, data)
    counts = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(one(port, deflate, frame, until, counts) for _ in range(conns)))
    return sum(counts)


def wait_port(port, proc):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit("the server exited: %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server did not listen")


def run(name, cmd, port, deflate, a):
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, cwd=APPS,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        time.sleep(1)
        cpu0, t0 = tree_cpu(proc.pid), time.monotonic()
        n = asyncio.run(load(port, deflate, a.conns, a.seconds, a.size))
        cpu, t = tree_cpu(proc.pid) - cpu0, time.monotonic() - t0
        print("%-34s %9.0f msg/s %8.1f server CPU us/msg" % (name, n / t, cpu * 1e6 / n))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--size", type=int, default=4096)
    a = p.parse_args()
    os.sched_setaffinity(0, {1})
    print("load average: %s" % open("/proc/loadavg").read().strip())
    cun = os.path.join(ROOT, "cunicorn")
    for deflate in (True, False):
        port = free_port()
        run("cunicorn -k asgi%s" % ("" if deflate else " (no deflate)"),
            [cun, "-k", "asgi", "-w", "1", "-b", "127.0.0.1:%d" % port,
             "--ws-per-message-deflate", str(deflate).lower(), "wsapp:app"], port, deflate, a)
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return
    for deflate in (True, False):
        port = free_port()
        run("uvicorn --ws websockets%s" % ("" if deflate else " (no deflate)"),
            [sys.executable, "-m", "uvicorn", "--port", str(port), "--ws", "websockets",
             "--lifespan", "off", "--no-access-log", "--log-level", "warning",
             "--ws-per-message-deflate", str(deflate), "wsapp:app"], port, deflate, a)


if __name__ == "__main__":
    main()
