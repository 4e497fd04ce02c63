"""A config file, executed for the host (src/host/config.c through
cunicorn._loader.read_config), and the gunicorn module it may import.

Imported only when a config file is read or a logger_class is imported
(cunicorn._logging): a server started from the command line alone never
holds this module, nor contextlib and importlib.util (docs/operations.md,
Memory).
"""

import contextlib
import importlib
import importlib.util
import os
import sys
import types

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
