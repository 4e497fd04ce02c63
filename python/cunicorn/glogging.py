"""Gunicorn's logger API, for logging through Python's `logging`.

This is the class cunicorn drives when `logconfig`, `logconfig_dict`,
`logconfig_json` or `logger_class` is set (docs/compat.md, Python
logging): the records go to the loggers `gunicorn.error` and
`gunicorn.access`, with the handlers and formats Gunicorn's logger sets up,
and a logging configuration laid over them as Gunicorn lays it. Without
those settings the C logs write every line and nothing here runs.

A config file's `from gunicorn.glogging import Logger` gets this module
when Gunicorn is not installed (cunicorn._configfile), so a `logger_class`
written for Gunicorn subclasses it; a subclass of the real Gunicorn's
Logger works too: cunicorn calls either through the same methods
(`setup`, `critical`, `error`, `warning`, `info`, `debug`, `exception`,
`log`, `access`, `reopen_files`, `close_on_exec`).

The access atoms of the letters (h, r, s, ...) are rendered by the C
access log (src/core/access.c) and handed over on the response object;
`atoms()` adds the request headers, the response headers and the environ
as Gunicorn's `{name}i`, `{name}o` and `{name}e`.
"""

import json
import logging
import logging.config
import os
import sys
import threading
import time
import traceback

# What a logging configuration is laid over (a shallow update, as Gunicorn
# does): the root logger and gunicorn.access to stdout, gunicorn.error to
# stderr, all in the error log's line format.
CONFIG_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"],
                           "propagate": True, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"],
                            "propagate": True, "qualname": "gunicorn.access"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic",
                    "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                          "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"},
    },
}


