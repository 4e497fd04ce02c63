"""The asgi worker's ASGI extensions on real sockets:
http.response.pathsend (the file by sendfile, its length, HEAD, a slow
reader that blocks no one, a missing file, a relative path) and
http.response.trailers (on the wire after the last chunk, a bad trailer
that cuts the response, HTTP/1.0 that drops them)."""

import http.client
import json
import socket
import urllib.parse

import pytest

from conftest import TIMEOUT
from test_gthread import Reader

MIB = 1 << 20
EXTS = {"http.response.pathsend": {}, "http.response.trailers": {}}


def start(server, *args):
    return server("-k", "asgi", *args, app="asgiext:app")


def fetch(srv, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    c.request(method, path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def file_url(path, **extra):
    return "/file?" + urllib.parse.urlencode(dict(path=str(path), **extra))


def raw(srv, request, keep=False):
    """Sends request; reads to the server's close (keep: to the end of a
    chunked response, then checks the connection answers another)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(request)
    got = b""
    while not (keep and got.endswith(b"\r\n\r\n") and b"\r\n0\r\n" in got):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if keep:
        s.sendall(b"GET /ext HTTP/1.1\r\nHost: x\r\n\r\n")
        line, h, body = Reader(s).response()
        assert " 200 " in line and json.loads(body) == EXTS
    s.close()
    return got


def errors(srv):
    return json.loads(fetch(srv, "/errors")[1])


def test_the_scope_offers_pathsend(server):
    srv = start(server)
    assert json.loads(fetch(srv, "/ext")[1]) == EXTS


def test_pathsend_sends_the_file_byte_for_byte(server, tmp_path):
    data = bytes(range(256)) * (5 * MIB // 256) + b"tail"
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    srv = start(server)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    for _ in range(2):  # and the connection is kept for the next request
        c.request("GET", file_url(f))
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") == str(len(data))
        assert r.getheader("Transfer-Encoding") is None
        assert r.read() == data
    c.close()


def test_pathsend_to_head_sends_the_head_only(server, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"x" * 1000)
    srv = start(server)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % file_url(f)).encode()
              + b"GET /ext HTTP/1.1\r\nHost: x\r\n\r\n")
    rd = Reader(s)
    line, h, body = rd.response(head_request=True)
    assert " 200 " in line and h["content-length"] == "1000" and body == b""
    line, h, body = rd.response()  # nothing of the file came between them
    assert " 200 " in line and json.loads(body) == EXTS
    s.close()


def test_a_file_shorter_than_its_content_length_closes_the_connection(server, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"y" * 100)
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % file_url(f, len=150).encode())
    head, body = got.split(b"\r\n\r\n", 1)
    head += b"\r\n"
    assert b"\r\ncontent-length: 150\r\n" in head.lower() and body == b"y" * 100
    assert b"\r\nconnection: close\r\n" in head.lower()


def test_a_content_length_shorter_than_the_file_cuts_it(server, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"0123456789")
    srv = start(server)
    r, data = fetch(srv, file_url(f, len=4))
    assert r.status == 200 and data == b"0123"


def test_a_slow_reader_blocks_no_other_client(server, tmp_path):
    data = b"".join(bytes([65 + i % 26]) * MIB for i in range(48))
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    srv = start(server, "-w", "1")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % file_url(f)).encode())
    # the worker answers another client while the file waits for the first
    for _ in range(3):
        r, body = fetch(srv, "/ext")
        assert r.status == 200 and json.loads(body) == EXTS
    s.settimeout(TIMEOUT)
    line, h, body = Reader(s).response()
    assert " 200 " in line and body == data
    s.close()


def test_a_missing_file_raises_in_send_and_is_a_500(server, tmp_path):
    srv = start(server)
    r, data = fetch(srv, file_url(tmp_path / "nothing"))
    assert r.status == 500 and r.getheader("Connection") == "close"
    assert errors(srv) == ["FileNotFoundError: [Errno 2] No such file or directory: '%s'"
                           % (tmp_path / "nothing")]


def test_a_directory_raises_in_send(server, tmp_path):
    srv = start(server)
    r, data = fetch(srv, file_url(tmp_path))
    assert r.status == 500
    assert errors(srv) == ["IsADirectoryError: [Errno 21] Is a directory: '%s'" % tmp_path]


def test_a_relative_path_raises_in_send(server, tmp_path):
    srv = start(server)
    r, data = fetch(srv, file_url("etc/hostname"))
    assert r.status == 500
    assert errors(srv) == ["ValueError: the pathsend path must be absolute: 'etc/hostname'"]


def test_pathsend_after_a_body_raises(server, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"z" * 10)
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % file_url(f, body=1).encode())
    assert got.split(b"\r\n\r\n", 1)[1] == b"1\r\nx\r\n"  # cut: no last chunk
    assert errors(srv) == ["RuntimeError: Unexpected ASGI message 'http.response.pathsend' "
                           "sent, before 'http.response.start' or after a body."]


# ---- http.response.trailers ----------------------------------------------------

def trailers_url(*fields, **extra):
    return "/trailers?" + urllib.parse.urlencode([("t", f) for f in fields] + list(extra.items()))


def test_trailers_follow_the_last_chunk(server):
    srv = start(server)
    url = trailers_url("x-checksum:abc", "x-second:2")
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n" % url.encode(),
              keep=True)
    head, body = got.split(b"\r\n\r\n", 1)
    assert b"\r\nTransfer-Encoding: chunked" in head and b"ontent-length" not in head.lower()
    assert body == (b"5\r\nhello\r\n6\r\n world\r\n"
                    b"0\r\nx-checksum: abc\r\nx-second: 2\r\n\r\n")


def test_a_single_body_with_trailers_is_chunked_too(server):
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
              % trailers_url("x-a:1", one=1).encode(), keep=True)
    assert got.split(b"\r\n\r\n", 1)[1] == b"b\r\nhello world\r\n0\r\nx-a: 1\r\n\r\n"


@pytest.mark.parametrize("field, error", [
    ("x-bad:a\nb", "ValueError: Invalid HTTP trailer: b'x-bad': b'a\\nb'"),
    ("bad name:x", "ValueError: Invalid HTTP trailer: b'bad name': b'x'"),
    ("content-length:5", "ValueError: b'content-length' is not allowed in trailers"),
    ("Transfer-Encoding:chunked",
     "ValueError: b'Transfer-Encoding' is not allowed in trailers"),
    ("host:evil", "ValueError: b'host' is not allowed in trailers"),
])
def test_a_bad_trailer_raises_and_cuts_the_response(server, field, error):
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
              % trailers_url("x-ok:1", field).encode())
    # the body's chunks, and no last chunk: the client sees a cut response
    assert got.split(b"\r\n\r\n", 1)[1] == b"5\r\nhello\r\n6\r\n world\r\n"
    assert errors(srv) == [error]


def test_trailers_to_an_http10_client_are_dropped(server):
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.0\r\n\r\n" % trailers_url("x-a:1").encode())
    head, body = got.split(b"\r\n\r\n", 1)
    assert b"chunked" not in head and body == b"hello world"
    got = raw(srv, b"GET %s HTTP/1.0\r\n\r\n" % trailers_url("x-a:1", one=1).encode())
    head, body = got.split(b"\r\n\r\n", 1)
    assert b"Content-Length: 11\r\n" in head + b"\r\n" and body == b"hello world"
    assert errors(srv) == []


def test_http_client_reads_a_response_with_trailers(server):
    srv = start(server)
    r, data = fetch(srv, trailers_url("x-a:1", "x-b:2"))
    assert r.status == 200 and data == b"hello world"


def test_trailers_without_the_flag_raise(server):
    srv = start(server)
    got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % trailers_url("x-a:1", noflag=1).encode())
    # the response was whole before the trailers came: it stays so
    assert got.split(b"\r\n\r\n", 1)[1] == b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    assert errors(srv) == ["RuntimeError: Unexpected ASGI message 'http.response.trailers' "
                           "sent, without 'trailers' in 'http.response.start', before the "
                           "last body or after the last trailers."]


TRAILER_TYPES_APP = '''import json
errors = []
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/errors":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(errors).encode()})
        return
    bad = {"/str": [("x-a", "1")], "/three": [(b"x-a", b"1", b"2")]}[scope["path"]]
    await send({"type": "http.response.start", "status": 200, "headers": [],
                "trailers": True})
    await send({"type": "http.response.body", "body": b"hi"})
    try:
        await send({"type": "http.response.trailers", "headers": bad})
    except TypeError as e:
        errors.append(str(e))
'''


def test_a_trailer_that_is_no_pair_of_bytes_raises(server, tmp_path):
    (tmp_path / "trailertypes.py").write_text(TRAILER_TYPES_APP)
    srv = server("-k", "asgi", app="trailertypes:app", chdir=tmp_path)
    for path in (b"/str", b"/three"):
        got = raw(srv, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        assert got.split(b"\r\n\r\n", 1)[1] == b"2\r\nhi\r\n"  # cut: no last chunk
    assert errors(srv) == ["trailer names and values must be bytes",
                           "each trailer must be a [name, value] pair"]
