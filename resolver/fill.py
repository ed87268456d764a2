"""The main job, stage by stage: manifest → target → resolve → venv → install → scripts.

Everything that can fail on bad input (manifest, wheel directories, target,
``--venv`` checks, resolution, wheel verification) runs before the first
write, so such a run creates and changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .acceleration import PLAIN, Acceleration, Filled, Prestage
from .cache import unpacked
from .cache.store import Cache
from .errors import CanaryError, UsageError, VenvError
from .install import provenance, scripts, transaction
from .install.scripts import ScriptChanges
from .manifest import load
from .manifest.model import Entry, Manifest
from .owned import STATE_DIR, UMASK
from .progress import Progress, silent
from .resolve import pins, shadows
from .resolve.plan import Plan, active, resolve
from .resolve.policy import DEFAULT, BuildPolicy
from .sources.wheelhouse import LocalWheel, Wheelhouse, scan
from .target.interpreter import Target, check_python, probe
from .venv import environment, lockfile

if TYPE_CHECKING:
    from .sources.remote import Remote


class Options(NamedTuple):
    """What the command line asked for."""

    manifest: Path
    groups: tuple[str, ...]
    python: str
    venv: Path
    wheels: tuple[Path, ...]
    clear: bool = False
    require_hashes: bool = False
    dry_run: bool = False
    compile: bool = False
    """Byte-compile what is installed, with the target's interpreter."""
    relocatable: bool = False
    """Scripts and activation find the venv relative to themselves (sticky)."""
    progress: Progress = silent
    """Told of long steps (verifying and installing wheels)."""
    cache: Cache | None = None
    """Where wheels are unpacked once and hard-linked from; None: no cache."""
    indexes: tuple[str, ...] = ()
    """Simple-API URLs to fetch what is missing from (``--online``); empty: offline."""
    build_sdists: bool = True
    """Build the wheel directories' sdists when no wheel will do (not in build venvs)."""
    lock: Path | None = None
    """Install this pylock.toml instead of resolving (``manifest`` is then the same path)."""
    copy: bool = False
    """Copy the cache's files into the venv instead of linking them (cache/links.py)."""
    dropin: bool = False
    """Run by the mkvenv drop-in: messages name its options (``--dir``), not ours."""
    pre: bool = False
    """Pre-releases rank with final releases for every package (``--pre``)."""
    build_policy: BuildPolicy = DEFAULT
    """Which packages may use wheels, which may be built (--no-binary, --only-binary)."""
    speed: Acceleration = PLAIN
    """Called at the points where a fill may be sped up (acceleration.py)."""


class Outcome(NamedTuple):
    """What a fill did, for the report."""

    target: Target
    plan: Plan
    wheelhouse: Wheelhouse
    built: bool
    scripts: ScriptChanges
    recovered: str | None = None
    dry_run: bool = False
    warnings: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    """The indexes an --online run could ask (empty: offline)."""


