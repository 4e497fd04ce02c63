"""What the C core asks Python for: config files, the application, and
the client socket an app gets as environ["gunicorn.socket"].

All are Python by nature (a config file is executed, an app is imported,
the socket is a subclass of socket.socket), so they are done here, in a few
plain functions and one class the C core uses.
"""

import _socket
import contextlib
import faulthandler
import importlib
import importlib.util
import keyword
import os
import socket
import sys
import types

# runpy (a config file) and signal (--request-timeout) are imported where
# they are used: whatever this module imports, the master and every worker
# hold (docs/operations.md, Memory).


class AppImportError(Exception):
    """The app object is missing or wrong: the worker exits 4."""


# ---- gunicorn.SERVER and gunicorn.SERVER_SOFTWARE in a config file --------
#
# Gunicorn's module has SERVER ("gunicorn", the Server header) and
# SERVER_SOFTWARE ("gunicorn/26.1.0", the environ's). Its worker reads both
# once, when its worker class is imported after the first config file ran,
# so `import gunicorn; gunicorn.SERVER = "..."` there sets the header (and
# a HUP cannot change it again). While a config file runs, the module it
# imports is watched for those two assignments: Gunicorn's, when it is
# installed, else a stand-in, so that such a file still works (`import
# gunicorn.glogging` gives cunicorn.glogging, for a logger_class; any other
# submodule fails as it would), gone once the file has run.
# Nothing is imported that the file does not import: apps that look for
# "gunicorn" in sys.modules see what they would see without this.

_SERVER_MAX = 1024  # bytes of a Server header value
_server_names = None  # (Server header bytes or None, SERVER_SOFTWARE or None)
_assigned = {}
_watched = []  # the gunicorn modules being watched


class _Watched(types.ModuleType):
    """The gunicorn module while a config file runs."""

    def __setattr__(self, name, value):
        if name in ("SERVER", "SERVER_SOFTWARE"):
            _assigned[name] = value
        super().__setattr__(name, value)


def _watch(module):
    if type(module) is types.ModuleType:
        module.__class__ = _Watched
        _watched.append(module)


class _WatchingLoader:
    """Gunicorn's own loader, and the module it makes watched."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _watch(module)


class _StandInLoader:
    """Gunicorn's package as far as a config file needs it."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__doc__ = ("cunicorn's stand-in for Gunicorn's package while a config "
                          "file runs: SERVER and SERVER_SOFTWARE")
        module.version_info = (26, 1, 0)
        module.__version__ = "26.1.0"
        module.SERVER = "gunicorn"
        module.SERVER_SOFTWARE = "gunicorn/26.1.0"
        _watch(module)


class _GloggingLoader:
    """gunicorn.glogging under the stand-in: cunicorn's Logger API
    (cunicorn.glogging), so that a logger_class written for Gunicorn
    subclasses it."""

    def create_module(self, spec):
        return importlib.import_module("cunicorn.glogging")

    def exec_module(self, module):
        pass


def _stand_in_active():
    spec = getattr(sys.modules.get("gunicorn"), "__spec__", None)
    return isinstance(getattr(spec, "loader", None), _StandInLoader)


class _GunicornFinder:
    """First on sys.meta_path while a config file runs."""

    def find_spec(self, name, path=None, target=None):
        if name == "gunicorn.glogging" and _stand_in_active():
            return importlib.util.spec_from_loader(name, _GloggingLoader())
        if name != "gunicorn":
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            try:
                spec = finder.find_spec(name, path, target)
            except ImportError:
                break  # the import would fail: not installed, as far as we go
            if spec is None:
                continue
            if spec.loader is None:
                break
            spec.loader = _WatchingLoader(spec.loader)
            return spec
        return importlib.util.spec_from_loader(name, _StandInLoader(), is_package=True)


def _watch_begin():
    _assigned.clear()
    del _watched[:]
    finder = _GunicornFinder()
    sys.meta_path.insert(0, finder)
    if "gunicorn" in sys.modules:  # imported before (a sitecustomize): as it is
        _watch(sys.modules["gunicorn"])
    return finder


