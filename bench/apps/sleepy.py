"""For bench/threads.py: an app that waits 5 ms per request (time.sleep,
which drops the GIL), as one waiting on a database would."""

import time


def app(environ, start_response):
    time.sleep(0.005)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
