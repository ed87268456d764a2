"""The probe of a new venv's target, started as soon as the command line is read.

A first fill (no remembered report: _speed/probes.py) waits for the probe, which
starts the target and imports its ``importlib.metadata``: about as long as
venvfill's own imports of its resolver and installer.  Run side by side, the
probe costs nothing; but every import before it starts is time the fill then
waits.  So this module starts it from _speed/quick.py's reading of the command line,
with ``os.posix_spawnp`` and pipes, importing nothing that the replay of a
recipe (tried just before) has not imported already: no subprocess, json,
hashlib or pathlib (measured: the probe started ~30 ms after ``main`` instead of
~60 ms).

Only for a venv that does not exist yet: an existing one is probed under its
lock, so that a concurrent fill cannot be seen half-done.  When a remembered
report may serve instead, _speed/probes.py decides (``probes.start``).
"""

from __future__ import annotations

import os
import time
import zlib

from ..target.target_side import script_source
from . import quick

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

PROBES = "probes"


def memo_file(cache_root: str, python: str) -> str:
    """Where the remembered report for ``python`` is kept (_speed/probes.py)."""
    # zlib, not hashlib: cheaper to import; the record names its interpreter.
    raw = os.fsencode(os.path.abspath(python))
    return os.path.join(cache_root, PROBES,
                        f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.json")


class Early:
    """A probe started before venvfill imports its resolver and installer."""

    def __init__(self, python: str, venv: str) -> None:
        self.python = python
        self.venv = venv
        self.started_ns = time.time_ns()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            self.pid: int | None = os.posix_spawnp(
                python, [python, "-I", "-c", script_source("probe.py"), venv], os.environ,
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, out_write, 1),
                              (os.POSIX_SPAWN_DUP2, err_write, 2)])
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        self._pipes = [out_read, err_read]

    def result(self, timeout: float) -> tuple[int, str, str]:
        """Exit status, output and errors; TimeoutError (the probe killed) after ``timeout`` s."""
        import select

        assert self.pid is not None, "an early probe is used once"
        pipes = self._pipes
        chunks: dict[int, list[bytes]] = {fd: [] for fd in pipes}
        open_fds = list(pipes)
        deadline = time.monotonic() + timeout
        try:
            while open_fds:
                left = deadline - time.monotonic()
                ready = select.select(open_fds, [], [], max(left, 0))[0] if left > 0 else []
                if not ready:
                    self.discard()
                    raise TimeoutError(f"the probe did not finish in {timeout:.0f} s")
                for fd in ready:
                    chunk = os.read(fd, 1 << 16)
                    if chunk:
                        chunks[fd].append(chunk)
                    else:
                        open_fds.remove(fd)
            status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            self.pid = None
        finally:
            self._close()
        out, err = (b"".join(chunks[fd]).decode("utf-8", "replace") for fd in pipes)
        return status, out, err

    def finished(self) -> bool:
        """Whether it has written something (its report, or errors) or ended: no waiting.

        True as well once its output was collected or it was discarded.
        """
        import select

        return not self._pipes or bool(select.select(self._pipes, [], [], 0)[0])

    def discard(self) -> None:
        """Stop it if unused (the fill found the venv made meanwhile, or failed)."""
        import signal

        if self.pid is not None:
            try:  # noqa: SIM105 - contextlib is an import this module avoids
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = None
        self._close()

    def _close(self) -> None:
        for fd in self._pipes:
            os.close(fd)
        self._pipes = []


def start(python: str, venv: str) -> Early | None:
    """The probe of ``python`` for the new venv ``venv``, started; None if pointless."""
    if os.path.lexists(venv):
        return None
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return None  # the fill reports it, with its usual message
    try:
        return Early(python, venv)
    except OSError:
        return None


def start_for(options: dict[str, Any] | None) -> tuple[Early | None, bool]:
    """The early probe for a plain fill (quick.parse's options), and whether that was decided.

    Undecided (None, False) when a remembered report may make the probe
    unnecessary: probes.start_for reads it.
    """
    paths = quick.fill_paths(options)
    if paths is None:
        return None, True
    python, venv, cache_root = paths
    if not os.path.lexists(venv) and os.path.exists(memo_file(cache_root, python)):
        return None, False
    return start(python, venv), True
