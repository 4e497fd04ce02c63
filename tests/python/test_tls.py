"""TLS (certfile, keyfile, ca_certs, cert_reqs, ciphers): real servers,
real clients -- curl, openssl s_client, Python's ssl and http.client --
with throw-away certificates made by the openssl command for each run.
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import ROOT, TIMEOUT, wait_for
import test_corpus_socket as corpus

WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2"),
           "gevent": ("-k", "gevent"), "eventlet": ("-k", "eventlet")}
GREEN = ["gevent", "eventlet"]
KEPT = ["gthread"] + GREEN  # the WSGI classes that keep a connection
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(not OPENSSL, reason="the openssl command is missing")


def openssl(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def issue(d, name, ca, cn, server):
    """A key and a certificate for cn, signed by the CA named ca."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    ext = d / (name + ".ext")
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if server else
                   "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile", ext.name,
            cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Two CAs; server certificates (two, for a reload) and client
    certificates from the first; a client certificate from the second."""
    d = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                "-out", ca + ".pem", "-days", "2", "-subj", "/CN=test " + ca, cwd=d)
    issue(d, "server", "ca", "localhost", True)
    issue(d, "server2", "ca", "localhost2", True)
    issue(d, "client", "ca", "good client", False)
    issue(d, "intruder", "rogue", "intruder", False)
    # one PEM with both the certificate and its key (no keyfile needed)
    (d / "both.pem").write_text((d / "server.pem").read_text() + (d / "server.key").read_text())
    ocsp_responses(d)
    return d


def ocsp_responses(d):
    """OCSP responses for server.pem, signed by its CA, as `openssl ocsp`
    (a responder over an index file) makes them: good.ocsp, revoked.ocsp;
    and two files that are not one to staple: trylater.ocsp (a response
    without an answer), garbage.ocsp."""
    serial = subprocess.run([OPENSSL, "x509", "-in", "server.pem", "-noout", "-serial"],
                            cwd=d, check=True, capture_output=True, text=True, timeout=60)
    serial = serial.stdout.strip().split("=")[1]
    openssl("ocsp", "-issuer", "ca.pem", "-cert", "server.pem", "-no_nonce",
            "-reqout", "server.ocspreq", cwd=d)
    for name, line in (("good", "V\t301231235959Z\t\t%s\tunknown\t/CN=localhost\n"),
                       ("revoked", "R\t301231235959Z\t200101000000Z\t%s\tunknown\t"
                                   "/CN=localhost\n")):
        (d / (name + ".index")).write_text(line % serial)
        openssl("ocsp", "-index", name + ".index", "-rsigner", "ca.pem", "-rkey", "ca.key",
                "-CA", "ca.pem", "-reqin", "server.ocspreq", "-respout", name + ".ocsp",
                "-ndays", "1", cwd=d)
    (d / "trylater.ocsp").write_bytes(b"\x30\x03\x0a\x01\x03")  # OCSPResponse, tryLater
    (d / "garbage.ocsp").write_bytes(b"not DER\n")


def tls_args(certs, *extra):
    return ("--certfile", str(certs / "server.pem"), "--keyfile", str(certs / "server.key")) + extra


def client_ctx(certs, cert=None, maximum=None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if cert:
        ctx.load_cert_chain(str(certs / (cert + ".pem")), str(certs / (cert + ".key")))
    if maximum:
        ctx.maximum_version = maximum
    return ctx


def get(srv, certs, path="/", ctx=None, **kw):
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT,
                                    context=ctx or client_ctx(certs))
    try:
        c.request(kw.pop("method", "GET"), path, **kw)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def tls_raw(port, data, ctx):
    """Sends data over TLS, then close_notify (TLS's half-close); returns
    everything the server sends until it closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname="localhost")

    def pump():
        d = out.read()
        if d:
            sock.sendall(d)

    def feed():
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            inc.write_eof()
        else:
            inc.write(d)
        return bool(d)

    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
                feed()
        obj.write(data)
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        pump()
        got = b""
        while True:
            try:
                chunk = obj.read(65536)
                if not chunk:
                    break
                got += chunk
            except ssl.SSLWantReadError:
                pump()
                if not feed():
                    break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        return got
    finally:
        sock.close()


