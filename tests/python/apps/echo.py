"""Test apps. echo: tells what it received, as JSON."""

import hashlib
import json
import os
import sys
import wsgiref.validate


def _environ_view(environ):
    return {k: v for k, v in environ.items() if isinstance(v, (str, int, bool, tuple))}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/error":
        raise RuntimeError("boom from the app")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"chunk %d\n" % i for i in range(5))
    if path == "/hints":
        environ["wsgi.early_hints"]([("Link", "</style.css>; rel=preload")])
        start_response("200 OK", [("Content-Length", "2")])
        # the head goes out with the body, so this one is still sent first
        environ["wsgi.early_hints"]([("Link", "</late>")])
        return [b"ok"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        return [b"then returned"]
    if path == "/spin":
        # busy in Python for N seconds: only an exception can stop it
        import time
        end = time.monotonic() + float(environ.get("QUERY_STRING") or "1")
        while time.monotonic() < end:
            pass
    if path == "/sleep":
        import time
        environ["wsgi.errors"].write("sleeping in the app\n")
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
    if path == "/sleep-begun":
        # the head and a first part out, then N seconds asleep
        import time
        write = start_response("200 OK", [("Content-Length", "100")])
        write(b"first part;")
        environ["wsgi.errors"].write("sleeping in the app\n")
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
        return [b"the rest"]
    if path == "/sleep-hinted":
        # a 103 out, then N seconds asleep before the response
        import time
        environ["wsgi.early_hints"]([("Link", "</style.css>; rel=preload")])
        environ["wsgi.errors"].write("sleeping in the app\n")
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
    if path == "/sched":
        # the scheduling policy of the thread running the app (Linux)
        data = json.dumps({"policy": os.sched_getscheduler(0)}).encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]
    if path == "/status":
        code = environ.get("QUERY_STRING") or "204 No Content"
        start_response(code.replace("+", " "), [("Content-Length", "5")])
        return [b"hello"]
    if path == "/headers":
        start_response("200 OK", [("X-One", "1"), ("Connection", "keep-alive"),
                                  ("Transfer-Encoding", "chunked"),
                                  ("Server", "evil"), ("X-Two", " 2 ")])
        return [b""]
    if path == "/badheader":
        start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
        return [b"never"]
    if path == "/file":
        # ?SEEK,LENGTH: start SEEK bytes in, send a Content-Length of LENGTH
        f = open(__file__, "rb")
        headers = [("Content-Type", "text/x-python")]
        q = environ.get("QUERY_STRING")
        if q:
            seek, length = q.split(",")
            f.seek(int(seek))
            if length:
                headers.append(("Content-Length", length))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 4096)
    body = b""
    lines = None
    if path == "/readline":
        lines = []
        while True:
            line = environ["wsgi.input"].readline()
            if not line:
                break
            lines.append(line.decode("latin-1"))
    elif environ.get("CONTENT_LENGTH"):
        # read(size) with the length, as wsgiref.validate wants it
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    else:
        body = environ["wsgi.input"].read()
    out = {
        "environ": _environ_view(environ),
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body": body.decode("latin-1") if len(body) < 65536 else None,
        "lines": lines,
        "pid": os.getpid(),
    }
    data = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


validated = wsgiref.validate.validator(app)


def factory(greeting="hello", excited=False):
    def hello(environ, start_response):
        body = (greeting + ("!" if excited else "")).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return hello


not_callable = 42
none_app = None
