"""Python mode: the server's log lines through Python's `logging`.

When `logconfig`, `logconfig_dict`, `logconfig_json` or `logger_class` is
set (docs/compat.md, Python logging), the master makes a logger as Gunicorn
does -- `logger_class(cfg)`, cunicorn.glogging.Logger unless another is
named -- before its first line, and again on HUP; the workers inherit it
through fork. src/host/pylog.c then hands it every error-log line (its text
formatted), every exception with its traceback, every request for the
access log, and USR1. These are the functions it calls.
"""

import importlib
import os

from cunicorn import _hooks

# logging, glogging, datetime, grp and pwd are imported where used: the
# master imports this module whenever a logging setting is set, to ask
# wanted() (src/host/pylog.c knows the defaults without it), and not every
# such server goes to Python mode; what the master imports every worker
# holds too (docs/operations.md, Memory).

# The names of the built-in logger: the C logs, unless a logconfig* is set.
# logger_class's default (src/config/table.c) must stay one of them:
# src/host/pylog.c takes it for "off" without importing this module.
DEFAULT_CLASSES = ("simple", "gunicorn.glogging.Logger", "cunicorn.glogging.Logger")

# logging's levels (DEBUG..CRITICAL) and the Logger method of each
_METHODS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}


class LogConfigError(Exception):
    """A logging set-up that failed: "SETTING: why"."""


def _dotted(cls):
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def _load_class(name, names):
    """logger_class: the class the config file gave (by its dotted name, as
    the setting holds it), the built-in one, or module.Class imported."""
    given = names.get("logger_class") if names else None
    if isinstance(given, type) and _dotted(given) == name:
        return given
    if name in DEFAULT_CLASSES:
        from cunicorn import glogging

        return glogging.Logger
    module, _, attr = name.replace(":", ".").rpartition(".")
    if not module:
        raise ImportError("%r is not of the form module.Class" % name)
    # imported here, not with this module: a built-in logger_class or a
    # logconfig* alone reads no config file and imports no class
    from cunicorn import _configfile

    with _configfile.gunicorn_stand_in():
        mod = importlib.import_module(module)
    try:
        cls = getattr(mod, attr)
    except AttributeError:
        raise ImportError("module %r has no class %r" % (module, attr)) from None
    if not isinstance(cls, type):
        raise ImportError("%r is not a class" % name)
    return cls


def _uid(user, lookup, current):
    if user is None:
        return current()
    try:
        return int(user)
    except ValueError:
        return lookup(user)


def _config(values, names, cls):
    """The cfg object a Gunicorn logger reads: every setting by name, with
    logconfig_dict the config file's dict, logger_class the class, user
    and group as ids, and proc_name as Gunicorn's Config gives it (else
    default_proc_name: its syslog handler's name is made from it)."""
    values = dict(values)
    if values.get("proc_name") is None:
        values["proc_name"] = values.get("default_proc_name")
    given = names.get("logconfig_dict") if names else None
    values["logconfig_dict"] = given if values.get("logconfig_dict") and given else {}
    values["logger_class"] = cls
    import grp
    import pwd

    try:
        values["user"] = _uid(values.get("user"), lambda n: pwd.getpwnam(n).pw_uid,
                              os.geteuid)
        values["group"] = _uid(values.get("group"), lambda n: grp.getgrnam(n).gr_gid,
                               os.getegid)
    except (KeyError, ValueError):
        values["user"], values["group"] = os.geteuid(), os.getegid()
    return _hooks.Config(values)


def _setting(cfg):
    """Which setting a failed set-up is about."""
    for name in ("logconfig_dict", "logconfig_json", "logconfig"):
        if getattr(cfg, name):
            return name
    return "logger_class"


def _failed(setting, e):
    text = str(e) or type(e).__name__
    if text.startswith("Error: "):
        text = text[len("Error: "):]
    return LogConfigError("%s: %s" % (setting, text))


def _class_name(values):
    return (values.get("logger_class") or "simple").strip()


def wanted(values):
    """Whether these settings ask for Python mode."""
    return bool(values.get("logconfig") or values.get("logconfig_dict") or
                values.get("logconfig_json") or
                _class_name(values) not in DEFAULT_CLASSES)


