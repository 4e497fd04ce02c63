"""The ``cunicorn`` command (also ``python -m cunicorn``)."""

import sys

from . import __version__

USAGE = "usage: cunicorn [OPTIONS] [APP_MODULE]"


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args or "-v" in args:
        print("cunicorn %s" % __version__)
        return 0
    if "--help" in args or "-h" in args:
        print(USAGE)
        return 0
    # The master and the sync worker are being built (issue 3); until they
    # land, say so plainly instead of pretending to serve.
    sys.stderr.write(
        "cunicorn %s: this build has the HTTP parser but not yet the server "
        "(the master and the sync worker); nothing is served.\n" % __version__)
    return 1


if __name__ == "__main__":
    sys.exit(main())
