"""The response rules (docs/compat.md, WSGI environ and Responses) on raw
sockets: environ["gunicorn.socket"], Connection: upgrade, and bad response
headers answered 500 (Gunicorn answers 400: docs/compat.md, Framing)."""

import json
import socket
import textwrap

import pytest

from conftest import recv_all, undated, wait_for

APP = textwrap.dedent('''
    import json
    import os
    import socket

    from cunicorn._cunicorn import InvalidHeader, InvalidHeaderName


    def reply(start_response, obj, status="200 OK"):
        body = json.dumps(obj).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]


    def app(environ, start_response):
        path = environ["PATH_INFO"]
        sock = environ["gunicorn.socket"]
        if path == "/sock":
            return reply(start_response, {
                "peer": list(sock.getpeername()), "local": list(sock.getsockname()),
                "is_socket": isinstance(sock, socket.socket),
                "family": int(sock.family), "type": int(sock.type),
                "timeout": sock.gettimeout(), "blocking": sock.getblocking(),
                "nonblock_fd": not os.get_blocking(sock.fileno()),
                "id": id(sock)})
        if path == "/close":
            sock.close()
            del environ["gunicorn.socket"], sock  # and its garbage
            return reply(start_response, {"closed": True})
        if path == "/blocking":
            sock.settimeout(None)
            sock.setblocking(True)
            return reply(start_response, {
                "timeout": sock.gettimeout(),
                "nonblock_fd": not os.get_blocking(sock.fileno())})
        if path == "/bypass":
            # round ClientSocket: this clears O_NONBLOCK on the worker's fd
            socket.socket.__base__.setblocking(sock, True)
            before = not os.get_blocking(sock.fileno())
            fd = sock.fileno()

            def body():  # runs after the app returned
                yield json.dumps({"before": before,
                                  "after": not os.get_blocking(fd)}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return body()
        if path == "/echo":
            # a WebSocket-like handshake, then the app talks on the socket
            write = start_response("101 Switching Protocols", [
                ("Upgrade", "websocket"), ("Connection", "Upgrade")])
            write(b"")
            data = b""
            while not data.endswith(b"\\n"):
                chunk = sock.recv(100)
                if not chunk:
                    break
                data += chunk
            sock.sendall(b"echo: " + data)
            return []
        if path == "/upgrade":
            q = environ["QUERY_STRING"]
            headers = {
                "ws": [("Connection", " UpGrade\\t"), ("Upgrade", " WebSocket "),
                       ("X-After", "1")],
                "other": [("Connection", "keep-alive, upgrade"), ("Upgrade", "h2c"),
                          ("Connection", "close"), ("Keep-Alive", "timeout=5"),
                          ("X-After", "1")],
                "upgrade-only": [("Upgrade", "websocket"), ("X-After", "1")],
            }[q]
            start_response("101 Switching Protocols" if q == "ws" else "200 OK", headers)
            return [] if q == "ws" else [b"ok"]
        if path == "/bad":
            q = environ["QUERY_STRING"]
            headers = {
                "crlf": [("X-Bad", "a\\r\\nInjected: yes")],
                "lf": [("X-Bad", "a\\nInjected: yes")],
                "nul": [("X-Bad", "a\\x00b")],
                "beyond-latin1": [("X-Bad", "\\u20ac")],
                "name": [("X Bad", "v")],
                "name-colon": [("X-Injected: yes\\r\\nX-Bad", "v")],
                "name-empty": [("", "v")],
                "not-str": [("X-Bad", 5)],
            }[q]
            start_response("200 OK", [("X-Good", "1")] + headers)
            return [b"never"]
        if path == "/lazy":
            # start_response from inside the iterable
            def body():
                start_response("200 OK", [("X-Bad", "a\\rb")])
                yield b"never"
            return body()
        if path == "/caught":
            try:
                start_response("200 OK", [("X-Bad", "a\\r\\nInjected: yes")])
            except InvalidHeader as e:
                value_error = isinstance(e, ValueError)
                text = str(e)
            try:
                start_response("200 OK", [("X Bad", "v")])
            except InvalidHeaderName as e:
                name_error = (isinstance(e, ValueError), str(e))
            return reply(start_response, {"value_error": value_error, "text": text,
                                          "name_error": name_error})
        return reply(start_response, {"path": path})
''')


