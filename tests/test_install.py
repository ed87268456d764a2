"""Installing and uninstalling into a venv: verification first, rollback on failure."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from fakes import fake_target
from resolver import install
from resolver.errors import InstallError, WheelError
from resolver.resolve import Step
from resolver.target import Installed
from resolver.wheelhouse import scan
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
    real = install._RecordingDestination.write_to_fs

    def failing(self, scheme, path, stream, is_executable):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(self, scheme, path, stream, is_executable)

    monkeypatch.setattr(install._RecordingDestination, "write_to_fs", failing)
    with pytest.raises(InstallError, match="nothing in the venv was changed") as info:
        install.apply([step_for(w2, "demo", old=old), step_for(w2, "other")], target)
    assert "No space left on device" in str(info.value)
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
