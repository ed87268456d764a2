"""resolvelib's resolution, with what is unsatisfied carried from round to round.

Every round, resolvelib asks of *every* criterion whether the current pin still
satisfies all its requirements (``Resolution._is_current_pin_satisfying``), and
after a successful pin asks it again of every criterion that was satisfied: for n
packages that is about n² calls (resolvelib issue #147, open since 2023).  For the
synthetic benchmark's 300 packages it was ~97,000 calls and, even with each
verdict remembered, a quarter of a fill's resolution.

Yet what a successful round changes is known.  ``_attempt_to_pin_criterion``
pins one name and replaces the criteria of the names the candidate depends on
(one ``_add_to_criteria`` each); every other criterion and pin is the object it
was.  So this resolution keeps the set of unsatisfied names and, after a pin,
checks only those names again.  A backjump, a rollback of optimistic
backjumping, or a round that removes information (which rebuilds every
criterion) makes it check every name once more.  Verdicts are still remembered
per criterion object and pin, so a criterion no one changed is never checked
twice against the same pin.

The round itself is resolvelib's, step for step, through its own methods: the
same choice (``narrow_requirement_selection``, then ``get_preference``), the same
reporter calls in the same order, the same backjumping.  A provider whose
preference for a name depends only on that name's requirement information and
the names of the backtrack causes may say so with a ``local_preference``
function (identifier, information, cause names) giving the same order as
``get_preference``, never the same value for two names (the heap would break a
tie by name, resolvelib by its own order), and choosing as
``narrow_requirement_selection`` does; the
unsatisfied names are then kept ranked in a heap, re-ranked only when their
criteria change (venvfill's provider does; ranking the whole frontier anew each
round was another tenth of a resolution).  It is written against the
loop of resolvelib 1.1 and 1.2 (alike but for 1.2's optimistic backjumping, which
is followed where present; tests compare every decision with resolvelib's own
under both) and used only with the exact releases in ``TESTED``.  For any other
``make`` returns resolvelib's own resolver, which decides the same, only slower.
"""

from __future__ import annotations

import collections
import heapq
import operator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import resolvelib
from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import (
    Criterion,
    RequirementsConflicted,
    ResolutionImpossible,
    ResolutionTooDeep,
)
from resolvelib.resolvers.resolution import Resolution, _build_result
from resolvelib.structs import IteratorMapping, State

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from resolvelib.resolvers import Result

RT = TypeVar("RT")  # requirement
CT = TypeVar("CT")  # candidate
KT = TypeVar("KT")  # identifier

TESTED = ("1.1.0", "1.2.1")
"""The resolvelib releases this loop was tested against (tox's oldest and default
environments); any other gets resolvelib's own loop (tox's newest environment)."""
_SUPPORTED = (resolvelib.__version__ in TESTED
              and Criterion.__hash__ is object.__hash__)  # the verdicts' key: identity


