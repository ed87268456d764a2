"""Distro reality check: Debian's python3 with apt's python3-sphinx and meson.

CI installs both with apt (.ci/run).  Debian 12 ships Sphinx 5.3.0, which a
manifest asking for >=3.4.3 must reuse, and Meson 1.0.1, which is too old for
>=1.5, so Meson is filled from a wheel: a stand-in built here (no third-party
wheel is committed or downloaded).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import DEBIAN_PYTHON
from test_e2e import fill, run
from wheelfactory import build_wheel, default_script

pytestmark = [pytest.mark.e2e, pytest.mark.distro]

MANIFEST = """
[docs]
sphinx = { accepted = ">=3.4.3", installed = "6.2.1", canary = "sphinx-build" }
[meson]
meson = { accepted = ">=1.5", installed = "1.5.0", canary = "meson" }
"""


def distro_versions() -> dict[str, str]:
    if not Path(DEBIAN_PYTHON).exists():
        return {}
    proc = run(DEBIAN_PYTHON, "-c", "import importlib.metadata as m\n"
               "for n in ('sphinx', 'meson'):\n"
               "    try: print(n, m.version(n))\n"
               "    except m.PackageNotFoundError: pass")
    return dict(line.split() for line in proc.stdout.splitlines())


def test_distro_sphinx_reused_meson_filled(tmp_path: Path, wheels: Path) -> None:
    versions = distro_versions()
    if "sphinx" not in versions or "meson" not in versions:
        if os.environ.get("CI"):
            pytest.fail("CI must install python3-sphinx and meson with apt (.ci/run)")
        pytest.skip("Debian's python3-sphinx and meson are not installed")
    dist_packages = Path("/usr/lib/python3/dist-packages")
    before = sorted(p.name for p in dist_packages.iterdir())
    build_wheel(wheels, "meson", "1.5.0", scripts={"meson": default_script("meson")})

    proc = fill(tmp_path, MANIFEST, python=DEBIAN_PYTHON)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    lines = proc.stdout.splitlines()
    assert any(line.split()[:4] == ["sphinx", versions["sphinx"], "base", "kept"]
               for line in lines[1:-1]), proc.stdout
    assert any(line.split()[:2] == ["meson", "1.5.0"] and "installed" in line
               for line in lines[1:-1]), proc.stdout
    assert "sphinx-build (sphinx)" in proc.stdout

    # The distro's Sphinx, run by a sphinx-build bound to the venv's interpreter.
    build = venv / "bin" / "sphinx-build"
    assert build.read_text().splitlines()[0] == f"#!{venv}/bin/python"
    version = run(build, "--version")
    assert version.returncode == 0 and versions["sphinx"] in version.stdout
    where = run(venv / "bin" / "python", "-c",
                "import sphinx, sys; print(sphinx.__file__); print(sys.prefix)").stdout.split()
    assert where[0].startswith(str(dist_packages)) and where[1] == str(venv)
    # Meson from the wheel, shadowing the distro's 1.0.1 inside the venv only.
    assert run(venv / "bin" / "meson").stdout.split() == ["meson", "1.5.0", str(venv)]
    assert run(DEBIAN_PYTHON, "-c", "import importlib.metadata as m; "
               "print(m.version('meson'))").stdout.strip() == versions["meson"]
    assert sorted(p.name for p in dist_packages.iterdir()) == before
