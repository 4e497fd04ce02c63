"""Stands in for python-decouple, which socorro's config file imports:
config(NAME, default, cast) reads the environment."""

import os


def config(name, default=None, cast=None):
    value = os.environ.get(name, default)
    if cast is bool and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return cast(value) if cast is not None and value is not None else value
