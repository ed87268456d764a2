"""The remembering resolver decides exactly as resolvelib's own, with fewer checks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resolvelib import (
    AbstractProvider,
    BaseReporter,
    ResolutionImpossible,
    ResolutionTooDeep,
    Resolver,
)

from resolver import pinning

# A package index as data: name -> version -> [(dependency, lowest, highest)].
Index = Mapping[str, Mapping[int, Sequence[tuple[str, int, int]]]]
Req = tuple[str, int, int]  # name, lowest and highest version admitted
Cand = tuple[str, int]


class GraphProvider(AbstractProvider[Req, Cand, str]):
    def __init__(self, index: Index, order: Sequence[str] = ()) -> None:
        self.index = index
        self.order = {name: i for i, name in enumerate(order)}
        """Pinning preference (default: by name); a package pinned before those that
        need it has its criterion changed while pinned."""
        self.checks = 0

    def identify(self, requirement_or_candidate: Any) -> str:
        return str(requirement_or_candidate[0])

    def get_preference(self, identifier: str, resolutions: Any, candidates: Any,
                       information: Any, backtrack_causes: Any) -> Any:
        return (self.order.get(identifier, 0), identifier)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Req]],
                     incompatibilities: Mapping[str, Iterator[Cand]]) -> list[Cand]:
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        return [(identifier, v) for v in sorted(self.index.get(identifier, {}), reverse=True)
                if (identifier, v) not in bad and all(lo <= v <= hi for _, lo, hi in reqs)]

    def is_satisfied_by(self, requirement: Req, candidate: Cand) -> bool:
        self.checks += 1
        return requirement[1] <= candidate[1] <= requirement[2]

    def get_dependencies(self, candidate: Cand) -> Iterable[Req]:
        return self.index[candidate[0]][candidate[1]]


def outcome(resolver: Resolver[Req, Cand, str], roots: list[Req]) -> object:
    try:
        return dict(resolver.resolve(roots, max_rounds=500).mapping)
    except ResolutionImpossible as exc:
        return ("impossible", sorted(repr(c) for c in exc.causes))
    except ResolutionTooDeep:
        return "too deep"


@st.composite
def indexes(draw: st.DrawFn
            ) -> tuple[dict[str, dict[int, list[Req]]], list[Req], list[str]]:
    names = [f"p{i}" for i in range(draw(st.integers(2, 12)))]
    index: dict[str, dict[int, list[Req]]] = {}
    for i, name in enumerate(names):
        index[name] = {}
        for version in range(1, draw(st.integers(1, 4)) + 1):
            later = names[i + 1:]
            deps = draw(st.lists(st.sampled_from(later), max_size=3, unique=True)
                        if later else st.just([]))
            index[name][version] = [
                (d, draw(st.integers(1, 3)), draw(st.integers(2, 4))) for d in deps]
    roots = [(n, 1, draw(st.integers(1, 4))) for n in draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))]
    return index, roots, draw(st.permutations(names))


@settings(max_examples=300, deadline=None)
@given(indexes())
def test_same_outcome_as_resolvelib(
        case: tuple[dict[str, dict[int, list[Req]]], list[Req], list[str]]) -> None:
    index, roots, order = case
    plain = outcome(Resolver(GraphProvider(index, order), BaseReporter()), roots)
    remembering = outcome(pinning.make(GraphProvider(index, order), BaseReporter()), roots)
    assert remembering == plain


def layered(width: int, depth: int) -> tuple[dict[str, dict[int, list[Req]]], list[Req]]:
    # Each package of a layer needs two of the next; the newest of the last-but-one
    # layer needs leaf 2 while the roots allow only leaf 1: back-tracking.
    index: dict[str, dict[int, list[Req]]] = {"leaf": {1: [], 2: []}}
    for layer in range(depth):
        for i in range(width):
            nxt = [f"p{layer + 1}_{(i + k) % width}" for k in (0, 1)] if layer + 1 < depth else []
            index[f"p{layer}_{i}"] = {
                v: [(n, max(1, v - 1), 9) for n in nxt]
                + ([("leaf", 2, 2)] if v == 3 and layer == depth - 2 else [])
                for v in (1, 2, 3)}
    return index, [(f"p0_{i}", 1, 9) for i in range(width)] + [("leaf", 1, 1)]


@pytest.mark.parametrize("width,depth", [(6, 5), (10, 6)])
def test_fewer_checks_on_a_graph_that_backtracks(width: int, depth: int) -> None:
    index, roots = layered(width, depth)
    plain_provider, remembering_provider = GraphProvider(index), GraphProvider(index)
    plain = outcome(Resolver(plain_provider, BaseReporter()), roots)
    remembering = outcome(pinning.make(remembering_provider, BaseReporter()), roots)
    assert isinstance(plain, dict) and plain["leaf"] == ("leaf", 1)
    assert remembering == plain
    assert remembering_provider.checks * 3 < plain_provider.checks


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"),
                       st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1,
                                max_size=3), min_size=1),
       st.sets(st.sampled_from("abcdefgh")))
def test_narrowing_picks_what_get_preference_ranks_first(
        infos: dict[str, list[tuple[bool, bool]]], causes: set[str]) -> None:
    # venvfill's provider narrows each round's choice to one identifier, so that
    # resolvelib skips get_preference: the choice must be get_preference's first.
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import Version
    from resolvelib.structs import RequirementInformation

    from resolver.candidates import Requirement
    from resolver.provider import Provider

    def info(name: str, direct: bool, pinned: bool) -> RequirementInformation[Any, Any]:
        req = Requirement(name=canonicalize_name(name), specifier=SpecifierSet(),
                          pin=Version("1") if pinned else None)
        return RequirementInformation(req, None if direct else object())

    information = {n: [info(n, d, p) for d, p in rows] for n, rows in infos.items()}
    backtrack = [info(n, True, False) for n in sorted(causes)]
    provider = Provider.__new__(Provider)  # no finder needed for ranking
    views = {n: iter(v) for n, v in information.items()}
    chosen = list(provider.narrow_requirement_selection(
        identifiers=list(information), resolutions={}, candidates={},
        information=views, backtrack_causes=backtrack))
    ranked = min(information, key=lambda n: provider.get_preference(
        identifier=n, resolutions={}, candidates={},
        information={n: iter(information[n])}, backtrack_causes=backtrack))
    assert chosen == [ranked]
