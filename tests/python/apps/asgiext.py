"""An ASGI app for the asgi worker's extensions: http.response.pathsend
(/file?path=PATH, with len=N giving a Content-Length of its own, body=1
a body before it),
http.response.trailers (/trailers: "hello world" in two bodies, or one
with one=1, then the trailer fields t=NAME:VALUE, in two messages;
noflag=1: without "trailers" in the start), what
its send raised (/errors), and the scope's extensions (/ext; /ext-spoil changes its own)."""

import json
import urllib.parse

ERRORS = []


async def _json(send, obj, status=200):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    q = urllib.parse.parse_qs(scope["query_string"].decode())
    if scope["path"] == "/ext":
        await _json(send, scope.get("extensions"))
    elif scope["path"] == "/ext-spoil":  # the next request must not see this
        tls = scope["extensions"]["tls"]
        tls["client_cert_chain"].append("spoilt")
        tls["tls_version"] = 0
        await _json(send, None)
    elif scope["path"] == "/errors":
        await _json(send, ERRORS)
    elif scope["path"] == "/trailers":
        await send({"type": "http.response.start", "status": 200,
                    "trailers": "noflag" not in q,
                    "headers": [(b"content-type", b"text/plain")]})
        if "one" in q:
            await send({"type": "http.response.body", "body": b"hello world"})
        else:
            await send({"type": "http.response.body", "body": b"hello", "more_body": True})
            await send({"type": "http.response.body", "body": b" world"})
        fields = [tuple(x.encode().split(b":", 1)) for x in q.get("t", [])]
        try:
            await send({"type": "http.response.trailers", "headers": fields[:1],
                        "more_trailers": True})
            await send({"type": "http.response.trailers", "headers": fields[1:]})
        except Exception as e:
            ERRORS.append("%s: %s" % (type(e).__name__, e))
            raise
    elif scope["path"] == "/file":
        headers = [(b"content-type", b"application/octet-stream")]
        if "len" in q:
            headers.append((b"content-length", q["len"][0].encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if "body" in q:  # a body first: no pathsend after it
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            await send({"type": "http.response.pathsend", "path": q["path"][0]})
        except Exception as e:
            ERRORS.append("%s: %s" % (type(e).__name__, e))
            raise
