"""The asgi worker's Python side: the event loop and the app's lifespan.

Everything per connection and per request is C (src/asgi/): the loop calls
C callables only, and a request's Python is the app's own coroutine. What
is here runs once or twice in a worker's life: making the loop (uvloop or
asyncio), the lifespan startup before the worker serves and its shutdown
after, and the order of the two around the C server's open() and serve().
"""

import asyncio
import traceback

from cunicorn import _cunicorn

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
EXIT_BOOT = 3  # the worker failed to boot: before any worker booted, the master stops


def _log(level, text, exception=False):
    _cunicorn._log(level, text, exception)


def new_loop(name):
    """asyncio's loop, or uvloop's: "auto" takes uvloop when installed, as
    Gunicorn does; "uvloop" without it falls back with a warning."""
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                _log(WARNING, "uvloop not available, falling back to asyncio")
        else:
            _log(DEBUG, "Using uvloop event loop")
            return uvloop.new_event_loop()
    _log(DEBUG, "Using asyncio event loop")
    return asyncio.new_event_loop()


def _loop_error(loop, context):
    """An error the loop met outside a request's task: to the error log."""
    exc = context.get("exception")
    text = context.get("message", "event loop error")
    if exc is not None:
        text += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _log(ERROR, text)


class Lifespan:
    """The ASGI lifespan protocol (spec 2.0): startup before serving,
    shutdown after."""

    def __init__(self, app, loop, state):
        self.app = app
        self.loop = loop
        self.state = state
        self.inbox = asyncio.Queue()
        self.started = loop.create_future()   # "complete", or ("failed", message)
        self.finished = loop.create_future()  # the same for the shutdown
        self.task = None
        self.error = None                     # what the app raised, formatted

    async def receive(self):
        return await self.inbox.get()

    async def send(self, message):
        kind = message.get("type") if isinstance(message, dict) else None
        ends = {"lifespan.startup.complete": (self.started, "complete"),
                "lifespan.startup.failed": (self.started, "failed"),
                "lifespan.shutdown.complete": (self.finished, "complete"),
                "lifespan.shutdown.failed": (self.finished, "failed")}
        if kind not in ends:
            raise RuntimeError("Unexpected ASGI message type %r for a lifespan scope" % (kind,))
        fut, outcome = ends[kind]
        if fut.done():
            raise RuntimeError("Unexpected ASGI message %r sent twice" % (kind,))
        fut.set_result((outcome, message.get("message", "")))

    async def run(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as e:  # noqa: B036 -- the app's, whatever it is
            self.error = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            for fut in (self.started, self.finished):
                if not fut.done():
                    fut.set_result(("returned", ""))

    async def startup(self, mode):
        """True to serve; False when the worker must not boot."""
        self.task = self.loop.create_task(self.run())
        await self.inbox.put({"type": "lifespan.startup"})
        outcome, message = await self.started
        if outcome == "complete":
            return True
        if outcome == "failed":
            _log(ERROR, "Application startup failed%s" % (": " + message if message else ""))
            return False
        # the app raised, or returned, without a word about its startup
        if mode == "on":
            _log(ERROR, "ASGI lifespan startup failed" +
                 ("\n" + self.error if self.error else ": the app returned"))
            return False
        _log(INFO, "ASGI 'lifespan' protocol appears unsupported.")
        if self.error:
            _log(DEBUG, "The app's lifespan raised\n" + self.error)
        self.task = None
        return True

    async def shutdown(self, timeout):
        if self.task is None or self.task.done():
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            outcome, message = await asyncio.wait_for(asyncio.shield(self.finished),
                                                      max(timeout, 0.05))
        except asyncio.TimeoutError:
            _log(WARNING, "ASGI lifespan shutdown timed out")
            self.task.cancel()
            return
        if outcome == "failed":
            _log(ERROR, "Application shutdown failed%s" % (": " + message if message else ""))
        elif outcome == "returned" and self.error:
            _log(ERROR, "ASGI lifespan shutdown failed\n" + self.error)


def request_timed_out(task, line):
    """--request-timeout: the request and where its coroutine is, in the
    error log; then the task is cancelled (the app sees CancelledError)."""
    text = "Request timeout (--request-timeout): " + line
    if task is not None:
        stack = task.get_stack()
        if stack:
            text += "\nThe request's coroutine, most recent call last:\n" + "".join(
                traceback.StackSummary.extract((f, f.f_lineno) for f in stack).format())
        task.cancel()
    _log(ERROR, text)


async def _main(server, app, lifespan, loop):
    stopped = loop.create_future()
    server.open(loop, stopped)  # heartbeats and signals from now on
    state = {}
    life = None
    if lifespan != "off":
        life = Lifespan(app, loop, state)
        if not await life.startup(lifespan):
            return EXIT_BOOT
    server.serve(state)
    await stopped
    if life is not None:
        # what --graceful-timeout left after the requests in flight
        await life.shutdown(server.left())
    return 0


def run(server, app, lifespan, loop_name):
    """The worker's life on the loop; its exit status."""
    loop = new_loop(loop_name)
    loop.set_exception_handler(_loop_error)
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(_main(server, app, lifespan, loop))
