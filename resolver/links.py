"""Files of the cache placed into venvs: a hard link, or a copy where one cannot be made."""

from __future__ import annotations

import os


def link_or_copy(source: str, target: str) -> bool:
    """Hard-link ``source`` to ``target``; copy when linking is impossible.

    Returns whether a link was made.  Linking fails across filesystems (the
    cache on another mount than the venv) and on filesystems without hard links.
    """
    try:
        os.link(source, target)
        return True
    except OSError:
        import shutil  # rarely needed: not imported on the fast paths

        shutil.copy2(source, target)
        return False
