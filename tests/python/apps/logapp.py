"""The app of test_logging.py: what the access log's atoms read, and the
app errors the error log words."""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/fix":
        # as werkzeug's ProxyFix does: the client named by a trusted proxy
        environ["REMOTE_ADDR"] = environ.get("HTTP_X_FORWARDED_FOR", "-")
    if path == "/mount/x":
        # as a mount middleware does: the prefix moves to SCRIPT_NAME
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/mount", "/x"
    if path == "/gone":
        del environ["REMOTE_ADDR"]
    if path == "/err":
        raise RuntimeError("boom in the app")
    if path == "/late":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _late()
    if path == "/body":
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Resp", "first"),
                              ("x-resp", "second"), ("Content-Length", "5")])
    return [b"hello"]


def _late():
    yield b"part"
    raise RuntimeError("boom after the head")
