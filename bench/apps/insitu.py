"""The app's CPU measured inside the server: a WSGI wrapper for
bench/realapps.py.

app wraps the WSGI app named by $INSITU_APP ("module:name", importable
from the server's --chdir) and adds to a per-thread counter the thread's
CPU time (time.thread_time()) spent calling it, iterating its body and
closing it. Each thread rewrites its own file $INSITU_DIR/<pid>-<thread
ident>, "calls seconds", every EVERY calls (write to a temporary name, then
rename, so a reader sees a whole line). The bench reads every file before
and after a measured run and divides the summed delta of seconds by that of
calls: the app's CPU per call in situ, with the caches and branch
predictors the server and the kernel leave it, across processes (sync,
uWSGI) and threads (gthread) alike. Only snapshots are compared, so the
calls between a thread's last write and the read are left out of both
sums, not miscounted.

The body is returned as the list of its chunks, already iterated and
closed, so the server's own iteration of it is a list's.
"""
import importlib
import os
import threading
import time

EVERY = 500  # calls between two writes of a thread's file

_module, _name = os.environ["INSITU_APP"].split(":")
_inner = getattr(importlib.import_module(_module), _name)
_dir = os.environ["INSITU_DIR"]
_local = threading.local()


def _forget_parent():
    """A forked child (uWSGI loads the app before forking) counts afresh,
    in files of its own pid."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_parent)


def _counter():
    """[calls, seconds, path] of this thread."""
    c = getattr(_local, "c", None)
    if c is None:
        path = os.path.join(_dir, "%d-%d" % (os.getpid(), threading.get_ident()))
        c = _local.c = [0, 0.0, path]
    return c


def _write(c):
    tmp = c[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %.9f\n" % (c[0], c[1]))
    os.replace(tmp, c[2])


def app(environ, start_response):
    t0 = time.thread_time()
    body = _inner(environ, start_response)
    try:
        chunks = list(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    spent = time.thread_time() - t0
    c = _counter()
    c[0] += 1
    c[1] += spent
    if c[0] % EVERY == 0:
        _write(c)
    return chunks

