"""Progress and colour on stderr, as terminals and logs each want them.

On a terminal: one line that updates in place (``installing 3/12 meson ...``)
and colour for errors and warnings.  Anywhere else (CI logs, pipes): one plain
line per step, no escape codes.  ``NO_COLOR`` (any value) turns colour off
everywhere; ``-q`` turns progress off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str, int, int, str], None]
"""``progress(step, done, total, what)``: e.g. ("installing", 3, 12, "meson-1.8.1...")."""


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal that is not dumb, and never with NO_COLOR."""
    return ("NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
            and _is_tty(stream))


def paint(text: str, code: str, stream: TextIO) -> str:
    """``text`` in the SGR colour ``code`` when the stream gets colour."""
    return f"\x1b[{code}m{text}\x1b[0m" if use_colour(stream) else text


def reporter(stream: TextIO | None = None, *, quiet: bool = False) -> Progress:
    """A progress callback for ``stream`` (default stderr)."""
    out = stream or sys.stderr
    if quiet:
        return silent  # itself: callers skip work done only for progress (install.apply)
    if _is_tty(out):
        def live(step: str, done: int, total: int, what: str) -> None:
            end = "\n" if done == total else ""
            out.write(f"\r\x1b[2K  {step} {done}/{total} {what}{end}")
            out.flush()
        return live

    def plain(step: str, done: int, total: int, what: str) -> None:
        out.write(f"venvfill: {step} {done}/{total} {what}\n")
        out.flush()
    return plain


def silent(step: str, done: int, total: int, what: str) -> None:
    """A progress callback that shows nothing."""