def fill(options: Options, *, manifest: Manifest | None = None) -> Outcome:
    """Fill the venv (or, with ``dry_run``, only decide); raise a VenvfillError on failure.

    ``manifest``: already parsed (mkvenv's ``ensure`` builds one from its arguments);
    by default ``options.manifest`` is read.
    """
    started_ns = time.time_ns()
    speed = options.speed
    entries = (() if options.lock is not None
               else (manifest or load(options.manifest)).select(options.groups))
    cache = options.cache if options.cache is not None and options.cache.usable() else None
    facts = speed.facts(cache.root if cache is not None else None)
    wheelhouse = scan(options.wheels, facts)
    venv = Path(os.path.abspath(options.venv))
    environment.precheck(venv)
    check_python(options.python)
    if options.dry_run:
        # Reads only: no lock (taking it could create the directory), no repair.
        pending = "an interrupted fill would be repaired first" if (
            venv / STATE_DIR / transaction.JOURNAL).exists() else None
        target, clear = _target(options, venv, None)
        plan, _ = _plan(options, entries, wheelhouse, target, cache)
        return Outcome(target=target, plan=plan, wheelhouse=wheelhouse,
                       built=environment.needs_build(target, clear=clear),
                       scripts=ScriptChanges((), (), ()), recovered=pending, dry_run=True,
                       warnings=tuple(shadows.warnings(plan, target)),
                       indexes=options.indexes)
    with lockfile.exclusive(venv) as created, contextlib.ExitStack() as stack:
        stack.callback(os.umask, os.umask(UMASK))  # the user's back when the fill ends
        if cache is not None:
            stack.enter_context(cache.shared())  # entries stay while we link them
        if facts is not None:
            stack.callback(facts.save)  # what was learnt stays true even if the fill fails
        speed.started(venv, created=created)
        recovered = transaction.recover(venv)
        speed.read_ahead(wheelhouse, [e.name for e in entries],
                         cache.unpacked if cache is not None else None)
        target, clear = _target(options, venv, cache)
        relocatable = _relocatable(options, target, clear)
        built = environment.needs_build(target, clear=clear)
        building = prestage = None
        if built and not clear and target.venv.config is None:
            # A new venv (nothing but our own directory there): perhaps built while the
            # plan is made, its cached wheels staged as resolution pins them.  Should the
            # plan fail, both are undone.
            local = (cache is not None and not options.indexes and options.lock is None
                     and not _pinned(options, entries))
            building = speed.build_venv(
                target, relocatable=relocatable,
                keepable=local and recovered is None and not options.compile
                and not options.copy)
            if building is not None and local and cache is not None:
                prestage = speed.prestage(
                    lambda: transaction.new_transaction(target, relocatable, options.copy,
                                                        speed),
                    wheelhouse, {e.name for e in active(entries, target)}, cache.unpacked)
                if prestage is not None:
                    stack.callback(prestage.give_up)  # unless apply took the stage
        try:
            plan, unpacked_wheels = _plan(options, entries, wheelhouse, target, cache,
                                          prestage)
        except BaseException:
            if building is not None:
                building.cancel()
            if prestage is not None:
                prestage.give_up()  # now: the worker stops before the builder is undone
            raise
        if building is not None:
            building.wait()
        elif built:
            environment.build(target, clear=clear, relocatable=relocatable)
        replaced: list[str] = []
        placed = transaction.apply(plan.steps, target,
                               discard=scripts.owned_by_installs(plan, target),
                               compile_bytecode=options.compile, relocatable=relocatable,
                               copy=options.copy,
                               progress=options.progress, entries=unpacked_wheels,
                               prestaged=None if prestage is None else prestage.hand_over(),
                               notes=replaced, speed=speed)
        provenance.update(venv, plan.steps,
                          {path: entry.sha256 for path, entry in unpacked_wheels.items()})
        if cache is not None:
            cache.record_use(venv, _uses(cache.uses(venv) if not built else {}, plan,
                                         unpacked_wheels))
        changes = scripts.sync(plan, target, relocatable=relocatable)
        check_canaries(plan.entries, target, plan)
        traps = _start_up_traps()
        speed.filled(Filled(
            venv=venv, target=target, plan=plan, started_ns=started_ns,
            cache_root=cache.root if cache is not None else None, relocatable=relocatable,
            placed=placed, entries=unpacked_wheels, scripts=changes,
            python=options.python, traps=bool(traps)))
    return Outcome(target=target, plan=plan, wheelhouse=wheelhouse, built=built,
                   scripts=changes, recovered=recovered,
                   warnings=(*shadows.warnings(plan, target), *replaced, *traps),
                   indexes=options.indexes)


def _start_up_traps() -> list[str]:
    # Only reachable when venvfill itself was started with -E: otherwise a
    # PYTHONHOME inside a venv kills every interpreter, this one included.
    from .target.interpreter import environment_notes

    return [n for n in environment_notes(os.environ) if "points into a venv" in n]


def create(python: str, venv_dir: Path, speed: Acceleration = PLAIN) -> str:
    """Create the venv afresh (QEMU's ``mkvenv create``); return its python."""
    venv = Path(os.path.abspath(venv_dir))
    environment.precheck(venv)
    check_python(python)
    with lockfile.exclusive(venv) as created:
        speed.started(venv, created=created)
        transaction.recover(venv)
        target = probe(python, venv)
        environment.check(target, clear=True)
        environment.build(target, clear=True)
    return str(target.venv.python)


