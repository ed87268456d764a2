"""Requirements and candidates: what the resolver asks for and what it may pick.

The provider (resolve/provider.py) is a direct implementation of resolvelib's
interface; the behaviour — which candidate satisfies which requirement, what a
candidate depends on, in which order candidates are offered — lives here.

Policy, in one place:

* A distribution visible from outside the venv (base installation or parent
  venv) is taken when it satisfies the constraint, and never replaced.  Its own
  dependencies are the system's business: they are not re-resolved (a distro's
  metadata often names packages it ships under other names or vendors).
* A distribution in the venv is ours: for a manifest entry with an
  ``installed`` pin it must be exactly the pin, otherwise it must satisfy the
  constraint; its dependencies are resolved like a wheel's.
* A wheel must match the target's tags and ``Requires-Python``; with a pin only
  the pinned version is offered, otherwise the newest final release first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional, Protocol

from packaging.markers import UndefinedComparison
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import Version

from ..errors import WheelError
from ..manifest.model import Entry
from ..sources.wheelhouse import LocalWheel, Wheelhouse
from ..target.interpreter import Installed, Source, Target
from .policy import DEFAULT, BuildPolicy


class WheelSource(Protocol):
    """Where more wheels come from (remote.Remote): wheels of a name, newest first."""

    def cached(self, name: NormalizedName) -> Sequence[LocalWheel]:
        """Wheels of ``name`` already on this machine."""

    def for_name(self, name: NormalizedName) -> Sequence[LocalWheel]:
        """Wheels of ``name`` from the source itself."""

    def sdists(self, name: NormalizedName) -> Sequence[RemoteSdist]:
        """The sdists of ``name``, newest first (built when nothing else will do)."""


class RemoteSdist(Protocol):
    """An sdist a source offers (remote.IndexSdist)."""

    @property
    def version(self) -> Version:
        """From the file name."""

    @property
    def path(self) -> Path:
        """Where the cache keeps it once fetched (its name is the file's)."""

    def fetch(self, into: Path | None = None) -> Path:
        """The file, downloaded (and checked) into the cache, or into ``into``."""


class SdistBuilder(Protocol):
    """Turns an sdist into a wheel for the target (sdists.Builder)."""

    def build(self, sdist: Path | RemoteSdist, name: NormalizedName,
              version: Version) -> LocalWheel:
        """The built wheel; raises a VenvfillError when it cannot be built."""


def identifier(name: NormalizedName, extras: frozenset[NormalizedName]) -> str:
    """Resolvelib's key: ``name`` or ``name[extra1,extra2]``."""
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True)
class Candidate:
    """A version of a project from one source; ``extras`` makes it an extras view."""

    name: NormalizedName
    version: Version
    source: Source
    installed: Optional[Installed] = None
    wheel: Optional[LocalWheel] = None
    extras: frozenset[NormalizedName] = frozenset()

    @property
    def identifier(self) -> str:
        """Resolvelib's key for this candidate."""
        return identifier(self.name, self.extras)

    def without_extras(self) -> Candidate:
        """The plain candidate an extras view stands on."""
        return Candidate(self.name, self.version, self.source, self.installed, self.wheel)

    def describe(self) -> str:
        """Name, version and source, for messages."""
        where = f"wheels: {self.wheel.filename}" if self.wheel else self.source
        return f"{self.name} {self.version} ({where})"

    def requires_dist(self) -> tuple[PkgRequirement, ...]:
        """Declared dependencies; empty for the system's distributions without extras."""
        if self.wheel is not None:
            return self.wheel.metadata().requires_dist
        if self.installed is None:
            return ()
        if self.source != "venv" and not self.extras:
            return ()
        return installed_requires(self.installed)


