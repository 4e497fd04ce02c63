"""Answers which of some heavy modules are imported in the worker serving
it (comma-separated, or "none"): cunicorn imports them only for the
features that need them (docs/operations.md, Memory)."""
import sys

HEAVY = ("ast", "inspect", "logging", "logging.config", "json", "tokenize",
         "cunicorn.glogging", "datetime", "http.client", "signal",
         "cunicorn._logging", "cunicorn._hooks", "cunicorn._configfile")


def app(environ, start_response):
    body = (",".join(m for m in HEAVY if m in sys.modules) or "none").encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
