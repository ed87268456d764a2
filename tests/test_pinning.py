"""pinning.make's resolver decides exactly as resolvelib's own, with fewer checks."""

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

from resolver._speed import pinning

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

    def local_preference(self, identifier: str, information: Any, causes: Any) -> Any:
        # The same order, from what pinning's ranking offers (see pinning.py).
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


class UnrankedGraphProvider(GraphProvider):
    """The same, without ``local_preference``: pinning asks for the choice each round."""

    local_preference = None  # type: ignore[assignment]


class Diary(BaseReporter[Req, Cand, str]):
    """Every call resolvelib makes of its reporter, in order, with what it was told."""

    def __init__(self) -> None:
        self.entries: list[tuple[object, ...]] = []

    def starting_round(self, index: int) -> None:
        self.entries.append(("round", index))

    def ending_round(self, index: int, state: Any) -> None:
        self.entries.append(("end round", index, dict(state.mapping)))

    def ending(self, state: Any) -> None:
        self.entries.append(("ending", dict(state.mapping)))

    def adding_requirement(self, requirement: Req, parent: Cand | None) -> None:
        self.entries.append(("adding", requirement, parent))

    def resolving_conflicts(self, causes: Any) -> None:
        self.entries.append(("conflicts", sorted(repr(c) for c in causes)))

    def rejecting_candidate(self, criterion: Any, candidate: Cand) -> None:
        self.entries.append(("rejecting", candidate))

    def pinning(self, candidate: Cand) -> None:
        self.entries.append(("pinning", candidate))


def outcome(resolver: Resolver[Req, Cand, str], roots: list[Req],
            max_rounds: int = 500) -> object:
    try:
        return dict(resolver.resolve(roots, max_rounds=max_rounds).mapping)
    except ResolutionImpossible as exc:
        return ("impossible", sorted(repr(c) for c in exc.causes))
    except ResolutionTooDeep:
        return "too deep"


def both(index: Index, roots: list[Req], order: Sequence[str] = (), max_rounds: int = 500
         ) -> tuple[tuple[object, list[tuple[object, ...]], int],
                    tuple[object, list[tuple[object, ...]], int]]:
    """resolvelib's and pinning's: outcome, every reporter call, is_satisfied_by calls.

    pinning's run is made twice, ranking with ``local_preference`` and asking the
    provider each round; the two must agree in every call before one is returned.
    """
    runs = []
    for make, kind in ((Resolver, GraphProvider), (pinning.make, GraphProvider),
                       (pinning.make, UnrankedGraphProvider)):
        provider, diary = kind(index, order), Diary()
        result = outcome(make(provider, diary), roots, max_rounds)
        runs.append((result, diary.entries, provider.checks))
    assert runs[1][:2] == runs[2][:2]
    return runs[0], runs[1]


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
    # Now and then a second root for a name, which may contradict the first.
    roots += draw(st.lists(st.tuples(st.sampled_from(names), st.integers(1, 4),
                                     st.integers(1, 4)), max_size=1))
    return index, roots, draw(st.permutations(names))


@settings(max_examples=400, deadline=None)
@given(indexes(), st.sampled_from([500, 40, 12, 4]))
def test_every_decision_as_resolvelib_s(
        case: tuple[dict[str, dict[int, list[Req]]], list[Req], list[str]],
        max_rounds: int) -> None:
    # The same outcome, reached the same way: every round, requirement added, pin,
    # rejection and conflict reported alike, in the same order.  Few rounds allowed
    # end some resolutions early ("too deep"; under resolvelib 1.2, also the end of
    # optimistic backjumping's share of them).
    index, roots, order = case
    (plain, plain_diary, _), (ours, our_diary, _) = both(index, roots, order, max_rounds)
    assert ours == plain
    assert our_diary == plain_diary


