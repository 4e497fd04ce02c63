"""Test app: large whole responses. GET /list?N: a list of N bytes (one
item); /chunks?N: the same as 64 KiB items; /file?N: a file of N bytes
through wsgi.file_wrapper; anything else: a short "ok". The bytes are a
pattern the client can check: byte i is i % 251."""

import os
import tempfile


def pattern(n):
    block = bytes(i % 251 for i in range(251 * 1024))
    out = block * (n // len(block) + 1)
    return out[:n]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    n = int(environ.get("QUERY_STRING") or "0")
    if path == "/list":
        start_response("200 OK", [("Content-Length", str(n))])
        return [pattern(n)]
    if path == "/chunks":
        data = pattern(n)
        start_response("200 OK", [])  # chunked on HTTP/1.1
        return [data[i:i + 65536] for i in range(0, n, 65536)]
    if path == "/file":
        f = tempfile.TemporaryFile()
        f.write(pattern(n))
        f.seek(0)
        start_response("200 OK", [("Content-Length", str(n))])
        return environ["wsgi.file_wrapper"](f)
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
