"""What people and programs read: dry runs, JSON reports, shadowing warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ACCELERATED
from test_e2e import MANIFEST, demo_wheel, fill
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_dry_run_creates_nothing_and_gates(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, MANIFEST, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would create" in proc.stdout and "dry run: nothing was changed" in proc.stdout
    assert any("demo" in line and "would install" in line for line in proc.stdout.splitlines())
    assert not (tmp_path / ".venv").exists()
    missing = fill(tmp_path, MANIFEST + "absent = '>=1'\n", "--dry-run")
    assert missing.returncode == 4 and "absent" in missing.stderr
    assert not (tmp_path / ".venv").exists()


def test_dry_run_on_a_filled_venv_changes_nothing(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    before = tree(tmp_path / ".venv")
    proc = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'),
                "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would replace (was 1.0)" in proc.stdout
    assert tree(tmp_path / ".venv") == before


def test_json_report(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", requires=["dep>=1"])
    build_wheel(wheels, "dep", "1.0")
    proc = fill(tmp_path, MANIFEST, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    venv = tmp_path / ".venv"
    assert report["venv"] == str(venv) and report["python"] == str(venv / "bin" / "python")
    assert report["up_to_date"] is False and report["dry_run"] is False
    assert report["target"]["version"].startswith("3.11") and report["target"]["kind"] == "base"
    by_name = {p["name"]: p for p in report["packages"]}
    assert by_name["pip"]["source"] == "base" and by_name["pip"]["action"] == "kept"
    assert by_name["pip"]["requested"] is True
    assert by_name["demo"]["source"] == "wheels" and by_name["demo"]["action"] == "installed"
    assert by_name["dep"]["requested"] is False
    assert sorted(report["actions"]["installed"]) == ["demo", "dep"]
    assert {"name": "pip", "distribution": "pip"} in report["scripts"]["written"]

    again = json.loads(fill(tmp_path, MANIFEST, "--json").stdout)
    assert again["up_to_date"] is ACCELERATED  # plainly, a full fill that changed nothing
    assert again["actions"]["installed"] == [] and "demo" in again["actions"]["kept"]
    assert {p["name"]: p["source"] for p in again["packages"]}["demo"] == "venv"
    assert again["target"] == report["target"]


def test_json_error(tmp_path: Path, wheels: Path) -> None:
    proc = fill(tmp_path, "[g]\nabsent = '>=1'\n", "--json")
    assert proc.returncode == 4
    error = json.loads(proc.stdout)["error"]
    assert error["exit_code"] == 4 and error["kind"] == "cannot satisfy"
    assert "absent" in error["message"] and "wheel" in error["hint"]


def test_shadowing_a_system_dependency_is_warned(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "app", "1.0", requires=["lib<2"])
    build_wheel(wheels, "lib", "1.0")
    build_wheel(wheels, "lib", "2.0")
    system = tmp_path / "sys"
    system.mkdir()
    assert fill(system, "[g]\napp = '>=1'\nlib = { installed = '1.0' }\n",
                "--wheels", str(wheels)).returncode == 0
    child = tmp_path / "child"
    child.mkdir()
    proc = fill(child, "[g]\nlib = '>=2'\n", "--wheels", str(wheels),
                python=str(system / ".venv" / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    assert ("warning: lib 2.0 in the venv (shadows the system's 1.0); the system's app 1.0 "
            "(parent) requires lib<2") in proc.stdout


def run_on_a_terminal(tmp_path: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (status, what it showed)."""
    import os
    import pty
    import subprocess
    import sys

    from conftest import ROOT

    primary, secondary = pty.openpty()
    full = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", **env}
    proc = subprocess.Popen([sys.executable, "-m", "resolver", *args], cwd=tmp_path,
                            env=full, stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_progress_and_colour(tmp_path: Path, wheels: Path) -> None:
    from conftest import require_python

    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\n")
    base = ["--manifest", "deps.toml", "--python", require_python("3.11")]
    # Not a terminal: one plain line per wheel, no escape codes.
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--venv", "plain")
    assert "venvfill: installing 1/1 demo-1.0-py3-none-any.whl" in proc.stderr
    assert "\x1b[" not in proc.stderr
    # A terminal: the line updates in place; errors are coloured...
    status, shown = run_on_a_terminal(tmp_path, *base, "--venv", "tty", env={})
    assert status == 0 and "\r\x1b[2K  installing 1/1 demo" in shown
    status, shown = run_on_a_terminal(tmp_path, *base, "--group", "nope", env={})
    assert status == 2 and "\x1b[1;31mvenvfill: manifest error:" in shown
    # ...unless NO_COLOR says otherwise.
    status, shown = run_on_a_terminal(tmp_path, *base, "--group", "nope",
                                      env={"NO_COLOR": "1"})
    assert status == 2 and "\x1b[" not in shown and "venvfill: manifest error:" in shown
    # -q: no progress at all.
    quiet = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--venv", "quiet", "-q")
    assert quiet.stderr == ""
    # ... and -q's reporter is ``silent`` itself, which tells the installer to skip
    # what it does only to show progress (a stat of every wheel it installs).
    from resolver import progress

    assert progress.reporter(quiet=True) is progress.silent
