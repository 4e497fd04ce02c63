"""The app every server in bench/http.py runs: one module, three routes.

  GET  /       Hello, World! (14 bytes)
  GET  /big    64 KiB of 'x'
  POST /post   reads the whole body; 200 if it got CONTENT_LENGTH bytes,
               500 otherwise (wrk counts that as a non-2xx response)
"""

HELLO = b"Hello, World!\n"
BIG = b"x" * (64 * 1024)


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    status = "200 OK"
    if path == "/big":
        body = BIG
    elif path == "/post":
        want = int(environ.get("CONTENT_LENGTH") or 0)
        got = len(environ["wsgi.input"].read(want))
        body = b"read %d bytes\n" % got
        if got != want:
            status = "500 Internal Server Error"
    else:
        body = HELLO
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))])
    return [body]


application = app
