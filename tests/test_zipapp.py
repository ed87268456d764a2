"""The single-file zipapp: built here, run by another interpreter with nothing installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import require_python, run_cli
from test_e2e import demo_wheel, run

pytestmark = pytest.mark.e2e


def test_zipapp_runs_elsewhere_offline(tmp_path: Path, wheels: Path) -> None:
    built = run_cli("zipapp", str(tmp_path / "venvfill.pyz"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    pyz = tmp_path / "venvfill.pyz"
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    # The archive runs on the oldest Python all its bundled packages support.
    floor = built.stdout.split("it runs on Python ")[1].split("+")[0]
    minimum = tuple(int(x) for x in floor.split("."))
    # tomli is bundled whatever builds the archive (tomllib's code, from 3.11 on),
    # and every module has its bytecode beside it.
    assert "tomli" in built.stdout.split(" with ")[1].split(";")[0].split(", ")
    assert minimum >= (3, 9) and minimum <= (3, 10)
    with zipfile.ZipFile(tmp_path / "venvfill.pyz") as zf:
        names = set(zf.namelist())
    assert {"tomli/_parser.py", "tomli/_parser.pyc", "resolver/cli/__init__.pyc"} <= names
    mine = (sys.version_info[0], sys.version_info[1])
    candidates = [(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)]
    # Another interpreter than the one that built it, the oldest the archive supports.
    other = next(v for v in candidates if v >= minimum and v != mine)
    runner = require_python(f"{other[0]}.{other[1]}")
    older = [v for v in candidates if v < minimum]
    if older:  # too old: a plain refusal, not a traceback
        old = older[-1]
        too_old = subprocess.run([require_python(f"{old[0]}.{old[1]}"), "-I", str(pyz),
                                  "--version"], capture_output=True, text=True, check=False)
        assert too_old.returncode != 0 and "needs Python" in too_old.stderr
        assert "Traceback" not in too_old.stderr
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\npip = '>=1'\n")
    cmd = [runner, "-I", str(pyz), "--manifest", "deps.toml", "--python",
           require_python("3.8"), "--offline"]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], check=False).returncode == 0:
        cmd = [unshare, "-n", *cmd]
    proc = subprocess.run(cmd, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    assert proc.stdout.splitlines()[-1] == str(venv / "bin" / "python")
    assert run(venv / "bin" / "demo").stdout.split() == ["demo", "1.0", str(venv)]
    assert run(venv / "bin" / "python", "-c", "import sys; print(sys.version_info[:2])"
               ).stdout.strip() == "(3, 8)"


def _relabelled(wheels: Path, package: str, distribution: str) -> Path:
    """A wheel of the installed ``package`` that says it runs on Python 3.8+.

    Stands for an older release (packaging 26.3, installer 0.7) whose Requires-Python
    admits 3.9, without the network; a marker module tells its files apart.
    """
    import importlib

    origin = Path(importlib.import_module(package).__file__ or "").parent
    path = wheels / f"{distribution}-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(origin.rglob("*.py")):
            zf.write(file, f"{package}/{file.relative_to(origin).as_posix()}")
        zf.writestr(f"{package}/_from_the_wheel.py", "")
        info = f"{distribution}-0.0.1.dist-info"
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {distribution}\n"
                    "Version: 0.0.1\nRequires-Python: >=3.8\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def test_a_dependency_that_needs_a_newer_python_is_bundled_from_a_wheel(
        tmp_path: Path, wheels: Path) -> None:
    # Built where the newest packaging and installer need Python 3.10, the archive
    # would not run on 3.9: given wheels of releases that do, it bundles those.
    from importlib import metadata

    from resolver.cli import zipapp

    needy = [(p, d) for p, d in (("packaging", "packaging"), ("installer", "installer"))
             if zipapp._floor(metadata.metadata(d).get("Requires-Python") or "") > (3, 9)]
    plain = run_cli("zipapp", str(tmp_path / "plain.pyz"), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    if needy:  # said, with what to do about it
        assert "it runs on Python 3.10+" in plain.stdout
        assert "not on 3.9:" in plain.stderr and "--wheels" in plain.stderr
        for _, distribution in needy:
            assert f"{distribution} " in plain.stderr
    else:
        assert "it runs on Python 3.9+" in plain.stdout and plain.stderr == ""
    for package, distribution in (("packaging", "packaging"), ("installer", "installer")):
        _relabelled(wheels, package, distribution)
    built = run_cli("zipapp", str(tmp_path / "v.pyz"), "--wheels", str(wheels), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "it runs on Python 3.9+" in built.stdout and built.stderr == ""
    with zipfile.ZipFile(tmp_path / "v.pyz") as zf:
        names = set(zf.namelist())
        assert "MINIMUM = (3, 9)" in zf.read("__main__.py").decode()
    for package, distribution in needy:  # from the wheel, not from the installation
        assert f"{package}/_from_the_wheel.py" in names, distribution
    ran = subprocess.run([sys.executable, "-I", str(tmp_path / "v.pyz"), "--version"],
                         capture_output=True, text=True, check=False)
    assert ran.returncode == 0 and ran.stdout.startswith("venvfill "), ran.stderr


@pytest.mark.network
def test_zipapp_built_with_older_wheels_runs_on_python_3_9(tmp_path: Path) -> None:
    # The real releases that still run on 3.9, fetched from PyPI, bundled, and run.
    wheels = tmp_path / "wheels"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                              "--only-binary=:all:", "-d", str(wheels), "packaging==26.3",
                              "installer==0.7.0"], capture_output=True, text=True, check=False,
                             env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    assert fetched.returncode == 0, fetched.stderr
    built = run_cli("zipapp", str(tmp_path / "v.pyz"), "--wheels", str(wheels), cwd=tmp_path)
    assert built.returncode == 0 and "it runs on Python 3.9+" in built.stdout, built.stderr
    (tmp_path / "deps.toml").write_text("[g]\npip = '>=1'\n")
    proc = subprocess.run([require_python("3.9"), "-I", str(tmp_path / "v.pyz"), "--manifest",
                           "deps.toml", "--python", require_python("3.8"), "--offline"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == str(tmp_path / ".venv" / "bin" / "python")