def s_client(port, *args, data=b""):
    """openssl s_client against the server: (handshake done, its output)."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "localhost"] + list(args),
                       input=data, capture_output=True, timeout=TIMEOUT)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    m = re.search(r"Cipher is (\S+)", out)
    return bool(m and m.group(1) != "(NONE)"), out


# ---- serving ----------------------------------------------------------------


@pytest.mark.skipif(not CURL, reason="curl is missing")
@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_curl_over_tls(server, certs, worker):
    srv = server(*tls_args(certs, *WORKERS[worker]))
    assert "Listening at: https://127.0.0.1:%d (" % srv.port in srv.text()
    r = subprocess.run([CURL, "-sS", "--http1.1", "--cacert", str(certs / "ca.pem"),
                        "https://localhost:%d/x?y=1" % srv.port,
                        "https://localhost:%d/second" % srv.port],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.decode().replace("}{", "}\n{").splitlines()
    env = json.loads(first)["environ"]
    assert env["wsgi.url_scheme"] == "https"
    assert env["PATH_INFO"] == "/x" and env["QUERY_STRING"] == "y=1"
    assert json.loads(second)["environ"]["PATH_INFO"] == "/second"


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_keep_alive_bodies_chunked_and_large(server, certs, worker):
    srv = server(*tls_args(certs, *WORKERS[worker]))
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT,
                                    context=client_ctx(certs))
    body = os.urandom(300000)
    for i in range(3):
        c.request("POST", "/post", body=body)
        r = c.getresponse()
        got = json.loads(r.read())
        assert r.status == 200 and got["body_len"] == len(body)
        assert got["environ"]["wsgi.url_scheme"] == "https"
        if worker == "sync":  # one request per connection
            c.close()
    c.request("POST", "/chunked", body=iter([b"a" * 70000, b"b" * 5]), encode_chunked=True)
    r = c.getresponse()
    got = json.loads(r.read())
    assert got["body_len"] == 70005 and got["environ"]["HTTP_TRANSFER_ENCODING"] == "chunked"
    c.close()


@pytest.mark.parametrize("worker", sorted(WORKERS))
@pytest.mark.parametrize("path", ["/list", "/chunks", "/file"])
def test_large_responses(server, certs, worker, path):
    """A whole list, chunks and a wsgi.file_wrapper file (sendfile's path:
    read and written through TLS) arrive whole, twice on one connection."""
    srv = server(*tls_args(certs, *WORKERS[worker]), app="big:app")
    n = 5 * 1024 * 1024 + 7
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT,
                                    context=client_ctx(certs))
    for _ in range(1 if worker == "sync" else 2):
        c.request("GET", "%s?%d" % (path, n))
        r = c.getresponse()
        data = r.read()
        assert r.status == 200 and len(data) == n
        assert data[:502] == bytes(i % 251 for i in range(502)) and data[-1] == (n - 1) % 251
    c.close()


@pytest.mark.parametrize("worker", KEPT)
def test_pipelined_requests_in_one_record(server, certs, worker):
    """Two requests in one TLS write: the second waits inside TLS, not on
    the socket, when the first is over."""
    srv = server(*tls_args(certs, *WORKERS[worker]))
    raw = tls_raw(srv.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", client_ctx(certs))
    assert raw.count(b"HTTP/1.1 200 OK") == 2, raw[:500]
    assert raw.index(b'"PATH_INFO": "/a"') < raw.index(b'"PATH_INFO": "/b"')


WSGI_HEAD = len(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n")


@pytest.mark.parametrize("worker", KEPT)
@pytest.mark.parametrize("size", [3000, 8192 - WSGI_HEAD, 12000])
def test_bytes_left_inside_tls(server, certs, worker, size):
    """A record bigger than the read's room: its rest (the next request
    too) waits inside TLS, and the socket will not say it is there; then
    nothing more comes from the client, not even close_notify."""
    srv = server(*tls_args(certs, *WORKERS[worker]))
    s = tls_socket(srv, certs)
    s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % (size, b"x" * size))
    raw = read_to_end(s)
    assert raw.count(b"HTTP/1.1 200 OK") == 2, raw[:500]
    assert b'"body_len": %d' % size in raw and b'"PATH_INFO": "/b"' in raw


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_close_notify_at_the_end(server, certs, worker):
    """A Connection: close response ends with close_notify: a strict
    client (no ragged EOF taken) reads a clean end."""
    srv = server(*tls_args(certs, *WORKERS[worker]))
    s = tls_socket(srv, certs, suppress_ragged_eofs=False)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_to_end(s).startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_the_key_inside_certfile(server, certs, worker):
    srv = server("--certfile", str(certs / "both.pem"), *WORKERS[worker])
    assert get(srv, certs)[0] == 200


# ---- protocols and ciphers -----------------------------------------------------


@pytest.fixture(scope="module")
def tls_srv(tmp_path_factory, certs):
    from conftest import Server, APPS
    s = Server(tmp_path_factory.mktemp("tls"), tls_args(certs), "tlsapp:app", 1, None,
               APPS).start()
    yield s
    s.stop()


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_old_protocols_refused(tls_srv, proto):
    # the client offers them (SECLEVEL 0): the server is the one refusing
    done, out = s_client(tls_srv.port, proto, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert not done, out
    wait_for(lambda: "[SSL] unsupported protocol" in tls_srv.text(),
             what="the server's refusal in its log")


@pytest.mark.parametrize("proto,name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_current_protocols_accepted(tls_srv, proto, name):
    done, out = s_client(tls_srv.port, proto, "-ign_eof",
                         data=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert done and "Protocol  : " + name in out, out
    assert "HTTP/1.1 200 OK" in out and '"scheme": "https"' in out


def test_ciphers_setting(server, certs):
    srv = server(*tls_args(certs, "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"))
    done, out = s_client(srv.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
    assert not done, out
    wait_for(lambda: "[SSL] no shared cipher" in srv.text(), what="no shared cipher")
    done, out = s_client(srv.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert done and "ECDHE-RSA-AES128-GCM-SHA256" in out, out


def test_default_ciphers_no_cbc_sha1(tls_srv):
    """Python's default list, as Gunicorn's context keeps: no SHA-1 MACs."""
    done, out = s_client(tls_srv.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
    assert not done, out


def test_what_the_app_sees(tls_srv, certs):
    status, body = get(tls_srv, certs)
    got = json.loads(body)
    assert status == 200 and got["scheme"] == "https"
    assert got["peercert"] is None and got["peercert_der_len"] is None
    assert got["version"] == "TLSv1.3" and got["cipher"][1] == "TLSv1.3"
    assert got["cipher"][2] >= 128


# ---- client certificates ------------------------------------------------------


@pytest.mark.parametrize("worker", ["sync"] + GREEN)
def test_mtls_required(server, certs, worker):
    srv = server(*tls_args(certs, "--cert-reqs", "2", "--ca-certs", str(certs / "ca.pem"),
                           *WORKERS[worker]), app="tlsapp:app")
    status, body = get(srv, certs, ctx=client_ctx(certs, "client"))
    got = json.loads(body)
    assert status == 200
    assert ((("commonName", "good client"),),) == tuple(
        tuple(tuple(x) for x in rdn) for rdn in got["peercert"]["subject"])
    assert got["peercert"]["issuer"] == [[["commonName", "test ca"]]]
    assert got["peercert_der_len"] > 100
    # no certificate, or one from another authority: refused
    for ctx in (client_ctx(certs), client_ctx(certs, "intruder")):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            get(srv, certs, ctx=ctx)
    wait_for(lambda: "[SSL] peer did not return a certificate" in srv.text(),
             what="the refusal without a certificate")
    wait_for(lambda: "[SSL] certificate verify failed" in srv.text(),
             what="the refusal of the intruder")
    assert get(srv, certs, ctx=client_ctx(certs, "client"))[0] == 200  # still serving


@pytest.mark.parametrize("worker", KEPT)
def test_mtls_optional(server, certs, worker):
    srv = server(*tls_args(certs, "--cert-reqs", "1", "--ca-certs", str(certs / "ca.pem"),
                           *WORKERS[worker]), app="tlsapp:app")
    got = json.loads(get(srv, certs)[1])
    assert got["peercert"] is None
    got = json.loads(get(srv, certs, ctx=client_ctx(certs, "client"))[1])
    assert got["peercert"]["subject"] == [[["commonName", "good client"]]]
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get(srv, certs, ctx=client_ctx(certs, "intruder"))


# ---- bad peers -----------------------------------------------------------------


@pytest.mark.parametrize("worker", sorted(WORKERS) + ["asgi"])
def test_plain_http_to_the_tls_port(server, certs, worker):
    srv = server(*tls_args(certs, *WORKERS.get(worker, ("-k", "asgi"))),
                 app="asgiecho:app" if worker == "asgi" else "echo:app")
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(100) == b""  # closed, without a reset
    s.close()
    wait_for(lambda: "Invalid request from ip=127.0.0.1: [SSL] http request" in srv.text(),
             what="the warning")
    assert get(srv, certs)[0] == 200


@pytest.mark.parametrize("worker", ["sync", "gthread"])
def test_stalled_handshake(server, certs, worker):
    """A client that stops mid-handshake: gthread serves others meanwhile;
    both close it, sync once --timeout has passed (the others wait that
    long at most), gthread at --new-connection-timeout, which bounds a
    handshake there (docs/settings.md)."""
    extra = ("--new-connection-timeout", "2") if worker == "gthread" else ()
    srv = server(*tls_args(certs, "--timeout", "2", *extra, *WORKERS[worker]))
    stalled = srv.connect()
    stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
    if worker == "gthread":
        assert get(srv, certs)[0] == 200
    stalled.settimeout(TIMEOUT)
    assert stalled.recv(100) == b""  # closed by the server, not by our timeout
    stalled.close()
    assert get(srv, certs)[0] == 200
    assert "Booting worker" in srv.text() and "WORKER TIMEOUT" not in srv.text()


def client_hello(certs):
    """The first flight of a real TLS client (a whole ClientHello)."""
    out = ssl.MemoryBIO()
    obj = client_ctx(certs).wrap_bio(ssl.MemoryBIO(), out, server_side=False,
                                     server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def still_open(s):
    """Whether the server has not closed s yet (what it sent is dropped)."""
    while select.select([s], [], [], 0)[0]:
        if not s.recv(65536):
            return False
    return True


@pytest.mark.parametrize("worker", GREEN)
def test_stalled_handshakes_never_block_the_hub(server, certs, worker):
    """One worker, three clients stalled in their handshakes (silent, half
    a ClientHello, a whole one and never the Finished): others are served
    meanwhile, while the stalled ones are still open (a handshake that
    blocked the hub would have served them only after the cut); then each
    stalled one is cut at --new-connection-timeout (--timeout is far)."""
    srv = server(*tls_args(certs, "--timeout", "120", "--new-connection-timeout", "4",
                           *WORKERS[worker]))
    stalled = [srv.connect() for _ in range(3)]
    stalled[1].sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    stalled[2].sendall(client_hello(certs))
    for _ in range(2):
        assert get(srv, certs)[0] == 200
    assert [still_open(s) for s in stalled] == [True] * 3
    for s in stalled:
        s.settimeout(TIMEOUT)
        while s.recv(65536):  # the third: the server's flight first
            pass
        s.close()  # closed by the server, long before --timeout
    assert get(srv, certs)[0] == 200
    assert "WORKER TIMEOUT" not in srv.text()


@pytest.mark.parametrize("worker", GREEN)
def test_term_closes_a_connection_mid_handshake(server, certs, worker):
    """No request has begun on it: TERM closes it as an idle one, well
    before its deadlines (all a minute here)."""
    srv = server(*tls_args(certs, "--timeout", "60", "--new-connection-timeout", "60",
                           "--graceful-timeout", "60", *WORKERS[worker]))
    stalled = srv.connect()
    stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert get(srv, certs)[0] == 200  # the stalled one is in its handshake by now
    srv.proc.send_signal(signal.SIGTERM)
    assert stalled.recv(100) == b""
    stalled.close()
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    assert "Worker graceful timeout" not in srv.text()


@pytest.mark.parametrize("worker", KEPT)
def test_tls_client_that_leaves_mid_handshake(server, certs, worker):
    srv = server(*tls_args(certs, *WORKERS[worker]))
    for _ in range(5):
        s = srv.connect()
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        s.close()
    assert get(srv, certs)[0] == 200


# ---- start-up errors -----------------------------------------------------------


def start_fails(launcher, *args):
    r = subprocess.run([launcher, "-b", "127.0.0.1:0", "--chdir", str(ROOT / "tests" /
                       "python" / "apps")] + list(args) + ["echo:app"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Listening at" not in r.stderr and "Booting worker" not in r.stderr
    return r.stderr


BAD = [
    (("--certfile", "{d}/missing.pem", "--keyfile", "{d}/server.key"),
     'certfile "{d}/missing.pem": No such file or directory'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/missing.key"),
     'keyfile "{d}/missing.key": No such file or directory'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/client.key"),
     'keyfile "{d}/client.key": the key does not match the certificate in certfile'),
    (("--certfile", "{d}/server.key", "--keyfile", "{d}/server.key"),
     'certfile "{d}/server.key": '),
    (("--certfile", "{d}/server.pem"), 'certfile (no keyfile: its key) "{d}/server.pem"'),
    (("--keyfile", "{d}/server.key"), "keyfile: needs certfile"),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ciphers", "NOPE"),
     'ciphers: no cipher matches "NOPE"'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--cert-reqs", "3"),
     "cert_reqs: 3 is not 0 (none), 1 (optional) or 2 (required)"),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ca-certs",
      "{d}/missing.pem"), 'ca_certs "{d}/missing.pem": No such file or directory'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ssl-ocsp-response",
      "{d}/missing.ocsp"), 'ssl_ocsp_response "{d}/missing.ocsp": No such file or directory'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ssl-ocsp-response",
      "{d}/garbage.ocsp"), 'ssl_ocsp_response "{d}/garbage.ocsp": not a DER-encoded OCSP '
     'response'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ssl-ocsp-response",
      "{d}/server.pem"), 'ssl_ocsp_response "{d}/server.pem": not a DER-encoded OCSP '
     'response'),
    (("--certfile", "{d}/server.pem", "--keyfile", "{d}/server.key", "--ssl-ocsp-response",
      "{d}/trylater.ocsp"), 'ssl_ocsp_response "{d}/trylater.ocsp": the response\'s status is '
     'trylater, not successful'),
    (("--ssl-ocsp-response", "{d}/good.ocsp"),
     "ssl_ocsp_response: needs certfile (the certificate it answers for)"),
]


@pytest.mark.parametrize("args,line", BAD, ids=[b[1].split(":")[0].split(" ")[0] + str(i)
                                                for i, b in enumerate(BAD)])
@pytest.mark.parametrize("check", [False, True])
def test_bad_settings_refuse_the_start(launcher, certs, args, line, check):
    args = [a.format(d=certs) for a in args] + (["--check-config"] if check else [])
    err = start_fails(launcher, *args)
    assert "Error: " + line.format(d=certs) in err, err


def test_unreadable_key(launcher, certs, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    key = tmp_path / "k.pem"
    shutil.copy(certs / "server.key", key)
    key.chmod(0)
    err = start_fails(launcher, "--certfile", str(certs / "server.pem"), "--keyfile", str(key))
    assert 'keyfile "%s": Permission denied' % key in err


def test_ssl_context_hook_refused(launcher, tmp_path, certs):
    conf = tmp_path / "c.py"
    conf.write_text("def ssl_context(config, default):\n    return default()\n")
    err = start_fails(launcher, "-c", str(conf), *tls_args(certs))
    assert "ssl_context: the hook is not built yet: cunicorn's TLS is OpenSSL in C" in err


def test_ssl_version_warns_and_is_ignored(server, certs):
    srv = server(*tls_args(certs, "--ssl-version", "5"))
    assert get(srv, certs)[0] == 200
    # printed before the logs open, so before the server was seen up
    fd = srv.proc.stderr.fileno()
    err = os.read(fd, 65536).decode() if select.select([fd], [], [], 0)[0] else ""
    assert "Warning: option `ssl_version` is deprecated and it is ignored. " \
           "Use ssl_context instead." in err


# ---- sessions, reload ------------------------------------------------------------


@pytest.mark.parametrize("worker", sorted(WORKERS))
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_session_resumption(server, certs, worker, maximum):
    """Tickets made in the master's context: any worker resumes a session
    (two workers here)."""
    srv = server(*tls_args(certs, *WORKERS[worker]), workers=2)
    ctx = client_ctx(certs, maximum=maximum)
    session = None
    reused = []
    for _ in range(4):
        s = ctx.wrap_socket(srv.connect(), server_hostname="localhost", session=session)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
        if session is not None:
            reused.append(s.session_reused)
        session = s.session
        s.close()
    assert reused == [True, True, True]


def test_hup_loads_the_new_certificate(server, certs, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(certs / "server.pem", cert)
    shutil.copy(certs / "server.key", key)
    srv = server("--certfile", str(cert), "--keyfile", str(key), *WORKERS["gthread"])

    def served_cn():
        ctx = client_ctx(certs)
        ctx.check_hostname = False
        with ctx.wrap_socket(srv.connect()) as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]

    assert served_cn() == "localhost"
    keep = client_ctx(certs).wrap_socket(srv.connect(), server_hostname="localhost")
    shutil.copy(certs / "server2.pem", cert)
    shutil.copy(certs / "server2.key", key)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.text().count("Booting worker") >= 2, what="the new worker")
    wait_for(lambda: served_cn() == "localhost2", what="the new certificate")
    # a connection made before the HUP still works (its worker finishes it)
    keep.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert keep.recv(100).startswith(b"HTTP/1.1 200 OK")
    keep.close()


def test_hup_with_a_broken_certificate_keeps_serving(server, certs, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(certs / "server.pem", cert)
    shutil.copy(certs / "server.key", key)
    srv = server("--certfile", str(cert), "--keyfile", str(key))
    shutil.copy(certs / "client.key", key)  # no longer the certificate's key
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "the key does not match the certificate" in srv.text(),
             what="the reload's error")
    assert get(srv, certs)[0] == 200
    assert srv.proc.poll() is None


# ---- OCSP stapling (ours) -----------------------------------------------------------


def stapled(port, *args):
    """What openssl s_client -status says of the server's staple."""
    done, out = s_client(port, "-status", *args)
    assert done, out
    if "OCSP response: no response sent" in out:
        return None
    m = re.search(r"OCSP Response Status: (\w+).*?Cert Status: (\w+)", out, re.S)
    assert m, out
    return m.groups()


