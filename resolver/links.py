"""Files of the cache placed into venvs: a hard link, or a copy where one cannot be made."""

from __future__ import annotations

import os


def link_or_copy(source: str, target: str) -> bool:
    """Hard-link ``source`` to ``target``; copy when linking is impossible.

    Returns whether a link was made.  Linking fails across filesystems (the
    cache on another mount than the venv) and on filesystems without hard links.
    Something already at ``target`` is never replaced nor copied into (a directory
    there would take the copy inside it): FileExistsError, for the caller to say
    whose it is; two wheels that clash so fail whichever is staged first.
    """
    try:
        os.link(source, target)
        return True
    except FileExistsError:
        raise
    except OSError:
        import shutil  # rarely needed: not imported on the fast paths

        shutil.copy2(source, target)
        return False
