r"""Manifests from packaging standards: ``pyproject.toml`` and requirements files.

* ``pyproject.toml``: ``[project].dependencies`` form the group ``project``,
  always filled; each ``[project.optional-dependencies]`` extra and each PEP 735
  ``[dependency-groups]`` group is a group selected with ``--group`` (includes,
  cycles and names that normalise alike as ``packaging.dependency_groups`` has them).
* requirements files: one PEP 508 requirement per line, ``#`` comments, ``\``
  continuations, and ``--hash=sha256:...`` options (as pip-compile writes them),
  which become hash pins.  Other pip options and direct URLs are refused: they
  name indexes and remote files, and venvfill fills from local wheels.

Every requirement becomes an entry whose ``accepted`` is its specifier, so the
system's version is taken when it satisfies it.  Problems are collected and
reported at once, with the file and the group or line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.dependency_groups import DependencyGroupResolver
from packaging.errors import ExceptionGroup
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import ManifestError
from .model import HASH_ALGORITHMS, Entry, Manifest


def _parsed(text: str, where: str, problems: list[str]) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        problems.append(f"{where}: {text!r} is not a valid requirement: {exc}")
        return None


def _entry(req: Requirement | None, group: str, where: str, problems: list[str],
           hashes: frozenset[str] = frozenset()) -> Entry | None:
    if req is None:
        return None
    if req.url:
        problems.append(f"{where}: {str(req)!r} is a direct reference ({req.url}); venvfill "
                        "fills from wheel directories: put the wheel into wheels/ and "
                        f"require {req.name} by version")
        return None
    return Entry(name=canonicalize_name(req.name), display_name=req.name, group=group,
                 accepted=req.specifier,
                 extras=frozenset(canonicalize_name(e) for e in req.extras),
                 marker=req.marker, hashes=hashes)


def from_pyproject(data: Mapping[str, Any], path: Path) -> Manifest:
    """Groups of a pyproject.toml (PEP 621 dependencies and extras, PEP 735 groups)."""
    problems: list[str] = []
    groups: dict[str, tuple[Entry, ...]] = {}
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise ManifestError(str(path), ["[project] must be a table"])

    def requirement_list(value: Any, group: str, where: str) -> tuple[Entry, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{where} must be an array of requirement strings")
            return ()
        found = [_entry(_parsed(v, where, problems), group, where, problems)
                 for v in value]
        return tuple(e for e in found if e is not None)

    groups["project"] = requirement_list(project.get("dependencies", []), "project",
                                         "[project] dependencies")
    extras = project.get("optional-dependencies", {})
    if not isinstance(extras, dict):
        problems.append("[project.optional-dependencies] must be a table")
        extras = {}
    for extra, value in extras.items():
        groups[canonicalize_name(extra)] = requirement_list(
            value, canonicalize_name(extra), f"[project.optional-dependencies] {extra}")

    dependency_groups = data.get("dependency-groups", {})
    if not isinstance(dependency_groups, dict):
        problems.append("[dependency-groups] must be a table")
        dependency_groups = {}
    for name, entries in _dependency_groups(dependency_groups, problems).items():
        if name in groups:
            problems.append(f"[dependency-groups] {name} has the name of a group already "
                            "defined by [project]; rename one of them")
            continue
        groups[name] = entries
    if problems:
        raise ManifestError(str(path), problems)
    return Manifest(path=path, groups=groups, always=("project",))


def _dependency_groups(table: Mapping[str, Any],
                       problems: list[str]) -> dict[str, tuple[Entry, ...]]:
    """PEP 735 groups, includes resolved by ``packaging.dependency_groups``.

    Entries a group includes count for the including group: selecting it is what
    asked for them.
    """
    try:
        groups = DependencyGroupResolver(table)
    except ExceptionGroup as exc:  # names that normalise alike
        problems.extend(f"[dependency-groups]: {e}" for e in exc.exceptions)
        return {}
    found: dict[str, tuple[Entry, ...]] = {}
    for name in dict.fromkeys(canonicalize_name(k) for k in table):
        where = f"[dependency-groups] {name}"
        try:
            requirements = groups.resolve(name)
        except ExceptionGroup as exc:  # cycles, unknown includes, malformed items
            problems.extend(f"{where}: {e}" for e in exc.exceptions)
            continue
        except InvalidRequirement as exc:
            problems.append(f"{where}: {exc}")
            continue
        entries = [_entry(req, name, where, problems) for req in requirements]
        found[name] = tuple(e for e in entries if e is not None)
    return found


def from_requirements(text: str, path: Path) -> Manifest:
    """The group ``requirements`` of a requirements file."""
    problems: list[str] = []
    entries: list[Entry] = []
    logical: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            logical.append((start, pending.strip()))
        pending = ""
    for number, line in logical:
        where = f"line {number}"
        parts = line.split()
        hashes: set[str] = set()
        requirement: list[str] = []
        bad_option = None
        for part in parts:
            if part.startswith("--hash="):
                algo, _, digest = part[len("--hash="):].partition(":")
                if algo not in HASH_ALGORITHMS or not digest:
                    problems.append(f"{where}: {part!r} is not --hash=ALGORITHM:HEXDIGEST")
                hashes.add(f"{algo}:{digest.lower()}")
            elif part.startswith("-") and not requirement:
                bad_option = part
                break
            else:
                requirement.append(part)
        if bad_option is not None:
            problems.append(f"{where}: option {bad_option} is not supported; venvfill reads "
                            "requirements and --hash only (indexes, includes and editable "
                            "installs have no offline meaning here)")
            continue
        entry = _entry(_parsed(" ".join(requirement), where, problems), "requirements",
                       where, problems, frozenset(hashes))
        if entry is not None:
            entries.append(entry)
    if problems:
        raise ManifestError(str(path), problems)
    return Manifest(path=path, groups={"requirements": tuple(entries)})
