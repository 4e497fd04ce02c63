"""Test app for test_tls.py: what the app sees of a TLS connection, as
JSON -- the scheme, and what gunicorn.socket says (as Gunicorn's
ssl.SSLSocket does): the client's certificate, the cipher, the version."""

import json


def app(environ, start_response):
    sock = environ["gunicorn.socket"]
    der = sock.getpeercert(binary_form=True)
    out = {
        "scheme": environ["wsgi.url_scheme"],
        "peercert": sock.getpeercert(),
        "peercert_der_len": None if der is None else len(der),
        "cipher": sock.cipher(),
        "version": sock.version(),
        "body_len": len(environ["wsgi.input"].read()),
    }
    data = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
