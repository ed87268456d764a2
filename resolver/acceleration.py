"""The points at which a fill may be sped up, and the plain fill at each of them.

The core calls an :class:`Acceleration` at named points, the way resolvelib
calls a reporter: ``started``, ``facts``, ``read_ahead``, ``probe``,
``resolver``, ``build_venv``, ``prestage``, ``parallel`` (unpacking and
staging), ``finish_linked``, ``filled``, ``reported`` and ``ended``; and
``prune`` for ``cache gc``.  This class is the plain implementation: each method does what the fill
does without tricks, and the core works with it alone.
``resolver._speed.Accelerated`` overrides them; which one a run uses is chosen
in one place (``resolver.cli.acceleration``).  Both must make the same venvs:
the test suite runs with each.

Nothing here imports beyond the standard library at run time: the module is
imported on every fill, before anything is known about it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from resolvelib import BaseReporter, Resolver
    from resolvelib.providers import AbstractProvider

    from .cache.unpacked import Unpacked
    from .fill import Outcome
    from .install.scripts import ScriptChanges
    from .install.transaction import Staged, Staging, Transaction
    from .resolve.plan import Plan, Step
    from .sources.wheelhouse import Wheelhouse
    from .target.interpreter import Target

T = TypeVar("T")
R = TypeVar("R")


class Facts(Protocol):
    """What is known about wheel files without reading them again (the ``facts`` point)."""

    def __hash__(self) -> int:
        """By identity: a wheel's metadata is cached per file and per Facts."""

    def recall(self, path: Path, kind: str) -> object:
        """The fact ``kind`` ("sha256", "metadata") noted for the file; None if unknown."""

    def note(self, path: Path, kind: str, value: object) -> None:
        """Note a fact learnt about the file."""

    def members(self, path: Path, suffix: str, wanted: Callable[[str], bool],
                limit: int) -> dict[str, bytes] | None:
        """The wanted members of the archive read fast; None: let zipfile read them."""

    def save(self) -> None:
        """Keep what was noted for later runs."""


class Building(Protocol):
    """A new venv being built while the plan is made (the ``build_venv`` point)."""

    def wait(self) -> None:
        """Wait until the venv is built; raise a VenvError if it could not be."""

    def cancel(self) -> None:
        """Stop, and remove what was built."""


class Prestage(Protocol):
    """Wheels staged while resolution runs (the ``prestage`` point).

    It is resolvelib's reporter for the resolution, so it hears of each pin.
    """

    @property
    def reporter(self) -> BaseReporter[Any, Any, str]:
        """What resolvelib reports its progress to."""

    def collect(self, changes: Sequence[Step]) -> dict[Path, Unpacked]:
        """The cache entries of the wheels staged for ``changes``, by wheel path."""

    def hand_over(self) -> tuple[Transaction, dict[Path, Staged]] | None:
        """The transaction and what was staged in it, for the install; None: nothing."""

    def give_up(self) -> None:
        """Stop, and undo what was staged (nothing, after ``hand_over``)."""


class Filled(NamedTuple):
    """A fill that succeeded, as the ``filled`` point is told of it."""

    venv: Path
    target: Target
    plan: Plan
    started_ns: int
    """When the run started (time.time_ns)."""
    cache_root: Path | None
    relocatable: bool
    placed: Sequence[Any]
    """What the transaction placed, as ``transaction.apply`` returned it."""
    entries: Mapping[Path, Unpacked]
    """The cache entries installed from, by wheel path."""
    scripts: ScriptChanges
    python: str
    """The interpreter as the command line named it."""
    traps: bool
    """The environment would make the venv's interpreter start differently."""


class Acceleration:
    """The plain fill, at every point where one may be sped up."""

    def started(self, venv: Path, *, created: bool) -> None:
        """The fill holds the venv's lock (``created``: it made the directory just now)."""

    def facts(self, cache_root: Path | None) -> Facts | None:
        """Where facts about wheel files are kept between runs; None: learn them afresh."""
        return None

    def read_ahead(self, wheelhouse: Wheelhouse, names: Collection[str],
                   cache_root: Path | None) -> None:
        """Work the fill may do before the target is known (the plain fill waits)."""

    def probe(self, python: str, venv: Path, cache_root: Path | None) -> Target:
        """The target interpreter and the venv, as its probe reports them."""
        from .target.interpreter import probe

        return probe(python, venv)

    def resolver(self, provider: AbstractProvider[Any, Any, str],
                 reporter: BaseReporter[Any, Any, str]) -> Resolver[Any, Any, str]:
        """The resolvelib resolver to run for ``provider``."""
        from resolvelib import Resolver

        return Resolver(provider, reporter)

    def build_venv(self, target: Target, *, relocatable: bool,
                   keepable: bool) -> Building | None:
        """Start building a new venv while the plan is made; None: build it after.

        ``keepable``: a plain new venv from local wheels, whose making a later
        run may repeat.
        """
        return None

    def prestage(self, transaction: Callable[[], Transaction], wheelhouse: Wheelhouse,
                 requested: Collection[str], cache_root: Path) -> Prestage | None:
        """Start staging cached wheels as resolution pins them; None: stage after."""
        return None

    def alone(self, entry: Unpacked) -> bool:
        """Whether ``finish_linked`` finishes the entry's wheel without installer."""
        return False

    def finish_linked(self, staging: Staging, root_scheme: str, entry: Unpacked,
                      metadata: Mapping[str, bytes]) -> bool:
        """Finish staging a wheel after its members were linked; False: installer does.

        ``metadata``: the ``.dist-info`` files venvfill adds (INSTALLER, REQUESTED).
        Installer then writes them, the scripts, and RECORD: its one writer.
        """
        return False

    def workers(self) -> int:
        """How many processes ``parallel`` may use."""
        return 1

    def parallel(self, func: Callable[[T], R], tasks: Sequence[T],
                 weights: Sequence[float], workers: int) -> list[R]:
        """``[func(t) for t in tasks]``; ``weights``: each task's relative cost."""
        return [func(t) for t in tasks]

    def filled(self, fill: Filled) -> None:
        """The fill succeeded."""

    def reported(self, outcome: Outcome) -> None:
        """The fill's report was printed."""

    def ended(self) -> None:
        """The run is over, whatever happened."""

    def prune(self, cache_root: Path) -> None:
        """``cache gc``: remove what this implementation keeps that is no longer true."""


PLAIN = Acceleration()
"""The plain fill, for callers that choose none."""
