"""Warn when a package filled into the venv breaks a system package that needs it.

The venv's copy of docutils shadows the system's for every import through the
venv's python, including the system's Sphinx.  If that Sphinx requires
``docutils<0.20`` and we installed 0.20, things may break at run time; the
user should hear about it now, with names.  Only computed when the plan
installs something: it reads the metadata of every system distribution.
"""

from __future__ import annotations

from collections.abc import Mapping

from packaging.markers import Marker, UndefinedComparison
from packaging.utils import canonicalize_name

from ..target.interpreter import Target
from .candidates import installed_requires
from .plan import Plan


def warnings(plan: Plan, target: Target) -> list[str]:
    """One message per system distribution whose requirement a venv install breaks."""
    filled = {s.name: s for s in plan.steps if s.wheel is not None}
    if not filled:
        return []
    markers: Mapping[str, str] = target.markers
    out: list[str] = []
    for dist in target.distributions:
        if dist.name in filled:
            continue
        for req in installed_requires(dist):
            name = canonicalize_name(req.name)
            step = filled.get(name)
            if step is None:
                continue
            if req.marker is not None and not _holds(req.marker, markers):
                continue
            if req.specifier.contains(step.version, prereleases=True):
                continue
            system = next((d for d in target.distributions if d.name == name), None)
            shadowed = f"shadows the system's {system.version}" if system else "is new"
            out.append(
                f"{name} {step.version} in the venv ({shadowed}); the system's "
                f"{dist.display_name} {dist.version} ({dist.source}) requires "
                f"{req.name}{req.specifier}, so it may break when run from the venv")
    return out


def _holds(marker: Marker, markers: Mapping[str, str]) -> bool:
    # A marker the system's metadata gets wrong (``===`` on a name) warns of nothing.
    try:
        return marker.evaluate({**markers, "extra": ""})
    except UndefinedComparison:
        return False
