"""The WSGI entry point, as `django-admin startproject` writes it, plus a
pass-through middleware that tells, in X-App-Iter, whether Django handed
the server's own wsgi.file_wrapper back (so the server may use sendfile)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")


def tag_app_iter(wsgi_app):
    def middleware(environ, start_response):
        seen = {}

        def remember(status, headers, exc_info=None):
            seen["args"] = (status, list(headers), exc_info)
            return lambda data: None  # Django never calls write()

        it = wsgi_app(environ, remember)
        status, headers, exc_info = seen["args"]
        fw = environ.get("wsgi.file_wrapper")
        if isinstance(fw, type) and isinstance(it, fw):
            headers.append(("X-App-Iter", "server-file-wrapper"))
        else:
            headers.append(("X-App-Iter", type(it).__qualname__))
        start_response(status, headers, exc_info)
        return it
    return middleware


django_application = get_wsgi_application()
application = tag_app_iter(django_application)