def setup(values, names, old):
    """The logger for these settings (names: the config file's top-level
    names): old set up again when its class is still the one named, else
    a new one. Raises LogConfigError; old then keeps its configuration."""
    # what access() needs, imported here, in the master before the workers
    # fork: shared with them, and no import on a worker's first request
    importlib.import_module("datetime")

    try:
        cls = _load_class(_class_name(values), names)
        if hasattr(cls, "install"):
            cls.install()
    except Exception as e:
        raise _failed("logger_class", e) from e
    cfg = _config(values, names, cls)
    if old is not None and type(old) is cls:
        prev = old.cfg
        try:
            old.setup(cfg)
        except Exception as e:
            try:
                old.setup(prev)
            except Exception:
                pass
            raise _failed(_setting(cfg), e) from e
        return old
    try:
        logger = cls(cfg)
        if hasattr(logger, "close_on_exec"):  # as Gunicorn's arbiter, once
            logger.close_on_exec()
        return logger
    except Exception as e:
        raise _failed(_setting(cfg), e) from e


def teardown():
    """A HUP that leaves Python mode: the handlers the logger made for
    errorlog and accesslog (marked _gunicorn) are taken off gunicorn.error
    and gunicorn.access and closed; else their files would stay open in the
    master and in every worker forked after it. What a logging
    configuration set up stays, as it would under Gunicorn."""
    import logging

    for name in ("gunicorn.error", "gunicorn.access"):
        log = logging.getLogger(name)
        for handler in list(log.handlers):
            if getattr(handler, "_gunicorn", False):
                log.removeHandler(handler)
                handler.close()


def threshold(logger):
    """The least level worth handing over: gunicorn.error's once set up
    (above CRITICAL when it is disabled); every level for a logger class
    without that logger."""
    import logging

    log = getattr(logger, "error_log", None)
    if not isinstance(log, logging.Logger):
        return logging.DEBUG
    if log.disabled:
        return logging.CRITICAL + 10
    return max(log.getEffectiveLevel(), logging.DEBUG)


def line(logger, level, text):
    """An error-log line: its text is the record's message, without args."""
    name = _METHODS.get(level)
    if name is not None:
        getattr(logger, name)(text)
    else:
        logger.log(level, text)


def exception(logger, what, etype, value, tb):
    """An exception, as Gunicorn's log.exception() gives it to formatters."""
    logger.exception(what, exc_info=(etype, value, tb))


class Request:
    """What Gunicorn's logger reads of a request: its parsed head."""

    def __init__(self, environ, headers):
        self.method = environ.get("REQUEST_METHOD")
        self.uri = environ.get("RAW_URI")
        self.path = environ.get("PATH_INFO")
        self.query = environ.get("QUERY_STRING")
        self.fragment = ""
        proto = str(environ.get("SERVER_PROTOCOL") or "HTTP/1.1")
        try:
            self.version = tuple(int(x) for x in proto.split("/", 1)[1].split("."))
        except (IndexError, ValueError):
            self.version = (1, 1)
        self.headers = headers
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.peer_addr = (environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"))

    def __repr__(self):
        return "<cunicorn Request %s %s>" % (self.method, self.uri)


class Response:
    """What Gunicorn's logger reads of a response: the status line, the
    bytes sent, the app's headers; and the atoms C rendered."""

    def __init__(self, atoms, status, headers):
        self.cunicorn_atoms = atoms
        self.status = status if status is not None else atoms.get("s", "-")
        try:
            self.status_code = int(str(self.status).split(None, 1)[0])
        except (IndexError, ValueError):
            self.status_code = None
        self.sent = atoms.get("B")
        self.headers = headers

    def __repr__(self):
        return "<cunicorn Response %s>" % self.status


def access(logger, atoms, request, us):
    """One request for the access log, as Gunicorn's worker gives it:
    logger.access(resp, req, environ, request_time)."""
    import datetime

    environ, status, resp_headers, req_headers = (request or ({}, None, [], []))[:4]
    req = Request(environ, req_headers)
    if request and len(request) > 4:
        req.path = request[4]  # a refused request's: its environ has no PATH_INFO
    logger.access(Response(atoms, status, resp_headers), req,
                  environ, datetime.timedelta(microseconds=us))


def reopen(logger):
    """USR1."""
    logger.reopen_files()


def unraisable(what, exc):
    """The logger failed in WHAT with EXC: reported as sys.unraisablehook's
    default does, in one write (a master and its workers share one stderr,
    and the default writes a report in many pieces). False when the app
    set its own hook: the C side calls it. sys.stderr is never swapped:
    another thread may be writing to it, or reporting too."""
    import sys

    if sys.unraisablehook is not sys.__unraisablehook__:
        return False
    err = sys.stderr
    if err is None:
        return True  # as the default hook: nowhere to say it
    import traceback

    err.write("Exception ignored in: %r\n%s" % (
        what, "".join(traceback.format_exception(exc, chain=False))))
    err.flush()
    return True
