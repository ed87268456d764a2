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

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

# Standard library only, and little of it: the up-to-date path (quick.py) holds
# this lock, so importing this module must cost next to nothing.

STATE_DIR = ".venvfill"
"""venvfill's own directory inside a venv: lock, journal, stage, state, fingerprint."""
LOCK_NAME = "lock"


class exclusive:  # a class, not @contextmanager: contextlib costs start-up time
    """Hold the venv's lock; ``as`` gives whether this call created the venv directory.

    A directory created here and left without a venv (the run failed before
    building it) is removed again on the way out, so failed runs leave nothing.
    """

    def __init__(self, venv: str | Path) -> None:
        self.venv = os.fspath(venv)
        self.fd = -1
        self.created = False

    def __enter__(self) -> bool:
        while True:
            self.created = not os.path.lexists(self.venv)
            state = os.path.join(self.venv, STATE_DIR)
            lock = os.path.join(state, LOCK_NAME)
            try:
                os.makedirs(state, exist_ok=True)
                self.fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                from .errors import VenvError

                raise VenvError(f"cannot create {state}: {exc.strerror}",
                                hint="Check that the directory is writable.") from None
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    self._release()
                    raise
                print(f"venvfill: waiting for another venvfill run on {self.venv} to finish ...",
                      file=sys.stderr, flush=True)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            if _is_file_at(self.fd, lock):
                return self.created
            # The run waited for had created the venv and failed before building it,
            # so it removed the directory, lock file and all: this lock guards a file
            # no later run can open, and a third run would not wait for it.  Again.
            os.close(self.fd)
            self.fd = -1

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._release()

    def _release(self) -> None:
        if self.created and not os.path.exists(os.path.join(self.venv, "pyvenv.cfg")):
            # A run waiting for this lock finds its lock file gone and starts over
            # (``__enter__``).
            import shutil

            shutil.rmtree(self.venv, ignore_errors=True)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _is_file_at(fd: int, path: str) -> bool:
    # Whether ``fd`` is the file now at ``path`` (not one removed since it was opened).
    try:
        st = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)
