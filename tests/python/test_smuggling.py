"""Request smuggling and response desync, end to end (docs/compat.md,
Framing): each payload tries one trick -- CL.TE, TE.CL, TE.TE, obs-fold,
bare LF, duplicate Content-Length, chunk extensions, whitespace -- to hide
a second request (GET .../smuggled) inside the first one's body, and is
followed by an honest request on the same connection.

It goes through HAProxy and nginx from Debian, each in front of cunicorn
(gthread and asgi, which keep the proxy's connections alive), and straight
to cunicorn for every worker class. The app writes down each request it
sees; a case passes when the responses the client read are, in order, the
app's answers to exactly the requests the app saw: each forwarded request
answered by its own response, none by another's, and nothing that a proxy
took for a body reached the app as a request.

The proxies run from temporary configs on free ports, are stopped by PID,
and every wait is bounded."""

import os
import shutil
import socket
import subprocess
import textwrap
import time

import pytest

from conftest import TIMEOUT, free_port, stop_process, wait_for

APP = textwrap.dedent('''
    import os


    def seen(line):
        with open(os.environ["SEEN"], "a") as f:
            f.write(line + "\\n")


    def app(environ, start_response):
        path = environ["PATH_INFO"]
        try:
            body = environ["wsgi.input"].read()
        except OSError:
            body = None
        seen(path)
        if path.endswith("/short"):
            start_response("200 OK", [("Content-Length", "20")])
            return [b"short " + path.encode()]
        out = b"ok %s %d" % (path.encode(), -1 if body is None else len(body))
        start_response("200 OK", [("Content-Length", str(len(out)))])
        return [out]


    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        n = 0
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                n = -1
                break
            n += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        seen(path)
        if path.endswith("/short"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"20")]})
            await send({"type": "http.response.body", "body": b"short " + path.encode()})
            return
        out = b"ok %s %d" % (path.encode(), n)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
''')

WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "4"), "asgi": ("-k", "asgi")}

SMUGGLED = b"GET %s/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def cases():
    """name -> a function of the case's path prefix giving the attack's
    bytes (the honest request follows them)."""
    def cl_te(te_lines):
        def make(p):
            body = b"0\r\n\r\n" + SMUGGLED % p
            return (b"POST %s/a HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n" % (p, len(body))
                    + te_lines + b"\r\n" + body)
        return make

    def te_cl(te_lines):
        def make(p):
            inner = SMUGGLED % p
            return (b"POST %s/a HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n" % p + te_lines
                    + b"\r\n" + chunk(inner) + b"0\r\n\r\n")
        return make

    def plain(head_tail, body_of=lambda p: SMUGGLED % p):
        def make(p):
            body = body_of(p)
            return (b"POST %s/a HTTP/1.1\r\nHost: t\r\n" % p
                    + head_tail.replace(b"LEN", b"%d" % len(body)) + b"\r\n" + body)
        return make

    te = b"Transfer-Encoding: chunked\r\n"
    return {
        "cl-te": cl_te(te),
        "te-cl": te_cl(te),
        "te-te-xchunked": cl_te(b"Transfer-Encoding: xchunked\r\n"),
        "te-te-space-before-colon": cl_te(b"Transfer-Encoding : chunked\r\n"),
        "te-te-two-headers": cl_te(te + b"Transfer-Encoding: x\r\n"),
        "te-te-tab": cl_te(b"Transfer-Encoding:\tchunked\r\n"),
        "te-te-vtab": cl_te(b"Transfer-Encoding: \x0bchunked\r\n"),
        "te-te-quoted": cl_te(b'Transfer-Encoding: "chunked"\r\n'),
        "te-te-comma": cl_te(b"Transfer-Encoding: chunked, \r\n"),
        "te-te-identity-last": cl_te(b"Transfer-Encoding: chunked, identity\r\n"),
        "te-te-nbsp": cl_te(b"Transfer-Encoding: chunked\xa0\r\n"),
        "obs-fold-te": cl_te(b"Transfer-Encoding: x\r\n chunked\r\n"),
        "obs-fold-cl": plain(b"X-A: b\r\n Content-Length: LEN\r\nContent-Length: 0\r\n"),
        "bare-lf-te": cl_te(b"X-A: b\nTransfer-Encoding: chunked\r\n"),
        "bare-lf-head": lambda p: (b"POST %s/a HTTP/1.1\nHost: t\nContent-Length: %d\n\n"
                                   % (p, len(SMUGGLED % p)) + SMUGGLED % p),
        "duplicate-cl": plain(b"Content-Length: 0\r\nContent-Length: LEN\r\n"),
        "duplicate-cl-list": plain(b"Content-Length: 0, LEN\r\n"),
        "cl-plus": plain(b"Content-Length: +LEN\r\n"),
        "cl-space-before-colon": plain(b"Content-Length : LEN\r\n"),
        "chunk-ext-bare-lf": plain(te, lambda p: b"1;a\nx\r\nx\r\n0\r\n\r\n" + SMUGGLED % p),
        "chunk-ext-cr": plain(te, lambda p: b"1;a\rx\r\nx\r\n0\r\n\r\n" + SMUGGLED % p),
        "chunk-size-0x": plain(te, lambda p: b"0x1\r\nx\r\n0\r\n\r\n" + SMUGGLED % p),
        "chunk-size-space": plain(te, lambda p: b" 1\r\nx\r\n0\r\n\r\n" + SMUGGLED % p),
        "chunk-size-overflow": plain(te, lambda p: b"1" + b"0" * 16 + b"\r\n" + SMUGGLED % p),
        "chunk-data-bare-lf": plain(te, lambda p: b"1\r\nx\n0\r\n\r\n" + SMUGGLED % p),
        "chunk-last-no-crlf": plain(te, lambda p: b"0\r\n" + SMUGGLED % p),
    }


