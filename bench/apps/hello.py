"""The app every server in bench/http.py runs: one module, three routes.

  GET  /       Hello, World! (14 bytes)
  GET  /big    64 KiB of 'x'
  POST /post   reads the whole body; 200 if it got CONTENT_LENGTH bytes,
               500 otherwise (wrk counts that as a non-2xx response)
  GET  /outbound  one HTTP call to 127.0.0.1:$BENCH_SLOW_PORT (bench/green.py's
               slow server, which answers after a second), its body
"""

import os

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
    elif path == "/outbound":
        # imported here, not at the top: urllib.request (http.client, email,
        # ssl...) is over 6 MiB of RSS in every worker, and only this route
        # needs it (bench/memory.py)
        import urllib.request

        url = "http://127.0.0.1:%s/" % os.environ["BENCH_SLOW_PORT"]
        with urllib.request.urlopen(url, timeout=60) as r:
            body = r.read()
    else:
        body = HELLO
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))])
    return [body]


application = app
