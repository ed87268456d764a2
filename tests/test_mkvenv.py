"""QEMU's configure, with ``-m resolver mkvenv`` where it runs ``mkvenv.py``."""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT, require_python
from test_e2e import demo_wheel, run

pytestmark = pytest.mark.e2e

PYTHONDEPS = """\
[meson]
meson = { accepted = ">=1.5.0", installed = "1.8.1", canary = "meson" }

[docs]
pip = { accepted = ">=19", canary = "pip" }

[testdeps]
qemu.qmp = { accepted = ">=0.0.3", installed = "0.0.3" }
"""


def mkvenv(python: str | Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # venvfill must be importable by the venv's python, as when it is installed in the
    # base: the source tree and the test run's own site-packages (pure Python).
    path = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    env = dict(os.environ, PYTHONPATH=path)
    return subprocess.run([str(python), "-B", "-m", "resolver", "mkvenv", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_configure_flow(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "meson", "1.8.1")
    demo_wheel(wheels, "qemu.qmp", "0.0.3")
    (tmp_path / "pythondeps.toml").write_text(PYTHONDEPS)

    created = mkvenv(require_python("3.11"), "create", "pyvenv", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python = created.stdout.strip()
    assert created.stdout == f"{tmp_path / 'pyvenv' / 'bin' / 'python'}\n"

    filled = mkvenv(python, "ensuregroup", "--dir", str(wheels), "pythondeps.toml",
                    "meson", "testdeps", cwd=tmp_path)
    assert filled.returncode == 0, filled.stderr
    assert filled.stdout == ""
    venv = tmp_path / "pyvenv"
    assert run(venv / "bin" / "meson").stdout.split() == ["meson", "1.8.1", str(venv)]
    assert run(python, "-c", "import qemu_qmp_mod").returncode == 0

    docs = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "docs", cwd=tmp_path)
    assert docs.returncode == 0, docs.stderr
    assert "venvfill fills offline only" in docs.stderr
    assert run(venv / "bin" / "pip", "--version").returncode == 0
    # Re-creating, as every configure does, keeps working.
    again = mkvenv(require_python("3.11"), "create", "pyvenv", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == python


def test_failures_exit_1_with_a_diagnosis(tmp_path: Path, wheels: Path) -> None:
    (tmp_path / "pythondeps.toml").write_text(PYTHONDEPS)
    python = mkvenv(require_python("3.11"), "create", "pyvenv", cwd=tmp_path).stdout.strip()
    missing = mkvenv(python, "ensure", "--diagnose", "sphinx-build", "sphinx>=3.4.3",
                     cwd=tmp_path)
    assert missing.returncode == 1
    assert "*** Ouch! ***" in missing.stderr and "sphinx" in missing.stderr
    assert "Traceback" not in missing.stderr
    group = mkvenv(python, "ensuregroup", "pythondeps.toml", "nope", cwd=tmp_path)
    assert group.returncode == 1 and "group 'nope' is not defined" in group.stderr
    outside = mkvenv(require_python("3.11"), "ensuregroup", "pythondeps.toml", "docs",
                     cwd=tmp_path)
    assert outside.returncode == 1 and "must run with the venv's python" in outside.stderr