@pytest.mark.parametrize("worker", ["sync", "gevent"])
def test_ocsp_stapling(server, certs, worker, tmp_path):
    """The response is stapled for a client that asks (TLS 1.2 and 1.3),
    and read again on HUP."""
    resp = tmp_path / "site.ocsp"
    shutil.copy(certs / "good.ocsp", resp)
    srv = server(*tls_args(certs, "--ssl-ocsp-response", str(resp), *WORKERS[worker]))
    assert stapled(srv.port) == ("successful", "good")
    assert stapled(srv.port, "-tls1_2") == ("successful", "good")
    done, out = s_client(srv.port)  # a client that does not ask gets none
    assert done and "OCSP Response" not in out, out
    shutil.copy(certs / "revoked.ocsp", resp)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.text().count("Booting worker") >= 2, what="the new worker")
    wait_for(lambda: stapled(srv.port) == ("successful", "revoked"),
             what="the new response stapled")


def test_no_staple_without_the_setting(tls_srv):
    assert stapled(tls_srv.port) is None


def test_hup_with_a_broken_ocsp_response_keeps_serving(server, certs, tmp_path):
    resp = tmp_path / "site.ocsp"
    shutil.copy(certs / "good.ocsp", resp)
    srv = server(*tls_args(certs, "--ssl-ocsp-response", str(resp)))
    shutil.copy(certs / "garbage.ocsp", resp)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "not a DER-encoded OCSP response" in srv.text(),
             what="the reload's error")
    assert stapled(srv.port) == ("successful", "good")  # the old workers, the old one
    assert srv.proc.poll() is None


