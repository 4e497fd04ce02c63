"""Stands in for paperless-ngx's paperless/workers.py: its ConfigurableWorker
is a UvicornWorker subclass (it only passes paperless's own settings on)."""

from uvicorn.workers import UvicornWorker


class ConfigurableWorker(UvicornWorker):
    pass
