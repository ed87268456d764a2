"""Work shared with forked processes: Python-heavy work on every core, without the GIL.

Unpacking wheels is inflating, hashing and writing thousands of small files.
The C parts release the GIL, but between them each file costs Python code and
a dozen system calls, and threads hand the GIL over at every one: a cold fill
of the real-world benchmark made over 100,000 ``futex`` calls with two
threads, and its system time was twice uv's.  Forked workers share nothing
but their results; on a tmpfs the same unpacking took 690 ms in two threads
and 516 ms in two processes (one alone: 958 ms).

* Tasks are given out up front, the heaviest first, each to the least loaded
  worker (by the caller's ``weights``); the calling process is one of them.
* Results and exceptions come back pickled through a pipe per worker.  The
  exception of the first failed task (in the given order) is raised, so which
  problem is reported does not depend on timing.
* A worker that dies (killed, out of memory) fails the run with an OSError;
  an interrupt stops every worker before it propagates.
* Fork only where it is safe: with a single thread in the process (forking a
  threaded process can deadlock the child) and where ``os.fork`` exists;
  elsewhere, and for a single task, everything runs in the calling process.
"""

from __future__ import annotations

import _thread
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run(func: Callable[[T], R], tasks: Sequence[T], weights: Sequence[float],
        workers: int) -> list[R]:
    """``[func(t) for t in tasks]``, spread over up to ``workers`` processes."""
    workers = min(workers, len(tasks))
    if workers <= 1 or not hasattr(os, "fork") or _threads() > 1:
        return [func(t) for t in tasks]
    shares: list[list[int]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for i in sorted(range(len(tasks)), key=lambda i: -weights[i]):
        least = loads.index(min(loads))
        shares[least].append(i)
        loads[least] += weights[i]
    outcomes: dict[int, tuple[bool, Any]] = {}
    children: list[tuple[int, int]] = []
    try:
        for share in shares[1:]:
            children.append(_fork(func, tasks, share))
        outcomes.update(_work(func, tasks, shares[0]))
        while children:
            pid, fd = children.pop(0)
            outcomes.update(_collect(pid, fd))  # reaps the worker, whatever happens
    finally:
        for pid, fd in children:  # only after a failure or an interrupt
            _stop(pid, fd)
    results = []
    for i in range(len(tasks)):
        ok, value = outcomes[i]
        if not ok:
            raise value
        results.append(value)
    return results


def _threads() -> int:
    # Every thread alive, the main one included, whoever started it (threading, or
    # _thread as threads.py and recipes.py do).
    return _thread._count() + 1


def _work(func: Callable[[T], Any], tasks: Sequence[T],
          share: Sequence[int]) -> dict[int, tuple[bool, Any]]:
    outcomes: dict[int, tuple[bool, Any]] = {}
    for i in share:
        try:
            outcomes[i] = (True, func(tasks[i]))
        except Exception as exc:  # carried to the caller, raised there
            outcomes[i] = (False, exc)
            break  # the run fails: the rest of this share is not needed
    return outcomes


def _fork(func: Callable[[T], Any], tasks: Sequence[T],
          share: Sequence[int]) -> tuple[int, int]:
    import pickle  # here, before the fork: fills that fork nothing do not import it

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            os.close(read_end)
            outcomes = _work(func, tasks, share)
            try:
                payload = pickle.dumps(outcomes)
            except Exception:  # an exception that does not pickle
                payload = pickle.dumps({i: (ok, v if ok else RuntimeError(repr(v)))
                                        for i, (ok, v) in outcomes.items()})
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
            code = 0
        finally:
            os._exit(code)  # no atexit handlers, no flushing the parent's buffers
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

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.close(fd)
    os.waitpid(pid, 0)
