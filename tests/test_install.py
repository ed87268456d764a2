"""Installing and uninstalling into a venv: verification first, rollback on failure."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from fakes import fake_target
from resolver._speed import plainwheel
from resolver._speed.accelerated import Accelerated
from resolver.acceleration import PLAIN
from resolver.cache import unpacked
from resolver.errors import InstallError, WheelError
from resolver.install import destination
from resolver.install import transaction as install
from resolver.resolve.plan import Step
from resolver.sources.wheelhouse import scan
from resolver.target.interpreter import Installed
from wheelfactory import build_wheel, default_script


def step_for(wheels: Path, name: str, old: Installed | None = None) -> Step:
    (wheel,) = scan([wheels]).for_name(name)  # type: ignore[arg-type]
    return Step(action="replace" if old else "install", name=wheel.name,
                version=wheel.version, source="wheels", requested=True, wheel=wheel, old=old)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_install_then_replace_by_record(tmp_path: Path, wheels: Path) -> None:
    target = fake_target(tmp_path, venv={})
    w1 = wheels / "v1"
    build_wheel(w1, "demo", "1.0", scripts={"demo": default_script("demo")},
                extra_files={"demo_mod/only_in_1.py": b"x = 1\n"})
    install.apply([step_for(w1, "demo")], target)
    site = Path(target.venv.scheme["purelib"])
    assert (site / "demo_mod" / "only_in_1.py").exists()
    assert (Path(target.venv.scheme["scripts"]) / "demo").exists()
    # A stray bytecode file next to a module is removed with it.
    (site / "demo_mod" / "__pycache__").mkdir()
    (site / "demo_mod" / "__pycache__" / "only_in_1.cpython-311.pyc").write_bytes(b"")

    old = Installed(name="demo", display_name="demo", version=step_for(w1, "demo").version,  # type: ignore[arg-type]
                    source="venv", location=str(site),
                    metadata_dir=str(site / "demo-1.0.dist-info"))
    w2 = wheels / "v2"
    build_wheel(w2, "demo", "2.0", scripts={"demo": default_script("demo")})
    install.apply([step_for(w2, "demo", old=old)], target)
    assert not (site / "demo_mod" / "only_in_1.py").exists()
    assert not (site / "demo_mod" / "__pycache__").exists()
    assert not (site / "demo-1.0.dist-info").exists()
    assert (site / "demo-2.0.dist-info" / "INSTALLER").read_text() == "venvfill\n"
    assert sorted(os.listdir(target.venv.path / ".venvfill")) == []


def test_failure_midway_rolls_back(tmp_path: Path, wheels: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = fake_target(tmp_path, venv={})
    w1 = wheels / "v1"
    build_wheel(w1, "demo", "1.0")
    install.apply([step_for(w1, "demo")], target)
    site = Path(target.venv.scheme["purelib"])
    old = Installed(name="demo", display_name="demo", version=step_for(w1, "demo").version,  # type: ignore[arg-type]
                    source="venv", location=str(site),
                    metadata_dir=str(site / "demo-1.0.dist-info"))
    before = snapshot(target.venv.path)

    w2 = wheels / "v2"
    build_wheel(w2, "demo", "2.0", extra_files={f"demo_mod/m{i}.py": b"" for i in range(5)})
    build_wheel(w2, "other", "1.0")
    calls = {"n": 0}
    real = destination.RecordingDestination.write_to_fs

    def failing(self, scheme, path, stream, is_executable):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(self, scheme, path, stream, is_executable)

    monkeypatch.setattr(destination.RecordingDestination, "write_to_fs", failing)
    with pytest.raises(InstallError, match="nothing in the venv was changed") as info:
        install.apply([step_for(w2, "demo", old=old), step_for(w2, "other")], target)
    assert "No space left on device" in str(info.value)
    assert snapshot(target.venv.path) == before
    assert not (target.venv.path / ".venvfill" / "stage").exists()


def test_failure_while_finishing_a_cached_wheel_rolls_back(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Accelerated, wheels from the cache without entry points never reach installer:
    # a failure writing their INSTALLER, REQUESTED or RECORD is undone all the same.
    target = fake_target(tmp_path, venv={})
    build_wheel(wheels, "demo", "1.0")
    build_wheel(wheels, "other", "1.0")
    steps = [step_for(wheels, "demo"), step_for(wheels, "other")]
    entries = {s.wheel.path: unpacked.unpack(s.wheel, tmp_path / "cache")
               for s in steps if s.wheel is not None}
    before = snapshot(target.venv.path)
    calls = {"n": 0}
    real = install.Staging.place

    def failing(self: install.Staging, contents: bytes, target_path: str) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # one of the six files (staged in-process: under 256)
            raise OSError(28, "No space left on device")
        real(self, contents, target_path)

    monkeypatch.setattr(install.Staging, "place", failing)
    with pytest.raises(InstallError, match="nothing in the venv was changed") as info:
        install.apply(steps, target, entries=entries, speed=Accelerated())
    assert "No space left on device" in str(info.value)
    assert calls["n"] >= 5
    assert snapshot(target.venv.path) == before
    assert not (target.venv.path / ".venvfill" / "stage").exists()


def test_verification_refuses_unlisted_files(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "demo", "1.0", omit_from_record=["demo_mod/__init__.py"])
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match="not mentioned in RECORD"):
        install.verify_wheel(wheel)


def test_verification_refuses_future_wheel_version(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "demo", "1.0", wheel_version="2.0")
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match="unsupported Wheel-Version 2"):
        install.verify_wheel(wheel)


def test_uninstall_never_leaves_the_venv(tmp_path: Path) -> None:
    target = fake_target(tmp_path, venv={"evil": "1.0"})
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (dist,) = target.venv.distributions
    assert dist.metadata_dir is not None
    rel = os.path.relpath(outside, dist.location)
    with open(Path(dist.metadata_dir, "RECORD"), "a") as f:
        f.write(f"{rel},,\n")
    txn = install.Transaction(venv=target.venv.path, scheme=dict(target.venv.scheme),
                              interpreter="/x/python")
    txn.uninstall(dist)
    assert outside not in txn.removals
    txn.commit()
    assert outside.read_text() == "keep"
    assert not Path(dist.metadata_dir).exists()


def test_uninstall_without_record_is_refused(tmp_path: Path) -> None:
    target = fake_target(tmp_path, venv={"norecord": "1.0"})
    (dist,) = target.venv.distributions
    assert dist.metadata_dir is not None
    Path(dist.metadata_dir, "RECORD").unlink()
    with pytest.raises(InstallError, match="has no RECORD"):
        install.record_paths(dist, target.venv.path)


def test_verification_refuses_paths_outside_the_venv(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "demo", "1.0", extra_files={"demo-1.0.data/purelib/../../../evil.py": b""})
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match="would land outside the venv"):
        install.verify_wheel(wheel)


def test_verification_refuses_symlinks(tmp_path: Path, wheels: Path) -> None:
    path = build_wheel(wheels, "demo", "1.0")
    with zipfile.ZipFile(path, "a") as zf:
        link = zipfile.ZipInfo("demo_mod/passwd")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match="contains links") as info:
        install.verify_wheel(wheel)
    assert "demo_mod/passwd" in str(info.value)


def test_truncated_wheel_names_the_file(tmp_path: Path, wheels: Path) -> None:
    path = build_wheel(wheels, "demo", "1.0")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match=r"demo-1.0-py3-none-any.whl is not a valid zip"):
        install.verify_wheel(wheel)


def _restored(path: Path, stored: set[str]) -> None:
    # Rewrite the wheel with the members in ``stored`` not compressed.
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in members:
            info.compress_type = (zipfile.ZIP_STORED if info.filename in stored
                                  else zipfile.ZIP_DEFLATED)
            zf.writestr(info, data)


def test_unpacked_members_are_the_archive_s_bytes(tmp_path: Path, wheels: Path) -> None:
    # Stored and deflated members, an empty one, and ones larger than a read
    # (unpacked.py reads members itself, not through zipfile's reader).
    big = os.urandom(1 << 20) * 2 + b"x" * (3 << 20)
    path = build_wheel(wheels, "demo", "1.0", extra_files={
        "demo_mod/empty.txt": b"", "demo_mod/big.bin": big, "demo_mod/stored.bin": big[:5000],
        "demo_mod/small.txt": b"payload\n"})
    _restored(path, {"demo_mod/stored.bin", "demo_mod/empty.txt"})
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    (entry,) = unpacked.unpack_all([wheel], tmp_path / "cache", workers=2)
    with zipfile.ZipFile(path) as zf:
        expected = {i.filename: zf.read(i) for i in zf.infolist()}
    assert {p: (entry.root / unpacked.FILES / p).read_bytes() for p, *_ in entry.rows} == expected


@pytest.mark.parametrize("stored", [False, True])
def test_a_damaged_member_is_refused_and_leaves_no_entry(
        tmp_path: Path, wheels: Path, stored: bool) -> None:
    path = build_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data.txt": b"x" * 4000})
    _restored(path, {"demo_mod/data.txt"} if stored else set())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo_mod/data.txt")
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + len(info.extra) + 7] ^= 0x55
    path.write_bytes(bytes(raw))
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    # Found by zlib (a deflated member), else by the member's hash in RECORD (the
    # CRC-32 is checked only for members RECORD gives no hash: unpacked._contents).
    with pytest.raises(WheelError, match=r"demo-1.0-py3-none-any.whl (is not a valid zip|"
                       r"failed verification: demo_mod/data.txt does not match its sha256)"):
        unpacked.unpack_all([wheel], tmp_path / "cache", workers=1)
    assert os.listdir(tmp_path / "cache") == []


def _rewritten(path: Path, record: dict[str, str], modes: dict[str, int]) -> None:
    # Rewrite the wheel with RECORD rows replaced (by path) and Unix modes given.
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename.endswith("/RECORD"):
                data = "".join(record.get(line.split(",")[0], line) + "\n"
                               for line in data.decode().splitlines()).encode()
            if info.filename in modes:
                info.external_attr = (0o100000 | modes[info.filename]) << 16
            zf.writestr(info, data)


@pytest.mark.parametrize(("row", "problem"), [
    ("demo_mod/data.txt,sha256-AAAA,4", "the hash of demo_mod/data.txt in RECORD is not "
                                        "algorithm=value"),
    ("demo_mod/data.txt,sha256=AAAA,four", "the size of demo_mod/data.txt in RECORD is "
                                           "not a number"),
])
def test_a_malformed_record_row_is_refused_naming_the_member(
        tmp_path: Path, wheels: Path, row: str, problem: str) -> None:
    path = build_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data.txt": b"data"})
    _rewritten(path, {"demo_mod/data.txt": row}, {})
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match=f"failed verification: {problem}\n"):
        unpacked.unpack_all([wheel], tmp_path / "cache", workers=1)
    assert os.listdir(tmp_path / "cache") == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077, 0o027])
def test_cached_files_are_444_or_555_whatever_the_umask(
        tmp_path: Path, wheels: Path, umask: int) -> None:
    # Venvs hard-link these inodes, so they are read-only, and their modes do not
    # depend on the umask of the run that unpacked them (given at creation, or set
    # after it).
    path = build_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/tool.sh": b"#!/bin/sh\n"})
    _rewritten(path, {}, {"demo_mod/tool.sh": 0o755, "demo_mod/__init__.py": 0o600})
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    old = os.umask(umask)
    try:
        (entry,) = unpacked.unpack_all([wheel], tmp_path / "cache", workers=1)
    finally:
        os.umask(old)
    modes = {p: os.stat(entry.root / unpacked.FILES / p).st_mode & 0o777
             for p, *_ in entry.rows}
    assert modes.pop("demo_mod/tool.sh") == 0o555
    assert set(modes.values()) == {0o444}


def test_a_member_without_a_hash_is_checked_by_its_crc(tmp_path: Path, wheels: Path) -> None:
    # RECORD lists itself without a hash: its bytes are checked by the zip's CRC-32.
    path = build_wheel(wheels, "demo", "1.0")
    _restored(path, {"demo-1.0.dist-info/RECORD"})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo-1.0.dist-info/RECORD")
        with zf.open(info) as f:
            assert next(unpacked._contents(zf, info, crc=True)) == f.read()
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    at = raw.index(b"\n", start) - 1  # the last byte of its first row: still valid CSV
    raw[at:at + 1] = b"X" if raw[at:at + 1] != b"X" else b"Y"
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        with pytest.raises(zipfile.BadZipFile, match="CRC-32"):
            list(unpacked._contents(zf, info, crc=True))
        assert b"".join(unpacked._contents(zf, info, crc=False)) != b""
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match="not a valid zip"):
        unpacked.unpack_all([wheel], tmp_path / "cache", workers=1)


def test_a_local_header_naming_another_file_is_refused(tmp_path: Path, wheels: Path) -> None:
    # The central directory says one name, the member's own header another: which
    # one a tool believes must not decide what is installed (zipfile refuses too).
    path = build_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/aaaa.txt": b"1\n"})
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo("demo_mod/aaaa.txt").header_offset
    raw = bytearray(path.read_bytes())
    assert raw[offset + 30:offset + 47] == b"demo_mod/aaaa.txt"
    raw[offset + 39:offset + 43] = b"bbbb"
    path.write_bytes(bytes(raw))
    (wheel,) = scan([wheels]).for_name("demo")  # type: ignore[arg-type]
    with pytest.raises(WheelError, match=r"not a valid zip"):
        unpacked.unpack_all([wheel], tmp_path / "cache", workers=1)


def contents(venv: Path) -> dict[str, bytes]:
    # RECORD's rows in any order (installer sorts them; the order means nothing).
    return {k: b"\n".join(sorted(v.splitlines())) if k.endswith("RECORD") else v
            for k, v in snapshot(venv).items()}


@pytest.mark.parametrize("accelerated", [False, True], ids=["plain", "accelerated"])
@pytest.mark.parametrize("scripts", [False, True])
def test_linked_from_the_cache_installs_what_installer_installs_from_the_zip(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch, scripts: bool,
        accelerated: bool) -> None:
    # Accelerated, a wheel without entry points is finished without installer
    # (_speed/plainwheel.py); plainly, and with entry points, installer finishes it.
    # Either way the venv gets the same files, bytes and RECORD as installer writes
    # when it reads the zip itself.
    build_wheel(wheels, "demo", "1.0", scripts={"demo": default_script("demo")} if scripts
                else None, extra_files={"demo_mod/data/x.txt": b"payload\n"})
    step = step_for(wheels, "demo")
    assert step.wheel is not None
    from_zip = fake_target(tmp_path / "t", venv={})
    install.apply([step], from_zip)
    installed = contents(from_zip.venv.path)
    shutil.rmtree(tmp_path / "t")
    entry = unpacked.unpack(step.wheel, tmp_path / "cache")
    calls: list[str] = []
    real = destination.install

    def counted(*args: object, **kwargs: object) -> None:
        calls.append("installer")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(destination, "install", counted)
    linked = fake_target(tmp_path / "t", venv={})  # the same path: the same shebangs
    install.apply([step], linked, entries={step.wheel.path: entry},
                  speed=Accelerated() if accelerated else PLAIN)
    assert calls == (["installer"] if scripts or not accelerated else [])
    assert contents(linked.venv.path) == installed
    record = Path(linked.venv.scheme["purelib"]) / "demo-1.0.dist-info" / "RECORD"
    assert {"demo-1.0.dist-info/RECORD,,", "demo-1.0.dist-info/REQUESTED,sha256="
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0"} <= set(
                record.read_text().splitlines())
    assert os.stat(Path(linked.venv.scheme["purelib"]) / "demo_mod" / "data" / "x.txt"
                   ).st_nlink == 2


def test_an_entry_remembers_root_is_purelib_and_older_entries_still_install(
        tmp_path: Path, wheels: Path) -> None:
    import json
    build_wheel(wheels, "demo", "1.0")
    step = step_for(wheels, "demo")
    assert step.wheel is not None
    entry = unpacked.unpack(step.wheel, tmp_path / "cache")
    assert entry.purelib is True  # read from WHEEL once, when unpacked
    # An entry written before the field existed: WHEEL is read at install time.
    record = entry.root / unpacked.ENTRY
    data = json.loads(record.read_text())
    del data["purelib"]
    record.write_text(json.dumps(data))
    older = unpacked.unpack(step.wheel, tmp_path / "cache")
    assert older.root == entry.root and older.purelib is None
    target = fake_target(tmp_path / "t", venv={})
    install.apply([step], target, entries={step.wheel.path: older})
    site = Path(target.venv.scheme["purelib"])
    assert (site / "demo-1.0.dist-info" / "INSTALLER").read_text() == "venvfill\n"
    assert os.stat(site / "demo_mod" / "__init__.py").st_nlink == 2



@pytest.mark.parametrize("size", [0, 5, 1 << 16, (1 << 16) + 1, 3 << 16, 200_001])
def test_an_entry_file_is_read_whole_whatever_its_size(tmp_path: Path, size: int) -> None:
    # unpacked._read_all reads in 64 kB chunks and stops at the first short one.
    data = bytes(i % 251 for i in range(size))
    (tmp_path / "f").write_bytes(data)
    assert unpacked._read_all(str(tmp_path / "f")) == data


@pytest.mark.parametrize("damage", [b"\xff\xfe not utf-8", b'{"rows": [', b"[]", b""])
def test_a_damaged_entry_file_is_unpacked_afresh(tmp_path: Path, wheels: Path,
                                                 damage: bytes) -> None:
    build_wheel(wheels, "demo", "1.0")
    step = step_for(wheels, "demo")
    assert step.wheel is not None
    entry = unpacked.unpack(step.wheel, tmp_path / "cache")
    (entry.root / unpacked.ENTRY).write_bytes(damage)
    again = unpacked.unpack(step.wheel, tmp_path / "cache")
    # The same entry, from a new unpacking (its files' stamps are the new ones).
    assert again._replace(stamps={}) == entry._replace(stamps={})
    assert (entry.root / unpacked.ENTRY).read_bytes() != damage

def test_root_is_purelib_reads_wheel_as_installer_does() -> None:
    assert unpacked.root_is_purelib("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
    assert unpacked.root_is_purelib("wheel-version: 1.0\nroot-is-purelib:true")
    assert not unpacked.root_is_purelib("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
    assert not unpacked.root_is_purelib("Wheel-Version: 1.0\n")


def _many_files(n: int) -> dict[str, bytes]:
    return {f"demo_mod/m{i:03d}.py": f"x = {i}\n".encode() for i in range(n)}


def test_big_fills_are_staged_in_forked_processes_and_a_failure_names_its_wheel(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = fake_target(tmp_path, venv={})
    build_wheel(wheels, "demo", "1.0", extra_files=_many_files(200))
    build_wheel(wheels, "other", "1.0", extra_files={
        f"other_mod/m{i:03d}.py": b"" for i in range(200)})
    steps = [step_for(wheels, "demo"), step_for(wheels, "other")]
    entries = {s.wheel.path: unpacked.unpack(s.wheel, tmp_path / "cache")
               for s in steps if s.wheel is not None}
    pids = tmp_path / "pids"
    real_stage = install.Transaction.stage_wheel

    def noting(self, wheel, *args):  # type: ignore[no-untyped-def]
        with open(pids, "a") as f:  # from whichever process stages the wheel
            f.write(f"{os.getpid()}\n")
        return real_stage(self, wheel, *args)

    monkeypatch.setattr(install.Transaction, "stage_wheel", noting)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    install.apply(steps, target, entries=entries, speed=Accelerated())
    assert len(set(pids.read_text().split())) == 2  # this process and one forked
    site = Path(target.venv.scheme["purelib"])
    assert (site / "demo_mod" / "m199.py").read_text() == "x = 199\n"
    assert (site / "other-1.0.dist-info" / "RECORD").is_file()

    # Again into a fresh venv, with "other" failing wherever it is staged.
    target = fake_target(tmp_path / "second", venv={})
    before = snapshot(target.venv.path)
    real_place = install.Staging.place

    def failing(self: install.Staging, contents: bytes, target_path: str) -> None:
        if "other-1.0.dist-info" in target_path:
            raise OSError(28, "No space left on device")
        real_place(self, contents, target_path)

    monkeypatch.setattr(install.Staging, "place", failing)
    with pytest.raises(InstallError, match="nothing in the venv was changed") as info:
        install.apply(steps, target, entries=entries, speed=Accelerated())
    assert "installing other-1.0-py3-none-any.whl" in str(info.value)
    assert "No space left on device" in str(info.value)
    assert snapshot(target.venv.path) == before
    assert not (target.venv.path / ".venvfill" / "stage").exists()


def test_only_nothing_or_an_empty_directory_is_vacant(tmp_path: Path) -> None:
    # What a staged directory may replace in one rename (a new venv's site-packages).
    from resolver.install.transaction import _vacant

    empty, filled, file = tmp_path / "empty", tmp_path / "filled", tmp_path / "file"
    empty.mkdir()
    filled.mkdir()
    (filled / "x.py").write_text("")
    file.write_text("")
    (tmp_path / "link").symlink_to(empty)
    assert _vacant(str(tmp_path / "missing"))
    assert _vacant(str(empty))
    assert not _vacant(str(filled))
    assert not _vacant(str(file))
    assert not _vacant(str(tmp_path / "link"))  # a link is not ours to replace
    assert not _vacant(str(file / "below"))


def test_a_link_or_copy_never_lands_on_something_already_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from resolver.cache import links
    source = tmp_path / "source"
    source.write_bytes(b"new")
    (tmp_path / "file").write_bytes(b"old")
    (tmp_path / "dir").mkdir()
    for target in ("file", "dir"):
        with pytest.raises(FileExistsError):
            links.link_or_copy(str(source), str(tmp_path / target))
    assert (tmp_path / "file").read_bytes() == b"old"
    assert list((tmp_path / "dir").iterdir()) == []
    assert links.link_or_copy(str(source), str(tmp_path / "linked"))

    def cross_device(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    assert not links.link_or_copy(str(source), str(tmp_path / "copied"))
    assert (tmp_path / "copied").read_bytes() == b"new"


@pytest.mark.parametrize("first", ["x", "y"])
def test_a_file_where_another_wheel_needs_a_directory_fails_either_way(
        tmp_path: Path, wheels: Path, first: str) -> None:
    # x ships a file 'shared', y ships 'shared/data.txt': staged in either order,
    # the second fails (before: y then x copied x's file into y's directory).
    build_wheel(wheels, "x", "1.0", extra_files={"shared": b"x"})
    build_wheel(wheels, "y", "1.0", extra_files={"shared/data.txt": b"y"})
    target = fake_target(tmp_path / "venv")
    steps = [step_for(wheels, name) for name in (first, "y" if first == "x" else "x")]
    entries = {s.wheel.path: unpacked.unpack(s.wheel, tmp_path / "cache")  # type: ignore[union-attr]
               for s in steps}
    before = snapshot(tmp_path / "venv")
    with pytest.raises(InstallError, match="shared"):
        install.apply(steps, target, entries=entries)
    assert snapshot(tmp_path / "venv") == before


@pytest.mark.parametrize("scripts", [False, True])  # all linked; installer's part too
def test_the_journal_records_every_staged_file_s_size_known_when_placed(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch, scripts: bool) -> None:
    # Crash recovery compares each moved file with the size in the journal.  Every
    # file's size is known when it is placed (linked, or written by installer), so
    # the commit asks the file system for none of them.
    import json

    target = fake_target(tmp_path, venv={})
    build_wheel(wheels, "demo", "1.0",
                scripts={"demo": default_script("demo")} if scripts else None,
                extra_files={"demo_mod/data.txt": b"twelve bytes"})
    step = step_for(wheels, "demo")
    assert step.wheel is not None
    entry = unpacked.unpack(step.wheel, tmp_path / "cache")
    assert plainwheel.plain(entry) is not scripts
    txn = install.new_transaction(target, relocatable=False, speed=Accelerated())
    txn.install(step.wheel, True, entry)
    stage = str(txn.stage)
    asked: list[str] = []
    real_lstat = os.lstat

    def noting(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith(stage):
            asked.append(os.path.basename(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    sizes = {p[len(stage):]: os.path.getsize(p) for p in txn.staged}
    written: list[dict[str, object]] = []
    monkeypatch.setattr(install, "roll_forward", lambda venv: written.append(
        json.loads((venv / install.STATE_DIR / install.JOURNAL).read_text())))
    monkeypatch.setattr(os, "lstat", noting)
    txn.commit()
    monkeypatch.undo()
    venv = str(target.venv.path)
    assert {f[len(venv):]: size for f, size in written[0]["checks"]} == sizes  # type: ignore[union-attr]
    assert {"data.txt", "METADATA", "RECORD", "INSTALLER", "REQUESTED"} <= {
        os.path.basename(p) for p in sizes}
    assert asked == []
