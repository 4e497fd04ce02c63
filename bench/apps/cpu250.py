"""For bench/threads.py: an app that runs 250 µs of Python per request,
holding the GIL throughout."""

import time


def app(environ, start_response):
    until = time.perf_counter() + 0.00025
    while time.perf_counter() < until:
        pass
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
