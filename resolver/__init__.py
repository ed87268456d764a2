"""venvfill: fill a non-isolated virtual environment from the base installation and local wheels.

The import package is ``resolver``; the command is ``venvfill`` (also
``python -m resolver``).  See README.md for use and DESIGN notes in the modules.
"""

__version__ = "0.1.0"