# ---- frameworks, the corpus ----------------------------------------------------------


@pytest.mark.parametrize("worker", KEPT)
def test_flask_over_https(server, certs, worker):
    pytest.importorskip("flask")
    srv = server(*tls_args(certs, *WORKERS[worker]), app="flaskapp:app")
    status, body = get(srv, certs, "/users/7/posts/hello")
    assert status == 200 and b"hello" in body
    status, body = get(srv, certs, "/json", method="POST", body=b'{"a": [1, 2]}',
                       headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)


@pytest.mark.parametrize("worker", sorted(WORKERS) + ["asgi", "tornado"])
@pytest.mark.parametrize("args", corpus.GROUPS, ids=lambda a: " ".join(a) or "defaults")
def test_corpus_over_tls(server, certs, args, worker):
    srv = server(*tls_args(certs, *(corpus.WORKERS[worker] + args)),
                 app=corpus.APPS.get(worker, "echo:app"))
    ctx = client_ctx(certs)
    group = [c for c in corpus.CASES if corpus.args_for(c[3]) == args]
    assert group
    for name, path, exp, cfg in group:
        raw = tls_raw(srv.port, path.read_bytes(), ctx)
        if "/valid/" in name:
            corpus.check_valid(name, raw, exp, worker != "sync", worker == "asgi")
        else:
            corpus.check_invalid(name, raw, exp)


