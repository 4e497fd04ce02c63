"""What the C core asks Python for: config files, the application, and
the client socket an app gets as environ["gunicorn.socket"].

All are Python by nature (a config file is executed, an app is imported,
the socket is a subclass of socket.socket), so they are done here, in a few
plain functions and one class the C core uses.
"""

import _socket
import faulthandler
import importlib
import keyword
import os
import socket
import sys

# signal (--request-timeout) is imported where it is used, and the config
# file's machinery is cunicorn._configfile: whatever this module imports,
# the master and every worker hold (docs/operations.md, Memory).


class AppImportError(Exception):
    """The app object is missing or wrong: the worker exits 4."""


# ---- the config file ------------------------------------------------------
#
# Executed by cunicorn._configfile, imported only then: with it, the
# gunicorn module the file may import and what the file sets there.


def read_config(path):
    """Executes a config file; returns its top-level names."""
    from cunicorn import _configfile

    return _configfile.read_config(path)


def server_names():
    """What the first config file set through the gunicorn module: the
    Server header's value (bytes) and SERVER_SOFTWARE (str); None for each
    one it did not set (and for both without a config file)."""
    configfile = sys.modules.get("cunicorn._configfile")
    return configfile.server_names() if configfile else (None, None)


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
# milliseconds, so it must stay under 2**31 ms), reported as None. An int:
# settimeout() rounds a float with libm's ceil, which every worker would
# page in (64 KiB and more of libm) for its first request's socket;
# gettimeout() gives 2000000.0, equal to it.
_FOREVER = 2000000
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
