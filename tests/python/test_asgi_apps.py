"""Real ASGI frameworks from Debian's packages on -k asgi, beside the
FastAPI and Starlette apps of test_asgi.py: Quart (python3-quart) with its
lifespan, streaming and WebSocket routes, and Django's own ASGI handler
(get_asgi_application), which must answer every route as the same project
does through WSGI on gthread.
"""

import asyncio
import http.client
import json
import os

import pytest

from conftest import TIMEOUT


def fetch(srv, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        c.request(method, path, body=body, headers=dict(headers or {}, Host="x"))
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


# ---- Quart -----------------------------------------------------------------------

@pytest.fixture
def quart(server):
    pytest.importorskip("quart")
    return server("-k", "asgi", app="quartapp:app")


def test_quart_json_params_and_lifespan(quart):
    status, _, body = fetch(quart, "GET", "/users/7?q=hi&tag=a&tag=b")
    assert status == 200
    assert json.loads(body) == {"framework": "quart", "uid": 7, "q": "hi",
                                "tags": ["a", "b"], "lifespan": "startup ran"}
    assert fetch(quart, "GET", "/users/x")[0] == 404


def test_quart_json_body(quart):
    status, headers, body = fetch(quart, "POST", "/echo", body=b'{"a": [1, 2]}',
                                  headers={"Content-Type": "application/json"})
    assert status == 201 and json.loads(body) == {"got": {"a": [1, 2]}}
    assert dict((k.lower(), v) for k, v in headers)["content-type"] == "application/json"


def test_quart_streamed_response(quart):
    status, headers, body = fetch(quart, "GET", "/stream")
    assert status == 200 and body == b"".join(b"chunk %d\n" % i for i in range(5))
    assert dict((k.lower(), v) for k, v in headers).get("transfer-encoding") == "chunked"


def test_quart_error_is_a_500_and_the_worker_goes_on(quart):
    # Quart answers its own 500 (and logs through its own logger)
    pids = quart.worker_pids()
    assert fetch(quart, "GET", "/boom")[0] == 500
    assert fetch(quart, "GET", "/users/1")[0] == 200
    assert quart.worker_pids() == pids


def test_quart_websocket(quart):
    websockets = pytest.importorskip("websockets")

    async def talk():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % quart.port) as ws:
            got = []
            for msg in ("one", "twö", "x" * 70000):
                await ws.send(msg)
                got.append(await ws.recv())
            return got
    got = asyncio.run(asyncio.wait_for(talk(), TIMEOUT))
    assert got == ["echo: one", "echo: twö", "echo: " + "x" * 70000]


# ---- Django's ASGI handler ---------------------------------------------------------

COMPARED = ("content-type", "location", "set-cookie", "x-custom-header", "cache-control")

ROUTES = [("GET", "/users/3/posts/hello?q=x&tag=a&tag=b", None),
          ("POST", "/json", b'{"k": "v", "n": [1, 2]}'),
          ("POST", "/json", b"[not json"),
          ("POST", "/items", b'{"name": "pen"}'),
          ("GET", "/cookies", None),
          ("GET", "/old", None),
          ("GET", "/nowhere", None),
          ("GET", "/boom", None)]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_django_asgi_answers_as_its_wsgi_twin(server, tmp_path, method, path, body):
    pytest.importorskip("django")
    env = dict(os.environ, CUNICORN_TEST_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE="djangoproj.settings")
    asgi = server("-k", "asgi", app="djangoproj.asgi:application", env=env)
    wsgi = server("-k", "gthread", app="djangoproj.wsgi:application", env=env)
    headers = {"Content-Type": "application/json"} if body else {}
    answers = []
    for srv in (asgi, wsgi):
        status, fields, got = fetch(srv, method, path, body, headers)
        kept = sorted((k.lower(), v) for k, v in fields if k.lower() in COMPARED)
        answers.append((status, kept, got))
    assert answers[0] == answers[1]
    assert answers[0][0] in (200, 201, 302, 400, 404, 500)