# ---- testssl.sh -----------------------------------------------------------------

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")


@pytest.mark.skipif(not TESTSSL, reason="testssl.sh is missing (Debian's testssl.sh)")
def test_testssl_finds_nothing_high(server, certs, tmp_path):
    """testssl.sh against the default configuration: no finding rated HIGH
    or CRITICAL. The findings about the certificate itself (cert_*: its
    throw-away CA is unknown to testssl, it expires in 2 days, it names no
    OCSP or CRL) are the operator's certificate, not the server: left out.
    Every check of testssl's default run that can rate a finding is run:
    protocols, cipher categories, forward secrecy, the server's
    preferences and defaults, headers, every vulnerability, RC4. Left out
    are the two that only list, and take most of its time: each cipher one
    by one (-e) and the client simulation (-c), whose findings are INFO."""
    srv = server(*tls_args(certs, *WORKERS["gthread"]), workers=2)
    out = tmp_path / "testssl.json"
    r = subprocess.run([TESTSSL, "-p", "-s", "-f", "-P", "-S", "-h", "-U", "-4",
                        "--quiet", "--color", "0", "--warnings", "off",
                        "--severity", "HIGH", "--jsonfile", str(out),
                        "--connect-timeout", "5", "--openssl-timeout", "5",
                        "--ip", "one", "127.0.0.1:%d" % srv.port],
                       capture_output=True, timeout=600)
    assert out.exists(), r.stdout[-2000:]
    findings = json.loads(out.read_text())
    assert any(f["id"].startswith("cert_") for f in findings), findings  # it looked
    high = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")
            and not f["id"].startswith("cert_")]
    assert high == [], high
    assert get(srv, certs)[0] == 200


