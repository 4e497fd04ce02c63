"""A tornado.web.Application for the tornado worker's tests: handlers with
get and post, path arguments, async handlers (asyncio and tornado.gen),
streaming with flush(), cookies, redirects, tornado's own error pages, a
streamed request body, a WebSocket, and an echo of the request for the
corpus replay."""

import asyncio
import hashlib
import json
import os

import tornado.gen
import tornado.web
import tornado.websocket
import tornado.wsgi


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world")


class Item(tornado.web.RequestHandler):
    def get(self, uid, slug):
        self.write({"uid": int(uid), "slug": slug, "q": self.get_query_argument("q", None),
                    "tags": self.get_query_arguments("tag")})

    def post(self, uid, slug):
        self.set_status(201)
        self.write({"uid": int(uid), "slug": slug, "form": {
            k: [v.decode() for v in vs] for k, vs in self.request.body_arguments.items()},
            "body_len": len(self.request.body)})


class Sleepy(tornado.web.RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_query_argument("t", "0.05")))
        self.write("slept")


class GenSleepy(tornado.web.RequestHandler):
    @tornado.gen.coroutine
    def get(self):
        yield tornado.gen.sleep(0.01)
        self.write("gen slept")


class Stream(tornado.web.RequestHandler):
    async def get(self):
        n = int(self.get_query_argument("n", "5"))
        size = int(self.get_query_argument("size", "10"))
        gate = self.get_query_argument("gate", None)
        self.write("first\n")
        await self.flush()
        for i in range(n):
            if gate and i == 1:
                for _ in range(500):
                    if os.path.exists(gate):
                        break
                    await asyncio.sleep(0.01)
                else:
                    self.write("gate timed out\n")
            self.write(bytes([65 + i % 26]) * size)
            await self.flush()
        self.write("last\n")


class Cookies(tornado.web.RequestHandler):
    def get(self):
        self.set_cookie("session", "abc123", httponly=True)
        self.set_cookie("theme", "dark", expires_days=1)
        self.set_header("X-Custom-Header", "hello")
        self.write({"got": {k: v.value for k, v in self.request.cookies.items()}})


class Redirect(tornado.web.RequestHandler):
    def get(self):
        self.redirect("/hello")


class Boom(tornado.web.RequestHandler):
    def get(self):
        raise RuntimeError("boom from the tornado handler")


class Forbidden(tornado.web.RequestHandler):
    def get(self):
        raise tornado.web.HTTPError(403)


class Lengthy(tornado.web.RequestHandler):
    """A Content-Length the handler does not keep to."""
    def get(self):
        self.set_header("Content-Length", "100")
        self.write("short")
        self.flush()


class BadLength(tornado.web.RequestHandler):
    """A Content-Length that is no number: no head can say it."""
    def get(self):
        self.set_header("Content-Length", "twelve")
        self.write("Hello, world")


class BadReason(tornado.web.RequestHandler):
    """A reason with a line break in it: no status line can say it."""
    def get(self):
        self._reason = "OK\r\nInjected: yes"  # past set_status's own check
        self.write("never")


@tornado.web.stream_request_body
class Upload(tornado.web.RequestHandler):
    def prepare(self):
        self.size = 0
        self.chunks = 0
        self.sha = hashlib.sha256()
        limit = self.get_query_argument("max", None)
        if limit:
            self.request.connection.set_max_body_size(int(limit))

    async def data_received(self, chunk):
        self.size += len(chunk)
        self.chunks += 1
        self.sha.update(chunk)
        await asyncio.sleep(0)

    def put(self):
        self.write({"size": self.size, "chunks": self.chunks, "sha256": self.sha.hexdigest()})


@tornado.web.stream_request_body
class Echo(tornado.web.RequestHandler):
    """The request in the WSGI environ's words (for the corpus replay),
    whatever its method, and its body as it came (streamed: tornado does
    not parse it as a form)."""

    class _All:
        def __contains__(self, method):
            return True

    SUPPORTED_METHODS = _All()

    def prepare(self):
        self.parts = []

    def data_received(self, chunk):
        self.parts.append(chunk)

    def __getattr__(self, name):  # a handler method for every method
        if name.islower() and not name.startswith("_"):
            return self.respond
        raise AttributeError(name)

    def respond(self, *args):
        r = self.request
        # tornado's query is all after the "?", a fragment too
        env = {"REQUEST_METHOD": r.method, "RAW_URI": r.uri,
               "QUERY_STRING": r.query.partition("#")[0],
               "SERVER_PROTOCOL": r.version, "REMOTE_ADDR": r.remote_ip}
        for name, value in r.headers.get_all():
            name = name.upper()
            key = name.replace("-", "_")
            if name not in ("CONTENT-TYPE", "CONTENT-LENGTH"):
                key = "HTTP_" + key
            env[key] = env[key] + "," + value if key in env else value
        body = b"".join(self.parts)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "environ": env, "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": body.decode("latin-1") if len(body) < 65536 else None,
            "pid": os.getpid()}))

    get = post = put = delete = patch = options = head = respond


class WS(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message("echo: " + message if isinstance(message, str) else message)


app = tornado.web.Application([
    (r"/hello", Hello),
    (r"/users/([0-9]+)/posts/([^/]+)", Item),
    (r"/sleep", Sleepy),
    (r"/gen", GenSleepy),
    (r"/stream", Stream),
    (r"/cookies", Cookies),
    (r"/old", Redirect),
    (r"/boom", Boom),
    (r"/forbidden", Forbidden),
    (r"/lengthy", Lengthy),
    (r"/badlength", BadLength),
    (r"/badreason", BadReason),
    (r"/upload", Upload),
    (r"/ws", WS),
    (r"/echo.*", Echo),
])

# tornado's WSGIContainer around a WSGI app: Gunicorn's worker passes it
# to tornado's server as it is
def _wsgi_hello(environ, start_response):
    start_response("200 OK", [("X-Via", "container")])
    return [b"hello from ", environ["wsgi.url_scheme"].encode(), b" ",
            str("RAW_URI" in environ).encode()]


container = tornado.wsgi.WSGIContainer(_wsgi_hello)

# the corpus replay: every target goes to the echo
echo = tornado.web.Application([(r".*", Echo)])