@dataclass(frozen=True)
class Requirement:
    """A constraint on one identifier, from the manifest or from a candidate.

    ``pin`` is a manifest entry's ``installed``: what a venv copy or a wheel
    must be exactly.  ``same_as`` ties ``X[extra]`` to the very candidate
    chosen for ``X`` (resolvelib's extras pattern: ``X[e]==v`` depends on
    ``X==v``).
    """

    name: NormalizedName
    specifier: SpecifierSet
    extras: frozenset[NormalizedName] = frozenset()
    pin: Optional[Version] = None
    entry: Optional[Entry] = None
    parent: Optional[Candidate] = None
    same_as: Optional[Candidate] = field(default=None, compare=False)
    _memo: dict[Version, bool] = field(default_factory=dict, compare=False, repr=False)
    """``specifier.contains`` per version: resolvelib asks again every round."""
    verdicts: dict[int, tuple[Candidate, bool]] = field(default_factory=dict, compare=False,
                                                       repr=False)
    """``is_satisfied_by`` per candidate object (by id, the candidate kept alive with
    it): resolvelib re-checks every pin against every requirement each round."""

    @cached_property
    def names_prerelease(self) -> bool:
        """Whether pre-releases rank with final releases for it (PEP 440).

        So when its specifier names a pre-release (``>=0.1.0a1``), or its manifest
        entry says ``prereleases = true``.  Asked once per name per resolution round.
        """
        return bool(self.specifier.prereleases) or bool(self.entry and self.entry.prereleases)

    @cached_property
    def bounds(self) -> tuple[bool, bool]:
        """Whether it pins one version, and whether it bounds versions from above.

        As pip's provider judges them: ``==V`` and ``===V`` pin; ``<``, ``<=``,
        ``~=`` and ``==V.*`` bound from above.  A manifest ``installed`` pins too.
        """
        pinned = self.pin is not None or self.same_as is not None
        upper = False
        for spec in self.specifier:
            if spec.operator == "===" or (spec.operator == "=="
                                          and not spec.version.endswith(".*")):
                pinned = True
            elif spec.operator in ("<", "<=", "~=", "=="):
                upper = True
        return pinned, upper

    @property
    def identifier(self) -> str:
        """Resolvelib's key for what this requirement constrains."""
        return identifier(self.name, self.extras)

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` may fill this requirement under the policy above."""
        if self.same_as is not None:
            return candidate.without_extras() == self.same_as.without_extras()
        if candidate.source in ("base", "parent"):
            return self._contains(candidate.version)
        if self.pin is not None:
            return candidate.version == self.pin
        return self._contains(candidate.version)

    def _contains(self, version: Version) -> bool:
        known = self._memo.get(version)
        if known is None:
            known = self._memo[version] = self.specifier.contains(version, prereleases=True)
        return known

    def pins(self, version: Version) -> bool:
        """Whether this requirement asks for exactly ``version`` (``==``, or ``installed``)."""
        if self.pin == version:
            return True
        return any(s.operator in ("==", "===") and "*" not in s.version
                   and s.contains(version, prereleases=True) for s in self.specifier)

    def describe(self) -> str:
        """PEP 508-like text, for messages."""
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        text = f"{self.name}{extras}{self.specifier}"
        if self.pin is not None:
            text += f" (installs =={self.pin})"
        return text


def from_entry(entry: Entry) -> Requirement:
    """The requirement a manifest entry stands for."""
    return Requirement(name=entry.name, specifier=entry.accepted, extras=entry.extras,
                       pin=entry.installed, entry=entry)


class Finder:
    """Offers candidates per identifier, and remembers why others were passed over.

    Built once per resolution; ``rejected`` feeds the error message when the
    manifest cannot be satisfied.  (A plain class: an object with a state, made
    once per run, that a dataclass's generated methods would not serve.)
    """

    def __init__(self, target: Target, wheelhouse: Wheelhouse,
                 remote: Optional[WheelSource] = None,
                 builder: Optional[SdistBuilder] = None, *, pre: bool = False,
                 policy: BuildPolicy = DEFAULT) -> None:
        self.target = target
        self.pre = pre
        self.policy = policy
        """Which names may use wheels, which may be built (--no-binary, --only-binary)."""
        """Pre-releases rank with final releases for every name (``--pre``)."""
        self.wheelhouse = wheelhouse
        self.remote = remote
        """Indexes to ask last (``--online``); None: never."""
        self.builder = builder
        """Builds the wheelhouse's sdists when no wheel will do; None: sdists are not used."""
        self.rejected: dict[NormalizedName, list[str]] = {}
        self.visible = self.target.visible()
        self._python = Version(self.target.python_version)
        self._ranked: dict[tuple[int, bool],
                           tuple[Sequence[LocalWheel], list[tuple[Version, LocalWheel]]]] = {}
        self._ranks: dict[frozenset[Tag], int] = {}
        self._offers: dict[tuple[int, frozenset[NormalizedName]],
                           tuple[LocalWheel, Candidate | None]] = {}
        """By wheel (its identity, the wheel kept alive with it) and extras: what
        ``_wheels`` offered for it, None for a wheel the target cannot run."""

    def candidates(self, name: NormalizedName, extras: frozenset[NormalizedName],
                   prereleases: bool = False) -> Iterator[Candidate]:
        """Visible distributions first (venv, parent, base), then wheels newest first.

        Final releases before pre-releases, unless ``prereleases`` (PEP 440: a
        specifier naming a pre-release, ``--pre``, an entry's ``prereleases``).
        Lazy: a wheel's METADATA is read only when the resolver gets this far.
        Called once per identifier per resolution round.
        """
        for dist in self.visible.get(name, ()):
            yield Candidate(dist.name, dist.version, dist.source, installed=dist,
                            extras=extras)
        no_wheels = self.policy.why_no_wheels(name)
        no_builds = self.policy.why_no_builds(name)
        local = () if no_wheels else self.wheelhouse.for_name(name)
        if no_wheels and self.wheelhouse.for_name(name):
            self.reject(name, f"its wheels are not used ({no_wheels})")
        yield from self._wheels(name, extras, local, prereleases)
        # A version is built from its sdist only when none of its wheels fits the
        # target (another platform, another Python), as pip and uv do.
        offered = self._fitting(local)
        if self.builder is not None:
            yield from self._built(name, extras, offered, no_builds)
        if self.remote is not None:
            # Only reached when nothing visible or local would do: earlier downloads
            # first, then the index, for what the system and the wheelhouse lack.
            cached = () if no_wheels else self.remote.cached(name)
            yield from self._wheels(name, extras, cached, prereleases)
            index = () if no_wheels else self.remote.for_name(name)  # asked only now
            yield from self._wheels(name, extras, index, prereleases)
            if self.builder is not None:
                offered |= self._fitting(cached) | self._fitting(index)
                for sdist in self.remote.sdists(name):
                    if sdist.version in offered:
                        continue
                    offered.add(sdist.version)
                    if no_builds:
                        self.reject(name, f"{sdist.path.name} is not built ({no_builds})")
                        continue
                    wheel = self.builder.build(sdist, name, sdist.version)
                    yield from self._wheels(name, extras, [wheel])

    def _fitting(self, wheels: Sequence[LocalWheel]) -> set[Version]:
        # The versions of which a wheel fits the target's tags.
        return {version for version, _ in self._best_wheels(wheels, True)}

    def _wheels(self, name: NormalizedName, extras: frozenset[NormalizedName],
                wheels: Sequence[LocalWheel], prereleases: bool = False,
                ) -> Iterator[Candidate]:
        for version, best in self._best_wheels(wheels, prereleases):
            # The same object for the same wheel every round (resolvelib asks for a
            # name's candidates again each time): no new dataclass, no second look
            # at Requires-Python, and the verdicts kept per candidate object
            # (Provider.is_satisfied_by) hold across rounds.
            known = self._offers.get((id(best), extras))
            if known is not None and known[0] is best:
                offer = known[1]
            else:
                offer = self._offer(name, version, best, extras)
                self._offers[(id(best), extras)] = (best, offer)
            if offer is not None:
                yield offer

    def _offer(self, name: NormalizedName, version: Version, best: LocalWheel,
               extras: frozenset[NormalizedName]) -> Candidate | None:
        rp = best.metadata().requires_python
        if rp is not None and not rp.contains(self._python, prereleases=True):
            self.reject(name, f"{best.filename} requires Python {rp}; "
                         f"the target is {self.target.python_version}")
            return None
        return Candidate(name, version, "wheels", wheel=best, extras=extras)

    def _best_wheels(self, wheels: Sequence[LocalWheel], prereleases: bool = False,
                     ) -> list[tuple[Version, LocalWheel]]:
        # Each version's best wheel for the target, newest first (final releases
        # first unless ``prereleases``).  Kept per list of wheels (the wheelhouse
        # hands out the same tuple for a name every time): resolvelib asks for a
        # name's candidates again every round.
        key = (id(wheels), prereleases)
        known = self._ranked.get(key)
        if known is not None and known[0] is wheels:
            return known[1]
        by_version: dict[Version, list[LocalWheel]] = {}
        for wheel in wheels:
            by_version.setdefault(wheel.version, []).append(wheel)
        ordered = sorted(by_version, reverse=True, key=lambda v: (
            prereleases or not v.is_prerelease, v))
        ranked = [(version, best) for version in ordered
                  if (best := self._best_wheel(by_version[version])) is not None]
        if isinstance(wheels, tuple):  # the wheelhouse's; other lists are made per call
            self._ranked[key] = (wheels, ranked)
        return ranked

    def _built(self, name: NormalizedName, extras: frozenset[NormalizedName],
               skip: set[Version], refused: str | None) -> Iterator[Candidate]:
        # Sdists newest first, each built only when the resolver gets this far,
        # and not for a version a fitting wheel was offered of.  A build that fails
        # stops the run with its own message.  ``refused``: why none may be built.
        assert self.builder is not None
        versions = []
        for sdist in self.wheelhouse.sdists.get(name, ()):
            try:
                version = parse_sdist_filename(sdist.name)[1]
            except (InvalidSdistFilename, ValueError):
                continue
            if version not in skip:
                versions.append((version, sdist))
        for version, sdist in sorted(versions, key=lambda vs: vs[0], reverse=True):
            if refused:
                self.reject(name, f"{sdist.name} is not built ({refused})")
                continue
            yield from self._wheels(name, extras, [self.builder.build(sdist, name, version)])

    def _best_wheel(self, wheels: list[LocalWheel]) -> LocalWheel | None:
        priority = self.target.tag_priority
        ranked = [(self._rank(w.tags), w) for w in wheels]
        fitting = [(rank, w) for rank, w in ranked if rank < len(priority)]
        if not fitting:
            supported = ", ".join(str(t) for t in self.target.tags[:3])
            for w in wheels:
                self.reject(w.name, f"{w.filename} is not for this target (its tags: "
                             f"{', '.join(sorted(str(t) for t in w.tags))}; the target "
                             f"supports {supported}, ... {len(self.target.tags)} tags in all)")
            return None
        return min(fitting, key=lambda rw: (rw[0], tuple(-x for x in _build_key(rw[1]))))[1]

    def _rank(self, tags: frozenset[Tag]) -> int:
        # The best priority among a wheel's tags; most wheels share a few tag sets.
        rank = self._ranks.get(tags)
        if rank is None:
            priority = self.target.tag_priority
            rank = self._ranks[tags] = min(priority.get(t, len(priority)) for t in tags)
        return rank

    def reject(self, name: NormalizedName, reason: str) -> None:
        """Remember why a candidate of ``name`` was passed over, for the error message."""
        reasons = self.rejected.setdefault(name, [])
        if reason not in reasons:
            reasons.append(reason)

    def dependencies(self, candidate: Candidate) -> list[Requirement]:
        """What ``candidate`` needs, with markers evaluated for the target."""
        markers = self.target.markers
        deps: list[Requirement] = []
        if candidate.extras:
            base = candidate.without_extras()
            deps.append(Requirement(name=candidate.name, specifier=SpecifierSet(
                f"=={candidate.version}"), parent=candidate, same_as=base))
        for req in candidate.requires_dist():
            if candidate.extras:
                # Only what the extras add; the rest comes with the plain candidate.
                if req.marker is None or not any(
                        _evaluate(req, markers, e, candidate) for e in candidate.extras):
                    continue
                if _evaluate(req, markers, "", candidate):
                    continue
            elif req.marker is not None and not _evaluate(req, markers, "", candidate):
                continue
            deps.append(Requirement(
                name=canonicalize_name(req.name), specifier=req.specifier,
                extras=frozenset(canonicalize_name(e) for e in req.extras),
                parent=candidate))
        return deps


def _build_key(wheel: LocalWheel) -> tuple[int, ...]:
    return (wheel.build[0],) if wheel.build else (0,)


def _evaluate(req: PkgRequirement, env: Mapping[str, str], extra: str,
              candidate: Candidate) -> bool:
    # A dependency's marker for the target; one packaging cannot evaluate (``===``
    # or ``~=`` on a value that is no version) is the distribution's fault, named.
    assert req.marker is not None
    try:
        return req.marker.evaluate({**env, "extra": extra})
    except UndefinedComparison as exc:
        where = candidate.wheel.path if candidate.wheel else candidate.describe()
        raise WheelError(
            f"{where}: its requirement '{req}' has a marker that cannot be evaluated "
            f"({exc})",
            hint="The distribution's metadata is malformed; use another version of "
            f"{candidate.name}, or ask its maintainers to fix the marker.") from None


_EGG_SECTION = re.compile(r"^\[(?P<extra>[^:\]]*)(?::(?P<marker>.*))?\]$")


def installed_requires(dist: Installed) -> tuple[PkgRequirement, ...]:
    """Requires-Dist of an installed distribution (``.dist-info`` or ``.egg-info``)."""
    lines: list[str] = []
    text = dist.read_metadata_file("METADATA") or dist.read_metadata_file("PKG-INFO")
    if text is not None:
        head = text.split("\n\n", 1)[0]
        lines = [line[len("Requires-Dist:"):].strip() for line in head.splitlines()
                 if line.startswith("Requires-Dist:")]
    if not lines:
        lines = _egg_requires(dist.read_metadata_file("requires.txt") or "")
    reqs: list[PkgRequirement] = []
    for line in lines:
        try:
            reqs.append(PkgRequirement(line))
        except InvalidRequirement:
            continue  # an installed distribution's bad metadata is not ours to fix
    return tuple(reqs)


def _egg_requires(text: str) -> list[str]:
    # setuptools' requires.txt: plain lines, then "[extra]" or "[extra:marker]" sections.
    out: list[str] = []
    condition = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        section = _EGG_SECTION.match(line)
        if section:
            parts = []
            if section["extra"]:
                parts.append(f'extra == "{section["extra"]}"')
            if section["marker"]:
                parts.append(f"({section['marker']})")
            condition = " and ".join(parts)
            continue
        out.append(f"{line}; {condition}" if condition else line)
    return out