def test_a_failed_optimistic_backjump_rolls_back_as_resolvelib_s(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Under resolvelib 1.2, a backjump that runs out of states while backjumping
    # optimistically rolls back to the saved states and goes on.  No small graph
    # found reaches it, so it is forced: every second backjump with states saved
    # fails, for resolvelib's loop and for pinning's alike.
    from resolvelib.resolvers.resolution import Resolution

    if not hasattr(Resolution, "_rollback_states"):
        pytest.skip("resolvelib < 1.2 does not backjump optimistically")
    real = Resolution._backjump
    failed: list[str] = []  # the class of each resolution that met the failure
    calls: dict[int, int] = {}

    def failing(self: Any, causes: Any) -> bool:
        if getattr(self, "_save_states", None):
            calls[id(self)] = calls.get(id(self), 0) + 1
            if calls[id(self)] % 2 == 0:
                failed.append(type(self).__name__)
                raise ResolutionImpossible(causes)
        result: bool = real(self, causes)
        return result

    monkeypatch.setattr(Resolution, "_backjump", failing)
    index, roots = conflicting()
    (plain, plain_diary, _), (ours, our_diary, _) = both(index, roots)
    assert "Resolution" in failed and "_Resolution" in failed  # both loops met it
    assert ours == plain
    assert our_diary == plain_diary


def conflicting() -> tuple[dict[str, dict[int, list[Req]]], list[Req]]:
    # Each newer a needs a newer b needing a c that the roots rule out: resolvelib
    # backjumps through a's and b's versions before it settles on the oldest.
    index: dict[str, dict[int, list[Req]]] = {"c": {1: [], 2: [], 3: []}, "d": {1: []}}
    index["a"] = {v: [("b", v, v), ("d", 1, 1)] for v in (1, 2, 3, 4)}
    index["b"] = {v: [("c", v, v)] for v in (1, 2, 3, 4)}
    return index, [("d", 1, 1), ("a", 1, 4), ("c", 1, 1)]


def test_a_backjump_as_resolvelib_s() -> None:
    index, roots = conflicting()
    (plain, plain_diary, _), (ours, our_diary, _) = both(index, roots)
    assert plain == {"a": ("a", 1), "b": ("b", 1), "c": ("c", 1), "d": ("d", 1)}
    assert any(entry[0] == "conflicts" for entry in plain_diary)
    assert ours == plain
    assert our_diary == plain_diary


def test_a_backjump_out_of_states_as_resolvelib_s() -> None:
    # Found by search: a backjump that runs out of states ends the resolution
    # (under resolvelib 1.2, after optimistic backjumping was rolled back).
    index: dict[str, dict[int, list[Req]]] = {
        "p0": {1: [("p3", 1, 2)], 2: [("p3", 1, 3), ("p2", 2, 3), ("p1", 4, 4)], 3: []},
        "p1": {1: []}, "p2": {1: [("p3", 2, 2)]}, "p3": {1: [], 2: [], 3: [], 4: []}}
    roots = [("p1", 1, 4), ("p0", 1, 3), ("p2", 1, 4), ("p3", 1, 1)]
    (plain, plain_diary, _), (ours, our_diary, _) = both(index, roots, ["p0", "p3", "p2", "p1"])
    assert plain[0] == "impossible"  # type: ignore[index]
    assert ours == plain
    assert our_diary == plain_diary


def test_the_roots_conflicting_and_a_second_resolve_as_resolvelib() -> None:
    from resolver._speed.pinning import _Resolution

    (plain, _, _), (ours, _, _) = both({"a": {1: [], 2: []}}, [("a", 1, 1), ("a", 2, 2)])
    assert plain == ours and plain[0] == "impossible"  # type: ignore[index]
    resolution = _Resolution(GraphProvider({"a": {1: []}}), BaseReporter())
    resolution.resolve([("a", 1, 1)], max_rounds=5)
    with pytest.raises(RuntimeError, match="already resolved"):
        resolution.resolve([("a", 1, 1)], max_rounds=5)


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
    (plain, plain_diary, plain_checks), (ours, our_diary, our_checks) = both(index, roots)
    assert isinstance(plain, dict) and plain["leaf"] == ("leaf", 1)
    assert any(entry[0] == "rejecting" for entry in plain_diary)  # it did back off
    assert ours == plain
    assert our_diary == plain_diary
    assert our_checks * 5 < plain_checks


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

    from resolver.resolve.candidates import Requirement
    from resolver.resolve.provider import Provider

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


def test_only_the_tested_resolvelib_releases_get_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A release the loop was not tested against (a patch release included) gets
    # resolvelib's own; the tested ones get the loop.
    import importlib

    import resolvelib

    provider = GraphProvider({}, ())
    try:
        for version, own in (("1.2.2", True), ("1.3.0", True), ("1.2.1", False),
                             ("1.1.0", False)):
            monkeypatch.setattr(resolvelib, "__version__", version)
            importlib.reload(pinning)
            made = pinning.make(provider, Diary())
            assert (type(made) is Resolver) is own, version
    finally:
        monkeypatch.undo()
        importlib.reload(pinning)
