"""hello.py's three routes as an ASGI app, for the asgi servers of
bench/http.py's keep-alive table (cunicorn -k asgi, uvicorn).

  GET  /       Hello, World! (14 bytes)
  GET  /big    64 KiB of 'x'
  POST /post   reads the whole body; 200 if it got Content-Length bytes,
               500 otherwise (wrk counts that as a non-2xx response)
"""

HELLO = b"Hello, World!\n"
BIG = b"x" * (64 * 1024)


def _length(scope):
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)
    return 0


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan: both servers go on without it
    path = scope["path"]
    status = 200
    if path == "/big":
        body = BIG
    elif path == "/post":
        want, got = _length(scope), 0
        while True:
            m = await receive()
            got += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        body = b"read %d bytes\n" % got
        if got != want:
            status = 500
    else:
        body = HELLO
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