CASES = cases()


# ---- the servers -------------------------------------------------------------

def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Proxy:
    """HAProxy or nginx on a free port from a temporary config; stopped by
    its PID."""

    def __init__(self, kind, tmp, backend):
        self.kind, self.tmp, self.backend = kind, tmp, backend
        self.proc = None

    def start(self):
        for _ in range(3):  # a free port may be taken before the proxy binds it
            self.port = free_port()
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            try:
                wait_for(lambda: self.proc.poll() is not None or listening(self.port),
                         what="%s to listen" % self.kind)
            except AssertionError:
                self.stop()
                raise
            if self.proc.poll() is None:
                return self
            self.stop()
        raise AssertionError("%s did not start: %s" % (self.kind, self.errors))

    def command(self):
        cfg = self.tmp / ("%s.conf" % self.kind)
        if self.kind == "haproxy":
            cfg.write_text(textwrap.dedent("""\
                defaults
                  mode http
                  timeout connect 5s
                  timeout client 5s
                  timeout server 5s
                  timeout http-keep-alive 5s
                frontend fe
                  bind 127.0.0.1:%d
                  default_backend be
                backend be
                  http-reuse always
                  server s1 127.0.0.1:%d
                """) % (self.port, self.backend))
            return ["haproxy", "-db", "-f", str(cfg)]
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.tmp / d).mkdir(exist_ok=True)
        t = str(self.tmp)
        cfg.write_text(textwrap.dedent("""\
            daemon off;
            master_process off;
            worker_processes 1;
            pid %(t)s/nginx.pid;
            error_log %(t)s/nginx-error.log warn;
            events { worker_connections 64; }
            http {
              access_log off;
              client_body_temp_path %(t)s/body;
              proxy_temp_path %(t)s/proxy;
              fastcgi_temp_path %(t)s/fastcgi;
              uwsgi_temp_path %(t)s/uwsgi;
              scgi_temp_path %(t)s/scgi;
              proxy_read_timeout 5s;
              proxy_send_timeout 5s;
              client_body_timeout 5s;
              upstream be { server 127.0.0.1:%(b)d; keepalive 4; }
              server {
                listen 127.0.0.1:%(p)d;
                location / {
                  proxy_pass http://be;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                }
              }
            }
            """) % {"t": t, "b": self.backend, "p": self.port})
        return ["nginx", "-p", t, "-c", str(cfg)]

    @property
    def errors(self):
        return self.proc.stderr.read().decode(errors="replace") if self.proc else ""

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc.stderr.close()
        self.proc = None


