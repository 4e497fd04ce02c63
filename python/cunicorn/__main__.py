"""The ``cunicorn`` command (also ``python -m cunicorn``)."""

import sys


def main(argv=None):
    from . import _cunicorn

    args = sys.argv[1:] if argv is None else list(argv)
    return _cunicorn.main(args)


if __name__ == "__main__":
    sys.exit(main())
