"""Which implementation of the acceleration points a run uses: chosen here, and only here.

``VENVFILL_SPEED=plain`` runs the plain fill (resolver/acceleration.py): no
remembered state is read or kept, nothing is done ahead or in other processes.
Unset (or ``accelerated``), every speed-up of resolver/_speed/ is on.  Both make
the same venvs; the plain fill is there to show that, and to rule the speed-ups
out when something looks wrong.

Imported before anything else is known about the run: the standard library only.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..acceleration import Acceleration

ENV = "VENVFILL_SPEED"
CHOICES = ("accelerated", "plain")


def accelerated(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the run is accelerated (an unknown value is not: ``chosen`` says why)."""
    return environ.get(ENV, "") in ("", "accelerated")


def chosen(environ: Mapping[str, str] = os.environ, **state: Any) -> Acceleration:
    """The implementation for this run; ``state``: what the accelerated one starts with."""
    value = environ.get(ENV, "")
    if value not in ("", *CHOICES):
        from ..errors import UsageError

        raise UsageError(f"{ENV}={value!r} is not one of: {', '.join(CHOICES)}",
                         hint=f"Unset {ENV}, or set it to 'plain' to turn every "
                         "speed-up off.")
    if value == "plain":
        from ..acceleration import Acceleration

        return Acceleration()
    from .._speed.accelerated import Accelerated

    return Accelerated(**state)
