"""Members read from a zip's central directory (centraldir.py) equal zipfile's, or None."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver._speed import centraldir
from wheelfactory import build_wheel


def _is_metadata(name: str) -> bool:
    return name.count("/") == 1 and name.endswith(".dist-info/METADATA")


def _by_zipfile(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if _is_metadata(n)}


def _read(path: Path) -> dict[str, bytes] | None:
    return centraldir.read(str(path), "/METADATA", _is_metadata, limit=1 << 24)


_names = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="/\x00"),
                          min_size=1, max_size=12), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_names, max_size=30), data=st.binary(max_size=3000),
       stored=st.booleans(), utf8_flag=st.booleans())
def test_any_plain_archive_reads_as_zipfile_reads_it(
        tmp_path_factory: pytest.TempPathFactory, names: list[list[str]], data: bytes,
        stored: bool, utf8_flag: bool) -> None:
    path = tmp_path_factory.mktemp("z") / "a.whl"
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as zf:
        for parts in names:
            name = "/".join(parts)
            if name not in zf.namelist():
                zf.writestr(name, data[: len(name) * 50])
        zf.writestr("demo-1.0.dist-info/METADATA", b"Name: demo\n" + data)
        zf.writestr("other/demo-1.0.dist-info/METADATA", b"not this one")
        if utf8_flag:
            zf.writestr("demo-1.0.dist-info/\u00e9/METADATA", b"nor this")
    assert _read(path) == _by_zipfile(path)


def test_a_wheel_has_its_metadata_read(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0")
    found = _read(wheel)
    assert found is not None and list(found) == ["demo-1.0.dist-info/METADATA"]
    assert found == _by_zipfile(wheel)


def _plain(tmp_path: Path, **kw: object) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "a.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", b"Name: demo\n" * 20)
        for key, value in kw.items():
            setattr(zf, key, value)
    return path


def test_archives_that_are_not_plain_are_left_to_zipfile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _read(_plain(tmp_path / "a")) is not None
    assert _read(_plain(tmp_path / "b", comment=b"hello")) is None
    prefixed = _plain(tmp_path / "c")
    prefixed.write_bytes(b"#!/bin/sh\n" + prefixed.read_bytes())
    assert _read(prefixed) is None  # zipfile reads it; the offsets are not as written
    assert _by_zipfile(prefixed)

    member64 = tmp_path / "d.whl"  # a ZIP64 local header alone: sizes still in the directory
    with zipfile.ZipFile(member64, "w") as zf, zf.open("demo-1.0.dist-info/METADATA", "w",
                                                       force_zip64=True) as f:
        f.write(b"Name: demo\n")
    assert _read(member64) == _by_zipfile(member64) != {}

    zip64 = tmp_path / "e.whl"  # a ZIP64 end record: counts and offsets live there
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 0)
    with zipfile.ZipFile(zip64, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", b"Name: demo\n")
    monkeypatch.undo()
    assert _read(zip64) is None
    assert _by_zipfile(zip64) != {}

    nul = tmp_path / "f.whl"
    with zipfile.ZipFile(nul, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", b"Name: demo\n")
    raw = nul.read_bytes()
    # Same length, so every offset holds; zipfile cuts the name at the NUL ("demo").
    nul.write_bytes(raw.replace(b"demo-1.0.dist-info", b"demo\x001.0.dist-info"))
    assert _read(nul) is None
    assert _by_zipfile(nul) == {}


@pytest.mark.parametrize("damage", ["member", "cut", "directory"])
def test_damaged_archives_give_none_never_an_exception(tmp_path: Path, damage: str) -> None:
    path = _plain(tmp_path)
    raw = bytearray(path.read_bytes())
    if damage == "member":
        raw[40] ^= 0xFF  # inside the deflated METADATA: bad data or a bad CRC-32
    elif damage == "cut":
        raw = raw[: len(raw) - 30] + raw[-22:]  # the end record survives, offsets do not
    else:
        raw[raw.rindex(b"PK\x01\x02") + 28] = 0xFF  # a name length past the end
    path.write_bytes(bytes(raw))
    assert _read(path) is None
    if damage != "directory":  # there zipfile lists one member with a garbled name
        with pytest.raises(zipfile.BadZipFile):
            _by_zipfile(path)
