"""Hostile wheels, planted state and damaged caches: nothing outside the venv, no half states.

Each test builds the hostile input in a fixture and runs it through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_e2e import MANIFEST, demo_wheel, fill, run

pytestmark = pytest.mark.e2e

DEMO = '[g]\ndemo = { accepted = ">=1.0", installed = "1.0" }\n'


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.name not in ("lock", "fingerprint")}


@pytest.mark.parametrize("member", [
    "demo-1.0.data/data/.venvfill/journal.json",
    "demo-1.0.data/data/.venvfill/creating",
    "demo-1.0.data/data/.venvfill/stage/x.py",
    "demo-1.0.data/data/pyvenv.cfg",
    "demo-1.0.data/scripts/python3",
    "demo-1.0.data/data/bin/activate",
    "demo-1.0.data/data/bin/Activate.ps1",
    "_venvfill_parent.pth",
    "demo-1.0.data/purelib/_venvfill_parent.pth",
    "demo-1.0.data/data/lib/python3.11/site-packages/_venvfill_parent.pth",
])
def test_a_wheel_cannot_write_venvfill_s_or_the_venv_s_own_files(
        tmp_path: Path, wheels: Path, member: str) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, MANIFEST, "--group", "tools").returncode == 0
    venv = tmp_path / ".venv"
    before = tree(venv)
    (wheels / "demo-1.0-py3-none-any.whl").unlink()
    demo_wheel(wheels, "demo", "1.0", extra_files={member: b'{"planted": 1}\n'})
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 5, proc.stderr
    assert "demo-1.0-py3-none-any.whl would install" in proc.stderr
    assert "refused, nothing in the venv was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(venv) == before


@pytest.mark.parametrize("script", ["python", "python3.11", "activate"])
def test_a_wheel_s_console_script_cannot_replace_the_interpreter(
        tmp_path: Path, wheels: Path, script: str) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, MANIFEST, "--group", "tools").returncode == 0
    venv = tmp_path / ".venv"
    before = tree(venv)
    (wheels / "demo-1.0-py3-none-any.whl").unlink()
    from wheelfactory import build_wheel, default_script

    build_wheel(wheels, "demo", "1.0", scripts={script: default_script("demo")})
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert f"would install bin/{script}, which is the venv's interpreter" in proc.stderr
    assert tree(venv) == before
    assert run(venv / "bin" / "python", "-c", "print('ok')").stdout == "ok\n"


def test_recovery_refuses_a_journal_naming_paths_outside_the_venv(
        tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    venv = tmp_path / ".venv"
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    state = venv / ".venvfill"
    journal = {"trash": [[str(precious), str(state / "trash" / "0")]], "dirs": [],
               "moves": [], "checks": [], "keep": [], "installs": []}
    (state / "journal.json").write_text(json.dumps(journal))
    (venv / ".venvfill" / "fingerprint").unlink()
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 6, proc.stderr
    assert "journal.json was not written by venvfill" in proc.stderr
    assert str(precious) in proc.stderr
    assert precious.read_text() == "keep me\n"

    # A journal moving one file of the venv onto another stays inside it, but not
    # inside the stage: refused as well.
    victim = venv / "lib" / "python3.11" / "site-packages" / "demo_mod" / "__init__.py"
    journal = {"trash": [], "dirs": [], "moves": [[str(victim), str(venv / "x")]],
               "checks": [], "keep": [], "installs": []}
    (state / "journal.json").write_text(json.dumps(journal))
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 6, proc.stderr
    assert victim.exists() and not (venv / "x").exists()

    (state / "journal.json").unlink()  # the hint's fix
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr


def test_uninstall_never_removes_the_venv_s_own_files(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    venv = tmp_path / ".venv"
    record = venv / "lib" / "python3.11" / "site-packages" / "demo-1.0.dist-info" / "RECORD"
    # A RECORD edited to claim the venv's own files (or written so by another tool).
    record.write_text(record.read_text() + "../../../pyvenv.cfg,,\n../../../bin/python,,\n"
                      "../../../.venvfill/state.json,,\n")
    proc = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'))
    assert proc.returncode == 0, proc.stderr
    assert (venv / "pyvenv.cfg").exists() and (venv / "bin" / "python").exists()
    assert (venv / ".venvfill" / "state.json").exists()
    assert run(venv / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