# ---- the asgi and tornado classes --------------------------------------------------

ASYNC = {"asgi": ("-k", "asgi"), "tornado": ("-k", "tornado")}


def tls_socket(srv, certs, **kw):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    return client_ctx(certs).wrap_socket(sock, server_hostname="localhost", **kw)


def read_to_end(s):
    """What s reads until the server's end (with suppress_ragged_eofs off,
    an end without close_notify raises SSLEOFError); closes s."""
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def asgi_srv(server, certs, *extra, app="asgiecho:app"):
    return server(*tls_args(certs, "-k", "asgi", *extra), app=app)


@pytest.mark.skipif(not CURL, reason="curl is missing")
def test_asgi_curl_over_tls(server, certs):
    """Two requests on one connection (curl reuses it), and the scope."""
    srv = asgi_srv(server, certs)
    assert "Listening at: https://127.0.0.1:%d (" % srv.port in srv.text()
    r = subprocess.run([CURL, "-sS", "-v", "--http1.1", "--cacert", str(certs / "ca.pem"),
                        "https://localhost:%d/x?y=1" % srv.port,
                        "-d", "posted body", "https://localhost:%d/second" % srv.port],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert b"Re-using existing connection" in r.stderr, r.stderr
    first, second = r.stdout.decode().replace("}{", "}\n{").splitlines()
    scope = json.loads(first)["scope"]
    assert scope["scheme"] == "https" and scope["path"] == "/x"
    assert scope["query_string"] == "y=1"
    got = json.loads(second)
    assert got["scope"]["scheme"] == "https" and got["body"] == "posted body"


def test_asgi_keep_alive_bodies_and_large(server, certs):
    """Bodies in, and 4 MiB out (through TLS records, past the socket's
    buffer), all on one connection."""
    srv = asgi_srv(server, certs)
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT,
                                    context=client_ctx(certs))
    body = os.urandom(300000)
    pids = set()
    for _ in range(3):
        c.request("POST", "/post", body=body)
        r = c.getresponse()
        got = json.loads(r.read())
        assert r.status == 200 and got["body_len"] == len(body)
        assert got["body_sha256"] == __import__("hashlib").sha256(body).hexdigest()
        pids.add(got["pid"])
        c.request("GET", "/big?4")
        r = c.getresponse()
        data = r.read()
        assert r.status == 200 and len(data) == 4 << 20
        assert data == b"".join(bytes([65 + i]) * (1 << 20) for i in range(4))
    c.request("POST", "/chunked", body=iter([b"a" * 70000, b"b" * 5]), encode_chunked=True)
    got = json.loads(c.getresponse().read())
    assert got["body_len"] == 70005 and got["scope"]["scheme"] == "https"
    assert len(pids) == 1
    c.close()


