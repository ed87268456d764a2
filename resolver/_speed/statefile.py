"""The records the fast paths read, kept with ``marshal`` rather than JSON.

The up-to-date check (_speed/quick.py) and the replay of a recipe (_speed/recipes.py) run
before anything heavy is imported, and their records are plain data: dicts,
lists, strings, bytes, numbers.  Importing ``json`` alone costs about as much
as the interpreter's start-up (it brings ``re`` and ``enum``), and decoding a
recipe's few thousand rows takes several milliseconds more; ``marshal`` is
built into the interpreter and reads the same data in a fraction of that.

* Written with marshal format 4, which every Python since 3.4 reads, so a
  venvfill running on another Python version reads them too.
* Each record starts with a tag naming what it is and its layout; a record
  with another tag (an older venvfill's, or another kind), a truncated or
  damaged one, or none at all reads as None and the caller does the work in
  full, which writes it anew.
* Only venvfill's own files are read this way: the venv's ``.venvfill`` and the
  user's cache, which are trusted as much as the ``.pyc`` files (marshal too)
  that the same interpreter loads from the same places.
* Replaced atomically (a temporary file, then a rename): a reader never sees
  half a record.
"""

from __future__ import annotations

import marshal
import os

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_VERSION = 4


def dump(path: str, tag: bytes, data: Any) -> None:
    """Replace ``path`` with ``data`` behind ``tag``; raise OSError if it cannot be written."""
    body = marshal.dumps(data, _VERSION)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(tag + body)
        os.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105 - contextlib is an import this module avoids
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: str, tag: bytes) -> Any:
    """The data behind ``tag`` in ``path``; None if there is none, or not such a record."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw.startswith(tag):
        return None
    try:
        return marshal.loads(memoryview(raw)[len(tag):])
    except (ValueError, EOFError, TypeError):
        return None
