"""Held responses (docs/architecture.md, Held responses): while a gthread
thread's app calls take 20 to 200 µs on average, the last write of each
response is queued instead of sent, and the poller sends it once the
app's call is over. Every shape of response still arrives whole and in
order, a thread whose calls are slower (an app that waits) does not
hold, and nor does one with no other thread free to send what it held
(one thread, or the others all in the app)."""

import os
import socket
import time

import pytest

from conftest import TIMEOUT, wait_for
from test_gthread import Reader, get, session


def warm(s, rd, n=12):
    """Requests of 60 µs of Python: the serving thread's average call
    passes 20 µs, and it holds from then on."""
    for i in range(n):
        s.sendall(get("/list?warm=%d" % i))
        assert rd.response()[2] == b"/list?warm=%d" % i


def answer(rd, target, head=False):
    line, headers, body = rd.response(head_request=head)
    assert line == "HTTP/1.1 200 OK"
    assert head or body == target.encode()
    return headers


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_held_responses_arrive_whole_in_every_shape(server, threads):
    srv = server("-k", "gthread", "--threads", threads, app="holdapp:app")
    s, rd = session(srv)
    warm(s, rd)
    for target in ("/list?a", "/gen?b", "/chunked?c", "/file?d", "/list?e"):
        s.sendall(get(target))
        h = answer(rd, target)
        assert ("transfer-encoding" in h) == target.startswith("/chunked")
    s.sendall(b"HEAD /list?f HTTP/1.1\r\nHost: t\r\n\r\n")
    assert answer(rd, "/list?f", head=True)["content-length"] == "7"
    s.sendall(get("/empty?g"))
    assert rd.response()[0] == "HTTP/1.1 204 No Content"
    # pipelined: answered in order, each after the one before went out
    targets = ["/list?p%d" % i if i % 2 else "/gen?p%d" % i for i in range(8)]
    s.sendall(b"".join(get(t) for t in targets))
    for t in targets:
        answer(rd, t)
    # a body read inside the iteration: its 100 Continue is never held
    s.sendall(b"POST /expect?h HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert rd.response()[0] == "HTTP/1.1 100 Continue"
    s.sendall(b"xxxxx")
    answer(rd, "/expect?h xxxxx")
    # Connection: close: the whole answer, then the end
    s.sendall(get("/list?i", extra=b"Connection: close\r\n"))
    answer(rd, "/list?i")
    assert s.recv(1) == b""
    s.close()


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_an_error_after_a_held_body_still_sends_it(server, threads):
    srv = server("-k", "gthread", "--threads", threads, app="holdapp:app")
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(get("/raise?j"))
    answer(rd, "/raise?j")
    assert s.recv(1) == b""  # then closed, as after any failed response
    s.close()
    wait_for(lambda: "after the whole body" in srv.text(), what="the error logged")


def test_only_the_write_that_ends_a_response_is_held(server, tmp_path):
    """A streamed response's first part goes out while the app's
    generator waits for its next one: only the write that completes the
    Content-Length may be held."""
    srv = server("-k", "gthread", "--threads", "2", app="holdapp:app")
    go = tmp_path / "go"
    s, rd = session(srv)
    warm(s, rd)
    target = "/stream?go=%s" % go
    s.sendall(get(target))
    s.settimeout(5)  # the app waits 10 s for the file
    rd._until(b"\r\n\r\n")
    assert bytes(rd._take(3)) == target.encode()[:3]  # while the app waits
    go.touch()
    s.settimeout(TIMEOUT)
    assert bytes(rd._take(len(target) - 3)) == target.encode()[3:]
    s.close()


def test_a_held_response_goes_once_the_call_is_over(server, tmp_path):
    """Held, a response goes out once the app's call returns, its
    iterable's close() included. Calls past 200 µs on average turn
    holding off: the next response goes out while its close() still
    runs. (Slow calls of 400 µs, not the long one: with two threads the
    other one, at the poller while that call waited, serves the next.)"""
    srv = server("-k", "gthread", "--threads", "2", app="holdapp:app")
    go = tmp_path / "go"
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(get("/closewait?go=%s" % go))
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(1, socket.MSG_PEEK)  # held while close() waits
    go.touch()
    s.settimeout(TIMEOUT)
    answer(rd, "/closewait?go=%s" % go)
    wait_for(lambda: not go.exists(), what="close() to see the file")
    for i in range(12):
        s.sendall(get("/list?us=400&slow=%d" % i))
        answer(rd, "/list?us=400&slow=%d" % i)
    s.sendall(get("/closewait?go=%s&again" % go))
    s.settimeout(5)  # close() waits 10 s for the file
    answer(rd, "/closewait?go=%s&again" % go)  # while close() waits
    s.settimeout(TIMEOUT)
    go.touch()
    wait_for(lambda: not go.exists(), what="close() to see the file")
    s.sendall(get("/list?k"))
    answer(rd, "/list?k")
    s.close()


@pytest.mark.parametrize("threads,busy", [("1", False), ("2", True)])
def test_a_response_is_not_held_behind_another_call_that_blocks(server, tmp_path, threads,
                                                                busy):
    """C's request, then A's and B's while C's runs (600 µs: the thread
    still holds), so that the thread serves C, A, then B, whose close()
    waits. Held, C's and A's responses would wait for B's call (10 s
    here) with nobody to send them: with one thread the main thread sends
    them after 2 ms; with two, while the other one is in the app (L's
    close() waits), none is held. Either way their answers come while B's
    call waits."""
    srv = server("-k", "gthread", "--threads", threads, app="holdapp:app")
    go_b, go_l = tmp_path / "b", tmp_path / "l"
    a, ra = session(srv)
    b, rb = session(srv)
    c, rc = session(srv)
    if busy:
        lng, rl = session(srv)
        lng.sendall(get("/closewait?go=%s" % go_l))
        time.sleep(0.2)  # its thread is in close()
    warm(a, ra)
    c.sendall(get("/list?us=600"))
    a.sendall(get("/list?x"))
    b.sendall(get("/closewait?go=%s" % go_b))
    for s, rd, target in ((c, rc, "/list?us=600"), (a, ra, "/list?x")):
        s.settimeout(5)  # B's close() waits 10 s
        answer(rd, target)
        s.settimeout(TIMEOUT)
    go_b.touch()
    answer(rb, "/closewait?go=%s" % go_b)
    if busy:
        go_l.touch()
        answer(rl, "/closewait?go=%s" % go_l)
        lng.close()
    for s in (a, b, c):
        s.close()


@pytest.mark.parametrize("first", ["/list?us=600", "/list?us=3000"])
def test_one_thread_held_responses_go_within_ms_of_a_call_that_blocks(server, tmp_path,
                                                                     first):
    """With one thread, the main thread sends what is held within a few
    ms while another call blocks, though it slept (up to a second) until
    the thread took to holding; and though the call that held took the
    thread's average out of the band (3 ms: it holds no more)."""
    srv = server("-k", "gthread", "--threads", "1", app="holdapp:app")
    go_b = tmp_path / "b"
    a, ra = session(srv)
    b, rb = session(srv)
    warm(a, ra)
    began = time.monotonic()
    a.sendall(get(first))
    b.sendall(get("/closewait?go=%s" % go_b))
    a.settimeout(5)  # B's close() waits 10 s
    answer(ra, first)
    took = time.monotonic() - began
    go_b.touch()
    answer(rb, "/closewait?go=%s" % go_b)
    assert took < 0.25, "held %.0f ms" % (took * 1000)
    a.close()
    b.close()


def main_thread_wakes(pid):
    """How many times the worker's main thread (its tid, its pid) slept."""
    with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
        return int(f.read().split("voluntary_ctxt_switches:")[1].split()[0])


@pytest.mark.skipif(not os.path.exists("/proc/self/task"),
                    reason="reads a thread's switches from Linux's /proc")
def test_one_thread_idle_after_holding_lets_the_main_thread_sleep(server):
    """The main thread looks every 2 ms only while a response is held:
    once the thread that held is idle, the main thread sleeps on its
    ticks again (once a second here), not 500 times a second."""
    srv = server("-k", "gthread", "--threads", "1", app="holdapp:app")
    [pid] = srv.worker_pids()
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(get("/list?held"))  # held (the thread holds after the warm-up)
    answer(rd, "/list?held")
    time.sleep(0.1)
    before = main_thread_wakes(pid)
    time.sleep(1)
    assert main_thread_wakes(pid) - before < 50
    s.close()


def test_a_response_whose_close_outlives_request_timeout_still_goes(server):
    """--request-timeout takes a call away that long with a 504 when
    nothing of its response was written, and a held one was not: with
    it, nothing is held, so the app's whole answer goes out before its
    close() runs past the timeout, and the connection closes then."""
    srv = server("-k", "gthread", "--threads", "2", "--request-timeout", "1",
                 app="holdapp:app")
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(get("/stubborn?z"))
    answer(rd, "/stubborn?z")
    assert rd.closed()
    s.close()


def test_a_response_is_not_held_while_the_client_may_wait_to_send_its_body(server):
    """Expect: 100-continue, and the app answers whole before it reads
    the body: the client waits for the 100 or the answer before it sends
    the body, and once the answer has begun no 100 goes. Held, the
    answer would wait for the app's read, which waits for the body."""
    srv = server("-k", "gthread", "--threads", "2", app="holdapp:app")
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(b"POST /readafter?r HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    s.settimeout(5)  # the app's read waits longer
    answer(rd, "/readafter?r")
    s.settimeout(TIMEOUT)
    s.sendall(b"xxxxx")
    s.sendall(get("/list?after"))
    answer(rd, "/list?after")  # no 100 in between
    s.close()


def test_a_101_is_not_held(server):
    """After its 101 the app speaks the new protocol on gunicorn.socket,
    here in close(): held, the 101 would wait for close(), which waits
    for the client, which waits for the 101."""
    srv = server("-k", "gthread", "--threads", "2", app="holdapp:app")
    s, rd = session(srv)
    warm(s, rd)
    s.sendall(get("/upgrade?u"))
    s.settimeout(5)  # close() waits 10 s for the ping
    assert rd.response()[0] == "HTTP/1.1 101 Switching Protocols"
    s.sendall(b"ping")
    assert rd._take(4) == b"pong"
    s.close()
