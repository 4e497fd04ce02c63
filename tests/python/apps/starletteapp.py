"""A Starlette app and a FastAPI app (Debian's packages), for the asgi
worker: JSON, path and query parameters, a form, a streaming response,
a background task, a WebSocket route and the lifespan's state."""

import contextlib
import os

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect


async def home(request):
    return JSONResponse({"hello": "starlette", "path": request.url.path,
                         "query": dict(request.query_params),
                         "booted": getattr(request.state, "booted", None)})


async def echo(request):
    body = await request.body()
    return PlainTextResponse(body, headers={"x-len": str(len(body))})


async def form(request):
    data = await request.form()
    return JSONResponse({k: v for k, v in data.items()})


async def stream(request):
    async def parts():
        for i in range(3):
            yield "part %d\n" % i
    return StreamingResponse(parts(), media_type="text/plain")


def _note(text):
    path = os.environ.get("ASGI_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


async def background(request):
    return PlainTextResponse("queued", background=BackgroundTask(_note, "background ran"))


async def ws_echo(websocket):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text("echo: " + text)
            await websocket.send_json({"n": len(text), "path": websocket.url.path})
    except WebSocketDisconnect as e:
        _note("starlette ws closed %d" % e.code)


@contextlib.asynccontextmanager
async def lifespan(app):
    _note("starlette startup")
    yield {"booted": os.getpid()}
    _note("starlette shutdown")


starlette_app = Starlette(routes=[
    Route("/", home), Route("/echo", echo, methods=["POST"]),
    Route("/form", form, methods=["POST"]), Route("/stream", stream),
    Route("/background", background), WebSocketRoute("/ws", ws_echo),
], lifespan=lifespan)


fastapi_app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@fastapi_app.get("/items/{item_id}")
async def read_item(item_id: int, q: str = None):
    return {"item_id": item_id, "q": q}


@fastapi_app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "double": item.price * 2}


@fastapi_app.get("/stream")
async def fastapi_stream():
    async def gen():
        for i in range(4):
            yield b"x" * 1000
    return StreamingResponse(gen())


@fastapi_app.get("/req")
async def fastapi_req(request: Request):
    return {"client": list(request.client), "root_path": request.scope["root_path"],
            "scheme": request.url.scheme}
