"""INSTALLER, REQUESTED and RECORD kept in the cache entry and linked into venvs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from resolver import metafiles

RECORD = b"demo_mod/__init__.py,sha256=abc,3\ndemo-1.0.dist-info/RECORD,,\n"


def kept_path(entry: Path, contents: bytes) -> Path:
    return entry / metafiles.MADE / hashlib.sha256(contents).hexdigest()


def test_one_kept_copy_is_linked_into_every_venv(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    first, second = tmp_path / "a" / "RECORD", tmp_path / "b" / "RECORD"
    first.parent.mkdir()
    second.parent.mkdir()
    assert metafiles.place(str(entry), RECORD, str(first)) == str(kept_path(entry, RECORD))
    assert metafiles.place(str(entry), RECORD, str(second)) == str(kept_path(entry, RECORD))
    assert first.read_bytes() == second.read_bytes() == RECORD
    assert os.stat(first).st_ino == os.stat(second).st_ino
    assert os.stat(first).st_nlink == 3  # the kept copy and two venvs
    assert sorted(os.listdir(entry / metafiles.MADE)) == [kept_path(entry, RECORD).name]
    # Empty contents (REQUESTED) are kept and linked the same way.
    requested = tmp_path / "a" / "REQUESTED"
    assert metafiles.place(str(entry), b"", str(requested)) is not None
    assert requested.read_bytes() == b"" and os.stat(requested).st_nlink == 2


def test_a_kept_copy_edited_through_a_venv_is_replaced(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    edited = tmp_path / "edited"
    metafiles.place(str(entry), b"venvfill\n", str(edited))
    with open(edited, "r+b") as f:  # in place: the kept copy changes with it
        f.write(b"pipfill!\n")
    fresh = tmp_path / "fresh"
    assert metafiles.place(str(entry), b"venvfill\n", str(fresh)) is not None
    assert fresh.read_bytes() == b"venvfill\n"
    assert kept_path(entry, b"venvfill\n").read_bytes() == b"venvfill\n"
    assert edited.read_bytes() == b"pipfill!\n"  # that venv keeps its own inode
    assert os.stat(edited).st_ino != os.stat(fresh).st_ino
    assert [n for n in os.listdir(entry / metafiles.MADE) if n.endswith(".tmp")] == []


def test_without_a_usable_cache_the_file_is_written(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "entry"
    not_a_dir.write_text("a file where the entry should be")
    target = tmp_path / "INSTALLER"
    assert metafiles.place(str(not_a_dir), b"venvfill\n", str(target)) is None
    assert target.read_bytes() == b"venvfill\n" and os.stat(target).st_nlink == 1


def test_when_linking_fails_the_file_is_written(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()

    def cross_device(src: str, dst: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    target = tmp_path / "RECORD"
    assert metafiles.place(str(entry), RECORD, str(target)) is None
    assert target.read_bytes() == RECORD and os.stat(target).st_nlink == 1


def test_an_existing_target_is_never_overwritten(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    target = tmp_path / "RECORD"
    target.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        metafiles.place(str(entry), RECORD, str(target))
    assert target.read_bytes() == b"theirs"
