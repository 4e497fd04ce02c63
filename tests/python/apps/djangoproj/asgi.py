"""The ASGI entry point, as `django-admin startproject` writes it: the same
project as wsgi.py, through Django's own ASGI handler."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")

application = get_asgi_application()
