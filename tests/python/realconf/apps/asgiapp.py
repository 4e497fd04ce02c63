"""The stand-in for the ASGI apps (FastAPI, Django's ASGI handler) that the
uvicorn-based config files serve."""

import json
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"pid": os.getpid(), "scheme": scope.get("scheme")}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


application = app
