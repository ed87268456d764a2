"""One writer at a time: an exclusive lock in the venv, ``.venvfill/lock``.

Taken before the venv is probed, so a second run waits, then sees the state
the first one left.  ``flock`` locks belong to the open file and vanish with
the process, so a killed run never leaves a stale lock.  The lock file is the
one thing ``--clear`` keeps (see target/target_side/builder.py): deleting it while held would let
a third run take a lock on a new file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys

from ..owned import LOCK_NAME, STATE_DIR

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

# Standard library only, and little of it: the up-to-date path (_speed/quick.py) holds
# this lock, so importing this module must cost next to nothing.



class exclusive:  # a class, not @contextmanager: contextlib costs start-up time
    """Hold the venv's lock; ``as`` gives whether this run found no venv directory.

    True only if no other run held the lock meanwhile: a run that waited must
    look at what the other one left, not at what it saw before waiting.

    A run that fails leaves nothing behind: a directory it created is removed
    on the way out (venv and all, when the failure came after building it), and
    an empty directory the user made is emptied again.
    """

    def __init__(self, venv: str | Path) -> None:
        self.venv = os.fspath(venv)
        self.fd = -1
        self.created = False
        self.was_empty = False

    def __enter__(self) -> bool:
        while True:
            self.created = not os.path.lexists(self.venv)
            state = os.path.join(self.venv, STATE_DIR)
            lock = os.path.join(state, LOCK_NAME)
            self.was_empty = (not self.created and not os.path.lexists(state)
                              and _empty_dir(self.venv))
            try:
                os.makedirs(state, exist_ok=True)
                self.fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                from ..errors import VenvError

                self._undo()
                raise VenvError(f"cannot create {state}: {exc.strerror}",
                                hint="Check that the directory is writable (and the "
                                "umask lets its owner write).") from None
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    self._release()
                    raise
                print(f"venvfill: waiting for another venvfill run on {self.venv} to finish ...",
                      file=sys.stderr, flush=True)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
                # The run waited for made the directory its own: a failure of ours
                # must not remove what it left, and what we saw before is stale.
                self.created = self.was_empty = False
            if _is_file_at(self.fd, lock):
                return self.created
            # The run waited for had created the venv and failed before building it,
            # so it removed the directory, lock file and all: this lock guards a file
            # no later run can open, and a third run would not wait for it.  Again.
            os.close(self.fd)
            self.fd = -1

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._release(failed=kind is not None)

    def _release(self, failed: bool = True) -> None:
        if failed or not os.path.exists(os.path.join(self.venv, "pyvenv.cfg")):
            # A run waiting for this lock finds its lock file gone and starts over
            # (``__enter__``).
            self._undo()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _undo(self) -> None:
        # Remove what this run made of the directory: all of it, or all it put into
        # an empty one (the user's).
        if not (self.created or self.was_empty):
            return
        import shutil

        if self.created:
            shutil.rmtree(self.venv, ignore_errors=True)
            return
        with os.scandir(self.venv) as entries:
            made = [e.path for e in entries]
        for path in made:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:  # noqa: SIM105 - contextlib is an import this module avoids
                    os.unlink(path)
                except OSError:
                    pass  # gone already; never hide the failure being unwound


def _empty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _is_file_at(fd: int, path: str) -> bool:
    # Whether ``fd`` is the file now at ``path`` (not one removed since it was opened).
    try:
        st = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)