@pytest.fixture
def srv(server, tmp_path):
    (tmp_path / "respapp.py").write_text(APP)
    return server("--access-logfile", str(tmp_path / "access.log"),
                  app="respapp:app", chdir=tmp_path)


def get(srv, path, version="1.1"):
    raw = srv.raw(b"GET %s HTTP/%s\r\nHost: x\r\n\r\n" % (path.encode(), version.encode()))
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def get_json(srv, path):
    lines, body = get(srv, path)
    assert lines[0] == b"HTTP/1.1 200 OK", (lines, body)
    return json.loads(body)


# ---- gunicorn.socket --------------------------------------------------------

def test_socket_is_the_client_connection(srv):
    s = srv.connect()
    s.sendall(b"GET /sock HTTP/1.1\r\nHost: x\r\n\r\n")
    mine = s.getsockname()
    raw = recv_all(s)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw
    r = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert tuple(r["peer"]) == mine            # getpeername() is us
    assert tuple(r["local"]) == ("127.0.0.1", srv.port)
    assert r["is_socket"] and r["family"] == socket.AF_INET
    assert r["type"] == socket.SOCK_STREAM
    # blocking as Gunicorn's client sockets are, over a non-blocking fd
    assert r["timeout"] is None and r["blocking"] is True
    assert r["nonblock_fd"] is True


def test_gthread_keeps_one_socket_object_per_connection(server, tmp_path):
    (tmp_path / "respapp.py").write_text(APP)
    srv = server("-k", "gthread", "--threads", "2", app="respapp:app", chdir=tmp_path)
    s = srv.connect()
    got = []
    buf = b""
    for path in ("/sock", "/sock", "/close", "/sock", "/sock"):
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, buf = buf.partition(b"\r\n\r\n")
        n = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(buf) < n:
            buf += s.recv(65536)
        got.append(json.loads(buf[:n]))
        buf = buf[n:]
    s.close()
    # kept between requests on one connection, made anew once the app
    # closed it, and always a working non-blocking connection
    assert got[0]["id"] == got[1]["id"] and got[3]["id"] == got[4]["id"]
    assert got[2] == {"closed": True}
    assert all(g["nonblock_fd"] and g["timeout"] is None for g in got if "id" in g)


def test_app_closing_the_socket_leaves_the_connection_alone(srv):
    for _ in range(3):  # one worker: the same process each time
        assert get_json(srv, "/close") == {"closed": True}
        assert get_json(srv, "/sock")["nonblock_fd"] is True
    assert "Traceback" not in srv.text()


def test_settimeout_none_keeps_the_fd_non_blocking(srv):
    r = get_json(srv, "/blocking")
    assert r == {"timeout": None, "nonblock_fd": True}
    assert get_json(srv, "/sock")["nonblock_fd"] is True


