"""Work done ahead, while the early probe runs: read, then unpack, what is likely needed.

While the target interpreter is probed a cold fill has nothing else to do
(resolution needs the target's facts), so it guesses: the newest wheel of
each name asked for and, breadth first, of each name they require (markers,
extras and tags are not judged: that needs the probe).  A wheel that fails
here is skipped: resolution reads it again, and verifying unpacks it again,
and they report it if it is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from ..cache import unpacked
from ..errors import WheelError
from ..sources.wheelhouse import LocalWheel, Wheelhouse

_SMALL = 1 << 20
"""Only wheels smaller than this are unpacked ahead: the probe's answer waits for
one small wheel at most, and the big ones are split between all cores afterwards."""


def read_ahead(house: Wheelhouse, names: Iterable[str],
               stop: Callable[[], bool]) -> list[LocalWheel]:
    """Read the METADATA resolution will likely ask for, until ``stop()``; the wheels read."""
    queue = [canonicalize_name(n) for n in names]
    seen = set(queue)
    done = []
    for name in queue:  # grows as it goes
        if stop():
            break
        wheels = house.wheels.get(name)
        if not wheels:
            continue
        try:
            meta = wheels[0].metadata()
        except WheelError:
            continue
        done.append(wheels[0])
        for req in meta.requires_dist:
            dep = canonicalize_name(req.name)
            if dep not in seen:
                seen.add(dep)
                queue.append(dep)
    return done


def unpack_ahead(wheels: Sequence[LocalWheel], cache_root: Path,
                 stop: Callable[[], bool]) -> int:
    """Unpack the small ones of ``wheels``, smallest first, until ``stop()``; how many.

    The wheels read ahead are likely to be installed, and their entries made now
    are found when the plan is verified.  One that is not installed after all
    (the base has it) is an entry no venv uses, which ``cache gc`` removes: the
    price of the guess.
    """
    sized = []
    for wheel in wheels:
        try:
            size = os.stat(wheel.path).st_size
        except OSError:
            continue
        if size < _SMALL:
            sized.append((size, wheel.filename, wheel))
    done = 0
    for _, _, wheel in sorted(sized, key=lambda s: s[:2]):
        if stop():
            break
        try:
            unpacked.unpack(wheel, cache_root)
        except (WheelError, OSError):
            continue
        done += 1
    return done
