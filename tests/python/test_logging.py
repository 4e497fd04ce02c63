"""The access and error log lines over a real server, compared with the
lines Gunicorn 26.1 writes (its documented access_log_format atoms, and the
texts of its exceptions and log calls): so that log parsers, alert rules
and fail2ban filters written for Gunicorn keep matching."""

import base64
import http.client
import pathlib
import re
import signal
import socket

import pytest

from conftest import wait_for

WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2")}
STAMP = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"
ERR_STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\]"


def get(srv, path, headers=(), method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    if not any(k.lower() == "host" for k, _ in headers):
        c.putheader("Host", "t")  # RFC 9112 3.2: HTTP/1.1 needs one
    for k, v in headers:
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def access_lines(log, n):
    """The first n lines of the access log, once they are there."""
    def there():
        text = log.read_text(errors="replace") if log.exists() else ""
        lines = text.splitlines()
        return lines[:n] if len(lines) >= n else None
    return wait_for(there, what="%d access line(s) in %s" % (n, log))


def logging_server(server, tmp_path, fmt=None, *args, worker="sync", app="logapp:app"):
    log = tmp_path / "access.log"
    extra = ("--access-logformat", fmt) if fmt else ()
    srv = server(*WORKERS[worker], "--access-logfile", str(log), *extra, *args, app=app)
    return srv, log


# ---- the access log -------------------------------------------------------

@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_default_format(server, tmp_path, worker):
    """Gunicorn's default: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s
    "%(f)s" "%(a)s", the Basic user as u."""
    srv, log = logging_server(server, tmp_path, worker=worker)
    auth = "Basic " + base64.b64encode(b"alice:secret").decode()
    get(srv, "/p?q=1", [("Host", "x"), ("Authorization", auth),
                        ("Referer", "http://r/"), ("User-Agent", "ua/1")])
    get(srv, "/p", [("Authorization", "Bearer abc")])
    get(srv, "/p", [("Authorization", "Basic bm9wYWQ")])  # bad padding: -
    # gthread: a line is written once the response went out, so the next
    # request's line may come first
    lines = sorted(access_lines(log, 3), key=lambda line: "alice" not in line)
    one, two, three = lines
    assert re.fullmatch(r'127\.0\.0\.1 - alice %s "GET /p\?q=1 HTTP/1\.1" 200 5 '
                        r'"http://r/" "ua/1"' % STAMP, one), lines
    for line in (two, three):
        assert re.fullmatch(r'127\.0\.0\.1 - - %s "GET /p HTTP/1\.1" 200 5 "-" "-"' % STAMP,
                            line), lines


def test_every_atom(server, tmp_path):
    """Each atom Gunicorn documents, in one custom format."""
    fmt = "|".join([
        "h=%(h)s", "l=%(l)s", "u=%(u)s", "t=%(t)s", "r=%(r)s", "s=%(s)s", "m=%(m)s",
        "U=%(U)s", "q=%(q)s", "H=%(H)s", "b=%(b)s", "B=%(B)s", "f=%(f)s", "a=%(a)s",
        "T=%(T)s", "M=%(M)s", "D=%(D)s", "L=%(L)s", "p=%(p)s",
        "i=%({x-req}i)s", "I=%({X-REQ}i)s", "o=%({x-resp}o)s", "ct=%({content-type}o)s",
        "e=%({remote_addr}e)s", "E=%({WSGI.URL_SCHEME}e)s", "qe=%({query_string}e)s",
        "ve=%({wsgi.version}e)s", "ni=%({nope}i)s", "no=%({nope}o)s", "ne=%({nope}e)s",
        "Bd=%(B)d", "w=%(s)5s", "x=%(zz)s", "%%"])
    srv, log = logging_server(server, tmp_path, fmt)
    get(srv, "/a%20b/%C3%A9?x=1&y", [
        ("Host", "x"), ("Authorization", "Basic " + base64.b64encode(b"bob:pw").decode()),
        ("Referer", "first"), ("Referer", "second"), ("User-Agent", "ua"),
        ("X-Req", "one"), ("x-req", "two")])
    line, = access_lines(log, 1)
    fields = dict(f.split("=", 1) for f in line.split("|")[:-1])
    assert line.endswith("|%"), line
    pid = srv.worker_pids()[0]
    assert re.fullmatch(STAMP, fields.pop("t")), line
    for k in ("T", "M", "D"):
        assert fields.pop(k).isdigit(), line
    assert re.fullmatch(r"\d+\.\d{6}", fields.pop("L")), line
    assert fields == {
        "h": "127.0.0.1", "l": "-", "u": "bob",
        "r": "GET /a%20b/%C3%A9?x=1&y HTTP/1.1", "s": "200", "m": "GET",
        # PATH_INFO: decoded; bytes from 0x7F up escaped (Ours)
        "U": "/a b/\\xC3\\xA9", "q": "x=1&y", "H": "HTTP/1.1", "b": "5", "B": "5",
        "f": "first,second",        # the environ's HTTP_REFERER: joined
        "a": "ua", "p": "<%d>" % pid,
        "i": "two", "I": "two",     # {name}i: the last of several
        "o": "second", "ct": "text/plain",
        "e": "127.0.0.1", "E": "http", "qe": "x=1&y", "ve": "(1, 0)",
        "ni": "-", "no": "-", "ne": "-", "Bd": "5", "w": "  200", "x": "-"}, line


def test_unknown_atoms_print_a_dash(server, tmp_path):
    """Gunicorn prints '-' for a name that is no atom; the start goes on."""
    srv, log = logging_server(server, tmp_path, "%(zz)s %(H )s %({foo}x)s %(h)-10s|")
    get(srv, "/")
    line, = access_lines(log, 1)
    assert line == "- - - 127.0.0.1 |", line


@pytest.mark.parametrize("fmt", ["%(h)d", "%(h", "100%", "%(h)r"])
def test_formats_python_cannot_fill_stop_the_start(launcher, tmp_path, fmt):
    """What would make Python's % fail at every line (Gunicorn then logs a
    traceback per request and no line) stops the start, naming it."""
    import subprocess
    r = subprocess.run([launcher, "--check-config", "--access-logfile", "-",
                        "--access-logformat", fmt, "--chdir", str(tmp_path), "x:app"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "access_log_format" in r.stderr, (r.returncode, r.stderr)


def test_environ_as_the_app_left_it(server, tmp_path):
    """h and U are REMOTE_ADDR and PATH_INFO once the app is done: a ProxyFix
    or a mount middleware shows in the line, as with Gunicorn."""
    srv, log = logging_server(server, tmp_path, "%(h)s %(U)s %({script_name}e)s")
    get(srv, "/fix", [("X-Forwarded-For", "198.51.100.9")])
    get(srv, "/mount/x")
    get(srv, "/gone")
    get(srv, "/plain")
    assert access_lines(log, 4) == ["198.51.100.9 /fix ", "127.0.0.1 /x /mount",
                                    "- /gone ", "127.0.0.1 /plain "]


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_proxy_protocol_client(server, tmp_path, worker):
    """Behind the PROXY protocol, h is the client the header names."""
    srv, log = logging_server(server, tmp_path, "%(h)s %({remote_addr}e)s",
                              "--proxy-protocol", "v1", worker=worker)
    srv.raw(b"PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nGET / HTTP/1.0\r\n\r\n")
    srv.raw(b"GET / HTTP/1.0\r\n\r\n")
    assert access_lines(log, 2) == ["203.0.113.7 203.0.113.7", "127.0.0.1 127.0.0.1"]


def test_app_errors_and_response_headers(server, tmp_path):
    """{name}o are the app's headers; when the app failed before its head
    and the server answered 500, there are none."""
    srv, log = logging_server(server, tmp_path, "%(s)s %({content-type}o)s %(b)s")
    get(srv, "/err")
    get(srv, "/ok")
    assert access_lines(log, 2) == ["500 - 0", "200 text/plain 5"]


# ---- the error log: refused requests --------------------------------------

# (request bytes, Gunicorn's text for it): what follows "Invalid request from
# ip=127.0.0.1: " in the warning. One per error the parser can return.
BAD_REQUESTS = [
    (b"BAD\r\n\r\n", "Invalid HTTP request line: 'BAD'"),
    (b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", "Invalid HTTP request line: 'GET * HTTP/1.1'"),
    (b"get / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'get'"),
    (b"G\xe9T / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'G\xe9T'"),
    (b"GET / HTTP/1.1 x\r\n\r\n", "Invalid HTTP Version: 'HTTP/1.1 x'"),
    (b"GET / HTTP/2.0\r\n\r\n", "Invalid HTTP Version: (2, 0)"),
    # the size is what Gunicorn holds when it gives up: it depends on reads
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", re.compile(r"Request Line is too large \(\d+ > 4094\)")),
    (b"GET / HTTP/1.1\r\nHost: t\r\nno colon\r\n\r\n", "Invalid HTTP Header: 'no colon'"),
    (b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", "Invalid HTTP Header: 'X-A'"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "Invalid HTTP Header: 'HOST'"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
     "Invalid HTTP Header: 'CONTENT-LENGTH'"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     "Invalid HTTP Header: 'TRANSFER-ENCODING'"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX\"Y: 1\r\n\r\n", "Invalid HTTP header name: 'X\"Y'"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-Folded: 1\r\n more\r\n\r\n",
     "Obsolete line folding is unacceptable: 'X-FOLDED'"),
    (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"H%d: 1\r\n" % i for i in range(101)) + b"\r\n",
     "limit request headers fields"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", "limit request headers fields size"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n",
     "Contradictory scheme headers"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", "Unable to comply with expectation: '200-ok'"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, br\r\n\r\n",
     "Unsupported transfer coding: 'gzip, br'"),
]


def warnings_of(srv, n):
    def there():
        found = re.findall(r"\[WARNING\] Invalid request from ip=(.*)", srv.text())
        return found if len(found) >= n else None
    return wait_for(there, what="%d warning(s): %s" % (n, srv.text()[-2000:]))


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_bad_requests(server, worker):
    """Each refused request: Gunicorn's warning, word for word."""
    srv = server(*WORKERS[worker], app="logapp:app")
    for data, _ in BAD_REQUESTS:
        assert srv.raw(data).startswith(b"HTTP/1.1 4") or data.startswith(b"POST / HTTP/1.1\r\nHost: t\r\nT")
    got = warnings_of(srv, len(BAD_REQUESTS))
    assert len(got) == len(BAD_REQUESTS), got
    for line, (_, text) in zip(got, BAD_REQUESTS):
        if isinstance(text, str):
            assert line == "127.0.0.1: " + text
        else:
            assert text.fullmatch(line[len("127.0.0.1: "):]), line
    # the line as a fail2ban filter written for Gunicorn matches it
    fail2ban = re.compile(r"^%s \[WARNING\] Invalid request from ip=(?P<host>[\d.]+):"
                          % ERR_STAMP, re.M)
    assert len(fail2ban.findall(srv.text())) == len(BAD_REQUESTS)


def test_bad_requests_by_setting(server):
    """Errors that only some settings make: header_map refuse, a limit of
    the request line, the head buffer."""
    srv = server("--header-map", "refuse", "--limit-request-line", "20",
                 "--limit-request-fields", "2", "--limit-request-field_size", "10",
                 app="logapp:app")
    srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\nx_y: 1\r\n\r\n")
    srv.raw(b"GET /0123456789 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert warnings_of(srv, 2) == ["127.0.0.1: Invalid HTTP header name: 'X_Y'",
                                   "127.0.0.1: Request Line is too large (24 > 20)"]
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\na: 1\r\n" + b"b" * 40)
    assert s.recv(100).startswith(b"HTTP/1.1 431 ")
    s.close()
    assert warnings_of(srv, 3)[2] == "127.0.0.1: max buffer headers"


def test_proxy_errors(server):
    srv = server("--proxy-protocol", "auto", app="logapp:app")
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    for data in (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                 b"PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n", sig + b"\x11\x11\x00\x00",
                 sig + b"\x21\x12\x00\x00", sig + b"\x21\x31\x00\x00"):
        assert srv.raw(data).startswith(b"HTTP/1.1 400 ")
    assert warnings_of(srv, 6) == [
        "127.0.0.1: Invalid PROXY line: 'PROXY TCP4 1.2.3.4 5.6.7.8 1'",
        "127.0.0.1: Invalid PROXY line: \"protocol 'UDP4' not supported\"",
        "127.0.0.1: Invalid PROXY line: 'invalid port PROXY TCP4 1.2.3.4 5.6.7.8 1 x'",
        # Ours: Gunicorn answers these 500 and logs "Error handling request
        # (no URI read)" with a traceback; the text is its exception's
        "127.0.0.1: Invalid PROXY header: unsupported version 1",
        "127.0.0.1: Invalid PROXY header: only TCP protocol is supported",
        "127.0.0.1: Invalid PROXY header: unsupported address family 3"]
    srv2 = server("--proxy-protocol", "v1", "--proxy-allow-from", "192.0.2.1",
                  app="logapp:app")
    assert srv2.raw(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.0\r\n\r\n") \
        .startswith(b"HTTP/1.1 403 ")
    assert warnings_of(srv2, 1) == ["127.0.0.1: Proxy request from '127.0.0.1' not allowed"]


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_bad_body(server, tmp_path, worker):
    """A forbidden trailer is a refused request; so is a chunk framing
    error (ours: Gunicorn's socket error, and a close without an answer),
    answered 400 and logged with it."""
    log = tmp_path / "access.log"
    srv = server(*WORKERS[worker], "--access-logfile", str(log), app="logapp:app")
    raw = srv.raw(b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"1\r\na\r\n0\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert warnings_of(srv, 1) == ["127.0.0.1: Invalid HTTP header name: 'HOST'"]
    raw = srv.raw(b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"zz\r\n")
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"InvalidChunkSize" in raw
    assert warnings_of(srv, 2)[1] == "127.0.0.1: InvalidChunkSize"
    wait_for(lambda: log.exists() and '"POST /body HTTP/1.1" 400 ' in log.read_text(),
             what="the access line's 400")
    assert "Socket error" not in srv.text()


# Refused requests Gunicorn has a request object for (InvalidHeader raised
# with req=self): it writes their access line, status 400 and b 0, with
# what its request has -- the request line, and the headers once the whole
# head was parsed (a second Host or Content-Type is found while they are
# still being read: none then). Its environ has no PATH_INFO (U prints
# None, as Python prints it) and no HTTP_* (f, a and u are -).
LOGGED_REFUSALS = [
    (b"GET /a?x=1 HTTP/1.1\r\nX-Tag: t\r\nHost: a\r\nHost: b\r\n\r\n",
     '400 0 "GET /a?x=1 HTTP/1.1" GET None x=1 HTTP/1.1 - - GET /a?x=1'),
    (b"POST /b HTTP/1.0\r\nX-Tag: t\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n",
     '400 0 "POST /b HTTP/1.0" POST None  HTTP/1.0 - - POST /b'),
    (b"POST /c HTTP/1.1\r\nHost: t\r\nX-Tag: t\r\nContent-Length: 1\r\n"
     b"Content-Length: 2\r\n\r\n", '400 0 "POST /c HTTP/1.1" POST None  HTTP/1.1 t - POST /c'),
    (b"POST /d HTTP/1.1\r\nHost: t\r\nX-Tag: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     '400 0 "POST /d HTTP/1.1" POST None  HTTP/1.1 t - POST /d'),
    (b"POST /e HTTP/1.1\r\nHost: t\r\nX-Tag: t\r\nContent-Length: +5\r\nReferer: r\r\n\r\n",
     '400 0 "POST /e HTTP/1.1" POST None  HTTP/1.1 t - POST /e'),
    # ours: a body over limit_request_body (Gunicorn has no limit: it
    # serves the request, and logs it)
    (b"POST /f HTTP/1.1\r\nHost: t\r\nX-Tag: t\r\nContent-Length: 11\r\n\r\n",
     '413 0 "POST /f HTTP/1.1" POST None  HTTP/1.1 t - POST /f'),
]
# ... and none for the request-line and limit errors, nor for a header
# error raised without the request.
UNLOGGED_REFUSALS = [
    b"get / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1 x\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n",
]
REFUSED_FORMAT = ('%(s)s %(b)s "%(r)s" %(m)s %(U)s %(q)s %(H)s %({x-tag}i)s %(f)s '
                  '%({request_method}e)s %({raw_uri}e)s')
CLASSES = {**WORKERS, "gevent": ("-k", "gevent"), "asgi": ("-k", "asgi"),
           "tornado": ("-k", "tornado")}


@pytest.mark.parametrize("worker", sorted(CLASSES))
def test_refused_requests_access_lines(server, tmp_path, worker):
    log = tmp_path / "access.log"
    srv = server(*CLASSES[worker], "--access-logfile", str(log), "--access-logformat",
                 REFUSED_FORMAT, "--limit-request-body", "10",
                 app="asgiecho:app" if worker == "asgi" else "logapp:app")
    for data in UNLOGGED_REFUSALS:
        assert srv.raw(data).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 "))
    for data, line in LOGGED_REFUSALS:
        assert srv.raw(data).startswith(b"HTTP/1.1 %s " % line[:3].encode())
    # a good request last: every line is in once its own is
    assert srv.raw(b"GET /ok HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200 ")
    n = len(LOGGED_REFUSALS) + 1
    lines = access_lines(log, n)
    assert lines[:-1] == [line for _, line in LOGGED_REFUSALS], lines
    assert lines[-1].startswith('200 ') and len(log.read_text().splitlines()) == n
    assert len(warnings_of(srv, n - 1 + len(UNLOGGED_REFUSALS))) == n - 1 + len(
        UNLOGGED_REFUSALS)


def test_premature_disconnection_at_debug(server):
    srv = server("--log-level", "debug", app="logapp:app")
    srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Cut: ")
    srv.raw(b"GET /pa")
    wait_for(lambda: srv.text().count("Ignored premature") == 2, what="two debug lines")
    lines = re.findall(r"\[DEBUG\] (Ignored premature client disconnection\..*)", srv.text())
    # the bytes of the part being read: the headers, or the request line
    assert lines == [
        "Ignored premature client disconnection. No more data after: b'Host: x\\r\\nX-Cut: '",
        "Ignored premature client disconnection. No more data after: b'GET /pa'"]
    assert "Invalid request" not in srv.text()


# ---- the error log: the app ------------------------------------------------

@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_app_error_lines(server, worker):
    """Gunicorn: "Error handling request METHOD URI" and the traceback, or
    "Error handling request" alone once the response began."""
    srv = server(*WORKERS[worker], app="logapp:app")
    r, _ = get(srv, "/err?x=1")
    assert r.status == 500
    text = wait_for(lambda: "boom in the app" in srv.text() and srv.text(), what="traceback")
    assert re.search(r"%s \[ERROR\] Error handling request GET /err\?x=1\n"
                     r"Traceback \(most recent call last\):" % ERR_STAMP, text), text
    s = srv.connect()
    s.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(20)
    while s.recv(65536):
        pass
    s.close()
    text = wait_for(lambda: "boom after the head" in srv.text() and srv.text(), what="traceback")
    assert re.search(r"%s \[ERROR\] Error handling request\n"
                     r"Traceback \(most recent call last\):" % ERR_STAMP, text), text


# ---- the error log: debug level ---------------------------------------------

def test_debug_lines(server, tmp_path):
    """--log-level debug: the configuration at start (Gunicorn's arbiter),
    and "METHOD PATH" for each request (its default pre_request hook)."""
    srv = server("--log-level", "debug", "--workers", "1", "--timeout", "17", app="logapp:app")
    get(srv, "/some/path?q=1")
    wait_for(lambda: re.search(r"\[DEBUG\] GET /some/path\n", srv.text()), what="request line")
    text = srv.text()
    m = re.search(r"%s \[DEBUG\] Current configuration:\n((?:  .*\n)+)" % ERR_STAMP, text)
    assert m, text
    conf = dict(line[2:].split(": ", 1) for line in m.group(1).splitlines())
    assert conf["bind"] == "['127.0.0.1:0']" and conf["timeout"] == "17", conf
    assert conf["workers"] == "1" and conf["loglevel"] == "debug", conf
    assert conf["accesslog"] == "None" and conf["pre_request"] == "None", conf
    keys = list(conf)
    assert keys[:3] == ["config", "wsgi_app", "bind"], keys  # Gunicorn's order
    assert text.index("Current configuration") < text.index("Starting cunicorn")


def test_debug_request_line_gives_way_to_a_hook(server, tmp_path):
    """A pre_request in the config file replaces Gunicorn's default one,
    and with it the debug line."""
    conf = tmp_path / "c.conf.py"
    conf.write_text("def pre_request(worker, req):\n    worker.log.info('hooked %s' % req.path)\n")
    srv = server("--log-level", "debug", "-c", str(conf), app="logapp:app")
    get(srv, "/hooked")
    wait_for(lambda: "hooked /hooked" in srv.text(), what="the hook's line")
    assert "[DEBUG] GET /hooked" not in srv.text()


def test_info_level_has_no_debug_lines(server):
    srv = server(app="logapp:app")
    get(srv, "/quiet")
    srv.raw(b"GET /cut")
    wait_for(lambda: srv.raw(b"GET / HTTP/1.0\r\n\r\n"), what="an answer")
    text = srv.text()
    assert "Current configuration" not in text and "GET /quiet" not in text
    assert "Ignored premature" not in text and "[DEBUG]" not in text


# ---- HUP: the new logging settings, in the master and the new workers ------------

def hup(srv, conf, text, log=None):
    """conf rewritten to text, a HUP, and the old worker gone (so that the
    next request is the new worker's). log: where the lines go after it.
    The new worker's pid."""
    log = log or srv.log

    def read():
        return log.read_text() if log.exists() else ""

    def pids():
        return re.findall(r"Booting worker with pid: (\d+)", srv.text() + read())
    old, retired = pids(), read().count("exited: retired by a reload")
    conf.write_text(text)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: read().count("exited: retired by a reload") > retired,
             what="the reload")
    return int([p for p in pids() if p not in old][0])


def test_hup_sets_the_new_level(server, tmp_path):
    """loglevel info -> debug: debug lines after the HUP, from the master
    (its configuration) and from the new worker (a request's line), none
    before."""
    conf = tmp_path / "c.py"
    conf.write_text("loglevel = 'info'\n")
    srv = server("-c", str(conf), app="logapp:app")
    get(srv, "/before")
    worker = hup(srv, conf, "loglevel = 'debug'\n")
    get(srv, "/after")
    wait_for(lambda: "[DEBUG] GET /after" in srv.text(), what="the request's debug line")
    text = srv.text()
    head, tail = text.split("[INFO] Hang up: Master\n")
    assert "[DEBUG]" not in head and "GET /before" not in text, text
    assert "[%d] [DEBUG] Current configuration:" % srv.proc.pid in tail, text
    assert "[%d] [DEBUG] GET /after" % worker in tail, text


def test_hup_moves_the_access_log_and_its_format(server, tmp_path):
    conf = tmp_path / "c.py"
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    conf.write_text("accesslog = %r\n" % str(one))
    srv = server("-c", str(conf), app="logapp:app")
    get(srv, "/before")
    worker = hup(srv, conf, "accesslog = %r\naccess_log_format = 'new %%(p)s %%(r)s'\n"
                 % str(two))
    get(srv, "/after")
    assert access_lines(two, 1) == ["new <%d> GET /after HTTP/1.1" % worker]
    assert len(one.read_text().splitlines()) == 1 and "/before" in one.read_text()


PRINTS = "capture_output = True\ndef on_reload(server):\n    print('printed', flush=True)\n"


def test_hup_moves_the_error_log(server, tmp_path):
    """Later lines go to the new file, and with capture_output what the
    master prints too; a new file that cannot be opened keeps the one in
    use, with an error line there, as Gunicorn's arbiter keeps its logger
    (and the rest of the reload goes on)."""
    conf = tmp_path / "c.py"
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    conf.write_text("errorlog = %r\n%s" % (str(one), PRINTS))
    srv = server("-c", str(conf), errorlog=one)
    worker = hup(srv, conf, "errorlog = %r\n%s" % (str(two), PRINTS), log=two)
    assert "Hang up: Master" in one.read_text()
    assert "Booting worker with pid: %d" % worker in two.read_text()
    assert "Reloaded: " not in one.read_text() and "printed" not in one.read_text()
    assert "printed\n" in two.read_text()
    nowhere = tmp_path / "no-such-dir" / "e.log"
    worker = hup(srv, conf, "errorlog = %r\nproc_name = 'renamed'\n%s" % (str(nowhere), PRINTS),
                 log=two)
    assert ("[ERROR] reloading the logger configuration failed, keeping the previous "
            "one: errorlog '%s': No such file or directory" % nowhere) in two.read_text()
    assert "Booting worker with pid: %d" % worker in two.read_text()
    assert two.read_text().count("printed\n") == 2
    assert "renamed" in pathlib.Path("/proc/%d/cmdline" % srv.proc.pid).read_text()
    assert not nowhere.parent.exists()
