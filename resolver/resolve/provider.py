"""The resolvelib provider: a direct implementation of resolvelib's interface.

Behaviour lives on Requirement, Candidate and Finder (resolve/candidates.py).  resolvelib
calls these methods by keyword, so parameter names match
``resolvelib.providers.AbstractProvider`` exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Union

from resolvelib.providers import AbstractProvider

from .candidates import Candidate, Finder, Requirement

if TYPE_CHECKING:
    from resolvelib.structs import Matches, RequirementInformation

    Preference = tuple[bool, bool, bool, bool, str]


def _preference(identifier: str,
                infos: Iterable[RequirementInformation[Requirement, Candidate]],
                causes: set[str]) -> Preference:
    # False sorts first.  As pip's provider: what backtracking is about first, then
    # what the user asked for, then what one version or an upper bound settles
    # (deciding those early lets a conflict show while few choices rest on them).
    direct = pinned = upper = False
    for info in infos:
        direct = direct or info.parent is None
        one, bounded = info.requirement.bounds
        pinned = pinned or one
        upper = upper or bounded
    return (identifier not in causes, not direct, not pinned, not upper, identifier)


class Provider(AbstractProvider[Requirement, Candidate, str]):
    """Offers the Finder's candidates to resolvelib, lazily."""

    def __init__(self, finder: Finder) -> None:
        self.finder = finder
        self.parents: dict[str, list[Candidate]] = {}
        """Identifier → candidates that asked for it: the chains in error messages."""
        self.asked: dict[str, int] = {}
        """Identifier → how often its matches were asked for: what resolution that
        gives up was going round on."""

    def identify(self, requirement_or_candidate: Union[Requirement, Candidate]) -> str:
        """Key both requirements and candidates by name and extras."""
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Preference:
        """Backtrack causes first, then manifest entries, pinned ones, upper-bounded ones."""
        causes = {c.requirement.identifier for c in backtrack_causes}
        return _preference(identifier, information[identifier], causes)

    @staticmethod
    def local_preference(
            identifier: str,
            information: Iterable[RequirementInformation[Requirement, Candidate]],
            causes: set[str]) -> Preference:
        """``get_preference``, from all it depends on: the identifier's information.

        With the names of the backtrack causes; _speed/pinning.py keeps the unsatisfied
        names ranked by it and re-ranks only those whose criteria change.  No two
        names rank alike: each preference ends with the identifier.
        """
        return _preference(identifier, information, causes)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Iterable[str]:
        """Only the identifier ``get_preference`` ranks first.

        resolvelib would otherwise call ``get_preference`` for every unpinned
        identifier in every round, through a wrapper that builds two mappings per
        call; here the causes are collected once per round.  Each preference ends
        with the identifier itself, so the first is unique and the choice the same.
        """
        causes = {c.requirement.identifier for c in backtrack_causes}
        return [min(identifiers, key=lambda i: _preference(i, information[i], causes))]

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Matches[Candidate]:
        """A factory of the candidates satisfying every requirement, best first."""
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        self.asked[identifier] = self.asked.get(identifier, 0) + 1
        name, extras = reqs[0].name, reqs[0].extras
        prereleases = self.finder.pre or any(r.names_prerelease for r in reqs)

        def matches() -> Iterator[Candidate]:
            for candidate in self.finder.candidates(name, extras, prereleases):
                # ``bad`` is nearly always empty: no hash of the candidate then.
                if (not bad or candidate not in bad) and all(
                        r.is_satisfied_by(candidate) for r in reqs) and (
                        not getattr(candidate.wheel, "yanked", False)
                        or self._yanked_but_pinned(candidate, reqs)):
                    yield candidate

        return matches

    def _yanked_but_pinned(self, candidate: Candidate, reqs: list[Requirement]) -> bool:
        # PEP 592: a yanked file is chosen only when a requirement pins its version
        # with == (the manifest's installed, a root or a dependency); every other
        # requirement on the name then judges it by its version alone, as pip and uv.
        if any(r.pins(candidate.version) for r in reqs):
            return True
        wheel = candidate.wheel
        reason = getattr(getattr(wheel, "file", None), "yanked", None)
        self.finder.reject(candidate.name, f"{wheel.filename if wheel else candidate.version} "
                           f"is yanked from the index{f' ({reason})' if reason else ''}; "
                           "a yanked file is taken only when pinned with ==")
        return False

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        """Delegate to the requirement, once per requirement and candidate.

        resolvelib checks every pin against every requirement in every round
        (for 300 packages, about 100,000 calls), so the verdict is looked up by
        the candidate's identity: hashing a candidate costs more than deciding.
        """
        known = requirement.verdicts.get(id(candidate))
        if known is not None and known[0] is candidate:
            return known[1]
        verdict = requirement.is_satisfied_by(candidate)
        requirement.verdicts[id(candidate)] = (candidate, verdict)
        return verdict

    def get_dependencies(self, candidate: Candidate) -> Iterable[Requirement]:
        """Delegate to the finder, remembering who asked for what."""
        deps = self.finder.dependencies(candidate)
        for dep in deps:
            asked = self.parents.setdefault(dep.identifier, [])
            if candidate not in asked:
                asked.append(candidate)
        return deps

    def __repr__(self) -> str:
        return f"Provider({self.finder.target.executable!r})"