@pytest.fixture
def backend(server, tmp_path):
    def start(worker):
        (tmp_path / "smugapp.py").write_text(APP)
        seen = tmp_path / ("seen-%s" % worker)
        srv = server(*WORKERS[worker], app="smugapp:asgi" if worker == "asgi" else "smugapp:app",
                     chdir=tmp_path, env=dict(os.environ, SEEN=str(seen)))
        srv.seen = lambda prefix: [line for line in
                                   (seen.read_text().splitlines() if seen.exists() else [])
                                   if line.startswith(prefix)]
        return srv
    return start


@pytest.fixture
def proxies(tmp_path):
    started = []

    def start(kind, backend_port):
        if not shutil.which(kind):
            pytest.skip("%s is not installed (Makefile DEBS)" % kind)
        d = tmp_path / ("%s-%d" % (kind, len(started)))
        d.mkdir()
        p = Proxy(kind, d, backend_port).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


# ---- the client's side -------------------------------------------------------

def read_responses(sock):
    """Everything until the peer closes, split into responses: (status,
    body) each, the body framed by Content-Length or chunked; a last one
    cut short is returned as it came."""
    data = b""
    sock.settimeout(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            got = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not got:
            break
        data += got
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            fields[k.strip().lower()] = v.strip()
        if b"content-length" in fields:
            n = int(fields[b"content-length"])
            out.append((status, rest[:n]))
            data = rest[n:]
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while True:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                body += rest[:n]
                rest = rest[n + 2:]
                if n == 0:
                    rest = rest.partition(b"\r\n")[2]
                    break
            out.append((status, body))
            data = rest
        else:
            out.append((status, rest))
            data = b""
    return out


def attack(port, prefix, payload):
    honest = b"GET %s/follow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % prefix
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        try:
            s.sendall(payload + honest)
        except OSError:
            pass  # refused and closed before it all went
        return read_responses(s)
    finally:
        s.close()


def check(srv, prefix, responses):
    """Each request the app saw is one the client's side took for a
    request: the app's answers the client read are, in order, exactly its
    answers to the requests it saw. A request hidden in a body (smuggled)
    would be seen by the app and answered to nobody, or its answer would
    take the place of another's. (A proxy that reads the hidden request as
    a request of its own, and answers it, is not fooled: it forwarded it.)"""
    seen = srv.seen(prefix.decode())
    answers = [b.split(b" ")[1].decode() for st, b in responses if b.startswith(b"ok ")]
    assert answers == [p for p in seen if not p.endswith("/short")], (answers, seen, responses)


# ---- the tests ---------------------------------------------------------------

@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_direct(backend, worker):
    srv = backend(worker)
    for i, (name, make) in enumerate(CASES.items()):
        prefix = b"/d%d" % i
        check(srv, prefix, attack(srv.port, prefix, make(prefix)))


@pytest.mark.parametrize("worker", ["gthread", "asgi"])
@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_through_a_proxy(backend, proxies, kind, worker):
    srv = backend(worker)
    proxy = proxies(kind, srv.port)
    for i, (name, make) in enumerate(CASES.items()):
        prefix = b"/p%d" % i
        responses = attack(proxy.port, prefix, make(prefix))
        check(srv, prefix, responses)
        # an honest request after the attack, on a new connection, is
        # answered as its own (the proxy's kept connection is not poisoned)
        after = attack(proxy.port, prefix + b"/after", b"")
        assert [b for _, b in after] == [b"ok %s/after/follow 0" % prefix], (name, after)


@pytest.mark.parametrize("worker", ["gthread", "asgi"])
@pytest.mark.parametrize("kind", ["haproxy", "nginx", None])
def test_short_response_never_fills_from_the_next(backend, proxies, kind, worker):
    """The app sends 10 of the 20 bytes it announced: whatever the client
    reads for it, the next response is never part of it."""
    srv = backend(worker)
    port = proxies(kind, srv.port).port if kind else srv.port
    responses = attack(port, b"/s", b"GET /s/short HTTP/1.1\r\nHost: t\r\n\r\n")
    assert responses, responses
    status, body = responses[0]
    # the app's bytes, or fewer (a proxy may drop a cut response's end), but
    # never the start of the next response
    assert b"short /s/short".startswith(body), responses
    for st, b in responses[1:]:
        assert b == b"ok /s/follow 0", responses