def _watch_end(finder):
    sys.meta_path.remove(finder)
    for module in _watched:
        module.__class__ = types.ModuleType
        spec = getattr(module, "__spec__", None)
        loader = getattr(spec, "loader", None)
        if isinstance(loader, _WatchingLoader):  # Gunicorn's: its own loader back
            spec.loader = module.__loader__ = loader.loader
        elif isinstance(loader, _StandInLoader) and sys.modules.get("gunicorn") is module:
            del sys.modules["gunicorn"]
            if getattr(sys.modules.get("gunicorn.glogging"), "__name__", "") == "cunicorn.glogging":
                del sys.modules["gunicorn.glogging"]
    del _watched[:]


@contextlib.contextmanager
def gunicorn_stand_in():
    """While importing a logger_class: `import gunicorn.glogging` finds
    Gunicorn's, or cunicorn's stand-in when Gunicorn is not installed."""
    finder = _watch_begin()
    try:
        yield
    finally:
        _watch_end(finder)


def _server_header(value):
    """gunicorn.SERVER as Gunicorn writes it ("%s"), checked: latin-1 text
    without control characters (Gunicorn would send a CR LF in it as is)."""
    text = str(value)
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("gunicorn.SERVER = %r: a Server header is latin-1 text" % text) from None
    if any(c < 0x20 and c != 0x09 or c == 0x7F for c in data):
        raise ValueError("gunicorn.SERVER = %r: no control characters in a header" % text)
    if len(data) > _SERVER_MAX:
        raise ValueError("gunicorn.SERVER: longer than %d bytes" % _SERVER_MAX)
    return data


def _software(value):
    """gunicorn.SERVER_SOFTWARE, for the environ: text (a str, as PEP 3333
    wants every environ value; Gunicorn puts the object as it is)."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("gunicorn.SERVER_SOFTWARE = %r: not text" % text) from None
    return text


def _watches_gunicorn(read):
    def watched(path):
        global _server_names
        finder = _watch_begin()
        try:
            names = read(path)
        finally:
            _watch_end(finder)
        if _server_names is None:  # the first file only, as Gunicorn
            _server_names = (
                _server_header(_assigned["SERVER"]) if "SERVER" in _assigned else None,
                _software(_assigned["SERVER_SOFTWARE"]) if "SERVER_SOFTWARE" in _assigned
                else None)
        return names
    watched.__doc__ = read.__doc__
    return watched


def server_names():
    """What the first config file set through the gunicorn module: the
    Server header's value (bytes) and SERVER_SOFTWARE (str); None for each
    one it did not set."""
    return _server_names or (None, None)


@_watches_gunicorn
def read_config(path):
    """Executes a config file; returns its top-level names."""
    if path.startswith("python:"):
        mod = importlib.import_module(path[len("python:"):])
        return {k: v for k, v in vars(mod).items() if not k.startswith("__")}
    if path.startswith("file:"):
        path = path[len("file:"):]
    if not os.path.exists(path):
        raise FileNotFoundError("config file %r does not exist" % path)
    import runpy

    names = runpy.run_path(path, run_name="__config__")
    return {k: v for k, v in names.items() if not k.startswith("__")}


# os.environ as the server found it, before raw_env changed it: what a
# HUP gives the names of the old raw_env back (Gunicorn's env_orig).
_start_environ = None


def raw_env(entries, put):
    """raw_env's KEY=VALUE entries into os.environ (put), which sets them
    in the C environment too, so the app, libc and child processes all see
    them; or (not put) each KEY back to its value at start, or gone."""
    global _start_environ
    if _start_environ is None:
        _start_environ = dict(os.environ)
    for entry in entries:
        key, _, value = entry.partition("=")
        if put:
            os.environ[key] = value
        elif key in _start_environ:
            os.environ[key] = _start_environ[key]
        else:
            os.environ.pop(key, None)


def _spew_line(frame, event, arg):
    """--spew's trace function: each line of Python, as it is about to
    run, goes to stdout as MODULE:LINE: SOURCE (Gunicorn's layout)."""
    if event == "line":
        g = frame.f_globals
        import linecache  # a dict look-up after the first line

        source = linecache.getline(frame.f_code.co_filename, frame.f_lineno, g)
        try:
            print("%s:%d: %s" % (g.get("__name__", "[unknown]"), frame.f_lineno,
                                 source.rstrip()), flush=True)
        except (OSError, ValueError):
            pass  # stdout gone or closed: the traced code must not fail
    return _spew_line


def spew(on):
    """--spew in the calling thread (a trace function is per thread)."""
    sys.settrace(_spew_line if on else None)


def setup_paths(chdir, pythonpath):
    """--chdir and --pythonpath, as Gunicorn applies them to sys.path."""
    if chdir:
        os.chdir(chdir)
        if chdir not in sys.path:
            sys.path.insert(0, chdir)
    if pythonpath:
        for p in reversed(pythonpath.split(",")):
            p = os.path.abspath(p.strip())
            if p not in sys.path:
                sys.path.insert(0, p)


# What a class body always has: none of it is behaviour.
_CLASS_PLUMBING = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                   "__annotations__", "__firstlineno__", "__static_attributes__",
                   "CONFIG_KWARGS"}