def read_response(s, buf=b""):
    """One response off s (Content-Length or chunked with one chunk):
    (head, body, what came after it)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        while b"\r\n0\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
        body, _, rest = buf.partition(b"\r\n0\r\n\r\n")
        return head, body.split(b"\r\n", 1)[1], rest
    n = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(buf) < n:
        buf += s.recv(65536)
    return head, buf[:n], buf[n:]


def test_fd_made_blocking_behind_the_socket_never_blocks_the_worker(server, tmp_path):
    # the app clears O_NONBLOCK on the connection's open file (through
    # gunicorn.socket's fd): the flag is the app's from then on, and the
    # worker's own reads and writes on that connection still never wait
    (tmp_path / "respapp.py").write_text(APP)
    srv = server("-k", "gthread", "--threads", "1", app="respapp:app", chdir=tmp_path)
    a = srv.connect()
    a.settimeout(10)
    a.sendall(b"GET /bypass HTTP/1.1\r\nHost: x\r\n\r\n")
    head, body, rest = read_response(a)
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    assert json.loads(body) == {"before": False, "after": False}
    # half a head on the blocking fd: the one pool thread reads it and
    # goes back to the poller, instead of waiting in recv for the rest
    a.sendall(b"GET /sock HTTP/1.1\r\n")
    r = get_json(srv, "/sock")
    assert r["nonblock_fd"] is True  # another connection, its own file
    a.sendall(b"Host: x\r\n\r\n")
    head, body, _ = read_response(a, rest)
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    assert json.loads(body)["nonblock_fd"] is False
    a.close()


def test_app_talks_on_the_socket_after_an_upgrade(srv):
    s = srv.connect()
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    assert b"Connection: upgrade" in lines and b"Upgrade: websocket" in lines
    assert not any(l.startswith(b"Transfer-Encoding") for l in lines)
    s.sendall(b"hel")
    s.sendall(b"lo\n")  # recv() waited: the socket behaves as blocking
    assert rest + recv_all(s) == b"echo: hello\n"


# ---- Connection: upgrade (docs/compat.md, Responses) ------------------------

def test_connection_upgrade_and_websocket_kept(srv):
    lines, body = get(srv, "/upgrade?ws")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    names = [l.split(b":")[0] for l in lines[1:]]
    assert names == [b"Server", b"Date", b"Connection", b"Upgrade", b"X-After"]
    assert lines[3] == b"Connection: upgrade"
    assert lines[4] == b"Upgrade: WebSocket"  # trimmed, as the app spelled it
    assert body == b""


def test_other_connection_and_upgrade_values_dropped(srv):
    lines, body = get(srv, "/upgrade?other")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert [l for l in lines if l.lower().startswith((b"connection", b"upgrade",
                                                      b"keep-alive"))] == [
        b"Connection: close"]
    assert b"X-After: 1" in lines and body == b"2\r\nok\r\n0\r\n\r\n"
    lines, body = get(srv, "/upgrade?upgrade-only")
    assert b"Upgrade: websocket" in lines and b"Connection: close" in lines


# ---- bad response headers: 500 (ours; Gunicorn answers 400) ---------------

def page_500():
    """The 500 page (Gunicorn's util.write_error), its Date taken out."""
    html = (b"<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n"
            b"  <body>\n    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n")
    return (b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
            b"Content-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(html)) + html


def test_cr_lf_in_a_value_is_500_and_never_on_the_wire(srv):
    raw = srv.raw(b"GET /bad?crlf HTTP/1.1\r\nHost: t\r\n\r\n")
    assert undated(raw) == page_500()
    assert b"\r\nInjected" not in raw and b"X-Good" not in raw
    wait_for(lambda: "Error handling request GET /bad?crlf" in srv.text(), what="the error")
    assert "InvalidHeader: Invalid HTTP Header: \"'a\\\\r\\\\nInjected: yes'\"" in srv.text()
    for q in ("lf", "nul", "beyond-latin1"):
        raw = srv.raw(b"GET /bad?%s HTTP/1.1\r\nHost: t\r\n\r\n" % q.encode())
        assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), (q, raw)
        assert b"\r\nInjected" not in raw and b"X-Good" not in raw


def test_bad_name_is_500(srv):
    raw = srv.raw(b"GET /bad?name HTTP/1.1\r\nHost: t\r\n\r\n")
    assert undated(raw) == page_500()
    for q in ("name-colon", "name-empty"):
        raw = srv.raw(b"GET /bad?%s HTTP/1.1\r\nHost: t\r\n\r\n" % q.encode())
        assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), (q, raw)
        assert b"\r\nX-Injected" not in raw
    # from inside the iterable, before the head went out: 500 too
    raw = srv.raw(b"GET /lazy HTTP/1.1\r\nHost: t\r\n\r\n")
    assert undated(raw) == page_500()
    # the access log has the 500
    log = srv.log.parent / "access.log"
    wait_for(lambda: log.exists() and '"GET /lazy HTTP/1.1" 500' in log.read_text(),
             what="the access log line")


