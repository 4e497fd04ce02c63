"""A WebSocket test app for the asgi worker (raw ASGI). By path:

/echo      accepts (subprotocol "chat" when offered, a header x-ws: yes) and
           echoes text as text and bytes as bytes; the text "close:CODE:REASON"
           makes it close so; "scope" sends the scope as JSON
/reject    closes before accepting (a 403)
/deny      answers with websocket.http.response.* (401, "denied")
/return    accepts and returns (the server closes with 1000)
/fail      accepts and raises (1011)
/big?N     accepts and sends N messages of 1 MiB; PROGRESS["sent"] counts them
/hold      accepts, receives nothing until GET /go, then counts the bytes
           of every message until the client closes (PROGRESS["received"])
/browser   accepts, answers the first text upper-cased, notes the second
           ("browser: ...") and closes

Over http: /page, a page whose script talks to /browser;
/progress (PROGRESS as JSON) and /go. What the app sees at the end goes
to the file in $ASGI_EVENTS.
"""

import asyncio
import json
import os

PROGRESS = {"sent": 0, "received": 0}
GO = {}


def _event(text):
    path = os.environ.get("ASGI_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


async def _lifespan(receive, send):
    while True:
        m = await receive()
        kind = m["type"].split(".")[-1]
        await send({"type": "lifespan.%s.complete" % kind})
        if kind == "shutdown":
            return


def _jsonable(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


PAGE = b"""<!doctype html><title>ws</title><script>
const ws = new WebSocket("ws://" + location.host + "/browser");
ws.onopen = () => ws.send("hello from the browser, ".repeat(4));
ws.onmessage = (e) => ws.send("got " + e.data + "ext=" + ws.extensions);
</script>"""


async def _http(scope, receive, send):
    if scope["path"] == "/page":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": PAGE})
        return
    if scope["path"] == "/go":
        GO.setdefault("event", asyncio.Event()).set()
    body = json.dumps(PROGRESS).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def _echo(scope, receive, send):
    sub = "chat" if "chat" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": sub,
                "headers": [(b"x-ws", b"yes")]})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            _event("disconnect %d" % m["code"])
            return
        text = m.get("text")
        if text is not None and text.startswith("close:"):
            _, code, reason = text.split(":", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            m = await receive()
            _event("after close: %s %d" % (m["type"], m["code"]))
            return
        if text == "scope":
            await send({"type": "websocket.send", "text": json.dumps(_jsonable(scope))})
        elif text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})


async def _big(scope, receive, send):
    n = int(scope["query_string"] or b"1")
    PROGRESS["sent"] = 0
    await send({"type": "websocket.accept"})
    for i in range(n):
        await send({"type": "websocket.send", "bytes": bytes([65 + i % 26]) * (1 << 20)})
        PROGRESS["sent"] = i + 1
    m = await receive()
    _event("big: %s" % m["type"])


async def _hold(scope, receive, send):
    PROGRESS["received"] = 0
    await send({"type": "websocket.accept"})
    await GO.setdefault("event", asyncio.Event()).wait()
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            _event("hold: %d bytes" % PROGRESS["received"])
            return
        PROGRESS["received"] += len(m.get("bytes") or b"")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http":
        return await _http(scope, receive, send)
    m = await receive()
    assert m == {"type": "websocket.connect"}, m
    path = scope["path"]
    if path == "/reject":
        await send({"type": "websocket.close"})
    elif path == "/deny":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"denied"})
    elif path == "/return":
        await send({"type": "websocket.accept"})
    elif path == "/fail":
        await send({"type": "websocket.accept"})
        raise RuntimeError("boom from a websocket")
    elif path == "/big":
        await _big(scope, receive, send)
    elif path == "/hold":
        await _hold(scope, receive, send)
    elif path == "/browser":
        await send({"type": "websocket.accept"})
        m = await receive()
        await send({"type": "websocket.send", "text": m["text"].upper()})
        m = await receive()
        _event("browser: %s" % m["text"])
        await send({"type": "websocket.close"})
    else:
        await _echo(scope, receive, send)