def worker_class_bases(uri, chdir, pythonpath):
    """-k MODULE.CLASS that cunicorn's table does not name: the class is
    imported, as Gunicorn's load_class imports it (with --chdir and
    --pythonpath on sys.path), and described for the host
    (host/subclass.c): [(MODULE.QUALNAME, [the names its body defines])]
    for each class of its MRO, and its CONFIG_KWARGS (uvicorn's worker
    options), or None. ImportError or AttributeError when it is not there."""
    module, _, name = uri.rpartition(".")
    if not module or not name:
        raise ImportError("no module in %r" % uri)
    added = [os.path.abspath(p.strip()) for p in (pythonpath or "").split(",") if p.strip()]
    if chdir:
        added.append(os.path.abspath(chdir))
    before = list(sys.path)
    sys.path[:0] = [p for p in added if p not in sys.path]
    try:
        cls = getattr(importlib.import_module(module), name)
    finally:
        sys.path[:] = before
    if not isinstance(cls, type):
        raise AttributeError("%s is not a class" % uri)
    bases = [("%s.%s" % (k.__module__, k.__qualname__),
              sorted(n for n in vars(k) if n not in _CLASS_PLUMBING))
             for k in cls.__mro__]
    kwargs = getattr(cls, "CONFIG_KWARGS", None)
    return bases, dict(kwargs) if isinstance(kwargs, dict) else None


def _literal(node):
    import ast

    try:
        return ast.literal_eval(node)
    except ValueError:
        raise AppImportError("Function arguments must be literals: %s"
                             % ast.unparse(node)) from None


def _parse_expr(expr):
    """(name, None) or (name, (args, kwargs)) of EXPR, a name or a call of
    a name with literal args. ast is imported here only: its modules cost
    the master and each worker over a MiB (docs/operations.md, Memory)."""
    import ast

    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise AppImportError("Failed to parse %r as an attribute name or "
                             "function call." % expr) from None
    if isinstance(node, ast.Name):
        return node.id, None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id, ([_literal(a) for a in node.args],
                              {k.arg: _literal(k.value) for k in node.keywords})
    raise AppImportError("Failed to parse %r as an attribute name or "
                         "function call." % expr)


def load_app(uri):
    """MODULE[:EXPR], EXPR a name or a call of a name with literal args."""
    module, _, expr = uri.partition(":")
    expr = expr.strip() or "application"
    if not module:
        raise AppImportError("No module in %r" % uri)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module and module.endswith(".py"):
            raise ImportError("No module named %r. Did you mean %r?"
                              % (module, module[:-3] + ":" + expr)) from e
        raise
    if expr.isidentifier() and not keyword.iskeyword(expr):
        name, call = expr, None  # the usual "module:app": ast not needed
    else:
        name, call = _parse_expr(expr)
    try:
        app = getattr(mod, name)
    except AttributeError:
        raise AppImportError("Failed to find attribute %r in %r."
                             % (name, module)) from None
    if call is not None:
        try:
            app = app(*call[0], **call[1])
        except TypeError as e:
            if e.__traceback__.tb_next is None:  # the call itself was wrong
                raise AppImportError("Error while loading the application: "
                                     "%s" % e) from e
            raise
    if app is None:
        raise AppImportError("Failed to find application object: %r." % expr)
    if not callable(app):
        raise AppImportError("Application object must be callable.")
    return app