class _Resolution(Resolution, Generic[RT, CT, KT]):  # type: ignore[type-arg]
    def __init__(self, provider: AbstractProvider[RT, CT, KT],
                 reporter: BaseReporter[RT, CT, KT]) -> None:
        super().__init__(provider, reporter)
        self._verdicts: dict[object, tuple[object, bool]] = {}
        """By criterion (hashed by identity): the pin last checked against it, the verdict."""
        self._unsatisfied: dict[Any, None] | None = None
        """The current state's unsatisfied names (a dict: ordered); None: not known."""
        self._touched: dict[Any, bool] = {}
        """Names whose criteria the round's pinning attempts replaced → whether the
        state had a criterion for the name before."""
        self._local: Callable[[Any, Any, set[Any]], Any] | None = getattr(
            provider, "local_preference", None)
        self._ranked: list[tuple[Any, Any]] = []
        """With ``local_preference``: a heap of (preference, name), stale entries included."""
        self._preferences: dict[Any, Any] = {}
        """With ``local_preference``: each unsatisfied name's current preference."""
        self._causes: set[Any] = set()

    def _add_to_criteria(self, criteria: Any, requirement: Any, parent: Any) -> None:
        name = self._p.identify(requirement_or_candidate=requirement)
        if name not in self._touched:
            self._touched[name] = name in self._states[-1].criteria
        super()._add_to_criteria(criteria, requirement, parent)

    def _satisfies(self, pin: object, criterion: Any) -> bool:
        # Whether ``pin`` satisfies every requirement of ``criterion``, remembered.
        known = self._verdicts.get(criterion)
        if known is not None and known[0] is pin:
            return known[1]
        verdict = all(self._p.is_satisfied_by(requirement=r, candidate=pin)
                      for r in criterion.iter_requirement())
        self._verdicts[criterion] = (pin, verdict)
        return verdict

    def _all_unsatisfied(self) -> dict[Any, None]:
        state = self._states[-1]
        pins = state.mapping
        return {name: None for name, criterion in state.criteria.items()
                if name not in pins or not self._satisfies(pins[name], criterion)}

    def _rank_all(self) -> None:
        # Every unsatisfied name ranked afresh (the state or the causes changed).
        assert self._local is not None and self._unsatisfied is not None
        state = self._states[-1]
        self._causes = {self._p.identify(requirement_or_candidate=c.requirement)
                        for c in state.backtrack_causes}
        criteria, local, causes = state.criteria, self._local, self._causes
        self._preferences = {name: local(name, criteria[name].information, causes)
                             for name in self._unsatisfied}
        self._ranked = [(preference, name) for name, preference in self._preferences.items()]
        heapq.heapify(self._ranked)

    def _rank(self, name: Any) -> None:
        assert self._local is not None
        preference = self._local(name, self._states[-1].criteria[name].information,
                                 self._causes)
        self._preferences[name] = preference
        heapq.heappush(self._ranked, (preference, name))

    def _first_ranked(self) -> Any:
        # The unsatisfied name preferred most: the heap's first current entry.
        while True:
            preference, name = self._ranked[0]
            if self._preferences.get(name) is preference:
                return name
            heapq.heappop(self._ranked)  # pinned, or ranked again since

    def _after_pin(self, name: Any) -> set[Any]:
        # Bring the unsatisfied names up to date after ``name`` was pinned; return
        # those that were satisfied before and are not now (resolvelib's
        # "newly unsatisfied"), from which information is then removed.
        assert self._unsatisfied is not None
        state = self._states[-1]
        unsatisfied, pins, criteria = self._unsatisfied, state.mapping, state.criteria
        newly = set()
        for key, existed in [*self._touched.items(), (name, True)]:
            criterion = criteria.get(key)
            if criterion is None:
                continue  # added by a candidate that failed: never in the state
            if key in pins and self._satisfies(pins[key], criterion):
                unsatisfied.pop(key, None)
                self._preferences.pop(key, None)
                continue
            if key not in unsatisfied:
                if existed:
                    newly.add(key)
                unsatisfied[key] = None
            if self._local is not None:
                self._rank(key)  # new, or its criterion replaced
        return newly

    def resolve(self, requirements: Iterable[RT], max_rounds: int) -> Any:
        # resolvelib's Resolution.resolve, but for how unsatisfied names are found.
        if self._states:
            raise RuntimeError("already resolved")
        self._r.starting()
        self._states = [State(mapping=collections.OrderedDict(), criteria={},
                              backtrack_causes=[])]
        for requirement in requirements:
            try:
                self._add_to_criteria(self.state.criteria, requirement, parent=None)
            except RequirementsConflicted as e:
                raise ResolutionImpossible(e.criterion.information) from e
        self._push_new_state()  # the root state: the first pin's to backjump to
        optimistic_since: int | None = None
        optimistic_rounds = 0
        for index in range(max_rounds):
            self._r.starting_round(index=index)
            # 1.2's optimistic backjumping, given a share of the rounds left when
            # it began; when that share is spent, back to the states it saved.
            if (getattr(self, "_optimistic_backjumping_ratio", 0.0)
                    and getattr(self, "_save_states", None) is not None):
                if optimistic_since is None:
                    optimistic_since = index
                    optimistic_rounds = int((max_rounds - index)
                                            * self._optimistic_backjumping_ratio)
                    if optimistic_rounds <= 0:
                        self._roll_back()
                        continue
                elif index - optimistic_since >= optimistic_rounds:
                    self._roll_back()
                    continue

            state = self.state
            if self._unsatisfied is None:
                self._unsatisfied = self._all_unsatisfied()
                if self._local is not None:
                    self._rank_all()
            if not self._unsatisfied:
                self._r.ending(state=state)
                return state
            name = self._choose(state)

            self._touched = {}
            failure = self._attempt_to_pin_criterion(name)
            if failure:
                self._unsatisfied = None  # whatever happens, the state is another
                causes = self._extract_causes(failure)
                self._r.resolving_conflicts(causes=causes)
                try:
                    success = self._backjump(causes)
                except ResolutionImpossible:
                    if not self._optimistic():
                        raise
                    success = False
                if not success and self._optimistic():  # as the backjump left it
                    self._roll_back()
                else:
                    self.state.backtrack_causes[:] = causes
                    if not success:
                        raise ResolutionImpossible(self.state.backtrack_causes)
            else:
                newly = self._after_pin(name)
                if newly:  # rebuilds every criterion: every name is checked again
                    self._remove_information_from_criteria(self.state.criteria, newly)
                    self._unsatisfied = None
                self._push_new_state()
            self._r.ending_round(index=index, state=self.state)
        raise ResolutionTooDeep(max_rounds)

    def _choose(self, state: Any) -> Any:
        # The name to pin this round, as resolvelib chooses it.
        if self._local is not None:
            return self._first_ranked()
        unsatisfied = list(self._unsatisfied or ())
        if len(unsatisfied) == 1:
            return unsatisfied[0]
        narrowed = list(self._p.narrow_requirement_selection(
            identifiers=unsatisfied, resolutions=state.mapping,
            candidates=IteratorMapping(state.criteria, operator.attrgetter("candidates")),
            information=IteratorMapping(state.criteria, operator.attrgetter("information")),
            backtrack_causes=state.backtrack_causes))
        if not narrowed:
            raise RuntimeError("narrow_requirement_selection returned 0 names")
        return min(narrowed, key=self._get_preference) if len(narrowed) > 1 else narrowed[0]

    def _optimistic(self) -> bool:
        # Backjumping optimistically, with states saved to roll back to (1.2).
        return bool(getattr(self, "_optimistic_backjumping_ratio", 0.0)
                    and getattr(self, "_save_states", None))

    def _roll_back(self) -> None:
        self._rollback_states()
        self._unsatisfied = None


class _Resolver(Resolver[RT, CT, KT]):
    def resolve(self, requirements: Iterable[RT],  # type: ignore[override]
                max_rounds: int = 100) -> Result[RT, CT, KT]:
        # As Resolver.resolve, with the resolution above.
        resolution = _Resolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        result: Result[RT, CT, KT] = _build_result(state)
        return result


def make(provider: AbstractProvider[RT, CT, KT],
         reporter: BaseReporter[RT, CT, KT]) -> Resolver[RT, CT, KT]:
    """A resolver for ``provider``: resolvelib's, carrying unsatisfied names between rounds."""
    if _SUPPORTED:
        return _Resolver(provider, reporter)
    return Resolver(provider, reporter)  # pragma: no cover - another resolvelib
