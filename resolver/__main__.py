"""``python -m resolver``: the same as the ``venvfill`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
