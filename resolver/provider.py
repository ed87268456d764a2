"""The resolvelib provider: a direct implementation of resolvelib's interface.

Behaviour lives on Requirement, Candidate and Finder (candidates.py).  resolvelib
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

    Preference = tuple[bool, bool, bool, str]


class Provider(AbstractProvider[Requirement, Candidate, str]):
    """Offers the Finder's candidates to resolvelib, lazily."""

    def __init__(self, finder: Finder) -> None:
        self.finder = finder
        self.parents: dict[str, list[Candidate]] = {}
        """Identifier → candidates that asked for it: the chains in error messages."""

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
        """Resolve backtrack causes, then manifest entries, then pinned ones, first."""
        infos = list(information[identifier])
        causes = {c.requirement.identifier for c in backtrack_causes}
        direct = any(i.parent is None for i in infos)
        pinned = any(i.requirement.pin is not None or i.requirement.same_as is not None
                     for i in infos)
        # False sorts first.
        return (identifier not in causes, not direct, not pinned, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Matches[Candidate]:
        """A factory of the candidates satisfying every requirement, best first."""
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        name, extras = reqs[0].name, reqs[0].extras

        def matches() -> Iterator[Candidate]:
            for candidate in self.finder.candidates(name, extras):
                if candidate not in bad and all(r.is_satisfied_by(candidate) for r in reqs):
                    yield candidate

        return matches

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

