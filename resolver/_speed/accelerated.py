"""The accelerated fill: every speed-up of this package, at the core's named points.

``Accelerated`` overrides resolver/acceleration.py's plain points, one
mechanism each (the module named says why it pays):

* ``started``: the venv is about to change, so its up-to-date fingerprint goes
  (fingerprint.py); an early probe of a venv someone else made meanwhile is dropped.
* ``facts``: wheel files' digests and METADATA remembered by file identity
  (ledger.py), METADATA read through the central directory alone (centraldir.py).
* ``read_ahead``: while the early probe runs, read and unpack what resolution
  will likely ask for (ahead.py).
* ``probe``: a remembered report (probes.py), else the probe started before the
  imports (earlyprobe.py).
* ``resolver``: resolvelib's loop carrying unsatisfied names (pinning.py).
* ``build_venv`` and ``prestage``: a new venv built, and its cached wheels
  staged, while resolution runs (prestage.py).
* ``parallel``: work spread over forked processes (forked.py).
* ``finish_linked``: a wheel all of whose members were linked, finished
  without installer (plainwheel.py).
* ``filled`` and ``reported``: the fingerprint the up-to-date path reads
  (fingerprint.py, quick.py) and the recipe a later new venv replays (recipes.py).

One object serves one run: it holds the early probe and the recipe between points.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..acceleration import Acceleration, Building, Facts, Filled, Prestage
from . import fingerprint, forked, probes

if TYPE_CHECKING:
    from resolvelib import BaseReporter, Resolver
    from resolvelib.providers import AbstractProvider

    from ..cache.unpacked import Unpacked
    from ..fill import Outcome
    from ..install.transaction import Staging, Transaction
    from ..resolve.plan import Plan
    from ..sources.wheelhouse import Wheelhouse
    from ..target.interpreter import Target
    from ..venv.creation import Creation
    from .earlyprobe import Early
    from .ledger import Ledger

T = TypeVar("T")
R = TypeVar("R")

class Accelerated(Acceleration):
    """The fast fill (see the module's documentation)."""

    def __init__(self, *, early: Early | None = None, run_key: str | None = None,
                 listed_newest_ns: int = 0) -> None:
        """Start a run's accelerations.

        ``early``: the target's probe, started before the imports; ``run_key``: the
        fingerprint key of the run's options (None: keep no fingerprint, no recipe),
        with the newest mtime among the wheel files it lists.
        """
        self.early = early
        self.run_key = run_key
        self.listed_newest_ns = listed_newest_ns
        self._ledger: Ledger | None = None
        self._built: list[list[Any]] | None = None
        self._recipe: Mapping[str, Any] | None = None
        self._cache_root: Path | None = None

    def ended(self) -> None:
        """Stop an early probe nobody used."""
        if self.early is not None:
            self.early.discard()
            self.early = None

    def started(self, venv: Path, *, created: bool) -> None:
        """Forget the fingerprint; an early probe holds only if this run made the venv."""
        fingerprint.forget(venv)
        if not created:
            self.ended()

    def facts(self, cache_root: Path | None) -> Facts | None:
        """The ledger of the cache (or facts for this run only), read fast."""
        from .ledger import Ledger, Memoryless

        if cache_root is None:
            return Memoryless()
        if self._ledger is None or self._ledger.root != cache_root:
            self._ledger = Ledger(cache_root)
        return self._ledger

    def read_ahead(self, wheelhouse: Wheelhouse, names: Collection[str],
                   cache_root: Path | None) -> None:
        """Read and unpack ahead while the early probe runs."""
        if self.early is None:
            return
        from . import ahead

        wheels = ahead.read_ahead(wheelhouse, names, self.early.finished)
        if cache_root is not None:
            ahead.unpack_ahead(wheels, cache_root, self.early.finished)

    def probe(self, python: str, venv: Path, cache_root: Path | None) -> Target:
        """A remembered report, else the early probe's, else a probe run now."""
        from ..target.interpreter import from_probe, probe

        early, self.early = self.early, None
        answer = (None if early is None else lambda: early.result(timeout=120))
        if cache_root is None:
            return probe(python, venv, answer)
        data = None if early is not None else probes.recall(cache_root, python, venv)
        if data is not None:
            try:
                return from_probe(data, venv)
            except (KeyError, TypeError, ValueError, AttributeError):
                pass  # a damaged record (the cache is a file anyone can edit): probe
        started = early.started_ns if early is not None else probes.now_ns()
        target = probe(python, venv, answer)
        probes.remember(cache_root, python, venv, target.raw, started)
        return target

    def resolver(self, provider: AbstractProvider[Any, Any, str],
                 reporter: BaseReporter[Any, Any, str]) -> Resolver[Any, Any, str]:
        """Resolvelib's resolver, with the loop of pinning.py where it was tested."""
        from . import pinning

        return pinning.make(provider, reporter)

    def build_venv(self, target: Target, *, relocatable: bool,
                   keepable: bool) -> Building | None:
        """Start the builder now; what it made is kept for a recipe when ``keepable``."""
        from ..venv import environment

        creation = environment.start(target, clear=False, relocatable=relocatable)
        if not keepable or self.run_key is None:
            return creation
        return _Watched(creation, self)

    def prestage(self, transaction: Callable[[], Transaction], wheelhouse: Wheelhouse,
                 requested: Collection[str], cache_root: Path) -> Prestage | None:
        """A forked worker staging the wheels resolution pins (prestage.py)."""
        from .prestage import Prestage as Worker

        return Worker.start(transaction(), wheelhouse, requested, cache_root)

    def alone(self, entry: Unpacked) -> bool:
        """When installer would only write metadata files (plainwheel.py)."""
        from . import plainwheel

        return plainwheel.plain(entry)

    def finish_linked(self, staging: Staging, root_scheme: str, entry: Unpacked,
                      metadata: Mapping[str, bytes]) -> bool:
        """Without installer, when it would only write metadata files (plainwheel.py)."""
        from . import plainwheel

        if not plainwheel.plain(entry):
            return False
        plainwheel.finish(staging, root_scheme, entry, metadata)
        return True

    def workers(self) -> int:
        """Every core."""
        return os.cpu_count() or 1

    def parallel(self, func: Callable[[T], R], tasks: Sequence[T],
                 weights: Sequence[float], workers: int) -> list[R]:
        """Spread over forked workers (forked.py)."""
        return forked.run(func, tasks, weights, workers)

    def filled(self, fill: Filled) -> None:
        """Record the fingerprint; capture the recipe of a new venv."""
        last: dict[str, Any] = {
            "python": str(fill.target.venv.python),
            "watched": watched_paths(fill.target, fill.plan),
            "packages": package_summary(fill.target, fill.plan),
            "target": {"executable": fill.target.executable,
                       "version": fill.target.python_version, "kind": fill.target.kind}}
        fingerprint.record(fill.venv, self.run_key, last["python"], last["watched"],
                           last["packages"], last["target"])
        if (self._built is None or fill.cache_root is None or self.run_key is None
                or fill.traps):
            return
        from . import recipes

        from_target = probes.watched(fill.python, fill.target.raw)
        stdlib = fill.target.raw.get("stdlib")
        if from_target is None or not stdlib:
            return
        self._cache_root = fill.cache_root
        self._recipe = recipes.capture(
            venv=str(fill.venv), key=self.run_key, started_ns=fill.started_ns,
            cache_root=str(fill.cache_root), built=self._built,
            relocatable=fill.relocatable, placed=fill.placed,
            stamps={str(e.root): e.stamps for e in fill.entries.values()},
            scripts=[os.path.join(fill.target.venv.scheme["scripts"], name)
                     for name, _ in fill.scripts.written],
            watched=[*last["watched"], *from_target, *recipes.builder_inputs(stdlib)],
            listed_newest_ns=self.listed_newest_ns, record=last)

    def reported(self, outcome: Outcome) -> None:
        """Keep the recipe with the report, for a replay to print."""
        if self._recipe is None or self._cache_root is None:
            return
        from ..cache.store import Cache
        from ..cli.report import render, to_json
        from . import recipes

        use = Cache(self._cache_root).record_path(outcome.target.venv.path)
        with contextlib.suppress(OSError):  # a recipe is only a speed-up
            recipes.save(str(self._cache_root), self._recipe,
                         use_record=(os.path.relpath(use, self._cache_root),
                                     use.read_text(encoding="utf-8")),
                         text=render(outcome), report=to_json(outcome))

    def prune(self, cache_root: Path) -> None:
        """Drop ledger entries, probe reports and recipes that no longer hold."""
        from . import ledger, recipes

        ledger.Ledger(cache_root).prune()
        probes.prune(cache_root)
        recipes.prune(str(cache_root))


def watched_paths(target: Target, plan: Plan) -> list[str]:
    """What a later run must find unchanged to skip the fill (fingerprint.py)."""
    paths = [os.path.realpath(target.executable), target.base_executable,
             *target.site_dirs, *target.base_site_dirs,
             str(target.venv.path / "pyvenv.cfg"),
             *(target.venv.scheme[k] for k in ("purelib", "platlib", "scripts"))]
    for step in plan.steps:
        meta = step.installed.metadata_dir if step.installed is not None else None
        if meta:
            # The directory changes when files are renamed into it (pip, dpkg); the
            # files themselves when rewritten in place.
            paths.extend([meta, os.path.join(meta, "METADATA"), os.path.join(meta, "PKG-INFO"),
                          os.path.join(meta, "entry_points.txt")])
    return paths


def package_summary(target: Target, plan: Plan) -> list[dict[str, object]]:
    """What the venv holds after the plan, for an up-to-date run's --json report."""
    return [{"name": s.name, "version": str(s.version),
             "source": "venv" if s.wheel is not None else s.source,
             "location": s.installed.location if s.installed is not None
             else target.venv.scheme["purelib"],
             "requested": s.requested}
            for s in plan.steps]


class _Watched:
    """A venv builder at work, whose output is taken for a recipe once it is done."""

    def __init__(self, creation: Creation, owner: Accelerated) -> None:
        self._creation = creation
        self._owner = owner

    def wait(self) -> None:
        """Wait for the builder, then take what it made."""
        from . import recipes

        self._creation.wait()
        self._owner._built = recipes.builder_output(self._creation.venv)

    def cancel(self) -> None:
        """Stop the builder and undo what it made."""
        self._creation.cancel()
