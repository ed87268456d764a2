"""Work shared by a few threads, results in order: what venvfill needs of concurrent.futures.

``concurrent.futures`` imports ``logging`` (and with it ``traceback``,
``textwrap``, ``string``, ``threading``...), a noticeable part of a fill's
start-up, for the one pattern used here: apply a function to a list of items in
a few threads and take the results in the list's order.
"""

from __future__ import annotations

import _thread
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Shared(Generic[T, R]):
    """``func`` applied to every item by ``workers`` threads, started at once.

    ``results`` yields each item's result in the items' order, waiting for it,
    and raises an item's exception when its turn comes.  Leaving the ``with``
    block waits for every thread; items no thread had started by then are
    skipped (after an error or an interrupt, nothing new begins).
    """

    def __init__(self, func: Callable[[T], R], items: Sequence[T], workers: int) -> None:
        self._func = func
        self._items = items
        self._next = 0
        self._stop = False
        self._take = _thread.allocate_lock()
        self._outcomes: list[tuple[bool, Any]] = [(False, None)] * len(items)
        self._ready = [_thread.allocate_lock() for _ in items]
        for lock in self._ready:
            lock.acquire()
        self._running: list[Any] = []
        for _ in range(max(1, min(workers, len(items)))):
            running = _thread.allocate_lock()
            running.acquire()
            self._running.append(running)
            _thread.start_new_thread(self._work, (running,))

    def _work(self, running: Any) -> None:
        try:
            while True:
                with self._take:
                    i = self._next
                    if self._stop or i >= len(self._items):
                        return
                    self._next = i + 1
                try:
                    self._outcomes[i] = (True, self._func(self._items[i]))
                except BaseException as exc:  # handed to the caller by ``results``
                    self._outcomes[i] = (False, exc)
                self._ready[i].release()
        finally:
            running.release()

    def results(self) -> Iterator[R]:
        """Each item's result, in order."""
        for i in range(len(self._items)):
            self._ready[i].acquire()
            ok, value = self._outcomes[i]
            if not ok:
                raise value
            yield value

    def __enter__(self) -> Shared[T, R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._take:
            self._stop = True
        for running in self._running:
            running.acquire()
