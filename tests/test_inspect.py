"""``venvfill inspect``: what venvfill sees, changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DEBIAN_PYTHON, require_python, run_cli
from test_e2e import demo_wheel, fill

pytestmark = pytest.mark.e2e


def inspect(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = run_cli("inspect", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_base_interpreter(tmp_path: Path) -> None:
    py = require_python("3.11")
    out = inspect(tmp_path, "--python", py)
    assert f"interpreter:  {py} (cpython 3.11." in out
    assert "kind:         base\n" in out
    assert "site-packages  [base]" in out
    assert "venv:         " in out and "not created yet" in out
    assert not (tmp_path / ".venv").exists()


def test_debian_is_externally_managed(tmp_path: Path) -> None:
    if not Path(DEBIAN_PYTHON).exists():
        pytest.skip("no Debian python3")
    data = json.loads(inspect(tmp_path, "--python", DEBIAN_PYTHON, "--json"))
    assert data["kind"] == "base, externally managed (PEP 668)"
    assert "/usr/lib/python3/dist-packages" in [d["path"] for d in data["site_dirs"]]


def test_nested_venv_and_isolation(tmp_path: Path, wheels: Path) -> None:
    parent = tmp_path / "p"
    parent.mkdir()
    assert fill(parent, "[g]\npip = '>=1'\n").returncode == 0
    child = tmp_path / "c"
    child.mkdir()
    assert fill(child, "[g]\npip = '>=1'\n",
                python=str(parent / ".venv" / "bin" / "python")).returncode == 0
    out = inspect(tmp_path, "--python", str(parent / ".venv" / "bin" / "python"))
    assert "kind:         venv\n" in out
    assert "[carried into a child venv]" in out
    out = inspect(tmp_path, "--python", str(child / ".venv" / "bin" / "python"))
    assert "kind:         nested venv\n" in out
    assert "sees the system's site-packages" in out


def test_with_manifest_says_where_and_why(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(
        "[g]\npip = '>=19'\ndemo = { accepted = '>=1', installed = '1.0' }\n"
        "winonly = { marker = \"sys_platform == 'win32'\" }\n")
    out = inspect(tmp_path, "--python", require_python("3.11"), "--manifest", "deps.toml")
    assert "pip [g]" in out and "from base: the system's" in out and "satisfies '>=19'" in out
    assert ("demo [g] 1.0 from wheels: the system does not have it; filled from "
            "wheels/demo-1.0-py3-none-any.whl (pin ==1.0)") in out
    assert "winonly [g] : skipped: marker" in out
    assert not (tmp_path / ".venv").exists()


def test_pythonhome_into_a_venv_is_explained(tmp_path: Path) -> None:
    """Every Python dies at start-up with PYTHONHOME in a venv, venvfill's own too;
    ``python -E -m resolver inspect`` survives it and explains."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    assert fill(tmp_path, "[g]\npip = '>=1'\n").returncode == 0
    env = dict(os.environ, PYTHONHOME=str(tmp_path / ".venv"), PYTHONPATH="/somewhere")
    proc = subprocess.run([sys.executable, "-E", "-m", "resolver", "inspect", "--python",
                           require_python("3.11"), "--venv", str(tmp_path / ".venv")],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "PYTHONHOME=" in proc.stdout and "points into a venv" in proc.stdout
    assert "encodings" in proc.stdout
    assert "PYTHONPATH=/somewhere is ignored" in proc.stdout


def test_inspect_help_speaks_of_inspecting_not_of_locks(tmp_path: Path) -> None:
    proc = run_cli("inspect", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "inspect only this group" in proc.stdout
    assert "--lock" not in proc.stdout
