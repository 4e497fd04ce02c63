"""Stands in for paperless-ngx's paperless/asgi.py."""

from asgiapp import application  # noqa: F401
