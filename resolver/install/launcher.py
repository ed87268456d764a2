"""Script launchers for a relocatable venv.

A script's shebang normally names the venv's python by absolute path, which
breaks when the venv is moved.  A relocatable venv's scripts start with a
``/bin/sh`` trampoline instead, which runs the ``python`` next to the script's
real location (following symlinks, so a link to the script elsewhere still
works).  The trampoline is also a Python string literal, so Python skips it —
the trick installer uses for long shebangs.
"""

from __future__ import annotations

TRAMPOLINE = (
    b"#!/bin/sh\n"
    b"'''exec' \"$(dirname -- \"$(readlink -f -- \"$0\")\")/python\" \"$0\" \"$@\"\n"
    b"' '''\n"
)

PLACEHOLDER = "python"
"""The interpreter name given to installer, whose ``#!python`` line we then replace."""


def relocate(data: bytes) -> bytes:
    """Replace a leading ``#!python`` line with the trampoline; other files are kept."""
    first, _, rest = data.partition(b"\n")
    if first.rstrip(b"\r") != b"#!" + PLACEHOLDER.encode():
        return data
    return TRAMPOLINE + rest
