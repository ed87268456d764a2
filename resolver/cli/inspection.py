"""``venvfill inspect``: what venvfill sees, without changing anything.

The interpreter, what kind of installation it is, its isolation, its site
directories in the order it searches them, the environment variables that
could mislead, and — given a manifest — where each entry would come from and
why (a dry run).
"""

from __future__ import annotations

import os
from typing import Any

from ..resolve.plan import Plan
from ..target.interpreter import Target, environment_notes


def kind_of(target: Target) -> str:
    """The kind of installation: base, venv, nested venv or look-alike; and PEP 668."""
    if target.kind == "venv":
        prefix = os.path.normpath(target.raw.get("prefix", ""))
        foreign = [d for d in target.carried_dirs
                   if not os.path.normpath(d).startswith(prefix + os.sep)]
        kind = "nested venv" if foreign else "venv"
    elif target.kind == "look-alike":
        kind = "venv look-alike (sys.prefix differs from sys.base_prefix, no pyvenv.cfg)"
    else:
        kind = "base"
    if target.externally_managed:
        kind += ", externally managed (PEP 668)"
    return kind


def to_dict(target: Target) -> dict[str, Any]:
    """The inspection as JSON-ready data."""
    base = set(target.base_site_dirs)
    carried = set(target.carried_dirs)
    return {
        "interpreter": target.executable,
        "version": target.python_version,
        "implementation": target.implementation,
        "kind": kind_of(target),
        "system_site_packages": target.system_site_packages,
        "prefix": target.raw.get("prefix"),
        "base_prefix": target.raw.get("base_prefix"),
        "site_dirs": [{"path": d, "role": "base" if d in base else
                       ("carried into a child venv" if d in carried else "other")}
                      for d in target.site_dirs],
        "distributions": len(target.distributions),
        "tags": [str(t) for t in target.tags[:5]],
        "environment": environment_notes(os.environ),
        "venv": {"path": str(target.venv.path), "exists": target.venv.exists,
                 "is_venv": target.venv.is_venv,
                 "distributions": len(target.venv.distributions)},
    }


def render(target: Target) -> str:
    """The inspection as text."""
    data = to_dict(target)
    isolation = ("a venv made from it sees the system's site-packages"
                 if target.system_site_packages else
                 "isolated: a venv made from it does not see the system's site-packages")
    lines = [
        f"interpreter:  {data['interpreter']} ({target.implementation} {data['version']})",
        f"kind:         {data['kind']}",
        f"isolation:    {isolation}",
        f"prefix:       {data['prefix']} (base {data['base_prefix']})",
        f"wheel tags:   {', '.join(data['tags'])}, ... ({len(target.tags)} in all)",
        f"packages:     {data['distributions']} distributions visible",
        "site directories, in search order:",
    ]
    lines.extend(f"  {d['path']}  [{d['role']}]" for d in data["site_dirs"])
    venv = target.venv
    state = ("not created yet" if not venv.exists else
             f"a venv with {len(venv.distributions)} distributions of its own"
             if venv.is_venv else "exists, not a venv")
    lines.append(f"venv:         {venv.path}: {state}")
    lines.extend(f"note:         {n}" for n in data["environment"])
    return "\n".join(lines) + "\n"


def reasons(plan: Plan, target: Target) -> list[dict[str, str]]:
    """Where each manifest entry would come from, and why."""
    out = []
    for entry in plan.entries:
        step = plan.step(entry.name)
        if step is None:
            continue
        system = target.system_copy(entry.name)
        if step.source in ("base", "parent"):
            why = f"the system's {step.version} satisfies '{entry.accepted or 'any'}'"
            if step.action == "remove":
                why += "; the venv's own copy would be removed"
        elif step.source == "venv":
            why = "already in the venv, and it fits"
        else:
            pin = f" (pin =={entry.installed})" if entry.installed else ""
            have = (f"the system's {system.version} does not satisfy "
                    f"'{entry.accepted}'" if system else "the system does not have it")
            why = f"{have}; filled from {step.wheel.path if step.wheel else '?'}{pin}"
        out.append({"name": entry.name, "group": entry.group, "version": str(step.version),
                    "source": step.source, "why": why})
    for entry in plan.skipped:
        out.append({"name": entry.name, "group": entry.group, "version": "", "source": "",
                    "why": f"skipped: marker '{entry.marker}' is false for the target"})
    return out
