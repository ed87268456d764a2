"""``resolve(entries, target, wheelhouse) -> Plan``: decide, write nothing.

The only I/O is what the sources do lazily (reading a wheel's METADATA), so
this is tested with made-up targets and wheelhouses.  Resolution failures
become an UnsatisfiableError that spells out, per package, who needs it, what
the system has, what the wheel directories have, and what to do.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from typing import Literal, NamedTuple, Optional

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from resolvelib.structs import RequirementInformation

from ..acceleration import PLAIN, Acceleration
from ..errors import UnsatisfiableError
from ..manifest.model import BUILD_GROUP, Entry
from ..sources.wheelhouse import LocalWheel, Wheelhouse
from ..target.interpreter import Installed, Source, Target
from .candidates import Candidate, Finder, Requirement, SdistBuilder, WheelSource, from_entry
from .policy import DEFAULT, BuildPolicy, with_entries
from .provider import Provider

Action = Literal["keep", "install", "replace", "remove"]


class Step(NamedTuple):
    """What happens to one distribution.

    ``keep``: already visible, nothing to do.  ``install``: a wheel goes into
    the venv.  ``replace``: the venv's copy (``old``) is uninstalled and a wheel
    installed.  ``remove``: the venv's copy is uninstalled so that the system's
    acceptable one (``source``) becomes visible again.
    """

    action: Action
    name: NormalizedName
    version: Version
    source: Source
    requested: bool
    installed: Optional[Installed] = None
    wheel: Optional[LocalWheel] = None
    old: Optional[Installed] = None


class Plan(NamedTuple):
    """The resolution's outcome for one run."""

    entries: tuple[Entry, ...]
    skipped: tuple[Entry, ...]
    steps: tuple[Step, ...]

    @property
    def changes(self) -> tuple[Step, ...]:
        """Steps that write into the venv."""
        return tuple(s for s in self.steps if s.action != "keep")

    def step(self, name: NormalizedName) -> Step | None:
        """The step for ``name``, if it is part of the plan."""
        return next((s for s in self.steps if s.name == name), None)

    def script_sources(self) -> tuple[Installed, ...]:
        """Manifest entries served from outside the venv: their scripts go into bin/."""
        requested = {e.name for e in self.entries}
        return tuple(s.installed for s in self.steps
                     if s.name in requested and s.source in ("base", "parent")
                     and s.installed is not None)


MAX_ROUNDS = 200_000
"""Rounds of resolution before giving up, as pip allows: real dependency graphs of
old indexes need thousands of rounds of back-tracking, and a round costs well under a
millisecond."""


def active(entries: Sequence[Entry], target: Target) -> tuple[Entry, ...]:
    """The entries whose markers hold for the target: those the plan requests."""
    from packaging.markers import UndefinedComparison

    try:
        return tuple(e for e in entries
                     if e.marker is None or e.marker.evaluate({**target.markers, "extra": ""}))
    except UndefinedComparison as exc:
        from ..errors import ManifestError

        raise ManifestError("the manifest", [f"a marker cannot be evaluated for the "
                                             f"target: {exc}"]) from None


