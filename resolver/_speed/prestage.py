"""Staging while resolution runs: the second core links what resolvelib pins.

A new venv filled from cached wheels used to wait for resolution to end before
loading each wheel's cache entry (the edit guard of ``unpacked``) and linking its
files into the stage (``install.Transaction``).  Resolution is one core's Python,
so the other core idled: for the synthetic benchmark's 301 wheels, ~105 ms of
resolving, then ~20 ms of loading and ~50 ms of staging.  Now, before resolution
starts, one forked worker is handed each wheel as resolvelib pins it, loads its
entry and stages it into the Transaction that ``install.apply`` then commits.
The wheels wait in a pipe, fixed-size entries as in _speed/forked.py; once resolution
is over the fill takes entries from the same pipe, so what the worker has not
reached yet is staged on both cores.

It is speculation, so it is given up — the worker killed, the stage thrown away —
as soon as a pin it was handed might not be final: resolvelib backjumps (it says
so with ``resolving_conflicts``) or pins an identifier a second time.  Whatever
resolvelib does, ``collect`` keeps the worker's work only if every wheel staged is
a step of the final plan, requested as staged, and nothing failed; otherwise it
too gives up.  A fill that gives up goes on exactly as one that never started:
the plan's wheels are verified and staged by ``apply``, which reports their
problems as it always has.  A wheel whose entry the worker cannot load (not in
the cache, or edited) is left to ``apply`` in the same way.

Only for a new venv with a cache (nothing to uninstall; the stage lives in the
state directory the lock made, and the builder makes the rest of the venv at the
same time), offline, not for ``--lock`` (nothing is resolved), and where forking
is safe (_speed/forked.py).
"""

from __future__ import annotations

import marshal
import os
import signal
import struct
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resolvelib import BaseReporter

from ..cache import unpacked
from ..resolve.candidates import Candidate, Requirement
from . import forked

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    from ..install.transaction import Staged, Transaction
    from ..resolve.plan import Step
    from ..sources.wheelhouse import LocalWheel, Wheelhouse


_ENTRY = struct.Struct("<II")
"""A queue entry: the wheel's index, and whether it is requested."""


