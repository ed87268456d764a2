"""Work in forked processes (forked.py), and wheels unpacked by several of them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

import pytest

from resolver._speed import forked
from resolver.cache import unpacked
from resolver.errors import WheelError
from resolver.sources.wheelhouse import wheel_at
from wheelfactory import build_wheel


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def _wait_until(done: Callable[[], bool]) -> None:
    # Workers meet at barriers made of files, never at a sleep that a loaded machine
    # could outlast; a minute's cap keeps a failing test from hanging.
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.005)


def _square_once_all_are_in(task: tuple[str, int]) -> tuple[int, int]:
    # Each worker's first task waits until every worker has one: so each does some.
    meeting, n = task
    Path(meeting, str(os.getpid())).touch()
    _wait_until(lambda: len(os.listdir(meeting)) >= 3)
    return os.getpid(), n * n


def test_results_come_back_in_order_from_several_processes(tmp_path: Path) -> None:
    tasks = [(str(tmp_path), n) for n in range(12)]
    results = forked.run(_square_once_all_are_in, tasks, [1.0] * 12, workers=3)
    assert [square for _, square in results] == [n * n for n in range(12)]
    pids = {pid for pid, _ in results}
    assert len(pids) == 3 and os.getpid() in pids


def _fail_on_odd(n: int) -> int:
    if n % 2:
        raise ValueError(f"task {n} failed")
    return n


def test_the_first_failure_in_task_order_is_raised() -> None:
    # Task 3 is the heaviest, so it is started first; task 1 still wins.
    with pytest.raises(ValueError, match="task 1 failed"):
        forked.run(_fail_on_odd, [0, 1, 2, 3], [1.0, 1.0, 1.0, 9.0], workers=2)


def _die_unless(task: tuple[int, str]) -> int:
    parent, taken = task
    if os.getpid() != parent:
        Path(taken).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    _wait_until(lambda: os.path.exists(taken))  # the forked worker takes the other task
    return parent


def test_a_worker_that_dies_fails_the_run(tmp_path: Path) -> None:
    task = (os.getpid(), str(tmp_path / "taken"))
    with pytest.raises(OSError, match="ended abnormally"):
        forked.run(_die_unless, [task] * 2, [1.0, 1.0], workers=2)
    assert (tmp_path / "taken").exists()


def test_a_threaded_process_does_not_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    results = forked.run(_pid_and_square, [1, 2, 3], [1.0] * 3, workers=3)
    assert {pid for pid, _ in results} == {os.getpid()}


def test_a_process_may_fork_only_while_no_other_thread_runs() -> None:
    import threading

    assert forked.can_fork()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.can_fork()
    finally:
        stop.set()
        thread.join()
    assert forked.can_fork()


def _big_wheel(directory: Path, **kw: object) -> Path:
    # Enough incompressible members that every worker gets a share of one wheel.
    members = {f"demo_mod/data/blob{i:02d}.bin": os.urandom(30_000) for i in range(40)}
    return build_wheel(directory, "demo", "1.0", extra_files=members, **kw)  # type: ignore[arg-type]


def test_a_big_wheel_unpacked_in_parts_equals_one_unpacked_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = wheel_at(_big_wheel(tmp_path / "wheels"))
    whole = unpacked.unpack_all([wheel], tmp_path / "one", workers=1)[0]
    monkeypatch.setattr(unpacked, "_SLICE_BYTES", 100_000)  # the wheel is ~1.2 MB
    parts = unpacked.unpack_all([wheel], tmp_path / "three", workers=3)[0]
    assert parts.rows == whole.rows and parts.dist_info_dir == whole.dist_info_dir
    assert set(parts.stamps) == set(whole.stamps)
    for path, *_ in whole.rows:
        assert ((parts.root / unpacked.FILES / path).read_bytes()
                == (whole.root / unpacked.FILES / path).read_bytes())
    assert unpacked._load(parts.root, parts.sha256) == parts  # a complete entry


def test_a_bad_member_in_any_part_refuses_the_wheel_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {f"demo_mod/data/blob{i:02d}.bin": "sha256=AAAA" for i in (7, 22)}
    wheel = wheel_at(_big_wheel(tmp_path / "wheels", record_override=bad))
    with pytest.raises(WheelError) as whole:
        unpacked.unpack_all([wheel], tmp_path / "one", workers=1)
    monkeypatch.setattr(unpacked, "_SLICE_BYTES", 100_000)
    with pytest.raises(WheelError) as parts:
        unpacked.unpack_all([wheel], tmp_path / "three", workers=3)
    assert str(parts.value) == str(whole.value)  # both members named, in wheel order
    assert "blob07.bin" in str(parts.value) and "blob22.bin" in str(parts.value)
    assert os.listdir(tmp_path / "three") == []  # no entry, no temporary directory


def test_a_failure_run_before_an_earlier_task_still_reports_the_first() -> None:
    # Task 1 (heaviest) is taken first and fails; task 0, lighter but earlier in
    # order, must still run so that its failure is the one reported.
    with pytest.raises(ValueError, match="task 0 failed"):
        forked.run(_fail_below_two, [0, 1, 2], [1.0, 9.0, 5.0], workers=2)
    # A worker whose first task (2) fails still does the earlier task 0 it takes next.
    with pytest.raises(ValueError, match="task 1 failed"):
        forked.run(_fail_above_zero, [0, 1, 2], [1.0, 9.0, 5.0], workers=2)


def _fail_above_zero(n: int) -> int:
    if n > 0:
        raise ValueError(f"task {n} failed")
    return n


def _fail_below_two(n: int) -> int:
    if n < 2:
        raise ValueError(f"task {n} failed")
    return n


def test_workers_take_tasks_as_they_finish_not_in_fixed_shares(tmp_path: Path) -> None:
    # One long task and many short ones: the worker that took the long one does
    # nothing else, the other does all the rest.  The long one lasts until the
    # short ones are all done.
    tasks = [(str(tmp_path), n) for n in range(21)]
    results = forked.run(_pid_when_the_rest_are_done, tasks, [9.0] + [1.0] * 20, workers=2)
    assert len(set(results)) == 2
    assert results.count(results[0]) == 1


def _pid_when_the_rest_are_done(task: tuple[str, int]) -> int:
    done, n = task
    if n == 0:
        _wait_until(lambda: len(os.listdir(done)) == 20)
    else:
        Path(done, str(n)).touch()
    return os.getpid()


def test_more_tasks_than_queue_entries_are_all_done() -> None:
    n = 5000  # more than the queue's 1,024 entries: runs of several tasks each
    results = forked.run(_pid_and_square, list(range(n)), [1.0] * n, workers=2)
    assert [square for _, square in results] == [i * i for i in range(n)]


def test_only_the_first_part_hashes_the_wheel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = wheel_at(_big_wheel(tmp_path / "wheels"))
    hashed: list[int] = []
    real = unpacked.file_digest

    def counting(path: Path, *args: str) -> str:
        hashed.append(1)
        return real(path, *args)

    monkeypatch.setattr(unpacked, "file_digest", counting)
    monkeypatch.setattr(unpacked, "_SLICE_BYTES", 100_000)
    monkeypatch.setattr(forked, "can_fork", lambda: False)  # every part in this process
    entry = unpacked.unpack_all([wheel], tmp_path / "cache", workers=3)[0]
    assert len(hashed) == 1  # one of three parts
    assert entry.sha256 == real(wheel.path)


def test_a_wheel_replaced_between_its_parts_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _big_wheel(tmp_path / "wheels")
    wheel = wheel_at(path)
    other = _big_wheel(tmp_path / "other")  # same name, other bytes
    real = unpacked._read
    calls: list[int] = []

    def replacing(*args: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 1:  # after the first part: another file takes its place
            os.replace(other, path)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(unpacked, "_read", replacing)
    monkeypatch.setattr(unpacked, "_SLICE_BYTES", 100_000)
    monkeypatch.setattr(forked, "can_fork", lambda: False)  # every part in this process
    with pytest.raises(WheelError, match="changed while it was being read"):
        unpacked.unpack_all([wheel], tmp_path / "cache", workers=3)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []
