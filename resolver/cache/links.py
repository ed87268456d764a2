"""Files of the cache placed into venvs: a hard link, or a copy of the venv's own.

A hard link is one file shared with the cache and every venv that links it: the
cache's files are read-only (cache/unpacked.py), and a change to one through any venv
is seen by all of them until the next fill replaces it.  ``--link-mode copy``
(or ``VENVFILL_LINK_MODE=copy``) gives every venv files of its own, writable,
at the cost of writing them: for venvs that will be edited in place, above all
as root, whom read-only modes do not stop.
"""

from __future__ import annotations

import os

MODES = ("hardlink", "copy")
ENV = "VENVFILL_LINK_MODE"


def link_or_copy(source: str, target: str, *, copy: bool = False) -> bool:
    """Hard-link ``source`` to ``target`` (copy it with ``copy``); return whether linked.

    Linking fails across filesystems (the cache on another mount than the venv)
    and on filesystems without hard links: then it is copied too.  Something
    already at ``target`` is never replaced nor copied into: FileExistsError, for
    the caller to say whose it is; two wheels that clash so fail whichever is
    staged first.
    """
    if not copy:
        try:
            os.link(source, target)
            return True
        except FileExistsError:
            raise
        except OSError:
            pass
    _copy(source, target)
    return False


def _copy(source: str, target: str) -> None:
    # A new file of the venv's own (never one already there), writable as any file
    # the user's umask makes; executable if the cache's file is.
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        mode = 0o777 if os.fstat(src).st_mode & 0o111 else 0o666
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            while os.sendfile(dst, src, None, 1 << 30):
                pass
        finally:
            os.close(dst)
    finally:
        os.close(src)
