"""Test app for HTTP/2: streams of one connection at once.

/wait blocks until /release is called (at most 10 s: then it says
"timed out"); /release sets the event; /many answers with 300 header
fields. Served one after the other, the two
streams of one connection would make /wait time out. Anything else: the
echo app.
"""

import threading

from echo import app as echo

released = threading.Event()


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
    if path == "/many":
        start_response("200 OK", [("X-Field-%d" % i, str(i)) for i in range(300)]
                       + [("Content-Length", "4")])
        return [b"many"]
    return echo(environ, start_response)
