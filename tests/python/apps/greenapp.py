"""The gevent and eventlet workers' test app: whether the standard library
was patched when it was imported, and the waits a monkey-patched app
makes (an outbound HTTP call, a sleep), or one that blocks the hub."""

import sys
import time
import urllib.request


def _patched():
    if "gevent" in sys.modules:
        from gevent import monkey
        return monkey.is_module_patched("socket")
    if "eventlet" in sys.modules:
        from eventlet import patcher
        return patcher.is_monkey_patched("socket")
    return False


PATCHED_AT_IMPORT = _patched()
inflight = 0
most = 0


def _blocking_sleep(secs):
    """time.sleep as it was before the patch: the whole hub waits."""
    if "gevent" in sys.modules:
        from gevent import monkey
        return monkey.get_original("time", "sleep")(secs)
    from eventlet import patcher
    return patcher.original("time").sleep(secs)


def block_the_hub(secs):
    _blocking_sleep(secs)


def _answer(start_response, body):
    body = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    global inflight, most
    path, query = environ["PATH_INFO"], environ["QUERY_STRING"]
    if path == "/patched":
        return _answer(start_response, "%s %s" % (PATCHED_AT_IMPORT, _patched()))
    if path == "/outbound":  # one call to the slow server on port QUERY
        with urllib.request.urlopen("http://127.0.0.1:%s/" % query, timeout=60) as r:
            return _answer(start_response, r.read().decode())
    if path == "/sleep":     # a patched sleep: the others run meanwhile
        inflight += 1
        most = max(most, inflight)
        try:
            time.sleep(float(query))
        finally:
            inflight -= 1
        return _answer(start_response, "slept")
    if path == "/most":
        return _answer(start_response, str(most))
    if path == "/block":     # nothing else runs: the heartbeat stops too
        block_the_hub(float(query))
        return _answer(start_response, "blocked")
    return _answer(start_response, "hello")
