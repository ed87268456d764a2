"""threads.Shared: results in order, errors at their turn, nothing left running."""

from __future__ import annotations

import _thread
import time

import pytest

from resolver.threads import Shared


def test_results_come_in_the_items_order_whatever_finishes_first() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0)
        return n * n

    with Shared(slow_first, list(range(20)), 3) as pool:
        assert list(pool.results()) == [n * n for n in range(20)]


def test_work_is_spread_over_the_threads() -> None:
    seen: set[int] = set()

    def who(n: int) -> int:
        seen.add(_thread.get_ident())
        time.sleep(0.01)
        return n

    with Shared(who, list(range(8)), 4) as pool:
        assert list(pool.results()) == list(range(8))
    assert len(seen) == 4 and _thread.get_ident() not in seen


def test_an_error_is_raised_at_its_turn_and_leaving_waits_for_every_thread() -> None:
    started: list[int] = []
    finished: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        time.sleep(0.02)
        if n == 2:
            raise OSError(28, "No space left on device")
        finished.append(n)
        return n

    got: list[int] = []
    with pytest.raises(OSError, match="No space left"), Shared(work, list(range(50)), 2) as pool:
        for value in pool.results():
            got.append(value)
    assert got == [0, 1]
    # Leaving the block waited for the threads: nothing runs or starts afterwards.
    done = (list(started), list(finished))
    time.sleep(0.1)
    assert (started, finished) == done
    assert len(started) < 50  # items not yet begun were skipped
    assert set(finished) == set(started) - {2}


def test_no_items_and_more_workers_than_items() -> None:
    with Shared(lambda n: n, [], 4) as pool:
        assert list(pool.results()) == []
    with Shared(lambda n: n + 1, [1], 4) as pool:
        assert list(pool.results()) == [2]
