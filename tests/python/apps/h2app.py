"""Test app for HTTP/2: streams of one connection at once.

/wait blocks until /release is called (at most 10 s: then it says
"timed out"); /release sets the event; /many answers with 300 header
fields; /trailers sends trailers (gunicorn.http2.send_trailers) after a
body with a Content-Length, /trailers-stream after a streamed one, and
/bad-trailer?NAME tries NAME's trailers (names below), saying what each
call raised (/late: /trailers' callable, after its request); /priority answers the stream's priority keys. Served one
after the other, the two
streams of one connection would make /wait time out. Anything else: the
echo app.
"""

import json
import threading

from echo import app as echo

released = threading.Event()

# /bad-trailer?NAME: one send_trailers call per list; a refused list must
# queue none of its pairs (its good one included)
BAD = {
    "pseudo": [("x-before", "1"), (":status", "500")],
    "content-length": [("x-before", "1"), ("Content-Length", "5")],
    "crlf": [("x-before", "1"), ("x-evil", "a\r\nx-injected: 1")],
    "space": [("x-before", "1"), ("bad name", "1")],
    "empty": [("x-before", "1"), ("", "1")],
    "not-a-tuple": [("x-before", "1"), "x-one: 1"],
    "not-str": [("x-before", "1"), (b"x-bytes", "1")],
    "not-a-list": 5,
}
STASH = {}


def _trailers(environ, start_response):
    send = environ["gunicorn.http2.send_trailers"]
    path = environ["PATH_INFO"]
    if path == "/trailers":
        STASH["send"] = send
        start_response("200 OK", [("Content-Length", "4")])
        send([("Grpc-Status", "0"), ("x-count", 2)])
        send([("x-more", "yes")])
        return [b"body"]
    if path == "/trailers-stream":
        def body():
            yield b"one,"
            send([("x-checksum", "abc")])
            yield b"two"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body()
    raised = None
    try:  # /late: the callable of an earlier request, over by now
        STASH["send"]([("x-late", "1")]) if path == "/late" else \
            send(BAD[environ["QUERY_STRING"]])
    except Exception as e:  # noqa: BLE001 -- the test reads which
        raised = type(e).__name__
    send([("x-after", "ok")])
    body = json.dumps({"raised": raised}).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/wait":
        body = b"released" if released.wait(10) else b"timed out"
        released.clear()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/release":
        released.set()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
    if path in ("/trailers", "/trailers-stream", "/bad-trailer", "/late"):
        return _trailers(environ, start_response)
    if path == "/priority":
        keys = {k: environ.get(k, "absent") for k in (
            "gunicorn.http2.priority_weight", "gunicorn.http2.priority_depends_on",
            "HTTP_VERSION")}
        keys["send_trailers"] = callable(environ.get("gunicorn.http2.send_trailers"))
        body = json.dumps(keys).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/many":
        start_response("200 OK", [("X-Field-%d" % i, str(i)) for i in range(300)]
                       + [("Content-Length", "4")])
        return [b"many"]
    return echo(environ, start_response)
