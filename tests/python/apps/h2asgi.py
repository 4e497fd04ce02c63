"""An ASGI app for HTTP/2 on the asgi worker (test_http2_asgi.py): its
scope as JSON, a body's digest, streams that wait for each other, a body
held unread until released, large responses, failures before and after
the response's start, and a log of the disconnects the app saw; trailers
(/trailers, ?stream for a body without a Content-Length, ?bad for a
refused one) and the scope's extensions (/extensions)."""

import asyncio
import hashlib
import json

STATE = {"events": [], "released": None, "sent": 0}


def _released():
    if STATE["released"] is None:
        STATE["released"] = asyncio.Event()
    return STATE["released"]


async def _answer(send, body, status=200, ctype=b"application/json"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read(receive, pause=0.0):
    h, n = hashlib.sha256(), 0
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            return None, n
        h.update(m.get("body", b""))
        n += len(m.get("body", b""))
        if pause:
            await asyncio.sleep(pause)
        if not m.get("more_body"):
            return h.hexdigest(), n


async def _stream(send, n, size=65536):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    chunk = b"x" * size
    for _ in range(n):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        STATE["sent"] += size
    await send({"type": "http.response.body", "body": b""})


async def _trailers(send, q):
    await send({"type": "http.response.start", "status": 200, "trailers": True,
                "headers": [] if q == "stream" else [(b"content-length", b"4")]})
    if q == "stream":
        await send({"type": "http.response.body", "body": b"bo", "more_body": True})
    await send({"type": "http.response.body", "body": b"body"[2 * (q == "stream"):]})
    if q == "bad":  # refused: the stream is reset, no trailers go out
        try:
            await send({"type": "http.response.trailers", "more_trailers": True,
                        "headers": [(b"x-before", b"1"), (b"content-length", b"4")]})
        except ValueError:
            STATE["events"].append("ValueError")
        return
    await send({"type": "http.response.trailers", "more_trailers": True,
                "headers": [(b"Grpc-Status", b"0")]})
    await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, q = scope["path"], scope["query_string"].decode()
    if path == "/digest":
        digest, n = await _read(receive)
        await _answer(send, json.dumps({"sha256": digest, "length": n}).encode())
    elif path == "/held":  # reads nothing until /release, then slowly
        await _released().wait()
        digest, n = await _read(receive, pause=0.001)
        await _answer(send, json.dumps({"sha256": digest, "length": n}).encode())
    elif path == "/wait":
        await _released().wait()
        await _answer(send, b"released", ctype=b"text/plain")
    elif path == "/release":
        _released().set()
        await _answer(send, b"ok", ctype=b"text/plain")
    elif path == "/stream":  # n chunks of 64 KiB, no Content-Length
        await _stream(send, int(q or 16))
    elif path == "/sent":
        await _answer(send, str(STATE["sent"]).encode(), ctype=b"text/plain")
    elif path == "/raise-before":
        raise RuntimeError("before the response")
    elif path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("after the response's start")
    elif path == "/disconnect":  # reads until the client leaves
        STATE["events"].append("reading")
        digest, n = await _read(receive)
        STATE["events"].append("disconnect" if digest is None else "whole")
        if digest is not None:
            await _answer(send, b"whole", ctype=b"text/plain")
    elif path == "/sleep":
        STATE["events"].append("sleeping")
        await asyncio.sleep(float(q))
        await _answer(send, b"slept", ctype=b"text/plain")
    elif path == "/trailers":
        await _trailers(send, q)
    elif path == "/extensions":
        await _answer(send, json.dumps(scope["extensions"]).encode())
    elif path == "/events":
        await _answer(send, json.dumps(STATE["events"]).encode())
    else:
        await _read(receive)
        view = {k: (v.decode("latin-1") if isinstance(v, bytes) else v)
                for k, v in scope.items() if k in ("http_version", "method", "path",
                                                   "scheme", "query_string", "type")}
        view["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
        await _answer(send, json.dumps(view).encode())
