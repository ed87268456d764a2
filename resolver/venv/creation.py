"""The builder (``target_side/builder.py``) at work on a venv: started, waited for,
or undone.

Kept apart from venv/environment.py, which decides *whether* and *how* a venv is
built, because the replay of a recipe (_speed/recipes.py) marks and undoes new venvs
too and must not import what deciding needs (the target, and with it
``packaging``).  Standard library only, and little of it.
"""

from __future__ import annotations

import marshal
import os

from ..owned import STATE_DIR
from ..target.target_side import script_source

TYPE_CHECKING = False  # not typing's: the replay of a recipe imports this module
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CREATING = "creating"
"""Marker present while a venv is being made: a venv left with it is half-made."""
RELOCATABLE = "relocatable"
"""Marker of a venv made with --relocatable (the choice sticks until --clear)."""
_TIMEOUT = 300.0
"""Seconds a builder may take; one that hangs (a stuck file system) is stopped."""


def begin(venv: str) -> None:
    """Mark ``venv`` as being made, until ``Creation.wait`` (or the replay) is done."""
    state = os.path.join(venv, STATE_DIR)
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, CREATING), "wb"):
        pass


def launch(executable: str, spec: Mapping[str, Any], *, relocatable: bool) -> Creation:
    """Mark the venv as being made and start the builder with ``executable``.

    ``spec``: the builder's arguments (see target/target_side/builder.py), the venv's path as ``dir``.
    Raises OSError if the interpreter cannot be started.
    """
    venv = spec["dir"]
    # marshal version 4: what the builder's oldest Python (3.8) reads.
    argument = marshal.dumps(dict(spec), 4).hex()
    begin(venv)
    # posix_spawn, not subprocess: a fill of cached wheels need not import
    # subprocess (signal, selectors, threading ...), which costs more than the
    # builder takes to start.  Both output streams go to one pipe; a failure is
    # reported with its last line.
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawnp(
            executable, [executable, "-I", "-c", script_source("builder.py"), argument],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_DUP2, write_end, 1),
                          (os.POSIX_SPAWN_DUP2, write_end, 2)],
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return Creation(venv, executable, pid, read_end, relocatable)


class Creation:
    """A builder at work on the venv."""

    def __init__(self, venv: str, executable: str, pid: int, output: int,
                 relocatable: bool) -> None:
        self.venv = venv
        self.executable = executable
        self.pid = pid
        self.relocatable = relocatable
        self._output = output
        self._status: int | None = None

    def finished(self, timeout: float = _TIMEOUT) -> tuple[int, str]:
        """Wait for the builder (killing it after ``timeout`` s); its exit code and output."""
        import select
        import time

        if self._output < 0:
            return self._reap(), ""  # read before
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._output], [], [], left)[0]:
                    self.kill()
                    chunks.append(f"\n(no answer in {timeout:.0f} s)".encode())
                    break
                chunk = os.read(self._output, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self._output)
            self._output = -1
        return self._reap(), b"".join(chunks).decode(errors="replace")

    def kill(self) -> None:
        """Stop the builder now (if it is still running)."""
        import signal

        if self._status is None:
            try:  # noqa: SIM105 - contextlib is an import this module avoids
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _reap(self) -> int:
        if self._status is None:
            self._status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self._status

    def wait(self) -> None:
        """Wait for the venv; raise VenvError if it could not be made."""
        code, output = self.finished()
        if code != 0:
            from ..errors import VenvError  # errors.py imports typing: only when failing

            last = (output.strip().splitlines() or ["(no output)"])[-1]
            raise VenvError(
                f"creating the venv at {self.venv} with {self.executable} failed: {last}",
                hint="Check that the directory is writable and that there is free space.",
            )
        state = os.path.join(self.venv, STATE_DIR)
        os.unlink(os.path.join(state, CREATING))
        flag = os.path.join(state, RELOCATABLE)
        if self.relocatable:
            with open(flag, "wb"):
                pass
        elif os.path.lexists(flag):
            os.unlink(flag)

    def cancel(self) -> None:
        """Stop the builder and remove what it made.

        Only for a new venv: nothing was there but venvfill's own directory.
        """
        if self._status is None:
            self.kill()
            self.finished()
        undo_new(self.venv)


def undo_new(venv: str) -> None:
    """Empty a venv that was being made: all but venvfill's directory, and the markers."""
    import shutil

    for name in os.listdir(venv):
        if name != STATE_DIR:
            path = os.path.join(venv, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:  # noqa: SIM105 - contextlib is an import this module avoids
                    os.unlink(path)
                except FileNotFoundError:
                    pass
    for marker in (CREATING, RELOCATABLE):
        try:  # noqa: SIM105
            os.unlink(os.path.join(venv, STATE_DIR, marker))
        except FileNotFoundError:
            pass