def test_asgi_pipelined_requests_in_one_record(server, certs):
    """Two requests in one TLS write: the second waits inside TLS, not on
    the socket, when the first is over."""
    srv = asgi_srv(server, certs)
    raw = tls_raw(srv.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", client_ctx(certs))
    assert raw.count(b"HTTP/1.1 200 OK") == 2, raw[:500]
    assert b'"path": "/a"' in raw and b'"path": "/b"' in raw


HEAD_8K = len(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n")


@pytest.mark.parametrize("size", [3000, 8192 - HEAD_8K, 12000])
def test_asgi_bytes_left_inside_tls(server, certs, size):
    """A record bigger than the read buffer's room (8 KiB): its rest waits
    inside TLS, where the loop cannot see it (the socket is not readable).
    8192 - HEAD_8K: the first request fills the buffer exactly, and the
    second is all inside TLS when the first is over."""
    srv = asgi_srv(server, certs)
    body = b"x" * size
    s = tls_socket(srv, certs)
    # one write, one record; then nothing more from us, not even
    # close_notify, that would make the socket readable
    s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (size, body))
    raw = read_to_end(s)
    assert raw.count(b"HTTP/1.1 200 OK") == 2, raw[:500]
    assert b'"body_len": %d' % size in raw and b'"path": "/b"' in raw


def test_starlette_over_https(server, certs):
    pytest.importorskip("starlette")
    srv = asgi_srv(server, certs, app="starletteapp:starlette_app")
    status, body = get(srv, certs, "/?q=1")
    assert status == 200 and json.loads(body)["query"] == {"q": "1"}
    status, body = get(srv, certs, "/echo", method="POST", body=b"x" * 100000)
    assert status == 200 and body == b"x" * 100000


def test_asgi_mtls_required(server, certs):
    srv = asgi_srv(server, certs, "--cert-reqs", "2", "--ca-certs", str(certs / "ca.pem"))
    status, body = get(srv, certs, "/", ctx=client_ctx(certs, "client"))
    assert status == 200 and json.loads(body)["scope"]["scheme"] == "https"
    for who in (None, "intruder"):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            get(srv, certs, ctx=client_ctx(certs, who))
    assert get(srv, certs, "/", ctx=client_ctx(certs, "client"))[0] == 200


def test_asgi_stalled_handshake(server, certs):
    """A client that stops mid-handshake is cut at --new-connection-timeout
    (not --timeout's 30 s); others are served meanwhile."""
    srv = asgi_srv(server, certs, "--new-connection-timeout", "1")
    stalled = srv.connect()
    stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
    assert get(srv, certs)[0] == 200
    stalled.settimeout(TIMEOUT)
    assert stalled.recv(100) == b""  # closed by the server, not by our timeout
    stalled.close()
    for _ in range(3):  # and some that leave mid-handshake
        s = srv.connect()
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        s.close()
    assert get(srv, certs)[0] == 200
    assert "WORKER TIMEOUT" not in srv.text()


def test_asgi_close_notify_at_the_end(server, certs):
    """The server ends a Connection: close response with close_notify: a
    strict client reads a clean end (no ragged EOF)."""
    srv = asgi_srv(server, certs)
    s = tls_socket(srv, certs, suppress_ragged_eofs=False)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = read_to_end(s)
    assert got.startswith(b"HTTP/1.1 200 OK")


def test_wss(server, certs):
    websockets = pytest.importorskip("websockets")
    import asyncio
    srv = asgi_srv(server, certs, app="wsapp:app")

    async def main():
        async with websockets.connect("wss://localhost:%d/echo" % srv.port,
                                      ssl=client_ctx(certs)) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00" * 200000)
            assert await ws.recv() == b"\x00" * 200000
            await ws.send("scope")
            return json.loads(await ws.recv())
    scope = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert scope["scheme"] == "wss" and scope["type"] == "websocket"
    # the tls extension, beside the denial one
    tls = scope["extensions"]["tls"]
    assert tls["tls_version"] == 0x0304 and tls["client_cert_chain"] == []
    assert pem_body(tls["server_cert"]) == pem_body((certs / "server.pem").read_text())
    assert "websocket.http.response" in scope["extensions"]


@pytest.mark.parametrize("app,path,want", [("tornadoapp:app", "/hello", b"Hello, world"),
                                           ("tornadoapp:container", "/", b"hello from https")])
def test_tornado_over_https(server, certs, app, path, want):
    pytest.importorskip("tornado")
    srv = server(*tls_args(certs, *ASYNC["tornado"]), app=app)
    status, body = get(srv, certs, path)
    assert status == 200 and body.startswith(want), body


def test_tornado_websocket_over_tls_is_closed(server, certs):
    """Not built: a tornado WebSocketHandler takes the socket for its own
    IOStream, which cannot go on with the C TLS state. The 101, then a
    close, never a connection left hanging."""
    pytest.importorskip("tornado")
    srv = server(*tls_args(certs, *ASYNC["tornado"]), app="tornadoapp:app")
    s = tls_socket(srv, certs)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    got = read_to_end(s)
    assert got.startswith(b"HTTP/1.1 101 "), got
    assert get(srv, certs, "/hello")[0] == 200


# ---- the ASGI tls extension ------------------------------------------------------

# IANA's numbers of the suites these clients and servers agree on
SUITES = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
          "TLS_CHACHA20_POLY1305_SHA256": 0x1303, "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
          "ECDHE-RSA-AES256-GCM-SHA384": 0xC030, "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8}


def asgi_ext(srv, ctx, paths=("/ext",)):
    """scope["extensions"] of each path, on one connection, and its cipher."""
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT, context=ctx)
    out = []
    try:
        for p in paths:
            c.request("GET", p)
            r = c.getresponse()
            assert r.status == 200
            out.append(json.loads(r.read()))
        return out, c.sock.cipher()[0]
    finally:
        c.close()


