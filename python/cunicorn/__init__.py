"""cunicorn: Gunicorn's architecture with its core in C.

The package is thin on purpose: the server lives in the C extension
``cunicorn._cunicorn``; this package finds it and starts it.
"""

import os as _os

# Run from a checkout (./cunicorn), the extension is in the build directory.
_build = _os.environ.get("CUNICORN_BUILD_DIR")
if _build:
    __path__.append(_build)

from ._cunicorn import __version__  # noqa: E402

__all__ = ["__version__"]
