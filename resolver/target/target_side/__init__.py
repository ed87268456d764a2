"""Code that runs *inside* the target interpreter: standard library only, Python 3.8+.

``probe.py`` describes the interpreter (target/interpreter.py reads its report),
``builder.py`` creates or refreshes a venv (venv/creation.py starts it).  Neither
imports anything of venvfill's: each is passed to the target as ``-c`` source,
so that nothing of venvfill runs there but these files.
"""

from __future__ import annotations

import os


def script_source(name: str) -> str:
    """Source of one of our target-side scripts, to pass with ``-c``.

    Read beside this file when it is one; through importlib.resources from inside
    a zipapp, where no file path exists for the target to open.
    """
    try:
        with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        from importlib import resources

        return (resources.files(__package__) / name).read_text(encoding="utf-8")
