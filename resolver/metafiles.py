"""The files venvfill writes into a wheel's ``.dist-info``, kept in its cache entry.

Every installed wheel gets INSTALLER, usually REQUESTED, and a RECORD listing
its files.  Their bytes depend only on the wheel, whether it was requested and
the venv's layout, so they are the same in every venv filled from that wheel.
Creating a file costs this file system 50-180 µs, a hard link 7 µs: for a few
hundred small wheels, writing these three files was the larger part of staging.
So each is kept once in the wheel's cache entry, under ``made/`` and named by
the sha256 of its bytes, and linked into venvs like the wheel's own files.

A kept file is read back and compared before it is linked: one edited through a
venv (a hard link shares it) is replaced, and the edited venv keeps its inode.
Whatever goes wrong with the cache (no space, a file system without links), the
file is written into the venv instead.  ``cache gc`` removes a kept file with
its entry.
"""

from __future__ import annotations

import _thread
import contextlib
import hashlib
import os

MADE = "made"


def place(entry_root: str, contents: bytes, target: str) -> str | None:
    """Create ``target`` holding ``contents``; return the kept file it links, or None.

    ``entry_root`` is the wheel's cache entry.  None: the file was written.
    """
    kept = os.path.join(entry_root, MADE, hashlib.sha256(contents).hexdigest())
    if _holds(kept, contents) or _keep(kept, contents):
        try:
            os.link(kept, target)
            return kept
        except OSError:
            pass  # across file systems, too many links: a file of its own
    _write(target, contents)
    return None


def _holds(path: str, contents: bytes) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.read(fd, len(contents) + 1) == contents
    finally:
        os.close(fd)


def _keep(kept: str, contents: bytes) -> bool:
    # Another run may be keeping the same bytes: each writes its own temporary
    # file, and the rename makes either copy the kept one (their bytes are equal).
    tmp = f"{kept}.{os.getpid()}.{_thread.get_ident()}.tmp"
    try:
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        _write(tmp, contents)
        os.replace(tmp, kept)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


def _write(path: str, contents: bytes) -> None:
    # A new file, never an existing one (as installer); 0o644 as the entry's files.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(contents)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