def request_alarm():
    """sync, --request-timeout: the worker arms SIGALRM around the app;
    this raises RequestTimeout in the app when it rings (a late one, after
    the request, is ignored)."""
    import signal

    from cunicorn import _cunicorn

    def ring(signum, frame):
        if _cunicorn._request_armed():
            raise _cunicorn.RequestTimeout("the request ran past --request-timeout")
    signal.signal(signal.SIGALRM, ring)


def dump_stacks(fd, stuck_signal=0):
    """On SIGABRT (the master's timeout) and on fatal signals, the Python
    stack of every thread goes to fd; then the handler that was installed
    before runs (faulthandler re-raises the signal to it). With
    stuck_signal, that signal writes the stack of the thread it is sent
    to (gthread: a request running past --timeout)."""
    faulthandler.enable(file=fd, all_threads=True)
    if stuck_signal:
        faulthandler.register(stuck_signal, file=fd, all_threads=False)


# "Blocking" for ClientSocket: a timeout this long (poll() takes int
# milliseconds, so it must stay under 2**31 ms), reported as None.
_FOREVER = 2000000.0
_settimeout = _socket.socket.settimeout
_gettimeout = _socket.socket.gettimeout
_detach = _socket.socket.detach


class ClientSocket(socket.socket):
    """environ["gunicorn.socket"]: the client connection, for one request.

    The worker makes it from a dup of its connection's fd and closes it when
    the response is done, so the app's close() (or the garbage collector)
    never closes the worker's own fd. A dup shares the open file description
    and so its O_NONBLOCK flag: this socket is kept in CPython's timeout
    mode (O_NONBLOCK, waits in poll()), which leaves the flag as the worker
    made it. It behaves as blocking, like Gunicorn's client sockets:
    settimeout(None) and setblocking(True) give a timeout of about 23 days
    and gettimeout() says None. Code that goes round these methods
    (socket.socket.setblocking on it, os.set_blocking on its fileno())
    clears O_NONBLOCK on the worker's fd too: the worker's own reads and
    writes pass MSG_DONTWAIT, so that costs it nothing; over TLS (OpenSSL
    reads the fd) the worker sets the flag again when the app returns.
    """

    __slots__ = ()

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        try:
            super().__init__(family, type, proto, fileno)
            _settimeout(self, _FOREVER)
        except BaseException:
            if fileno is not None:
                _detach(self)  # on failure the fd is still the caller's
            raise

    def settimeout(self, value):
        _settimeout(self, _FOREVER if value is None else value)

    def setblocking(self, flag):
        _settimeout(self, _FOREVER if flag else 0.0)

    def gettimeout(self):
        t = _gettimeout(self)
        return None if t == _FOREVER else t

    timeout = property(gettimeout)


class TLSClientSocket(ClientSocket):
    """environ["gunicorn.socket"] of a TLS connection (docs/compat.md, TLS).

    The TLS layer is the worker's, in C, so this is the TCP socket under
    it: its send() and recv() would go round TLS. It answers what
    Gunicorn's ssl.SSLSocket answers about the connection: getpeercert()
    (the client's certificate, with cert_reqs 1 or 2), cipher() and
    version(). The worker sets them once the handshake is done.
    """

    __slots__ = ("_peer_der", "_cipher", "_version")

    def _set_tls(self, der, cipher, version):
        self._peer_der = der
        self._cipher = cipher
        self._version = version

    def getpeercert(self, binary_form=False):
        der = getattr(self, "_peer_der", None)
        if der is None or binary_form:
            return der
        return _decode_cert(der)

    def cipher(self):
        return getattr(self, "_cipher", None)

    def version(self):
        return getattr(self, "_version", None)

    def selected_alpn_protocol(self):
        return None


def _decode_cert(der):
    """The dict ssl.SSLSocket.getpeercert() gives for a DER certificate,
    decoded by the ssl module itself (through a file, its only way)."""
    import ssl
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(ssl.DER_cert_to_PEM_cert(der))
        f.flush()
        return ssl._ssl._test_decode_cert(f.name)
