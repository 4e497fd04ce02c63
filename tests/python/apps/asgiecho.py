"""ASGI test apps. app: tells what it received, as JSON, and a few routes
that stream, fail, wait or hold back; its lifespan keeps a state, and
writes what happened to the file in $ASGI_EVENTS. The others: an app
whose lifespan fails, and one that takes no lifespan at all."""

import asyncio
import hashlib
import json
import os

PROGRESS = {"big": 0}


def _event(text):
    path = os.environ.get("ASGI_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write("%d %s\n" % (os.getpid(), text))


async def _lifespan(receive, send, scope):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            scope["state"]["booted_by"] = os.getpid()
            _event("startup")
            await send({"type": "lifespan.startup.complete"})
        elif m["type"] == "lifespan.shutdown":
            _event("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive):
    parts = []
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            return b"".join(parts), len(parts), True
        parts.append(m.get("body", b""))
        if not m.get("more_body"):
            return b"".join(parts), len(parts), False


def _environ_view(scope):
    """The scope in the WSGI environ's words, for the corpus replay."""
    env = {"REQUEST_METHOD": scope["method"],
           "RAW_URI": (scope["raw_path"] + (b"?" + scope["query_string"]
                                            if scope["query_string"] else b"")).decode("latin-1"),
           "QUERY_STRING": scope["query_string"].decode("latin-1"),
           "SERVER_PROTOCOL": "HTTP/" + scope["http_version"]}
    for name, value in scope["headers"]:
        name = name.decode("latin-1").upper()
        key = name.replace("-", "_")
        if name not in ("CONTENT-TYPE", "CONTENT-LENGTH"):
            key = "HTTP_" + key
        value = value.decode("latin-1")
        env[key] = env[key] + "," + value if key in env else value
    return env


def _scope_view(scope):
    out = {}
    for k, v in scope.items():
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        elif k == "headers":
            v = [[n.decode("latin-1"), x.decode("latin-1")] for n, x in v]
        out[k] = v
    return out


async def _json(send, obj, status=200):
    data = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send, scope)
    path = scope["path"]
    query = scope["query_string"].decode()
    if path == "/error":
        raise RuntimeError("boom from the app")
    if path == "/error-after":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom after the head")
    if path == "/nothing":
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i,
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/big":
        # N MiB in 1 MiB sends; PROGRESS says how many have completed
        PROGRESS["big"] = 0
        n = int(query or "1")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(n << 20).encode())]})
        for i in range(n):
            await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * (1 << 20),
                        "more_body": True})
            PROGRESS["big"] = i + 1
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/progress":
        return await _json(send, PROGRESS)
    if path == "/sleep":
        await asyncio.sleep(float(query or "1"))
    if path == "/block":
        import time
        time.sleep(float(query or "1"))  # blocks the loop: no heartbeat
    if path == "/hold":
        # reads nothing until the file named by the query exists
        while not os.path.exists(query):
            await asyncio.sleep(0.02)
    if path == "/disconnect":
        # the body, then what receive() says once the client has gone
        await _body(receive)
        m = await receive()
        _event("after body: " + m["type"])
        return
    if path == "/linger-on":
        # goes on after the client left, until its task is cancelled
        await _body(receive)
        m = await receive()
        _event("after body: " + m["type"])
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            _event("cancelled")
            raise
    if path == "/status":
        code = int(query or "204")
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
        return
    if path == "/badheader":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", b"a\r\nInjected: yes")]})
        return
    if path == "/hugelength":  # more than an int64 holds
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"99999999999999999999")]})
        return
    body, chunks, gone = await _body(receive)
    await _json(send, {
        "scope": _scope_view(scope),
        "environ": _environ_view(scope),
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body": body.decode("latin-1") if len(body) < 65536 else None,
        "chunks": chunks,
        "pid": os.getpid(),
    })


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        return
    await app(scope, receive, send)


async def no_lifespan(scope, receive, send):
    if scope["type"] == "lifespan":
        raise RuntimeError("this app takes no lifespan")
    await app(scope, receive, send)
