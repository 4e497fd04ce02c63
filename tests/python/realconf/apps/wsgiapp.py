"""The stand-in for the WSGI apps the real config files were written for:
it answers with what the server gave it, as JSON, so a test can see the
worker, the thread and the environment each setting should have made."""

import json
import os
import threading
import time

IMPORTED_IN = os.getpid()


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or "0.5"))
    body = json.dumps({
        "pid": os.getpid(),
        "imported_in": IMPORTED_IN,
        "thread": threading.get_ident(),
        "scheme": environ["wsgi.url_scheme"],
        "multithread": environ["wsgi.multithread"],
        "env": {k: os.environ.get(k) for k in ("SPAM", "DJANGO_SECRET_KEY")},
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body))),
                              ("X-Served-By", str(os.getpid()))])
    return [body]


application = app