def resolve(entries: Sequence[Entry], target: Target, wheelhouse: Wheelhouse,
            remote: WheelSource | None = None, builder: SdistBuilder | None = None,
            reporter: BaseReporter[Requirement, Candidate, str] | None = None,
            dropin: bool = False, pre: bool = False,
            build_policy: BuildPolicy = DEFAULT, max_rounds: int = MAX_ROUNDS,
            speed: Acceleration = PLAIN) -> Plan:
    """Choose a distribution for every entry and every dependency of what we install.

    ``reporter``: told of resolvelib's progress (a prestage stages what it pins).
    ``dropin``: messages speak mkvenv's options (``--dir``), for the QEMU drop-in.
    ``pre``: pre-releases rank with final releases for every package (``--pre``).
    ``build_policy``: the command line's --no-binary/--only-binary/--no-build; the
    entries' own ``no-binary``/``only-binary`` are added to it here.
    ``speed``: gives the resolvelib resolver (acceleration.py).
    """
    chosen = active(entries, target)
    skipped = tuple(e for e in entries if e not in chosen)
    build_policy = with_entries(build_policy, [e.name for e in chosen if e.no_binary],
                                [e.name for e in chosen if e.only_binary])
    finder = Finder(target, wheelhouse, remote, builder, pre=pre, policy=build_policy)
    provider = Provider(finder)
    resolver: Resolver[Requirement, Candidate, str] = speed.resolver(
        provider, reporter if reporter is not None else BaseReporter())
    try:
        result = resolver.resolve([from_entry(e) for e in chosen], max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        raise _explain(exc.causes, target, wheelhouse, finder, provider,
                       online=remote is not None, dropin=dropin) from None
    except ResolutionTooDeep:
        circling = sorted(provider.asked, key=lambda i: -provider.asked[i])[:5]
        raise UnsatisfiableError(
            f"resolution gave up after {max_rounds} rounds of backtracking; it was going "
            "round on " + ", ".join(f"{i} (tried {provider.asked[i]} times)"
                                    for i in circling),
            hint=f"Pin {' or '.join(circling[:2])} to one version with 'installed' in the "
            "manifest, or narrow their 'accepted' ranges, to cut the search short.",
        ) from None
    requested = {e.name for e in chosen}
    visible = finder.visible
    steps: list[Step] = []
    for key, candidate in result.mapping.items():
        if "[" in key:
            continue  # extras views; the plain candidate has its own entry
        venv_copy = next((d for d in visible.get(candidate.name, ()) if d.source == "venv"),
                         None)
        action: Action = "keep"
        old = None
        if candidate.source == "wheels":
            action, old = ("replace", venv_copy) if venv_copy else ("install", None)
        elif candidate.source in ("base", "parent") and venv_copy is not None:
            action, old = "remove", venv_copy
        steps.append(Step(action=action, name=candidate.name, version=candidate.version,
                          source=candidate.source, requested=candidate.name in requested,
                          installed=candidate.installed, wheel=candidate.wheel, old=old))
    steps.sort(key=lambda s: (not s.requested, s.name))
    return Plan(entries=chosen, skipped=skipped, steps=tuple(steps))


def _explain(causes: Collection[RequirementInformation[Requirement, Candidate]],
             target: Target, wheelhouse: Wheelhouse, finder: Finder,
             provider: Provider, *, online: bool = False,
             dropin: bool = False) -> UnsatisfiableError:
    # Where wheels go, in the words of the command that was run.
    where = ("the directory given with --dir" if dropin
             else "the wheels directory (--wheels DIR, default ./wheels)")
    by_name: dict[NormalizedName, list[tuple[Requirement, Optional[Candidate]]]] = {}
    for cause in causes:
        req, parent = cause.requirement, cause.parent
        pairs = by_name.setdefault(req.name, [])
        if (req, parent) not in pairs:
            pairs.append((req, parent))
    visible = finder.visible
    paragraphs: list[str] = []
    fixes: list[str] = []
    conflicts: list[str] = []
    needs: list[str] = []
    for name, pairs in by_name.items():
        lines = [f"{name}:"]
        for req, parent in pairs:
            lines.append(f"  needs {req.describe()}, {_chain(req, parent, provider)}")
        system = [d for d in visible.get(name, ()) if d.source != "venv"]
        if system:
            lines.extend(f"  the system has {d.display_name} {d.version} ({d.source}, "
                         f"{d.location})" for d in system)
        else:
            lines.append(f"  the system has no {name} visible to {target.executable}")
        wheels = wheelhouse.for_name(name)
        if not wheelhouse.dirs:
            lines.append("  no wheel directory is in use (--dir DIR adds one)" if dropin
                         else "  no wheel directory is in use (./wheels does not exist; "
                         "--wheels DIR adds one)")
        elif wheels:
            versions = ", ".join(sorted({str(w.version) for w in wheels}, key=Version))
            lines.append(f"  {wheelhouse.describe()} has {name} {versions}")
        else:
            lines.append(f"  {wheelhouse.describe()} has no wheel of {name}")
        lines.extend(f"  passed over: {r}" for r in finder.rejected.get(name, ()))
        if finder.builder is None:
            lines.extend(f"  {p.name} is there only as an sdist, which is not built here"
                         for p in wheelhouse.sdists.get(name, ()))
        for req, _ in pairs:
            canary = req.entry.canary if req.entry else None
            found = shutil.which(canary) if canary else None
            if found and not system:
                lines.append(
                    f"  '{canary}' is on PATH at {found}, but the Python package '{name}' "
                    f"is not visible to {target.executable}: it was probably installed "
                    "for a different Python interpreter")
        clash = _conflict(pairs, {d.version for d in system} | {w.version for w in wheels})
        if clash:
            asked = [f"{r.describe()} ({_chain(r, parent, provider)})" for r, parent in clash]
            lines.append(f"  no version of {name} can meet "
                         + " and ".join(r.describe() for r, _ in clash) + " at once")
            conflicts.append(f"{name}: " + " conflicts with ".join(asked))
        paragraphs.append("\n".join(lines))
        needs.append(name + ",".join(sorted(
            {f"=={r.pin}" if r.pin else str(r.specifier) for r, _ in pairs} - {""})))
        if clash:
            continue  # no wheel can help: a requirement has to change
        want = " and ".join(sorted({str((r.pin and f'=={r.pin}') or r.specifier or 'any')
                                    for r, _ in pairs}))
        fixes.append(f"a wheel of {name} ({want}) for Python {target.python_version} "
                     f"({target.tags[0]} or py3-none-any)")
    if conflicts:
        change = ("To fix: change one side of each conflict (the manifest's entry, or a "
                  "version of the package that asks for the other): " + "; ".join(conflicts)
                  + ".")
        if fixes:
            change += " Also put " + "; ".join(fixes) + f" into {where}."
        return UnsatisfiableError(
            "cannot satisfy the manifest: its requirements conflict:\n"
            + "\n".join(paragraphs), hint=change, needs=tuple(needs))
    if online:
        return UnsatisfiableError(
            "cannot satisfy the manifest, even with the index:\n" + "\n".join(paragraphs),
            hint=("To fix: change the manifest's constraints, or put " + "; ".join(fixes)
                  + f" into {where}."),
            needs=tuple(needs))
    return UnsatisfiableError(
        "cannot satisfy the manifest offline:\n" + "\n".join(paragraphs),
        hint=("To fix: put " + "; ".join(fixes) + f" into {where}, "
              "or run with --online to fetch what is "
              "missing from the index, or change the manifest's constraints."),
        needs=tuple(needs))


def _conflict(pairs: Sequence[tuple[Requirement, Optional[Candidate]]],
              versions: Collection[Version]) -> list[tuple[Requirement, Optional[Candidate]]]:
    # Two requirements no version can meet together (so the fix is to change one,
    # not to bring a wheel); else none.  Tried on the versions at hand and on points
    # at and just beside every version the requirements name, which decides it for
    # the specifiers met in practice (>=, <, ==, !=, ~=, their combinations).
    def meets(req: Requirement, version: Version) -> bool:
        return req.pin == version if req.pin else req.specifier.contains(version, True)

    points = set(versions)
    for req, _ in pairs:
        named = [req.pin] if req.pin else [Version(s.version.rstrip(".*")) for s in
                                           req.specifier if _is_version(s.version.rstrip(".*"))]
        for v in named:
            if v is not None:
                points |= {v, Version(f"{v.base_version}.1"), Version(f"{v.base_version}.dev0")}
    for i, (first, _) in enumerate(pairs):
        for second, _ in pairs[i + 1:]:
            if not any(meets(first, v) and meets(second, v) for v in points):
                return [pair for pair in pairs if pair[0] in (first, second)]
    return []


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _chain(req: Requirement, parent: Optional[Candidate], provider: Provider) -> str:
    if req.entry is not None and req.entry.group == BUILD_GROUP:
        return "from the sdist's [build-system] (or its backend)"
    if req.entry is not None:
        return f"from the manifest (group [{req.entry.group}])"
    links: list[str] = []
    seen: set[str] = set()
    current = parent
    while current is not None and current.identifier not in seen:
        seen.add(current.identifier)
        links.append(current.describe())
        askers = provider.parents.get(current.identifier, [])
        current = askers[0] if askers else None
    return "required by " + " <- ".join(links) if links else "required"
