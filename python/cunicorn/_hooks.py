"""Server hooks: checking them at config time, and the objects they get.

The C core keeps the callables and decides when each hook runs (see
docs/hooks.md); this module only validates a config file's value and
builds the small objects a hook receives: a server (the master), a worker,
a request and a response, with the attributes real hooks use.
"""

import importlib
import os
import sys

from cunicorn import _cunicorn

# inspect, traceback and http are imported where used: a server without
# hooks never needs them, and each module imported in the master is memory
# in every worker too (docs/operations.md, Memory).


def _arity(fn):
    """Positional parameters, as Gunicorn counts them (*args counts one)."""
    import inspect

    positional = (inspect.Parameter.POSITIONAL_ONLY,
                  inspect.Parameter.POSITIONAL_OR_KEYWORD,
                  inspect.Parameter.VAR_POSITIONAL)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return sum(1 for p in params if p.kind in positional)


def validate(name, value, lo, hi, signature):
    """A config file's value for hook `name`: a callable, or "module.attr".
    Returns the callable; raises TypeError with the reason."""
    if isinstance(value, str):
        mod_name, _, attr = value.rpartition(".")
        if not mod_name:
            raise TypeError("%r is not of the form module.attr" % value)
        try:
            value = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as e:
            raise TypeError("cannot load %r: %s" % (attr, e)) from None
    if not callable(value):
        raise TypeError("a %s hook must be a callable, not %s"
                        % (name, type(value).__name__))
    n = _arity(value)
    if n is not None and not lo <= n <= hi:
        want = str(lo) if lo == hi else "%d to %d" % (lo, hi)
        raise TypeError("%s takes %d positional argument%s; a %s hook takes "
                        "%s (%s)" % (getattr(value, "__qualname__", name), n,
                                     "" if n == 1 else "s", name, want,
                                     signature))
    return value


def shown(fn):
    """How --print-config shows a hook."""
    return "<%s()>" % getattr(fn, "__qualname__", type(fn).__qualname__)


def arity(fn):
    return _arity(fn)


class Config:
    """server.cfg / worker.cfg: the settings by name (read-only)."""

    def __init__(self, values):
        self.__dict__.update(values)
        self.settings = values

    def __setattr__(self, name, value):
        if "settings" in self.__dict__:
            raise AttributeError("the configuration is read-only")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return "<cunicorn Config %d settings>" % len(self.settings)


# Gunicorn's statsd logger: the line each `mtype` of `extra` is sent as.
_METRIC = {"gauge": "{0}:{1}|g", "counter": "{0}:{1}|c|@1.0",
           "histogram": "{0}:{1}|h", "timer": "{0}:{1}|ms"}


class Log:
    """server.log / worker.log: lines in the error log, in its format."""

    def _emit(self, level, msg, args, exc_info=False, exception=False):
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = "%s %r" % (text, args)
        if exc_info:
            import traceback

            text = text + "\n" + traceback.format_exc().rstrip("\n")
        _cunicorn._log(level, text, exception)

    def _metric(self, msg, extra):
        """As Gunicorn's statsd logger on debug, info and log: with statsd
        on, the metric `extra` names (metric, value, mtype) is sent, and a
        message that says nothing is not logged. True: nothing to log."""
        if not _cunicorn._statsd():
            return False
        try:
            metric, value = extra.get("metric"), extra.get("value")
            line = _METRIC.get(extra.get("mtype"))
            if metric and value is not None and line:
                _cunicorn._statsd(line.format(metric, value).encode("ascii"))
        except Exception:  # as Gunicorn's: a metric never breaks a hook
            pass
        return not msg

    def debug(self, msg, *args, **kw):
        if not self._metric(msg, kw.get("extra") or {}):
            self._emit(10, msg, args, kw.get("exc_info"))

    def info(self, msg, *args, **kw):
        if not self._metric(msg, kw.get("extra") or {}):
            self._emit(20, msg, args, kw.get("exc_info"))

    def warning(self, msg, *args, **kw):
        self._emit(30, msg, args, kw.get("exc_info"))

    warn = warning

    def error(self, msg, *args, **kw):
        self._emit(40, msg, args, kw.get("exc_info"))

    def exception(self, msg, *args, **kw):
        self._emit(40, msg, args, kw.get("exc_info", True), True)

    def critical(self, msg, *args, **kw):
        self._emit(50, msg, args, kw.get("exc_info"))

    def log(self, level, msg, *args, **kw):
        if not self._metric(msg, kw.get("extra") or {}):
            self._emit(int(level), msg, args, kw.get("exc_info"))

    def reopen_files(self):
        """Gunicorn's name; the C logs reopen on USR1 by themselves."""


class App:
    """server.app: what hooks read from Gunicorn's Application."""

    def __init__(self, cfg):
        self.cfg = cfg


class Server:
    """The master, as hooks see it (Gunicorn's Arbiter)."""

    def __init__(self, values, pid):
        self.pid = pid
        self.log = Log()
        self.num_workers = values.get("workers")
        self.set_config(values)

    def set_config(self, values):
        self.cfg = Config(values)
        self.app = App(self.cfg)
        self.proc_name = values.get("proc_name") or values.get("app")
        self.timeout = values.get("timeout")
        self.worker_class = values.get("worker_class")

    def __repr__(self):
        return "<cunicorn Master %d>" % self.pid


class Worker:
    """A worker, as hooks see it. In the master (pre_fork, child_exit) pid
    is "[booting]" before the fork and the reaped pid after."""

    def __init__(self, server, age, pid):
        self.age = age
        self.pid = pid
        self.ppid = server.pid
        self.cfg = server.cfg
        self.log = server.log
        self.timeout = server.timeout
        self.booted = False
        self.aborted = False
        self.wsgi = None
        self._stopping = False

    @property
    def alive(self):
        if self._stopping or self.pid != os.getpid():
            return False
        return _cunicorn._worker_alive()

    @alive.setter
    def alive(self, value):
        self._stopping = not value

    def __repr__(self):
        return "<cunicorn Worker %s>" % self.pid


class Request:
    """pre_request / post_request: the parsed request head."""

    def __init__(self, method, uri, path, query, fragment, version, headers,
                 peer):
        self.method = method
        self.uri = uri
        self.path = path
        self.query = query
        self.fragment = fragment
        self.version = version
        self.headers = headers
        self.peer_addr = peer
        self.scheme = "http"

    def __repr__(self):
        return "<cunicorn Request %s %s>" % (self.method, self.uri)


class Response:
    """post_request: what was sent."""

    def __init__(self, status_code, sent):
        self.status_code = status_code
        self.sent = sent
        from http import HTTPStatus

        try:
            phrase = HTTPStatus(status_code).phrase
        except ValueError:
            phrase = ""
        self.status = ("%d %s" % (status_code, phrase)).rstrip()

    def __repr__(self):
        return "<cunicorn Response %s>" % self.status
