"""`paste` (--paste FILE.ini[#SECTION]): the application from a
PasteDeploy .ini file, as src/host/paste.c asks for it.

Three steps, each called from C: `locate` when the configuration is
resolved (the file made absolute and checked), `configure_logging` in the
master before it starts (the file's [loggers] for Python's logging), and
`load` wherever the app is loaded (a worker, or the master with
--preload). PasteDeploy is imported only when paste is set.
docs/compat.md, "PasteDeploy", has the rules and where they differ from
Gunicorn's.
"""

import configparser
import logging.config
import os
import re

from cunicorn._loader import AppImportError


def _split(uri):
    """The file part of an absolute FILE[#SECTION]."""
    return uri.partition("#")[0]


def _ini(path):
    """The file read as configparser reads it: a file it cannot parse
    raises configparser.Error, one it cannot open reads as empty."""
    parser = configparser.RawConfigParser()
    parser.read([path])
    return parser


def locate(value, start):
    """paste's value made absolute against the directory the server was
    started in: the app's uri (FILE[#SECTION]) and FILE. Any exception
    stops the start with its text (status 1): PasteDeploy not installed,
    no such file, a file that is no ini file."""
    import paste.deploy  # noqa: F401  (not installed: stop now, not in a worker)

    uri = os.path.normpath(os.path.join(start, value))
    path = _split(uri)
    if not os.path.exists(path):
        raise FileNotFoundError("%r not found" % path)
    if os.path.isdir(path):  # Ours: Gunicorn fails in each worker
        raise IsADirectoryError("%r is a directory, not a PasteDeploy file" % path)
    _ini(path)
    return uri, path


def configure_logging(uri):
    """When the file has a [loggers] section: logging.config.fileConfig
    over it, with %(here)s and %(__file__)s known and the loggers that
    exist kept. Returns the names of the loggers it configures that are
    the server's own (gunicorn, gunicorn.*), which cunicorn does not log
    through; [] when there is no [loggers] section."""
    path = _split(uri)
    parser = _ini(path)
    if not parser.has_section("loggers"):
        return []
    logging.config.fileConfig(
        path, defaults={"__file__": path, "here": os.path.dirname(path)},
        disable_existing_loggers=False)
    own = []
    for key in parser.get("loggers", "keys").split(","):
        key = key.strip()
        name = "" if key == "root" else parser.get("logger_" + key, "qualname")
        if name == "gunicorn" or name.startswith("gunicorn."):
            own.append(name)
    return own


def global_conf(entries):
    """raw_paste_global_conf's KEY=VALUE entries as a dict: split at the
    first '=' with no backslash before it, then each backslash-'=' made
    '=' (the entries were checked when they were set)."""
    conf = {}
    for entry in entries:
        key, value = re.split(r"(?<!\\)=", entry, maxsplit=1)
        conf[key.replace("\\=", "=")] = value.replace("\\=", "=")
    return conf


def load(uri, entries):
    """The app of the file's section (main when the uri names none), its
    factory given raw_paste_global_conf in global_conf."""
    from paste.deploy import loadapp

    app = loadapp("config:" + uri, global_conf=global_conf(entries))
    if not callable(app):
        raise AppImportError("Application object must be callable.")
    return app
