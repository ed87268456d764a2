"""Hash pins: the wheels we install must be the very files the manifest names.

A manifest entry may list ``hashes``; the wheel chosen for it must match one of
them.  With ``--require-hashes`` every wheel to install — dependencies included
— needs a pin (an entry for it with ``hashes``).  Distributions kept from the
system or the venv are not installed, so they are not checked.  Every problem
is reported at once, with the digest to paste.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import NormalizedName

from ..errors import HashError
from ..manifest.model import Entry
from ..sources.wheelhouse import LocalWheel, file_digest
from .plan import Plan


def check(plan: Plan, entries: Sequence[Entry], *, require: bool) -> frozenset[NormalizedName]:
    """Raise HashError unless every wheel to install matches its pins; the names pinned.

    A pinned wheel is installed from the file just checked, not linked from the
    cache (fill.py): its installed bytes are then the pinned file's.
    """
    pins: dict[NormalizedName, set[str]] = {}
    for entry in entries:
        if entry.hashes:
            pins.setdefault(entry.name, set()).update(entry.hashes)
    def hexdigest(wheel: LocalWheel, algorithm: str = "sha256") -> str:
        # sha256 through the wheel: an index wheel is not downloaded before this check.
        return wheel.sha256() if algorithm == "sha256" else file_digest(wheel.path, algorithm)

    problems: list[str] = []
    for step in plan.changes:
        if step.wheel is None:
            continue
        want = pins.get(step.name)
        if not want:
            if require:
                problems.append(
                    f"{step.wheel.path} ({step.name} {step.version}) has no hash pin; add "
                    f"hashes = [\"sha256:{hexdigest(step.wheel)}\"] to its manifest entry "
                    "(or an entry for it) after checking the file")
            continue
        algorithms = sorted({w.split(":", 1)[0] for w in want})
        actual = {a: hexdigest(step.wheel, a) for a in algorithms}
        if not any(f"{a}:{d}" in want for a, d in actual.items()):
            expected = ", ".join(sorted(want))
            problems.append(
                f"{step.wheel.path} ({step.name} {step.version}): expected {expected}; "
                f"the file is {', '.join(f'{a}:{d}' for a, d in actual.items())}")
    if not problems:
        return frozenset(s.name for s in plan.changes if s.wheel is not None and s.name in pins)
    raise HashError(
        "wheels do not match the manifest's hash pins:\n"
        + "\n".join(f"  - {p}" for p in problems),
        hint="A mismatch means the file is not the one that was pinned: replace it with "
        "the right file, or update the pin if the change is intended. Nothing was changed.",
    )
