"""Request bodies and slow clients on the open internet (docs/compat.md,
Request bodies; docs/operations.md, Facing the internet without a proxy):
limit_request_body's 413 (before any 100 Continue), 100 Continue only when
the app reads, gthread's spooled bodies (memory, then an unlinked file in
tmp_upload_dir), streamed responses that hold no thread while the client
reads slowly, and slowhttptest's attacks while a normal client is served.

Bounds on time are loose on purpose: they tell a served client from one
that waits for an attack to end, never a fast server from a slow one."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import TIMEOUT, wait_for
from test_gthread import Reader, get, session

GT = ("-k", "gthread", "--threads", "4")
CLASSES = {"sync": ("-k", "sync"), "gthread": GT, "asgi": ("-k", "asgi")}
APPS = {"sync": "bodyapp:app", "gthread": "bodyapp:app", "asgi": "asgiecho:app"}
# a normal client among attackers: answered within this, or the attack won
SERVED_WITHIN = 5.0


def post(path, body=b"", extra=b"", length=None):
    n = len(body) if length is None else length
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: "
            + str(n).encode() + b"\r\n" + extra + b"\r\n" + body)


def chunked(data, size=1000):
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                   for i in range(0, len(data), size))
    return out + b"0\r\n\r\n"


def post_chunked(path, data, extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
            b"Transfer-Encoding: chunked\r\n" + extra + b"\r\n" + chunked(data))


def config_file(tmp_path, text):
    path = tmp_path / "body.conf.py"
    path.write_text(text)
    return str(path)


def served(srv, path="/"):
    """One normal request on a new connection: the time it took."""
    t0 = time.monotonic()
    s, rd = session(srv)
    try:
        s.settimeout(SERVED_WITHIN * 2)
        s.sendall(get(path))
        assert rd.response()[0] == "HTTP/1.1 200 OK"
    finally:
        s.close()
    return time.monotonic() - t0


# ---- limit_request_body ------------------------------------------------------

@pytest.mark.parametrize("cls", sorted(CLASSES))
@pytest.mark.parametrize("expect", [False, True])
def test_a_body_over_the_limit_gets_413_and_no_100(server, cls, expect):
    srv = server(*CLASSES[cls], "--limit-request-body", "1000", app=APPS[cls])
    s, rd = session(srv)
    # the body is never sent: the answer comes from the head alone
    s.sendall(post("/", length=1001,
                   extra=b"Expect: 100-continue\r\n" if expect else b""))
    line, h, body = rd.response()
    assert line == "HTTP/1.1 413 Content Too Large", (cls, line)
    assert h["connection"] == "close" and b"LimitRequestBody" in body
    assert rd.closed(), "nothing follows the 413: no 100 Continue"
    wait_for(lambda: "Invalid request from ip=127.0.0.1: LimitRequestBody" in srv.text(),
             what="the refused request's warning")
    # at the limit, it is served
    s, rd = session(srv)
    s.sendall(post("/", b"x" * 1000))
    line, h, body = rd.response()
    assert line == "HTTP/1.1 200 OK"
    assert json.loads(body).get("len", json.loads(body).get("body_len")) == 1000
    s.close()


@pytest.mark.parametrize("cls", sorted(CLASSES))
def test_a_chunked_body_over_the_limit_gets_413(server, cls):
    srv = server(*CLASSES[cls], "--limit-request-body", "5000", app=APPS[cls])
    s, rd = session(srv)
    s.sendall(post_chunked("/", b"y" * 5000))
    line, _, body = rd.response()
    assert line == "HTTP/1.1 200 OK", (cls, line)
    s, rd = session(srv)
    s.sendall(post_chunked("/", b"y" * 5001))
    line, h, _ = rd.response()
    assert line == "HTTP/1.1 413 Content Too Large", (cls, line)
    assert h["connection"] == "close"
    s.close()


@pytest.mark.parametrize("cls", sorted(CLASSES))
def test_a_head_request_over_the_limit_gets_a_413_without_a_body(server, cls):
    # gthread refuses it while spooling, when its buffer is past the head
    srv = server(*CLASSES[cls], "--limit-request-body", "1000", app=APPS[cls])
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"400\r\n" + b"a" * 1024 + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data) < 4096:
            got = s.recv(65536)
            if not got:
                break
            data += got
    finally:
        s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 Content Too Large\r\n"), (cls, data)
    assert rest == b"", (cls, rest)  # the page is not sent in answer to HEAD


def test_no_limit_by_default(server):
    srv = server(*GT, app="bodyapp:app")
    s, rd = session(srv)
    data = os.urandom(3 << 20)
    s.sendall(post("/", data))
    assert json.loads(rd.response()[2])["sha256"] == hashlib.sha256(data).hexdigest()
    s.close()


def test_the_limit_is_validated(server, tmp_path, launcher):
    r = subprocess.run([launcher, "--limit-request-body", "-1", "--check-config",
                        "bodyapp:app"], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=str(tmp_path))
    assert r.returncode != 0 and "limit_request_body" in r.stderr + r.stdout


# ---- 100 Continue only when the app reads ------------------------------------

@pytest.mark.parametrize("args,length", [
    (("-k", "sync"), 100000),
    (GT, 1000),  # within --buffer-body; a larger one is spooled (below)
    (GT + ("--stream-request-body",), 100000)], ids=["sync", "gthread", "gthread-stream"])
def test_no_100_when_the_app_answers_without_reading(server, args, length):
    srv = server(*args, app="bodyapp:app")
    s, rd = session(srv)
    s.sendall(post("/noread", length=length, extra=b"Expect: 100-continue\r\n"))
    line, _, body = rd.response()
    assert line == "HTTP/1.1 200 OK" and body == b"no"
    # the body the client holds back is not waited for: the server closes
    assert rd.closed()
    s.close()
    # and one that reads gets its 100 first, then the answer
    s, rd = session(srv)
    s.sendall(post("/", length=5, extra=b"Expect: 100-continue\r\n"))
    assert rd.response()[0] == "HTTP/1.1 100 Continue"
    s.sendall(b"hello")
    line, _, body = rd.response()
    assert line == "HTTP/1.1 200 OK" and json.loads(body)["len"] == 5
    s.close()


def test_a_spooled_body_gets_its_100_from_the_worker(server):
    # gthread reads a body past --buffer-body itself, as a proxy would:
    # the 100 comes first, before the app runs
    srv = server(*GT, app="bodyapp:app")
    s, rd = session(srv)
    s.sendall(post("/", length=200000, extra=b"Expect: 100-continue\r\n"))
    assert rd.response()[0] == "HTTP/1.1 100 Continue"
    data = os.urandom(200000)
    s.sendall(data)
    assert json.loads(rd.response()[2])["sha256"] == hashlib.sha256(data).hexdigest()
    s.close()


# ---- spooled bodies ----------------------------------------------------------

def test_the_spool_file_is_in_tmp_upload_dir_unlinked_and_closed_after(server, tmp_path):
    up = tmp_path / "uploads"
    up.mkdir()
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(up))
    srv = server(*GT, "-c", conf, "--spool-memory", "4096", app="bodyapp:app")
    data = os.urandom(300000)
    s, rd = session(srv)
    s.sendall(post("/spoolfds?" + str(up), data))
    out = json.loads(rd.response()[2])
    assert out["len"] == len(data) and out["sha256"] == hashlib.sha256(data).hexdigest()
    # one file there while the app ran, never with a name left in the
    # directory (O_TMPFILE, or unlinked at once)
    assert len(out["during"]) == 1 and out["during"][0].endswith("(deleted)"), out
    assert os.listdir(up) == []
    # after the request it is closed
    s.sendall(get("/fds?" + str(up)))
    assert json.loads(rd.response()[2])["fds"] == []
    s.close()


def test_a_small_spool_stays_in_memory(server, tmp_path):
    up = tmp_path / "uploads"
    up.mkdir()
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(up))
    srv = server(*GT, "-c", conf, app="bodyapp:app")  # spool_memory 256 KiB
    data = os.urandom(200000)
    s, rd = session(srv)
    s.sendall(post("/spoolfds?" + str(up), data))
    out = json.loads(rd.response()[2])
    assert out["during"] == [] and out["sha256"] == hashlib.sha256(data).hexdigest()
    s.close()


def test_an_unwritable_upload_dir_fails_the_request_not_the_worker(server, tmp_path):
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(tmp_path / "missing"))
    srv = server(*GT, "-c", conf, "--spool-memory", "1024", app="bodyapp:app")
    assert srv.raw(post("/", b"z" * 100000)) == b""
    wait_for(lambda: "tmp_upload_dir: cannot make a file in" in srv.text(),
             what="the spool's error")
    assert served(srv) < SERVED_WITHIN


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_spooled_body_cut_short_is_no_200_and_its_file_goes(server, tmp_path, framing):
    """The client half-closes after 200000 bytes of a larger body: the
    spool must not hand the app a short body as if whole (a 200 with its
    length), and the spool's file is closed with the request."""
    up = tmp_path / "uploads"
    up.mkdir()
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(up))
    srv = server(*GT, "-c", conf, "--spool-memory", "4096", app="bodyapp:app")
    data = os.urandom(200000)
    if framing == "length":
        req = post("/spoolfds?" + str(up), data, length=2 * len(data))
    else:
        req = post_chunked("/spoolfds?" + str(up), data)[:-len(b"0\r\n\r\n")]
    raw = srv.raw(req)
    assert not raw.startswith(b"HTTP/1.1 200"), raw[:300]
    s, rd = session(srv)
    s.sendall(get("/fds?" + str(up)))
    assert json.loads(rd.response()[2])["fds"] == []
    s.close()
    assert os.listdir(up) == []