def _relocatable(options: Options, target: Target, clear: bool) -> bool:
    # Sticky: a relocatable venv stays so; an existing ordinary one cannot become one
    # without being recreated (its scripts and activation files name its path).
    if clear or not target.venv.is_venv:
        return options.relocatable
    if environment.is_relocatable(target.venv.path):
        return True
    if options.relocatable:
        raise VenvError(
            f"--venv {target.venv.path} was not made relocatable; its scripts name its path",
            hint="Add --clear to recreate it with --relocatable.")
    return False


def _target(options: Options, venv: Path, cache: Cache | None) -> tuple[Target, bool]:
    # The target, checked against the venv, and whether the venv is recreated.
    clear = options.clear or environment.interrupted(venv)
    target = options.speed.probe(options.python, venv,
                                 cache.root if cache is not None else None)
    environment.check(target, clear=clear)
    if clear:
        # What is in the venv now will be gone: resolve as if it were empty.
        target = dataclasses.replace(target, venv=target.venv._replace(distributions=()))
    return target, clear


def _plan(options: Options, entries: Sequence[Entry], wheelhouse: Wheelhouse,
          target: Target, cache: Cache | None, prestage: Prestage | None = None,
          ) -> tuple[Plan, dict[Path, unpacked.Unpacked]]:
    # Everything else that can refuse the run; writes nothing to the venv but the
    # prestage's stage.  Returns the plan and the wheels unpacked into the cache
    # (none without a cache).
    if options.lock is not None:
        from .resolve import pylock

        plan = pylock.plan(options.lock, target, options.groups,
                           online=_remote(options, cache, target) is not None,
                           cache_root=cache.root if cache is not None else None)
        pinned = frozenset(s.name for s in plan.changes)  # a lock's files carry hashes
    else:
        builder = None
        if options.build_sdists and (options.indexes or any(wheelhouse.sdists.values())):
            # Even under --no-build: the builder is what names the sdists passed over.
            from .sources.sdists import Builder

            builder = Builder(target, tuple(options.wheels),
                              None if options.dry_run else cache, _fill_build_venv,
                              options.indexes, options.progress)
        plan = resolve(entries, target, wheelhouse, _remote(options, cache, target),
                       builder, reporter=prestage.reporter if prestage is not None else None,
                       dropin=options.dropin, pre=options.pre,
                       build_policy=options.build_policy, speed=options.speed)
        pinned = pins.check(plan, entries, require=options.require_hashes)
    wheels = [s.wheel for s in plan.changes if s.wheel is not None]
    if options.dry_run:
        # Verify what is here; write nothing, not even to the cache; download nothing.
        _verify([w for w in wheels if w.path.exists()], None, options.progress, options.speed)
        return plan, {}
    _download(wheels, options.progress)
    known = prestage.collect(plan.changes) if prestage is not None else {}
    # A pinned wheel is verified and installed from its own file, never linked from
    # the cache: the bytes installed are then provably the pinned file's, whatever
    # happened to a cache entry, and no other venv shares them.
    _verify([s.wheel for s in plan.changes if s.wheel is not None and s.name in pinned],
            None, options.progress, options.speed)
    return plan, _verify([s.wheel for s in plan.changes
                          if s.wheel is not None and s.name not in pinned],
                         cache, options.progress, options.speed, known)


def _fill_build_venv(python: str, venv: Path, manifest: Manifest, *,
                     wheels: tuple[Path, ...], indexes: tuple[str, ...], cache: Cache) -> str:
    # An sdist's build venv, filled with its build requirements (sources/sdists.py).
    outcome = fill(Options(manifest=manifest.path, groups=(), python=python, venv=venv,
                           wheels=wheels, cache=cache, indexes=indexes, build_sdists=False),
                   manifest=manifest)
    return str(outcome.target.venv.python)


