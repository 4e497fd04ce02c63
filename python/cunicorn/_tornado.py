"""The tornado worker's Python side: what runs once in a worker's life.

Everything per connection and per request is C (src/asgi/tornado.c,
tconn.c, twsgi.c): the loop calls C callables only, and a request's Python
is tornado's own (the app's delegate, its RequestHandler) or the WSGI
app's. Here: tornado imported and checked, the app's kind (a tornado
Application, or any HTTPServerConnectionDelegate, is served as tornado
serves it; a WSGIContainer through a small adapter; anything else is a
plain WSGI app, served by the C WSGI bridge), the Server header Gunicorn's
worker gives RequestHandler, the loop, and the order open -> serve ->
stopped.
"""

import asyncio
import socket

from cunicorn import _cunicorn
from cunicorn._asgi import _loop_error, request_timed_out  # noqa: F401 -- C calls it

EXIT_BOOT = 3


def _tornado():
    try:
        import tornado.gen
        import tornado.httputil
        import tornado.iostream
        import tornado.web
        import tornado.wsgi
    except ImportError:
        raise RuntimeError("You need tornado installed to use this worker.") from None
    if tornado.version_info < (6,):
        raise RuntimeError("The tornado worker needs tornado 6 or later, not %s"
                           % tornado.version)
    return tornado


class Context:
    """What HTTPServerRequest reads from request.connection.context
    (tornado's _HTTPRequestContext, without the stream): the client's
    address, its IP ("0.0.0.0" on a UNIX socket, as tornado has it) and
    the protocol."""

    __slots__ = ("address", "address_family", "remote_ip", "protocol",
                 "_orig_remote_ip", "_orig_protocol", "trusted_downstream")

    def __init__(self, address, family, https=False):
        self.address = address
        self.address_family = family
        if family in (socket.AF_INET, socket.AF_INET6) and address is not None:
            self.remote_ip = address[0]
        else:
            self.remote_ip = "0.0.0.0"
        self.protocol = "https" if https else "http"
        self._orig_remote_ip = self.remote_ip
        self._orig_protocol = self.protocol
        self.trusted_downstream = set()

    def __str__(self):
        if self.address_family in (socket.AF_INET, socket.AF_INET6):
            return self.remote_ip
        return str(self.address)


def _callable_delegate(tornado, callback):
    """start_request for a callable taking an HTTPServerRequest (a
    WSGIContainer), as tornado's HTTPServer adapts one: the body in
    whole, then the call."""
    httputil = tornado.httputil

    class Adapter(httputil.HTTPMessageDelegate):
        def __init__(self, conn):
            self.conn = conn
            self.request = None
            self.parts = []

        def headers_received(self, start_line, headers):
            self.request = httputil.HTTPServerRequest(
                connection=self.conn, start_line=start_line, headers=headers)

        def data_received(self, chunk):
            self.parts.append(chunk)

        def finish(self):
            self.request.body = b"".join(self.parts)
            self.request._parse_body()
            callback(self.request)

        def on_connection_close(self):
            self.parts = None

    return lambda server_conn, request_conn: Adapter(request_conn)


def start_request_for(tornado, app):
    """The app's start_request, or None for a plain WSGI app (Gunicorn's
    worker: what is neither a tornado Application nor a WSGIContainer is
    wrapped in one)."""
    if isinstance(app, tornado.httputil.HTTPServerConnectionDelegate):
        return app.start_request
    if isinstance(app, tornado.wsgi.WSGIContainer):
        return _callable_delegate(tornado, app)
    return None


def server_header(tornado, software):
    """Gunicorn's tornado worker adds itself to RequestHandler's Server
    header ("TornadoServer/6.2 (Gunicorn/26.1.0)"); here, our name."""
    web = tornado.web
    clear = web.RequestHandler.clear
    if getattr(clear, "_cunicorn", False):
        return

    def patched(self):
        clear(self)
        if software not in self._headers["Server"]:
            self._headers["Server"] += " (%s)" % software
    patched._cunicorn = True
    web.RequestHandler.clear = patched


def detach(fd, family, rest, queued):
    """A 101's socket for tornado's WebSocketHandler: an IOStream over the
    descriptor fd (ours to give), with the bytes the client sent after
    its head already read, and the bytes still owed to it written first."""
    import tornado.iostream
    stream = tornado.iostream.IOStream(socket.socket(family, socket.SOCK_STREAM, 0, fd))
    if rest:
        # read already: into the stream's buffer, as if it had read them
        stream._read_buffer += rest
        stream._read_buffer_size += len(rest)
    if queued:
        stream.write(queued)
    return stream


async def _main(server, loop):
    stopped = loop.create_future()
    server.open(loop, stopped)  # heartbeats and signals from now on
    server.serve({})
    await stopped
    return 0


def run(server, app, lifespan, loop_name):
    """The worker's life on the loop; its exit status. lifespan and
    loop_name are the asgi class's: tornado runs on asyncio's loop."""
    try:
        tornado = _tornado()
    except RuntimeError as e:  # the worker cannot boot: the master stops
        _cunicorn._log(40, "Exception in worker process: %s" % e, False)
        return EXIT_BOOT
    start = start_request_for(tornado, app)
    if start is not None:
        # SERVER_SOFTWARE as the config file set it, else ours
        from cunicorn import __version__, _loader
        server_header(tornado, _loader.server_names()[1] or "cunicorn/" + __version__)
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_loop_error)
    asyncio.set_event_loop(loop)
    done = loop.create_future()
    done.set_result(None)
    httputil = tornado.httputil
    server.tornado(start, httputil.RequestStartLine, httputil.HTTPHeaders,
                   httputil.HTTPOutputError, tornado.iostream.StreamClosedError,
                   tornado.gen.convert_yielded, Context, detach, done)
    return loop.run_until_complete(_main(server, loop))