BODY = b"".join(b"line %d %s\n" % (i, b"x" * (i % 97)) for i in range(6000)) + b"no newline"


@pytest.mark.parametrize("how", ["read", "readline", "readlines", "iter", "all"])
def test_wsgi_input_reads_a_spooled_body_as_a_memory_one(server, tmp_path, how):
    up = tmp_path / "uploads"
    up.mkdir()
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(up))
    want = {"len": len(BODY), "sha256": hashlib.sha256(BODY).hexdigest(),
            "lines": BODY.count(b"\n")}
    variants = {
        "file": server(*GT, "-c", conf, "--spool-memory", "1000", app="bodyapp:app"),
        "memory": server(*GT, "-c", conf, app="bodyapp:app"),
        "streamed": server(*GT, "--stream-request-body", app="bodyapp:app"),
        "sync": server("-k", "sync", app="bodyapp:app"),
    }
    for name, srv in variants.items():
        for req in (post("/ways?" + how, BODY), post_chunked("/ways?" + how, BODY)):
            s, rd = session(srv)
            s.sendall(req)
            assert json.loads(rd.response()[2]) == want, (name, how)
            s.close()


# ---- slow uploads hold no thread ---------------------------------------------

def test_many_slow_1mb_uploads_do_not_stop_a_normal_client(server, tmp_path):
    """The issue's attack scaled for CI: 2 workers of 4 threads, 200 slow
    1 MB uploads (25 for each thread), each sending a piece at a time."""
    up = tmp_path / "uploads"
    up.mkdir()
    conf = config_file(tmp_path, "tmp_upload_dir = %r\n" % str(up))
    srv = server(*GT, "-c", conf, "--spool-memory", "65536", workers=2,
                 app="bodyapp:app")
    size = 1 << 20
    data = os.urandom(size)
    uploads = []
    for _ in range(200):
        s = srv.connect()
        s.sendall(post("/", length=size) + data[:1000])
        uploads.append(s)
    worst, sent = 0.0, 1000
    for _ in range(5):  # rounds of 1 KB each, while normal clients come
        for s in uploads:
            s.sendall(data[sent:sent + 1000])
        sent += 1000
        for _ in range(4):
            worst = max(worst, served(srv, "/normal"))
    print("slowest normal request among 200 slow 1 MB uploads: %.1f ms" % (worst * 1000))
    assert worst < SERVED_WITHIN
    # the uploads are whole when they end
    for s in uploads[:10]:
        s.sendall(data[sent:])
        out = json.loads(Reader(s).response()[2])
        assert out["len"] == size and out["sha256"] == hashlib.sha256(data).hexdigest()
    for s in uploads:
        s.close()
    wait_for(lambda: os.listdir(up) == [], what="no file left")


