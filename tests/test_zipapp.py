"""The single-file zipapp: built here, run by another interpreter with nothing installed."""

from __future__ import annotations

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