class Prestage(BaseReporter[Requirement, Candidate, str]):
    """A worker staging pinned wheels; resolvelib's reporter, so it hears of each pin."""

    def __init__(self, transaction: Transaction, wheels: Sequence[LocalWheel],
                 requested: Collection[str], cache_root: Path, pid: int,
                 queue: tuple[int, int], outbox: int) -> None:
        super().__init__()
        self._transaction: Transaction | None = transaction
        """Owned until ``hand_over``: ``give_up`` throws its stage away."""
        self._staged: dict[Path, Staged] = {}
        self._wheels = wheels
        self._index = {id(w): i for i, w in enumerate(wheels)}
        self._requested = requested
        self._cache_root = cache_root
        self._pid: int | None = pid
        self._queue, self._inbox = queue  # its read end, its write end
        self._outbox = outbox
        self._pinned: set[str] = set()
        self._sent: dict[int, bool] = {}
        """Index of each wheel handed to the worker → whether it was sent as requested."""

    @classmethod
    def start(cls, transaction: Transaction, wheelhouse: Wheelhouse,
              requested: Collection[str], cache_root: Path) -> Prestage | None:
        """Fork the worker; None where forking is not safe (the fill stages as before).

        ``transaction``: new (an empty stage); ``requested``: the names the manifest
        asks for (their wheels get REQUESTED); ``cache_root``: the unpacked entries.
        """
        if not forked.can_fork():
            return None
        wheels = [w for ws in wheelhouse.wheels.values() for w in ws]
        queue, inbox = os.pipe()
        outbox, outbox_write = os.pipe()
        # Not at a lower priority, though it would leave the resolver a core on an
        # idle machine (synthetic A/B: 302 -> 285 ms): under other load the worker
        # then got next to nothing and the fill staged alone at the end (two busy
        # processes beside it: 423 -> 586 ms).
        pid = forked.child(_serve, transaction, wheels, cache_root, queue, outbox_write,
                           (inbox, outbox))
        os.close(outbox_write)
        return cls(transaction, wheels, requested, cache_root, pid, (queue, inbox), outbox)

    @property
    def reporter(self) -> Prestage:
        """Resolvelib reports to the prestage itself."""
        return self

    # -- resolvelib's reporter (keyword calls: parameter names as BaseReporter's) --

    def pinning(self, candidate: Candidate) -> None:
        """Hand the worker a pinned wheel; give up if the identifier was pinned before."""
        if self._pid is None:
            return
        if candidate.identifier in self._pinned:
            self.give_up()  # re-pinned without a backjump: its first pin was not final
            return
        self._pinned.add(candidate.identifier)
        wheel = candidate.wheel
        index = self._index.get(id(wheel)) if wheel is not None else None
        if candidate.extras or index is None or self._wheels[index] is not wheel:
            return  # an extras view, something visible, or a wheel built meanwhile
        requested = candidate.name in self._requested
        self._sent[index] = requested
        try:
            os.write(self._inbox, _ENTRY.pack(index, requested))
        except OSError:  # the worker is gone
            self.give_up()

    def resolving_conflicts(
            self, causes: Collection[RequirementInformation[Requirement, Candidate]]) -> None:
        """Give up: resolvelib is about to backjump, unpinning what it may have handed over."""
        self.give_up()

    # -- the fill's side --

    def collect(self, steps: Sequence[Step]) -> dict[Path, unpacked.Unpacked]:
        """End the worker; the cache entries of the wheels staged, by path.

        ``steps``: the final plan's.  Empty: nothing was staged, or everything was
        given up; the stage is gone and the plan's wheels are all still to be
        verified and staged.
        """
        if self._pid is None or self._transaction is None:
            return {}
        os.close(self._inbox)  # no more entries: both take what is left, then end
        try:
            mine = _drain(self._transaction, self._wheels, self._cache_root, self._queue)
            chunks = []
            while chunk := os.read(self._outbox, 1 << 20):
                chunks.append(chunk)
        except BaseException:  # an interrupt: nothing staged stays
            os.kill(self._pid, signal.SIGKILL)
            self._discard()
            raise
        finally:
            os.close(self._queue)
            os.close(self._outbox)
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
        if status != 0 or not chunks:
            return self._discard()
        results: list[tuple[int, Any]] = [*marshal.loads(b"".join(chunks)), *mine]
        planned = {id(s.wheel): s for s in steps if s.wheel is not None}
        entries: dict[Path, unpacked.Unpacked] = {}
        for index, result in results:
            if result is None:
                continue  # not staged: apply stages it
            wheel = self._wheels[index]
            step = planned.get(id(wheel))
            if (isinstance(result, str) or step is None or step.wheel is not wheel
                    or step.requested != self._sent[index]):
                return self._discard()  # a failure, or a wheel the plan does not install
            written, sources, sizes, root, sha, dist_info, rows, stamps, purelib = result
            self._staged[wheel.path] = (written, sources, sizes)
            entries[wheel.path] = unpacked.Unpacked(
                root=Path(root), sha256=sha, dist_info_dir=dist_info, rows=rows,
                stamps=stamps, purelib=purelib)
        return entries if entries else self._discard()

    def hand_over(self) -> tuple[Transaction, dict[Path, Staged]] | None:
        """For ``install.apply``: the Transaction and the wheels staged into it, by path.

        From now on the stage is apply's (committed, or thrown away on failure).
        None: nothing was staged.
        """
        if self._pid is not None or self._transaction is None or not self._staged:
            return None
        transaction, self._transaction = self._transaction, None
        return transaction, self._staged

    def give_up(self) -> None:
        """Stop the worker, and throw the stage away unless it was handed over.

        For every way a fill can end: ``collect`` then finds nothing.
        """
        if self._pid is not None:
            os.kill(self._pid, signal.SIGKILL)
            for fd in (self._inbox, self._queue, self._outbox):
                os.close(fd)
            os.waitpid(self._pid, 0)
            self._pid = None
        self._discard()

    def _discard(self) -> dict[Path, unpacked.Unpacked]:
        self._staged.clear()
        if self._transaction is not None:
            self._transaction.abort()
            self._transaction = None
        return {}


def _serve(transaction: Transaction, wheels: Sequence[LocalWheel], cache_root: Path,
           queue: int, outbox: int, parents: tuple[int, int]) -> None:
    # The worker (a forked.child): stage the queue's wheels until it is closed and
    # empty, then write every outcome to ``outbox``, marshalled.  ``parents``: the
    # parent's ends of the pipes, closed here first.
    for fd in parents:
        os.close(fd)
    view = memoryview(marshal.dumps(_drain(transaction, wheels, cache_root, queue)))
    while view:
        view = view[os.write(outbox, view):]


def _drain(transaction: Transaction, wheels: Sequence[LocalWheel], cache_root: Path,
           queue: int) -> list[tuple[int, Any]]:
    # Stage queued wheels until the queue is closed and empty: (index, outcome) each.
    # A read of one entry cannot tear it (see forked._queue); it waits while the
    # queue is empty but still open.
    outcomes = []
    while entry := os.read(queue, _ENTRY.size):
        index, requested = _ENTRY.unpack(entry)
        outcomes.append((index, _stage(transaction, wheels[index], bool(requested),
                                       cache_root)))
    return outcomes


def _stage(transaction: Transaction, wheel: LocalWheel, requested: bool,
           cache_root: Path) -> tuple[Any, ...] | str | None:
    # One wheel's outcome: None (no usable cache entry), a failure's text, or what
    # was staged with the entry's fields (marshal carries only plain values).
    entry = unpacked.cached(wheel, cache_root)
    if entry is None:
        return None
    try:
        written, sources, sizes = transaction.stage_wheel(wheel, requested, entry)
    except Exception as exc:  # the parent gives up; apply reports it, naming the wheel
        return str(exc) or type(exc).__name__
    return (written, sources, sizes, str(entry.root), entry.sha256, entry.dist_info_dir,
            entry.rows, dict(entry.stamps), entry.purelib)
