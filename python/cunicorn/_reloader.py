"""What --reload asks Python for: the files to watch, and the page a worker
serves while its app cannot be imported for a SyntaxError.

The watching is C (src/worker/reloader.c), in a thread of the worker; it
calls watched() with the GIL about once a second, for the modules imported
since the last time (Django imports many on its first request).
"""

import glob
import os
import sys
import traceback


def _is_pattern(name):
    return "*" in name or "?" in name or "[" in name


def watched(extra, known):
    """The files to watch: (modules seen, files, patterns matching nothing).

    extra is reload_extra_files (absolute names and patterns) and known how
    many modules were seen last time. The files are those of every module
    (.pyc read as its .py) when that number changed, and what the patterns
    match now (they are expanded every time: a file created later is
    watched from then on); the caller keeps what it had. None when there is
    nothing to look at: no new module, no pattern.
    """
    modules = list(sys.modules.values())
    patterns = [p for p in extra if _is_pattern(p)]
    if len(modules) == known and not patterns:
        return None
    files = set()
    if len(modules) != known:
        for m in modules:
            try:
                f = m.__file__
            except Exception:  # no such attribute, or a lazy module's own
                continue
            if not isinstance(f, str) or not f:
                continue
            if f.endswith((".pyc", ".pyo")):
                f = f[:-1]
            files.add(os.path.abspath(f))
        files.update(p for p in extra if not _is_pattern(p))
    unmatched = []
    for p in patterns:
        found = glob.glob(p, recursive=True)
        if not found:
            unmatched.append(p)
        files.update(found)
    return len(modules), list(files), unmatched


def fail_app(exc):
    """(app, files): the app served instead of one whose import raised exc
    (a SyntaxError), which answers 500 and the traceback as text, and the
    files to watch besides the modules: the one with the error and those of
    the import chain that led to it (they left sys.modules when it failed),
    so fixing either restarts the worker."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    body = text.encode("utf-8", "replace")
    headers = [("Content-Type", "text/plain; charset=utf-8"),
               ("Content-Length", str(len(body)))]
    files = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    if isinstance(exc.filename, str):
        files.append(exc.filename)
    files = sorted({os.path.abspath(f) for f in files if os.path.isfile(f)})

    def app(environ, start_response):
        start_response("500 Internal Server Error", headers)
        return [body]

    return app, files