# ---- streamed responses hold no thread ---------------------------------------

def test_a_slow_reader_of_a_streamed_response_holds_no_thread(server):
    """With one thread: a client that stops reading a large generator
    response, and a normal client answered while the slow one still reads."""
    srv = server("-k", "gthread", "--threads", "1", app="bodyapp:app")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(TIMEOUT)
    slow.connect(("127.0.0.1", srv.port))
    n = 256  # 16 MiB: far more than the socket buffers hold
    slow.sendall(get("/stream?%d" % n))
    rd = Reader(slow)
    rd._until(b"\r\n\r\n")
    # the slow client reads nothing now; the one thread must be free
    assert served(srv, "/normal") < SERVED_WITHIN
    # the slow one was not done: the rest of its response still comes whole
    line, _, body = (None, None, None)
    total = 0
    while True:
        size = int(rd._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            rd._until(b"\r\n")
            break
        chunk = rd._take(size)
        assert chunk == bytes([65 + total % 26]) * 65536
        total += 1
        rd._take(2)
    assert total == n
    slow.close()


def read_stream(rd, n):
    """Reads a chunked /stream?n response off rd: 1 when whole."""
    line, _, body = rd.response()
    assert line == "HTTP/1.1 200 OK"
    return body == b"".join(bytes([65 + i % 26]) * 65536 for i in range(n))


def test_a_paused_stream_then_the_next_pipelined_request(server):
    srv = server("-k", "gthread", "--threads", "1", app="bodyapp:app")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(get("/stream?128") + get("/stream?3") + get("/noread"))
    time.sleep(0.2)  # the first response pauses on the full socket
    rd = Reader(s)
    assert read_stream(rd, 128) and read_stream(rd, 3)
    assert rd.response()[2] == b"no"
    s.close()


def test_post_request_sees_a_streamed_response_end(server, tmp_path):
    out = tmp_path / "post.txt"
    conf = config_file(tmp_path, (
        "def post_request(worker, req, environ, resp):\n"
        "    with open(%r, 'a') as f:\n"
        "        f.write('%%s %%s\\n' %% (req.path, resp.status))\n") % str(out))
    srv = server("-k", "gthread", "--threads", "1", "-c", conf, app="bodyapp:app")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(get("/stream?64"))
    time.sleep(0.2)
    assert read_stream(Reader(s), 64)
    s.close()
    wait_for(lambda: out.exists() and out.read_text().startswith("/stream 200"),
             what="post_request after the whole response")


def test_a_reader_that_leaves_mid_stream_ends_the_request(server):
    srv = server("-k", "gthread", "--threads", "1", "--access-logfile", "-",
                 app="bodyapp:app")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", srv.port))
    slow.sendall(get("/stream?256"))
    slow.recv(100)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    slow.close()  # a reset
    # the paused response is dropped (its generator closed), the thread free
    assert served(srv, "/after") < SERVED_WITHIN
    assert served(srv, "/again") < SERVED_WITHIN


# ---- slowhttptest ------------------------------------------------------------

SLOW = shutil.which("slowhttptest")


def attack(srv, args, seconds=8):
    """Runs slowhttptest against srv for seconds while normal clients come
    one after another; returns the slowest normal request and the tool's
    last report."""
    cmd = [SLOW, "-c", "400", "-r", "200", "-l", str(seconds), "-i", "1", "-p", "3"] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    out = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))
    reader.start()
    try:
        time.sleep(2)  # the attack's connections open
        worst, deadline = 0.0, time.monotonic() + seconds - 3
        while time.monotonic() < deadline:
            worst = max(worst, served(srv, "/normal"))
            time.sleep(0.1)
    finally:
        try:
            proc.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join()
    return worst, out[0] if out else ""


