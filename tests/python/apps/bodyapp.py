"""Test app for request bodies and streamed responses (test_body.py)."""

import hashlib
import json
import os


def _fds_in(directory):
    """The open files of this process that live (or lived) in directory."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(directory.rstrip("/") + "/"):
            out.append(target)
    return out


def _json(start_response, obj):
    data = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    inp = environ["wsgi.input"]
    if path == "/noread":
        # answers without reading the body
        start_response("200 OK", [("Content-Length", "2")])
        return [b"no"]
    if path == "/stream":
        # ?N: N chunks of 64 KiB, a generator (not a list)
        n = int(environ.get("QUERY_STRING") or "64")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (bytes([65 + i % 26]) * 65536 for i in range(n))
    if path == "/file":
        # the file named by the query, through wsgi.file_wrapper (sendfile)
        f = open(environ["QUERY_STRING"], "rb")
        start_response("200 OK", [("Content-Length", str(os.fstat(f.fileno()).st_size))])
        return environ["wsgi.file_wrapper"](f, 65536)
    if path == "/spoolfds":
        # where the body is while the app runs: the files open in the upload dir
        directory = environ["QUERY_STRING"]
        during = _fds_in(directory)
        body = inp.read()
        return _json(start_response, {"during": during, "len": len(body),
                                      "sha256": hashlib.sha256(body).hexdigest()})
    if path == "/fds":
        return _json(start_response, {"fds": _fds_in(environ["QUERY_STRING"])})
    if path == "/ways":
        # the same body by read(n), readline() and iteration: they must agree
        how = environ["QUERY_STRING"]
        if how == "read":
            parts = []
            while True:
                b = inp.read(1000)
                if not b:
                    break
                parts.append(b)
            body = b"".join(parts)
        elif how == "readline":
            parts = []
            while True:
                b = inp.readline()
                if not b:
                    break
                parts.append(b)
            body = b"".join(parts)
        elif how == "readlines":
            body = b"".join(inp.readlines())
        elif how == "iter":
            body = b"".join(iter(inp))
        else:
            body = inp.read()
        return _json(start_response, {"len": len(body),
                                      "sha256": hashlib.sha256(body).hexdigest(),
                                      "lines": body.count(b"\n")})
    body = inp.read()
    return _json(start_response, {"len": len(body),
                                  "sha256": hashlib.sha256(body).hexdigest()})
