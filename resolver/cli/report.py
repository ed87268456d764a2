"""What a fill did (or, with --dry-run, would do): text for people, JSON for programs.

The last line of the text report is the venv's interpreter, alone, so build
scripts can capture it (``| tail -n 1``, or ``-q`` to print only it).  The JSON
schema is documented in docs/reference/output.md; keep the two in step.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..errors import VenvfillError
from ..fill import Outcome

_DONE = {"keep": "kept", "install": "installed", "replace": "replaced", "remove": "removed"}
_WOULD = {"keep": "kept", "install": "would install", "replace": "would replace",
          "remove": "would remove"}


def render(outcome: Outcome, *, verbosity: int = 0) -> str:
    """The report as text; ``verbosity`` -1 prints only the interpreter."""
    target, plan = outcome.target, outcome.plan
    python = str(target.venv.python)
    if verbosity < 0:
        return python + "\n"
    if outcome.dry_run:
        venv_line = "would create" if outcome.built else "would reuse"
        tail = "dry run: nothing was changed"
    else:
        venv_line = "created" if outcome.built else "reused"
        tail = "offline, no index contacted"
        if outcome.indexes:
            fetched = sum(1 for s in plan.changes if _from_index(s.wheel))
            tail = (f"online ({', '.join(outcome.indexes)}): {fetched} wheels from the "
                    "index, the rest from the system and local wheels")
    lines = [f"venvfill: {venv_line} {target.venv.path} for Python {target.python_version} "
             f"({target.executable}); {tail}"]
    if outcome.recovered:
        lines.append(f"  repaired: {outcome.recovered}")
    verbs = _WOULD if outcome.dry_run else _DONE
    rows = []
    for step in plan.steps:
        if not step.requested and step.action == "keep" and verbosity < 1:
            continue
        action = verbs[step.action]
        system = target.system_copy(step.name)
        if step.wheel is not None and system is not None:
            action += f" (the system's {system.version} does not fit)"
        if step.action == "replace" and step.old is not None:
            action += f" (was {step.old.version})"
        if step.action == "remove" and step.old is not None:
            gone = "would be removed" if outcome.dry_run else "removed"
            action = f"venv copy {step.old.version} {gone}, system's used"
        where = step.wheel.filename if step.wheel else step.source
        if _from_index(step.wheel):
            where += " (index)"
        if verbosity >= 1 and step.installed is not None:
            where += f" {step.installed.location}"
        rows.append((step.name, str(step.version), where, action))
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            lines.append(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
                         f"{r[3]}")
    hidden = sum(1 for s in plan.steps if not s.requested and s.action == "keep")
    if hidden and verbosity < 1:
        lines.append(f"  (+{hidden} dependencies already satisfied; -v lists them)")
    for entry in plan.skipped:
        lines.append(f"  {entry.display_name}: skipped, marker '{entry.marker}' is false "
                     "for the target")
    if outcome.scripts.written:
        lines.append("  scripts written: " + ", ".join(
            f"{s} ({d})" for s, d in outcome.scripts.written))
    if outcome.scripts.removed:
        lines.append("  scripts removed: " + ", ".join(outcome.scripts.removed))
    lines.extend(f"  warning: {w}" for w in (*outcome.scripts.skipped, *outcome.warnings))
    if verbosity >= 1:
        lines.extend(f"  ignored: {i}" for i in outcome.wheelhouse.ignored)
    lines.append(python)
    return "\n".join(lines) + "\n"


def _from_index(wheel: object) -> bool:
    # An IndexWheel (sources/remote.py), without importing the network code for offline runs.
    return type(wheel).__name__ == "IndexWheel"


def to_json(outcome: Outcome) -> dict[str, Any]:
    """The report as a JSON-ready dict (schema in docs/reference/output.md)."""
    target, plan = outcome.target, outcome.plan
    verbs = _WOULD if outcome.dry_run else _DONE
    packages = []
    actions: dict[str, list[str]] = {v: [] for v in _DONE.values()}
    for step in plan.steps:
        location = (step.installed.location if step.installed is not None
                    else target.venv.scheme.get("purelib"))
        packages.append({
            "name": step.name,
            "version": str(step.version),
            "source": step.source,
            "location": location,
            "requested": step.requested,
            "action": verbs[step.action],
            "wheel": str(step.wheel.path) if step.wheel else None,
            "replaces": str(step.old.version) if step.old is not None else None,
        })
        actions[_DONE[step.action]].append(step.name)
    return {
        "venvfill": __version__,
        "dry_run": outcome.dry_run,
        "up_to_date": False,
        "replayed": False,
        "venv": str(target.venv.path),
        "python": str(target.venv.python),
        "target": {"executable": target.executable, "version": target.python_version,
                   "kind": target.kind},
        "created": outcome.built,
        "repaired": outcome.recovered,
        "packages": packages,
        "actions": actions,
        "scripts": {"written": [{"name": s, "distribution": d}
                                for s, d in outcome.scripts.written],
                    "removed": list(outcome.scripts.removed)},
        "skipped": [{"name": e.name, "group": e.group, "marker": str(e.marker)}
                    for e in plan.skipped],
        "warnings": [*outcome.scripts.skipped, *outcome.warnings],
    }


def error_json(exc: VenvfillError) -> dict[str, Any]:
    """A failure as JSON: kind, message, hint, exit code."""
    return {"venvfill": __version__, "error": {"kind": exc.kind, "message": exc.message,
                                               "hint": exc.hint, "exit_code": exc.exit_code}}