def test_other_app_errors_are_still_500(srv):
    raw = srv.raw(b"GET /bad?not-str HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), raw
    wait_for(lambda: "Traceback" in srv.text(), what="the traceback")


def test_app_catching_the_error_sends_its_own_response(srv):
    r = get_json(srv, "/caught")
    assert r == {"value_error": True,
                 "text": "Invalid HTTP Header: \"'a\\\\r\\\\nInjected: yes'\"",
                 "name_error": [True, "Invalid HTTP header name: \"'X Bad'\""]}


# ---- objects an app keeps past its request ---------------------------------

KEEPER = textwrap.dedent('''
    import json
    import weakref

    kept = {}


    def app(environ, start_response):
        path, what = environ["PATH_INFO"], environ["QUERY_STRING"]
        if path == "/keep":
            write = start_response("200 OK", [("Content-Length", "2")])
            kept[what] = {"sr": start_response, "write": write,
                          "input": environ["wsgi.input"],
                          "hints": environ["wsgi.early_hints"],
                          "hintsref": weakref.ref(environ["wsgi.early_hints"])}[what]
            return [b"ok"]
        if path == "/use":
            obj = kept.pop(what)
            if what == "hintsref":  # gone with its request, or dead
                obj = obj() or (lambda headers: None)
            mine = {"sr": start_response, "write": start_response,
                    "input": environ["wsgi.input"], "hints": environ["wsgi.early_hints"],
                    "hintsref": environ["wsgi.early_hints"]}[what]
            same = (obj.__self__ if what == "write" else obj) is mine
            try:  # each is over with its request
                if what == "sr":
                    obj("500 Kept", [])
                elif what == "write":
                    obj(b"stale")
                elif what == "input":
                    assert obj.read() == b""
                else:
                    obj([("Link", "</stale>; rel=preload")])  # a no-op
                error = None
            except RuntimeError as e:
                error = str(e)
            body = json.dumps({"same": same, "error": error}).encode()
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        start_response("200 OK", [("Content-Length", "5")])
        return [b"plain"]
''')

KEPT_ERRORS = {"sr": "start_response after the request ended",
               "write": "write() before start_response()"}


@pytest.mark.parametrize("what", ["sr", "write", "input", "hints", "hintsref"])
@pytest.mark.parametrize("args", [("-k", "sync"), ("-k", "gthread", "--threads", "1")])
def test_objects_kept_past_the_request_are_dead_and_never_reused(server, tmp_path, args,
                                                                 what):
    """start_response, its write, wsgi.input and wsgi.early_hints (or a weak
    reference to it) that the app keeps are over with their request:
    calling them later fails or does nothing (no 103 reaches a later
    request's client), and later requests get objects of their own (the
    server reuses only what nobody holds: serve.c, Spares)."""
    (tmp_path / "keeper.py").write_text(KEEPER)
    srv = server(*args, app="keeper:app", chdir=tmp_path)
    bodies = []
    for path in ("/keep?" + what, "/", "/", "/use?" + what):
        lines, body = get(srv, path)
        assert lines[0] == b"HTTP/1.1 200 OK", lines  # no 103 either
        bodies.append(body)
    assert bodies[1:3] == [b"plain", b"plain"]
    assert json.loads(bodies[3]) == {"same": False, "error": KEPT_ERRORS.get(what)}
    assert "Traceback" not in srv.text()