def _pinned(options: Options, entries: Sequence[Entry]) -> bool:
    # Whether any wheel may be pinned (so must not be linked from the cache).
    return options.require_hashes or any(e.hashes for e in entries)


def _remote(options: Options, cache: Cache | None, target: Target) -> Remote | None:
    # The indexes of an --online run; None offline (nothing network-related exists).
    if not options.indexes:
        return None
    if cache is None:
        given = options.cache.root if options.cache is not None else "the cache directory"
        raise UsageError(f"--online needs a writable cache directory for downloads; "
                         f"{given} cannot be written",
                         hint="Name one with --cache-dir DIR (or VENVFILL_CACHE_DIR).")
    from .sources.index import Index
    from .sources.remote import Remote

    return Remote([Index(url) for url in options.indexes], cache.root,
                  target.python_version)


def _download(wheels: Sequence[LocalWheel], progress: Progress) -> None:
    # The chosen index wheels into the cache, in parallel.
    if f"{__package__}.sources.remote" not in sys.modules:
        return  # no index was asked, so there is no IndexWheel (and no network code)
    from .sources.remote import IndexWheel

    missing = [w for w in wheels if isinstance(w, IndexWheel) and not w.path.exists()]
    if not missing:
        return
    from concurrent.futures import ThreadPoolExecutor  # --online only

    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, (wheel, _) in enumerate(zip(missing, pool.map(IndexWheel.fetch, missing)), 1):
            progress("downloading", i, len(missing), wheel.filename)


def _verify(wheels: Sequence[LocalWheel], cache: Cache | None, progress: Progress,
            speed: Acceleration, known: Mapping[Path, unpacked.Unpacked] | None = None,
            ) -> dict[Path, unpacked.Unpacked]:
    # Verify every wheel before the venv is touched.  With a cache, verifying is
    # unpacking into it (through ``speed.parallel``).  ``known``: entries the
    # prestage already loaded (and so checked), by path.
    if cache is None:
        for i, wheel in enumerate(wheels, 1):
            progress("verifying", i, len(wheels), wheel.filename)
            transaction.verify_wheel(wheel)
        return {}
    known = known or {}
    rest = [w for w in wheels if w.path not in known]
    found = dict(zip((w.path for w in rest),
                     unpacked.unpack_all(rest, cache.unpacked, speed)))
    done: dict[Path, unpacked.Unpacked] = {}
    for i, wheel in enumerate(wheels, 1):
        progress("verifying", i, len(wheels), wheel.filename)
        done[wheel.path] = known[wheel.path] if wheel.path in known else found[wheel.path]
    return done


def _uses(before: dict[str, str], plan: Plan,
          entries: dict[Path, unpacked.Unpacked]) -> dict[str, str]:
    # The cache entries the venv uses after the plan (for ``cache gc``).
    uses = dict(before)
    for step in plan.changes:
        entry = entries.get(step.wheel.path) if step.wheel is not None else None
        if entry is not None:
            uses[step.name] = entry.sha256
        else:
            uses.pop(step.name, None)
    return uses


def check_canaries(entries: Sequence[Entry], target: Target, plan: Plan) -> None:
    """Every entry's ``canary`` must be an executable in the venv's bin/."""
    bindir = Path(target.venv.scheme["scripts"])
    problems: list[str] = []
    for entry in entries:
        if not entry.canary:
            continue
        path = bindir / entry.canary
        if path.is_file() and os.access(path, os.X_OK):
            continue
        step = plan.step(entry.name)
        origin = f"{step.version} from {step.source}" if step else "(not in the plan)"
        line = (f"{entry.display_name} {origin} was filled, but its program "
                f"'{entry.canary}' is not in {bindir}")
        elsewhere = shutil.which(entry.canary)
        if elsewhere:
            line += (f"; '{entry.canary}' on PATH ({elsewhere}) belongs to another "
                     "interpreter or installation")
        problems.append(line)
    if problems:
        raise CanaryError(
            "canary check failed:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="Check the 'canary' names in the manifest against the programs these "
            "packages install (their console_scripts).",
        )
