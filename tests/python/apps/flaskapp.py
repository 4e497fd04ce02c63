"""A Flask app for test_frameworks.py.

djangoproj/ serves the same routes with the same answers, so that one test
body checks both frameworks. $CUNICORN_TEST_DIR is a directory the test
fills (data.bin is served by /file and /static/); $CUNICORN_TEST_PROPAGATE=1
lets exceptions reach the server instead of Flask's own 500 page.
"""

import hashlib
import os
import time

from flask import (Flask, Response, abort, jsonify, redirect, request,
                   send_file)

DATA_DIR = os.environ.get("CUNICORN_TEST_DIR", os.path.dirname(__file__))

app = Flask(__name__, static_folder=DATA_DIR, static_url_path="/static")
app.config["PROPAGATE_EXCEPTIONS"] = os.environ.get("CUNICORN_TEST_PROPAGATE") == "1"


def tag_app_iter(wsgi_app):
    """WSGI middleware: tells, in X-App-Iter, whether the app returned the
    server's own wsgi.file_wrapper (so the server may use sendfile)."""
    def middleware(environ, start_response):
        seen = {}

        def remember(status, headers, exc_info=None):
            seen["args"] = (status, list(headers), exc_info)
            return lambda data: None  # frameworks here never call write()

        it = wsgi_app(environ, remember)
        status, headers, exc_info = seen["args"]
        fw = environ.get("wsgi.file_wrapper")
        if isinstance(fw, type) and isinstance(it, fw):
            headers.append(("X-App-Iter", "server-file-wrapper"))
        else:
            headers.append(("X-App-Iter", type(it).__qualname__))
        start_response(status, headers, exc_info)
        return it
    return middleware


app.wsgi_app = tag_app_iter(app.wsgi_app)


@app.route("/users/<int:uid>/posts/<slug>")
def post(uid, slug):
    return jsonify(framework="flask", uid=uid, slug=slug,
                   q=request.args.get("q"), tags=request.args.getlist("tag"))


FORM_PAGE = """<!doctype html>
<html><body>
<form method="post" action="/form">
%s<input name="name"> <input name="color"> <input name="color">
<button>Send</button>
</form>
</body></html>
"""


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method != "POST":
        return FORM_PAGE % ""
    return jsonify(content_type=request.content_type,
                   fields={k: request.form.getlist(k) for k in request.form})


@app.route("/upload", methods=["POST"])
def upload():
    files = []
    for field, f in request.files.items(multi=True):
        h = hashlib.sha256()
        size = 0
        while True:
            block = f.stream.read(1 << 16)
            if not block:
                break
            size += len(block)
            h.update(block)
        files.append({"field": field, "filename": f.filename,
                      "content_type": f.mimetype, "size": size,
                      "sha256": h.hexdigest()})
    return jsonify(files=files,
                   fields={k: request.form.getlist(k) for k in request.form})


@app.route("/json", methods=["POST"])
def json_view():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="invalid JSON"), 400
    return jsonify(echo=data, count=len(data.get("items", [])),
                   total=sum(data.get("items", [])))


def _gated_chunks(n, size, gate):
    # The first chunk, then (if asked) wait for the client to say it has it:
    # a server that buffered the whole body would never deliver it in time.
    yield b"first\n"
    if gate:
        deadline = time.monotonic() + 10
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                yield b"gate timed out\n"
                break
            time.sleep(0.01)
    for i in range(n):
        yield bytes([65 + i % 26]) * size
    yield b"last\n"


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "5"))
    size = int(request.args.get("size", "10"))
    gate = request.args.get("gate")
    return Response(_gated_chunks(n, size, gate), mimetype="application/octet-stream")


@app.route("/file")
def file():
    return send_file(os.path.join(DATA_DIR, "data.bin"),
                     mimetype="application/octet-stream")


@app.route("/items", methods=["POST"])
def items():
    body = request.get_json(silent=True) or {}
    resp = jsonify(id=42, name=body.get("name"))
    resp.status_code = 201
    resp.headers["Location"] = "/items/42"
    return resp


@app.route("/items/<int:item_id>", methods=["DELETE"])
def item(item_id):
    if item_id != 42:
        abort(404)
    return "", 204


@app.route("/old")
def old():
    return redirect("/new", code=302)


@app.route("/new")
def new():
    return "the new place\n", 200, {"Content-Type": "text/plain"}


@app.route("/cookies")
def cookies():
    resp = Response("cookies set\n", mimetype="text/plain")
    resp.set_cookie("session", "abc123", httponly=True, path="/")
    resp.set_cookie("theme", "dark", max_age=3600)
    resp.headers["X-Custom-Header"] = "hello"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@app.route("/whoami")
def whoami():
    return jsonify(x_test=request.headers.get("X-Test"),
                   user_agent=request.headers.get("User-Agent"),
                   accept_language=request.headers.get("Accept-Language"),
                   host=request.host,
                   cookies=dict(request.cookies),
                   method=request.method,
                   remote_addr=request.remote_addr)


@app.route("/boom")
def boom():
    raise RuntimeError("boom from the flask view")
