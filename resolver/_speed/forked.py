"""Work shared with forked processes: Python-heavy work on every core, without the GIL.

Unpacking wheels is inflating, hashing and writing thousands of small files.
The C parts release the GIL, but between them each file costs Python code and
a dozen system calls, and threads hand the GIL over at every one: a cold fill
of the real-world benchmark made over 100,000 ``futex`` calls with two
threads, and its system time was twice uv's.  Forked workers share nothing
but their results; on a tmpfs the same unpacking took 690 ms in two threads
and 516 ms in two processes (one alone: 958 ms).

* Tasks wait in a queue, the heaviest first (by the caller's ``weights``); each
  worker, the calling process among them, takes the next one whenever it is
  done with one.  Shares fixed up front left one worker idle for a tenth of
  the unpacking while the other finished (weights are compressed sizes, and
  the same bytes cost more or less depending on how many files they hold).
* Results and exceptions come back pickled through a pipe per worker.  The
  exception of the first failed task (in the given order) is raised, so which
  problem is reported does not depend on timing.
* A worker that dies (killed, out of memory) fails the run with an OSError;
  an interrupt stops every worker before it propagates.
* Fork only where it is safe: with a single thread in the process (forking a
  threaded process can deadlock the child) and where ``os.fork`` exists;
  elsewhere, and for a single task, everything runs in the calling process.

``child`` is the one way this package forks: ``run``'s workers, the prestage's
worker and a recipe's second share of links are each a ``child``.

Imported by the recipe replay before anything heavy: the standard library's
cheapest modules only (no typing, no contextlib).
"""

from __future__ import annotations

import _thread
import os
import struct

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")


def child(work: Callable[..., object], *args: Any) -> int:
    """Run ``work(*args)`` in a forked child process; return its pid.

    The child ends as soon as ``work`` does, with exit status 0 if it returned and
    1 if it raised; nothing of the parent's (atexit handlers, buffered output)
    runs there.  The caller reaps it (``os.waitpid``).
    """
    pid = os.fork()
    if pid == 0:  # never returns
        status = 1
        try:
            work(*args)
            status = 0
        finally:
            os._exit(status)
    return pid


def run(func: Callable[[T], R], tasks: Sequence[T], weights: Sequence[float],
        workers: int) -> list[R]:
    """``[func(t) for t in tasks]``, spread over up to ``workers`` processes."""
    workers = min(workers, len(tasks))
    if workers <= 1 or not can_fork():
        return [func(t) for t in tasks]
    order = sorted(range(len(tasks)), key=lambda i: -weights[i])
    queue = _queue(order)
    outcomes: dict[int, tuple[bool, Any]] = {}
    children: list[tuple[int, int]] = []
    try:
        for _ in range(workers - 1):
            children.append(_fork(func, tasks, order, queue))
        outcomes.update(_work(func, tasks, order, queue))
        while children:
            pid, fd = children.pop(0)
            outcomes.update(_collect(pid, fd))  # reaps the worker, whatever happens
    finally:
        os.close(queue)
        for pid, fd in children:  # only after a failure or an interrupt
            _stop(pid, fd)
    results = []
    for i in range(len(tasks)):
        ok, value = outcomes[i]  # every task before the first failure was done
        if not ok:
            raise value
        results.append(value)
    return results


_SLOT = struct.Struct("<II")
"""A queue entry: where a run of tasks starts in the given order, and how many."""


def _queue(order: Sequence[int]) -> int:
    # A pipe holding every task, then closed for writing: workers take entries until
    # it is empty.  Reads of one entry each cannot tear one (all writes and reads are
    # the same few bytes, under the pipe's lock), and the whole queue fits in the
    # pipe's buffer (64 kB on Linux, 16 kB elsewhere), so writing it never blocks:
    # beyond 1,024 tasks, each entry is a run of consecutive ones.
    per = -(-len(order) // 1024)
    read_end, write_end = os.pipe()
    try:
        entries = b"".join(_SLOT.pack(start, min(per, len(order) - start))
                           for start in range(0, len(order), per))
        os.write(write_end, entries)
    finally:
        os.close(write_end)
    return read_end


def can_fork() -> bool:
    """Whether this process may fork workers (forking a threaded process can deadlock).

    ``os.fork`` must exist and no other thread run, whoever started it (threading,
    or _thread as _speed/recipes.py does).
    """
    return hasattr(os, "fork") and _thread._count() == 0


def _work(func: Callable[[T], Any], tasks: Sequence[T], order: Sequence[int],
          queue: int) -> dict[int, tuple[bool, Any]]:
    # Take tasks from the queue until it is empty.  After a failure, only tasks
    # earlier in the given order are still done: whichever fails first in that
    # order is then certain to have run, so which problem is reported does not
    # depend on timing, and nothing after it is wasted work.
    outcomes: dict[int, tuple[bool, Any]] = {}
    failed = len(tasks)
    while entry := os.read(queue, _SLOT.size):
        start, count = _SLOT.unpack(entry)
        for i in order[start:start + count]:
            if i > failed:
                continue
            try:
                outcomes[i] = (True, func(tasks[i]))
            except Exception as exc:  # carried to the caller, raised there
                outcomes[i] = (False, exc)
                failed = min(failed, i)
    return outcomes


def _fork(func: Callable[[T], Any], tasks: Sequence[T], order: Sequence[int],
          queue: int) -> tuple[int, int]:
    import pickle  # here, before the fork: fills that fork nothing do not import it

    read_end, write_end = os.pipe()

    def worker() -> None:
        os.close(read_end)
        outcomes = _work(func, tasks, order, queue)
        try:
            payload = pickle.dumps(outcomes)
        except Exception:  # an exception that does not pickle
            payload = pickle.dumps({i: (ok, v if ok else RuntimeError(repr(v)))
                                    for i, (ok, v) in outcomes.items()})
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view):]

    pid = child(worker)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, fd: int) -> dict[int, tuple[bool, Any]]:
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    if status != 0 or not chunks:
        raise OSError(f"worker process {pid} ended abnormally (wait status {status})")
    import pickle

    outcomes: dict[int, tuple[bool, Any]] = pickle.loads(b"".join(chunks))
    return outcomes


def _stop(pid: int, fd: int) -> None:
    import signal

    try:  # noqa: SIM105 - contextlib is an import this module avoids
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.close(fd)
    os.waitpid(pid, 0)
