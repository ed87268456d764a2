"""Work in forked processes (forked.py), and wheels unpacked by several of them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from resolver import forked, unpacked
from resolver.errors import WheelError
from resolver.wheelhouse import wheel_at
from wheelfactory import build_wheel


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


def test_results_come_back_in_order_from_several_processes() -> None:
    results = forked.run(_pid_and_square, list(range(12)), [1.0] * 12, workers=3)
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


def _die(n: int) -> int:
    if n == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return n


def test_a_worker_that_dies_fails_the_run() -> None:
    # Task 1 is the lightest: it goes to the forked worker, not to this process.
    with pytest.raises(OSError, match="ended abnormally"):
        forked.run(_die, [0, 1], [5.0, 1.0], workers=2)


def test_a_threaded_process_does_not_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "_threads", lambda: 2)
    results = forked.run(_pid_and_square, [1, 2, 3], [1.0] * 3, workers=3)
    assert {pid for pid, _ in results} == {os.getpid()}


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
