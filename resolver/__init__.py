"""venvfill: fill a non-isolated virtual environment from the base installation and local wheels.

The import package is ``resolver``; the command is ``venvfill`` (also
``python -m resolver``).  See README.md and docs/ for use, docs/internals/ for its design.
"""

__version__ = "0.1.0"
