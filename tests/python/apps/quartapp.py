"""A Quart app (Debian's python3-quart) for the asgi worker: path and
query parameters, a JSON body, a streamed response, state set at startup
(lifespan), an error, and a WebSocket echo."""

from quart import Quart, jsonify, request, websocket

app = Quart(__name__)
state = {}


@app.before_serving
async def startup():
    state["lifespan"] = "startup ran"


@app.route("/users/<int:uid>")
async def user(uid):
    return jsonify(framework="quart", uid=uid, q=request.args.get("q"),
                   tags=request.args.getlist("tag"), lifespan=state.get("lifespan"))


@app.route("/echo", methods=["POST"])
async def echo():
    return jsonify(got=await request.get_json()), 201


@app.route("/stream")
async def stream():
    async def chunks():
        for i in range(5):
            yield b"chunk %d\n" % i
    return chunks(), 200, {"Content-Type": "text/plain"}


@app.route("/boom")
async def boom():
    raise RuntimeError("boom from quart")


@app.websocket("/ws")
async def ws():
    while True:
        await websocket.send("echo: " + await websocket.receive())
