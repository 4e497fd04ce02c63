"""Test app for held responses (docs/architecture.md, Held responses):
every request first runs ?us= microseconds of Python (default 60), so
that gthread's threads take to holding their responses' last writes,
then answers the shape its path names:

  /list       a list, with its Content-Length
  /gen        a generator, with its Content-Length
  /chunked    a generator without a length (chunked on HTTP/1.1)
  /empty      Content-Length: 0, no item
  /file       wsgi.file_wrapper over a file, with its Content-Length
  /raise      the whole Content-Length, then an exception
  /expect     a generator that reads the body (Expect: 100-continue)
              before its first item, and answers it
  /closewait  a list with its length whose close() waits for the file
              ?go= to exist (10 s at most), then removes it
  /readafter  a generator with its Content-Length that yields the
              whole body, then reads the request's body
  /upgrade    101 Switching Protocols and no item; its close() reads
              "ping" from gunicorn.socket and answers "pong" there
  /stubborn   a list with its length whose close() takes 3 s, and
              goes on through the exceptions raised in it (as
              --request-timeout's)
  /stream     a generator with its Content-Length that yields the first
              3 bytes, then waits for ?go= as /closewait, then the rest

The body is the path and the query, so each answer says which request it
is for."""

import os
import tempfile
import time
from urllib.parse import parse_qs


def spin(us):
    until = time.perf_counter() + us / 1e6
    while time.perf_counter() < until:
        pass


def wait_for_file(go):
    end = time.monotonic() + 10
    while not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.01)
    if os.path.exists(go):
        os.unlink(go)


class Stubborn:
    def __init__(self, body):
        self.body = body

    def __iter__(self):
        return iter([self.body])

    def close(self):
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                time.sleep(0.01)
            except BaseException:
                pass


class Pong:
    def __init__(self, sock):
        self.sock = sock

    def __iter__(self):
        return iter([])

    def close(self):
        self.sock.settimeout(10)
        try:
            if self.sock.recv(4) == b"ping":
                self.sock.sendall(b"pong")
        except OSError:
            pass


class CloseWaits:
    def __init__(self, body, go):
        self.body, self.go = body, go

    def __iter__(self):
        return iter([self.body])

    def close(self):
        wait_for_file(self.go)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    args = parse_qs(query)
    spin(int(args.get("us", ["60"])[0]))
    body = (path + "?" + query).encode()
    sized = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if path == "/gen":
        start_response("200 OK", sized)
        return (part for part in (body[:3], body[3:]))
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (body[:3], body[3:]))
    if path == "/empty":
        start_response("204 No Content", [("Content-Length", "0")])
        return []
    if path == "/file":
        f = tempfile.TemporaryFile()
        f.write(body)
        f.seek(0)
        start_response("200 OK", sized)
        return environ["wsgi.file_wrapper"](f)
    if path == "/raise":
        def then_raise():
            yield body
            raise RuntimeError("after the whole body")
        start_response("200 OK", sized)
        return then_raise()
    if path == "/expect":
        def read_first():
            got = environ["wsgi.input"].read()
            yield body + b" " + got
        out = body + b" " + b"x" * int(environ.get("CONTENT_LENGTH") or 0)
        start_response("200 OK", [("Content-Length", str(len(out)))])
        return read_first()
    if path == "/stream":
        def slow():
            yield body[:3]
            wait_for_file(args["go"][0])
            yield body[3:]
        start_response("200 OK", sized)
        return slow()
    if path == "/readafter":
        def then_read():
            yield body
            environ["wsgi.input"].read()
        start_response("200 OK", sized)
        return then_read()
    if path == "/upgrade":
        start_response("101 Switching Protocols",
                       [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        return Pong(environ["gunicorn.socket"])
    if path == "/stubborn":
        start_response("200 OK", sized)
        return Stubborn(body)
    if path == "/closewait":
        start_response("200 OK", sized)
        return CloseWaits(body, args["go"][0])
    start_response("200 OK", sized)
    return [body]
