"""Files handed to venvfill (manifests, locks, wheels): regular files, read within bounds.

A path named on the command line or found in a wheel directory may be a FIFO
(reading it waits for a writer that never comes), a device (``/dev/zero``
never ends), or a file far larger than any real manifest.  Each is refused
before it is read, and what is read is bounded by what was declared.
"""

from __future__ import annotations

import errno
import os
import stat

MANIFEST_LIMIT = 16 << 20
"""The largest manifest, requirements or lock file read (real ones are kilobytes)."""
METADATA_LIMIT = 16 << 20
"""The largest METADATA read from a wheel (the largest on PyPI are a few megabytes)."""


class Unfit(OSError):
    """Not a regular file, or larger than venvfill reads; ``strerror`` says which."""

    def __init__(self, why: str) -> None:
        super().__init__(errno.EINVAL, why)


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of the regular file at ``path``; Unfit for anything else.

    Opened non-blocking, so that a FIFO is refused instead of waited on.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise Unfit(f"is {kind(mode)}, not a file")
    return fd


def kind(mode: int) -> str:
    """What a file of this mode is, in words, for messages."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises Unfit for anything else (never blocking on a FIFO: opened
    non-blocking, then checked), or for a file over ``limit``; OSError as ``open``.
    """
    fd = open_regular(path)
    try:
        st = os.fstat(fd)
        if st.st_size > limit:
            raise Unfit(f"is {st.st_size} bytes, more than the {limit >> 20} MiB "
                             "venvfill reads")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise Unfit(f"grew past the {limit >> 20} MiB venvfill reads")
        return b"".join(chunks)
    finally:
        os.close(fd)