def loggers():
    """Every logger that exists, the root one too."""
    found = [logging.getLogger()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            found.append(logger)
    return found


def _file_handlers():
    """The FileHandlers of every logger."""
    for log in loggers():
        for handler in log.handlers:
            if isinstance(handler, logging.FileHandler):
                yield handler


class SafeAtoms(dict):
    """The access line's atoms as `access_log_format % atoms` reads them: a
    `"` in a text value becomes `\\"`, `{name}i`/`{name}o`/`{name}e` keys
    are looked up in lower case, and a key that is not there gives "-"."""

    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = value.replace('"', '\\"') if isinstance(value, str) else value

    def __getitem__(self, key):
        if key.startswith("{"):
            key = key.lower()
        return super().__getitem__(key) if key in self else "-"


def _writable(path):
    """Refuses a log file that cannot be written, before a handler opens it."""
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise RuntimeError("Error: '%s' isn't writable [%r]" % (path, e)) from None


def _items(headers):
    if hasattr(headers, "headers"):
        headers = headers.headers
    if hasattr(headers, "items"):
        headers = headers.items()
    return headers or ()


class Logger:
    """Gunicorn's Logger API over the loggers gunicorn.error and
    gunicorn.access."""

    LOG_LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR,
                  "warning": logging.WARNING, "info": logging.INFO,
                  "debug": logging.DEBUG}
    loglevel = logging.INFO

    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
    datefmt = r"[%Y-%m-%d %H:%M:%S %z]"
    access_fmt = "%(message)s"
    syslog_fmt = "[%(process)d] %(message)s"

    atoms_wrapper_class = SafeAtoms

    def __init__(self, cfg):
        self.error_log = logging.getLogger("gunicorn.error")
        self.error_log.propagate = False
        self.access_log = logging.getLogger("gunicorn.access")
        self.access_log.propagate = False
        self.error_handlers = []
        self.access_handlers = []
        self.logfile = None
        self.lock = threading.Lock()
        self.cfg = cfg
        self.setup(cfg)

    # ---- set-up --------------------------------------------------------

    def setup(self, cfg):
        """The loggers for cfg: the level, the handlers of errorlog and
        accesslog (replacing the ones an earlier set-up made), then the
        logging configuration, if any. capture_output is the C log's."""
        self.cfg = cfg
        self.loglevel = self.LOG_LEVELS.get(str(cfg.loglevel).lower(), logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(logging.INFO)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):
                    log.removeHandler(handler)
                    handler.close()
        self._set_handler(self.error_log, cfg.errorlog,
                          logging.Formatter(self.error_fmt, self.datefmt))
        if cfg.accesslog is not None:
            self._set_handler(self.access_log, cfg.accesslog,
                              logging.Formatter(self.access_fmt), stream=sys.stdout)
        if cfg.logconfig_dict:
            self._dict_config(dict(cfg.logconfig_dict))
        elif cfg.logconfig_json:
            try:
                with open(cfg.logconfig_json) as f:
                    loaded = json.load(f)
            except (OSError, ValueError) as e:
                raise RuntimeError(str(e)) from e
            if not isinstance(loaded, dict):
                raise RuntimeError("%s does not hold a JSON object" % cfg.logconfig_json)
            self._dict_config(loaded)
        elif cfg.logconfig:
            if not os.path.exists(cfg.logconfig):
                raise RuntimeError("Error: log config '%s' not found" % cfg.logconfig)
            defaults = dict(CONFIG_DEFAULTS)
            defaults["__file__"] = cfg.logconfig
            defaults["here"] = os.path.dirname(cfg.logconfig)
            logging.config.fileConfig(cfg.logconfig, defaults=defaults,
                                      disable_existing_loggers=False)

    @staticmethod
    def _dict_config(user):
        config = dict(CONFIG_DEFAULTS)
        config.update(user)
        try:
            logging.config.dictConfig(config)
        except (AttributeError, ImportError, ValueError, TypeError) as e:
            raise RuntimeError(str(e)) from e

    def _set_handler(self, log, output, fmt, stream=None):
        for handler in list(log.handlers):
            if getattr(handler, "_gunicorn", False):
                log.removeHandler(handler)
        if output is None:
            return
        if output == "-":
            handler = logging.StreamHandler(stream)
        else:
            _writable(output)
            handler = logging.FileHandler(output)
            try:  # the workers' user must be able to reopen it
                os.chown(handler.baseFilename, self.cfg.user, self.cfg.group)
            except (OSError, TypeError):
                pass
        handler.setFormatter(fmt)
        handler._gunicorn = True
        log.addHandler(handler)

    # ---- the error log -------------------------------------------------

    def critical(self, msg, *args, **kwargs):
        self.error_log.critical(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self.error_log.error(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.error_log.warning(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.error_log.info(msg, *args, **kwargs)

    def debug(self, msg, *args, **kwargs):
        self.error_log.debug(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self.error_log.exception(msg, *args, **kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), logging.INFO)
        self.error_log.log(lvl, msg, *args, **kwargs)

    # ---- the access log ------------------------------------------------

    def atoms(self, resp, req, environ, request_time):
        """The atoms of one request: the letters as the C access log
        renders them (carried by resp), then {name}i, {name}o, {name}e."""
        atoms = dict(getattr(resp, "cunicorn_atoms", None) or {})
        atoms.update({"{%s}i" % k.lower(): v for k, v in _items(req)})
        atoms.update({"{%s}o" % k.lower(): v for k, v in _items(resp)})
        atoms.update({"{%s}e" % k.lower(): v for k, v in environ.items()})
        return atoms

    @property
    def access_log_enabled(self):
        cfg = self.cfg
        return bool(cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or
                    cfg.logconfig_json or
                    (cfg.syslog and not cfg.disable_redirect_access_to_syslog))

    def access(self, resp, req, environ, request_time):
        """One access line: access_log_format with the atoms as its
        argument, so a formatter finds them in record.args."""
        if not self.access_log_enabled:
            return
        safe_atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            self.access_log.info(self.cfg.access_log_format, safe_atoms)
        except Exception:
            self.error(traceback.format_exc())

    def now(self):
        """The time as the access log's %(t)s shows it."""
        return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")

    # ---- files -----------------------------------------------------------

    def reopen_files(self):
        """USR1: every FileHandler's file opened again by its name."""
        for handler in _file_handlers():
            handler.acquire()
            try:
                if handler.stream:
                    handler.close()
                    handler.stream = handler._open()
            finally:
                handler.release()

    def close_on_exec(self):
        for handler in _file_handlers():
            if handler.stream:
                os.set_inheritable(handler.stream.fileno(), False)