def report(kind, worst, text):
    lines = [line for line in text.splitlines() if "service available" in line]
    print("%s: slowest normal request %.1f ms; slowhttptest: %s" % (
        kind, worst * 1000, lines[-1].strip() if lines else "?"))


@pytest.mark.skipif(not SLOW, reason="slowhttptest is not installed")
@pytest.mark.parametrize("size", [4096, 1 << 20], ids=["small", "large"])
def test_slowhttptest_slow_body(server, size):
    srv = server(*GT, workers=2, app="bodyapp:app")
    worst, text = attack(srv, ["-B", "-s", str(size), "-x", "10",
                               "-u", "http://127.0.0.1:%d/" % srv.port])
    report("slow body %d" % size, worst, text)
    assert worst < SERVED_WITHIN


@pytest.mark.skipif(not SLOW, reason="slowhttptest is not installed")
@pytest.mark.parametrize("what", ["file", "stream"])
def test_slowhttptest_slow_read(server, tmp_path, what):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    srv = server(*GT, workers=2, app="bodyapp:app")
    path = "/file?" + str(big) if what == "file" else "/stream?32"
    worst, text = attack(srv, ["-X", "-w", "512", "-y", "1024", "-n", "1", "-z", "32",
                               "-k", "3", "-u", "http://127.0.0.1:%d%s" % (srv.port, path)])
    report("slow read (%s)" % what, worst, text)
    assert worst < SERVED_WITHIN


@pytest.mark.skipif(not SLOW, reason="slowhttptest is not installed")
def test_slowhttptest_range(server):
    srv = server(*GT, workers=2, app="bodyapp:app")
    worst, text = attack(srv, ["-R", "-a", "10", "-b", "3000",
                               "-u", "http://127.0.0.1:%d/stream?4" % srv.port])
    report("range", worst, text)
    assert worst < SERVED_WITHIN