def pem_body(text):
    return "".join(line for line in text.strip().splitlines())


@pytest.mark.parametrize("maximum", [None, ssl.TLSVersion.TLSv1_2])
def test_asgi_tls_extension_without_a_client_certificate(server, certs, maximum):
    srv = asgi_srv(server, certs, "--cert-reqs", "1", "--ca-certs", str(certs / "ca.pem"),
                   app="asgiext:app")
    (ext, again), cipher = asgi_ext(srv, client_ctx(certs, maximum=maximum), ("/ext", "/ext"))
    tls = ext["tls"]
    assert pem_body(tls["server_cert"]) == pem_body((certs / "server.pem").read_text())
    assert tls["client_cert_chain"] == [] and tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None
    assert tls["tls_version"] == (0x0303 if maximum else 0x0304)
    assert tls["cipher_suite"] == SUITES[cipher]
    assert "http.response.pathsend" in ext   # beside the others
    assert again == ext                      # the next request on the connection


def test_asgi_tls_extension_is_each_requests_own(server, certs):
    """An app that changes its scope's tls extension leaves the next
    request's on the connection as it was."""
    srv = asgi_srv(server, certs, app="asgiext:app")
    (first, _, after), _ = asgi_ext(srv, client_ctx(certs), ("/ext", "/ext-spoil", "/ext"))
    assert after == first and after["tls"]["client_cert_chain"] == []


def test_asgi_tls_extension_with_a_client_certificate(server, certs):
    srv = asgi_srv(server, certs, "--cert-reqs", "2", "--ca-certs", str(certs / "ca.pem"),
                   app="asgiext:app")
    (ext,), cipher = asgi_ext(srv, client_ctx(certs, "client"))
    tls = ext["tls"]
    # its own first; OpenSSL's client completes the chain with the CA
    # it trusts (no SSL_MODE_NO_AUTO_CHAIN), as it was sent
    assert [pem_body(p) for p in tls["client_cert_chain"]] in (
        [pem_body((certs / f).read_text()) for f in files]
        for files in (["client.pem"], ["client.pem", "ca.pem"]))
    assert tls["client_cert_name"] == "CN=good client"
    assert tls["client_cert_error"] is None
    assert tls["tls_version"] == 0x0304 and tls["cipher_suite"] == SUITES[cipher]


def test_asgi_tls_extension_only_over_tls(server):
    srv = server("-k", "asgi", app="asgiext:app")
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    c.request("GET", "/ext")
    assert "tls" not in json.loads(c.getresponse().read())
    c.close()
