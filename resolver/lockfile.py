"""One writer at a time: an exclusive lock in the venv, ``.venvfill/lock``.

Taken before the venv is probed, so a second run waits, then sees the state
the first one left.  ``flock`` locks belong to the open file and vanish with
the process, so a killed run never leaves a stale lock.  The lock file is the
one thing ``--clear`` keeps (see _builder.py): deleting it while held would let
a third run take a lock on a new file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import VenvError

STATE_DIR = ".venvfill"
"""venvfill's own directory inside a venv: lock, journal, stage, state, fingerprint."""
LOCK_NAME = "lock"


@contextmanager
def exclusive(venv: Path) -> Iterator[bool]:
    """Hold the venv's lock; yield whether this call created the venv directory.

    A directory created here and left without a venv (the run failed before
    building it) is removed again on the way out, so failed runs leave nothing.
    """
    created = not os.path.lexists(venv)
    state = venv / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(state / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise VenvError(f"cannot create {state}: {exc.strerror}",
                        hint="Check that the directory is writable.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            print(f"venvfill: waiting for another venvfill run on {venv} to finish ...",
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield created
    finally:
        if created and not (venv / "pyvenv.cfg").exists():
            # Known gap: a second run waiting on this lock then holds a lock on a file
            # that is gone, so a third could overlap it.  It needs two runs racing to
            # create the same venv while the first fails validation; left for now.
            import shutil  # only here: importing it costs the up-to-date path time

            shutil.rmtree(venv, ignore_errors=True)
        os.close(fd)
