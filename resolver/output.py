"""Standard output, written once and flushed: a report that cannot be written is an error.

The venv may be filled when standard output turns out to be closed (``>&-``),
a pipe whose reader left, or a file on a full disk.  That is not a bug in
venvfill: it says so on standard error (when it can) and exits with
``EXIT_CODE``, the venv staying as the fill left it.  Standard library only:
the up-to-date path reports through this module.
"""

from __future__ import annotations

import os
import sys

EXIT_CODE = 11
KIND = "output error"


class Unwritable(Exception):
    """Standard output could not take the report; ``str`` says why."""


def emit(text: str) -> None:
    """Write ``text`` to standard output and flush it; Unwritable if that fails."""
    stream = sys.stdout
    if stream is None:
        raise Unwritable("standard output is closed")
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        _silence(stream)
        raise Unwritable(why) from None


def _silence(stream: object) -> None:
    # What is still buffered would fail again when the interpreter flushes it on the
    # way out ("Exception ignored ...", exit status 120): point the descriptor at
    # /dev/null, so that flush succeeds and says nothing.
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(fd, stream.fileno())  # type: ignore[attr-defined]
        finally:
            os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


def complain(message: str) -> None:
    """Say ``message`` on standard error, if standard error can take it."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def failed(exc: Unwritable) -> int:
    """Report a report that could not be written; the exit code."""
    complain(f"venvfill: {KIND}: the run finished, but its report could not be written "
             f"to standard output: {exc}\nCheck where standard output goes (a closed "
             "descriptor, a pipe whose reader exited, a full disk).")
    return EXIT_CODE
