"""The gevent and eventlet worker classes: what they are for (many
concurrent requests that wait on the network, many idle keep-alive
connections, in one worker), and their own rules: monkey-patching before
the app is imported, keep-alive, --worker-connections, the heartbeat kept
by the hub, a greenlet that blocks the hub past --timeout.

The flows every class shares (the corpus, Flask and Django, hooks, TERM,
HUP, USR2, max-requests, --reload) run these classes in their own files.
"""

import asyncio
import http.client
import re
import resource
import signal
import subprocess
import time

import pytest

from conftest import ROOT, TIMEOUT, recv_all, wait_for
from slowserver import SlowServer

CLASSES = ["gevent", "eventlet"]


@pytest.fixture(autouse=True)
def many_fds():
    """Room for thousands of sockets, here and in the server (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def get(srv, path, close=True):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        c.request("GET", path, headers={"Connection": "close"} if close else {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


async def fetch(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path)
    data = await reader.read()
    writer.close()
    return data


@pytest.mark.parametrize("kind", CLASSES)
def test_a_thousand_outbound_calls_wait_together(server, kind):
    slow = SlowServer(1.0)
    try:
        srv = server("-k", kind, "--worker-connections", "1100", "--backlog", "2048",
                     app="greenapp:app")

        async def all_of_them():
            path = b"/outbound?%d" % slow.port
            return await asyncio.wait_for(
                asyncio.gather(*(fetch(srv.port, path) for _ in range(1000))), 120)

        t0 = time.monotonic()
        answers = asyncio.run(all_of_them())
        took = time.monotonic() - t0
    finally:
        slow.close()
    print("%s: 1000 requests, each 1 s on an outbound call, one worker: %.2f s" % (
        kind, took))
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") and a.endswith(b"slow")
               for a in answers)
    assert slow.served == 1000
    # one after the other they would take 1000 s; together, about one
    assert took < 20


@pytest.mark.parametrize("kind", CLASSES)
def test_five_thousand_idle_connections_cost_memory_not_answers(server, kind):
    srv = server("-k", kind, "--worker-connections", "6000", "--keep-alive", "300",
                 "--backlog", "2048", app="greenapp:app")
    worker = srv.worker_pids()[0]
    assert get(srv, "/") == (200, "hello")
    before = rss_kib(worker)

    async def idle_ones():
        conns = []
        for _ in range(5000):
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            conns.append((reader, writer))
        for reader, _ in conns:
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"keep-alive" in head
            assert await reader.readexactly(5) == b"hello"
        after = rss_kib(worker)
        # the worker still answers, at once, with them all open and idle
        t0 = time.monotonic()
        answer = await asyncio.get_running_loop().run_in_executor(None, get, srv, "/")
        took = time.monotonic() - t0
        for _, writer in conns:  # and they are still open: a request each
            writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        still = [await reader.read() for reader, _ in conns]
        for _, writer in conns:
            writer.close()
        return after, answer, took, still

    after, answer, took, still = asyncio.run(asyncio.wait_for(idle_ones(), 300))
    per_conn = (after - before) * 1024 / 5000
    print("%s: 5000 idle keep-alive connections: worker RSS %d -> %d KiB "
          "(%.1f KiB each); a request meanwhile answered in %.3f s" % (
              kind, before, after, per_conn / 1024, took))
    assert answer == (200, "hello")
    assert all(s.startswith(b"HTTP/1.1 200 OK\r\n") and s.endswith(b"hello") for s in still)
    assert per_conn < 256 * 1024  # memory, loosely bounded
    assert "WORKER TIMEOUT" not in srv.text()


@pytest.mark.parametrize("preload", [False, True], ids=["patched", "preload"])
@pytest.mark.parametrize("kind", CLASSES)
def test_patched_before_the_app_is_imported(server, kind, preload):
    srv = server("-k", kind, *(["--preload"] if preload else []), app="greenapp:app")
    # Gunicorn's workers patch in the worker: a --preload app was imported
    # by the master, before any patch
    assert get(srv, "/patched") == (200, "%s True" % (not preload))


@pytest.mark.parametrize("kind", CLASSES)
def test_keep_alive(server, kind):
    srv = server("-k", kind, "--keep-alive", "1", app="greenapp:app")
    s = srv.connect()
    s.sendall(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    # both answered on the one connection, which the worker then closes
    # once it has been idle for --keep-alive
    raw = recv_all(s)
    assert raw.count(b"HTTP/1.1 200 OK\r\n") == 2 and raw.count(b"Connection: keep-alive") == 2
    # the request says close
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                  b"GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in raw


@pytest.mark.parametrize("kind", CLASSES)
def test_keep_alive_0_closes_after_each_response(server, kind):
    srv = server("-k", kind, "--keep-alive", "0", app="greenapp:app")
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in raw


@pytest.mark.parametrize("kind", CLASSES)
def test_worker_connections_bounds_the_greenlets(server, kind):
    srv = server("-k", kind, "--worker-connections", "2", app="greenapp:app")
    socks = []
    for _ in range(4):
        s = srv.connect()
        s.sendall(b"GET /sleep?0.5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        socks.append(s)
    assert all(recv_all(s).startswith(b"HTTP/1.1 200 OK") for s in socks)
    assert get(srv, "/most") == (200, "2")


# A worker's boot (the import of gevent or eventlet, the patch) counts
# against --timeout, as in Gunicorn: 4 s leaves room for a loaded machine.

@pytest.mark.parametrize("kind", CLASSES)
def test_heartbeat_goes_on_while_greenlets_wait(server, kind):
    srv = server("-k", kind, "--timeout", "3", app="greenapp:app")
    assert get(srv, "/") == (200, "hello")  # booted: the hub runs
    booted = len(srv.text())
    assert get(srv, "/sleep?4.5") == (200, "slept")  # 1.5 times --timeout
    assert "WORKER TIMEOUT" not in srv.text()[booted:]


@pytest.mark.parametrize("kind", CLASSES)
def test_a_greenlet_blocking_the_hub_is_reported_with_its_stack(server, kind):
    srv = server("-k", kind, "--timeout", "2", app="greenapp:app")
    assert get(srv, "/") == (200, "hello")  # booted: the hub runs
    booted = len(srv.text())
    s = srv.connect()
    s.sendall(b"GET /block?60 HTTP/1.1\r\nHost: t\r\n\r\n")
    # the main thread's stack, which is the greenlet that holds the hub:
    # by faulthandler's watchdog (at 3/4 of --timeout), then on SIGABRT
    wait_for(lambda: re.search(r'File ".*greenapp\.py", line \d+ in block_the_hub',
                               srv.text()[booted:]), what="the blocking greenlet's stack")
    wait_for(lambda: "WORKER TIMEOUT" in srv.text()[booted:] and
             "Booting worker" in srv.text()[booted:], what="the blocked worker replaced")
    s.close()
    assert get(srv, "/") == (200, "hello")


@pytest.mark.parametrize("kind", CLASSES)
def test_term_closes_idle_connections_and_finishes_in_flight(server, kind):
    srv = server("-k", kind, "--keep-alive", "300", app="greenapp:app")
    idle = srv.connect()
    idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    busy = srv.connect()
    busy.sendall(b"GET /sleep?1 HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_for(lambda: get(srv, "/most")[1] == "1", what="the request in flight")
    srv.proc.send_signal(signal.SIGTERM)
    # the idle one is closed after its answer, the busy one answered (it
    # began before the TERM: its response says keep-alive), then closed
    assert recv_all(idle).count(b"HTTP/1.1 200 OK") == 1
    assert recv_all(busy).endswith(b"\r\n\r\nslept")
    assert srv.proc.wait(timeout=TIMEOUT) == 0


@pytest.mark.parametrize("kind", CLASSES)
def test_request_timeout_is_refused_by_name(kind):
    p = subprocess.run([str(ROOT / "cunicorn"), "-k", kind, "--request-timeout", "5",
                        "--check-config", "echo:app"], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=ROOT / "tests" / "python" / "apps")
    assert p.returncode == 1
    assert ("request_timeout: not built yet for the %s worker class" % kind) in p.stderr
