"""resolvelib's resolver, with its per-round pin check remembered.

Every round, resolvelib asks of *every* criterion whether the current pin still
satisfies all its requirements (``Resolution._is_current_pin_satisfying``): for
n packages that is about n² checks, each a generator over the requirements and
a provider call per requirement (resolvelib issue #147, open since 2023).  With
300 packages that loop was a third of the whole resolution.

The answer depends only on the criterion and the pin, and resolvelib never
changes a criterion in place (a new requirement, a removed parent or a patched
candidate list each make a new ``Criterion``), so each criterion keeps the verdict
for the pin it was last checked against, recomputed for any other pin.  A
``Criterion`` defines no equality, so it is its own key, held with the pin.

This relies on resolvelib's private ``_is_current_pin_satisfying``, ``_states``
and ``_build_result``, the same in 1.1 and 1.2 (pyproject.toml admits 1.1 to <2;
tested on both); should a release lack the method or give ``Criterion`` an
equality of its own, ``make`` returns the plain resolver, which decides the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import Criterion
from resolvelib.resolvers.resolution import Resolution, _build_result

if TYPE_CHECKING:
    from collections.abc import Iterable

    from resolvelib.resolvers import Result

RT = TypeVar("RT")  # requirement
CT = TypeVar("CT")  # candidate
KT = TypeVar("KT")  # identifier

_SUPPORTED = (callable(getattr(Resolution, "_is_current_pin_satisfying", None))
              and Criterion.__hash__ is object.__hash__)  # the memo's key: identity


class _RememberingResolution(Resolution, Generic[RT, CT, KT]):  # type: ignore[type-arg]
    def __init__(self, provider: AbstractProvider[RT, CT, KT],
                 reporter: BaseReporter[RT, CT, KT]) -> None:
        super().__init__(provider, reporter)
        self._verdicts: dict[object, tuple[object, bool]] = {}
        """By criterion (hashed by identity): the pin last checked against it, the verdict."""

    def _is_current_pin_satisfying(self, name: KT, criterion: Any) -> bool:
        # Called about n² times: the state straight from ``_states``, not through
        # the ``state`` property, and the criterion itself as the key.
        pin = self._states[-1].mapping.get(name)
        if pin is None:
            return False
        known = self._verdicts.get(criterion)
        if known is not None and known[0] is pin:
            return known[1]
        verdict: bool = super()._is_current_pin_satisfying(name, criterion)
        self._verdicts[criterion] = (pin, verdict)
        return verdict


class _RememberingResolver(Resolver[RT, CT, KT]):
    def resolve(self, requirements: Iterable[RT],  # type: ignore[override]
                max_rounds: int = 100) -> Result[RT, CT, KT]:
        # As Resolver.resolve, with the remembering Resolution.
        resolution = _RememberingResolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        result: Result[RT, CT, KT] = _build_result(state)
        return result


def make(provider: AbstractProvider[RT, CT, KT],
         reporter: BaseReporter[RT, CT, KT]) -> Resolver[RT, CT, KT]:
    """A resolver for ``provider``: resolvelib's own, with pin checks remembered."""
    if _SUPPORTED:
        return _RememberingResolver(provider, reporter)
    return Resolver(provider, reporter)  # pragma: no cover - a future resolvelib
