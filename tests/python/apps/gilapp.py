"""For test_gil.py: the order in which a pool's threads enter the app.

GET /hold  enters, then blocks holding the GIL (a read through ctypes.PyDLL,
           which keeps it) on the FIFO named by $GIL_RELEASE until the test
           writes a byte to it
GET /work  a little Python, a sleep(0) that drops the GIL, a log line
GET /order the paths that entered, in order, one a line
Any other  enters (its path is recorded) and answers it
"""

import ctypes
import logging
import os
import sys
import time

# no switch interval runs out in a test: a thread waiting for the GIL gets
# it when its holder drops it, not because 5 ms went by on a busy machine
sys.setswitchinterval(60)

ORDER = []
LIBC = ctypes.PyDLL(None)  # its calls keep the GIL
LOG = logging.getLogger("gilapp")


def hold():
    fd = os.open(os.environ["GIL_RELEASE"], os.O_RDONLY)
    try:
        buf = ctypes.create_string_buffer(1)
        LIBC.read(fd, buf, 1)
    finally:
        os.close(fd)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/order":
        body = "".join(p + "\n" for p in ORDER).encode()
    else:
        ORDER.append(path)
        if path == "/hold":
            hold()
        elif path == "/work":
            sum(range(2000))
            time.sleep(0)
            LOG.warning("work done")
        body = path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
