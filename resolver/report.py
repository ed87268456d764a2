"""What a fill did, printed for people: a short table, the venv's python last.

The last line of standard output is the venv's interpreter, alone, so that
build scripts can capture it (``| tail -n 1``, or ``-q`` to print only it).
"""

from __future__ import annotations

from .fill import Outcome

_DONE = {"keep": "kept", "install": "installed", "replace": "replaced", "remove": "removed"}


def render(outcome: Outcome, *, verbosity: int = 0) -> str:
    """The report as text; ``verbosity`` -1 prints only the interpreter."""
    target, plan = outcome.target, outcome.plan
    python = str(target.venv.python)
    if verbosity < 0:
        return python + "\n"
    lines = [
        f"venvfill: {'created' if outcome.built else 'reused'} {target.venv.path} "
        f"for Python {target.python_version} ({target.executable}); offline, no index contacted",
    ]
    if outcome.recovered:
        lines.append(f"  repaired: {outcome.recovered}")
    rows = []
    for step in plan.steps:
        if not step.requested and step.action == "keep" and verbosity < 1:
            continue
        action = _DONE[step.action]
        if step.action == "replace" and step.old is not None:
            action += f" (was {step.old.version})"
        if step.action == "remove" and step.old is not None:
            action = f"venv copy {step.old.version} removed, system's used"
        where = step.wheel.filename if step.wheel else step.source
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
    lines.extend(f"  warning: {s}" for s in outcome.scripts.skipped)
    if verbosity >= 1:
        lines.extend(f"  ignored: {i}" for i in outcome.wheelhouse.ignored)
    lines.append(python)
    return "\n".join(lines) + "\n"
