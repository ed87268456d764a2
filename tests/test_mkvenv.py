"""QEMU's configure, with ``-m resolver mkvenv`` where it runs ``mkvenv.py``."""

from __future__ import annotations

import os
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ACCELERATED, ROOT, require_python, unchanged
from indexserver import IndexConfig, serve
from test_e2e import demo_wheel, run
from wheelfactory import build_wheel, default_script

pytestmark = pytest.mark.e2e

PYTHONDEPS = """\
[meson]
meson = { accepted = ">=1.5.0", installed = "1.8.1", canary = "meson" }

[docs]
pip = { accepted = ">=19", canary = "pip" }

[testdeps]
qemu.qmp = { accepted = ">=0.0.3", installed = "0.0.3" }
"""


def mkvenv(python: str | Path, *args: str, cwd: Path,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # venvfill must be importable by the venv's python, as when it is installed in the
    # base: the source tree and the test run's own site-packages (pure Python).  pip's
    # configuration is this test's alone (the machine's may name other indexes).
    path = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    env = {**os.environ, "PYTHONPATH": path, "PIP_CONFIG_FILE": os.devnull, **(env or {})}
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

    docs = mkvenv(python, "ensuregroup", "pythondeps.toml", "docs", cwd=tmp_path)
    assert docs.returncode == 0, docs.stderr
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


# -- issue 27: the drop-in as QEMU's configure and make check-venv use it --------------

QEMU_DEPS = """\
[meson]
meson = { accepted = ">=1.5.0", installed = "1.8.1", canary = "meson" }

[docs]
sphinx = { accepted = ">=3.4.3", installed = "6.2.1", canary = "sphinx-build" }

[testdeps]
"qemu.qmp" = { accepted = ">=0.0.3", installed = "0.0.3" }
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[str, IndexConfig]]:
    """A loopback index standing for PyPI: sphinx 6.2.1 and qemu.qmp 0.0.3."""
    remote = tmp_path / "remote"
    build_wheel(remote, "sphinx", "6.2.1", scripts={"sphinx-build": default_script("sphinx")})
    build_wheel(remote, "qemu.qmp", "0.0.3", scripts={"qmp-shell": default_script("qemu.qmp")})
    config = IndexConfig(remote)
    with serve(config) as url:
        yield url, config


def configured(tmp_path: Path, wheels: Path) -> str:
    """configure's first two calls: create, then ensuregroup --dir ... meson."""
    demo_wheel(wheels, "meson", "1.8.1")
    (tmp_path / "pythondeps.toml").write_text(QEMU_DEPS)
    created = mkvenv(require_python("3.11"), "create", "pyvenv", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python = created.stdout.strip()
    meson = mkvenv(python, "ensuregroup", "--dir", str(wheels), "pythondeps.toml", "meson",
                   cwd=tmp_path)
    assert meson.returncode == 0, meson.stderr
    return python


@pytest.mark.parametrize("how", ["PIP_INDEX_URL", "pip.conf", "VENVFILL_INDEX_URL"])
def test_ensuregroup_online_fetches_from_the_index_pip_is_configured_with(
        tmp_path: Path, wheels: Path, index: tuple[str, IndexConfig], how: str) -> None:
    url, config = index
    python = configured(tmp_path, wheels)
    env: dict[str, str] = {}
    if how == "pip.conf":
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\nindex-url = https://pypi.invalid/simple/\n"
                        f"[install]\nindex-url = {url}\n")
        env["PIP_CONFIG_FILE"] = str(conf)
    else:
        env[how] = url
    docs = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "docs",
                  cwd=tmp_path, env=env)
    assert docs.returncode == 0, docs.stderr
    venv = tmp_path / "pyvenv"
    assert run(venv / "bin" / "sphinx-build").stdout.split()[:2] == ["sphinx", "6.2.1"]
    assert any(p.endswith("sphinx-6.2.1-py3-none-any.whl") for p in config.log)
    # Bytecode, as mkvenv.py's pip leaves it, made by the venv's python.
    site = venv / "lib" / "python3.11" / "site-packages"
    assert list((site / "sphinx_mod" / "__pycache__").glob("__init__.cpython-311.pyc"))


def test_without_online_nothing_is_fetched_and_the_hint_speaks_of_dir(
        tmp_path: Path, wheels: Path, index: tuple[str, IndexConfig]) -> None:
    url, config = index
    python = configured(tmp_path, wheels)
    docs = mkvenv(python, "ensuregroup", "pythondeps.toml", "docs", cwd=tmp_path,
                  env={"PIP_INDEX_URL": url})
    assert docs.returncode == 1
    assert config.log == []
    assert "--dir" in docs.stderr and "--wheels" not in docs.stderr
    assert "./wheels" not in docs.stderr


def editable_install(venv: Path, source: Path) -> None:
    """What ``pip install -e python/`` leaves (setuptools' develop mode): the in-tree
    package's metadata in the source tree, a .pth naming it, its program in bin/."""
    (source / "qemu").mkdir(parents=True)
    (source / "qemu" / "__init__.py").write_text("def main():\n    print('qemu in-tree')\n")
    info = source / "qemu.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: qemu\nVersion: 0.6.1\n\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nqmp-shell = qemu:main\n")
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "easy-install.pth").write_text(f"{source}\n")
    (site / "qemu.egg-link").write_text(f"{source}\n.")
    script = venv / "bin" / "qmp-shell"
    script.write_text(f"#!{venv}/bin/python\nimport qemu\nqemu.main()\n")
    script.chmod(0o755)


def test_check_venv_replaces_a_program_of_the_in_tree_package_with_a_warning(
        tmp_path: Path, wheels: Path, index: tuple[str, IndexConfig]) -> None:
    # tests/Makefile.include: pip installs the in-tree qemu package editable (it ships
    # qmp-shell), then ensuregroup --online testdeps installs qemu.qmp, which ships it too.
    url, _ = index
    python = configured(tmp_path, wheels)
    venv = tmp_path / "pyvenv"
    editable_install(venv, tmp_path / "python")
    assert run(venv / "bin" / "qmp-shell").stdout == "qemu in-tree\n"
    check = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "testdeps",
                   cwd=tmp_path, env={"PIP_INDEX_URL": url})
    assert check.returncode == 0, check.stderr
    assert "bin/qmp-shell belonged to no distribution being replaced" in check.stderr
    assert run(venv / "bin" / "qmp-shell").stdout.split()[:2] == ["qemu.qmp", "0.0.3"]
    # The in-tree package is the venv's own, not a parent's: the venv is reused as it
    # is, and no .pth carries the source tree as if it were a parent venv's.
    assert "reused" in check.stderr.splitlines()[0]
    site = venv / "lib" / "python3.11" / "site-packages"
    assert not (site / "_venvfill_parent.pth").exists()
    assert run(python, "-c", "import qemu, qemu_qmp_mod").returncode == 0


def test_create_starts_clean(tmp_path: Path, wheels: Path) -> None:
    # --enable-docs, then --disable-docs in one build directory: the scripts written
    # for the base's pip by the first configure are not written by the second.
    python = configured(tmp_path, wheels)
    (tmp_path / "pythondeps.toml").write_text(QEMU_DEPS + "[tools]\npip = '>=19'\n")
    tools = mkvenv(python, "ensuregroup", "pythondeps.toml", "tools", cwd=tmp_path)
    assert tools.returncode == 0, tools.stderr
    venv = tmp_path / "pyvenv"
    assert (venv / "bin" / "pip").exists()
    python = configured(tmp_path, wheels)  # create again, then meson only
    assert not (venv / "bin" / "pip").exists()
    assert not (venv / ".venvfill" / "state.json").exists() or "pip" not in (
        venv / ".venvfill" / "state.json").read_text()


@pytest.mark.accelerated
def test_an_unchanged_ensuregroup_answers_from_the_fingerprint(
        tmp_path: Path, wheels: Path) -> None:
    python = configured(tmp_path, wheels)
    # With the venv's python, as configure runs it: nothing heavy is imported beyond
    # what site's .pth files of the base import anyway.
    probe = ("import sys\nbefore = set(sys.modules)\nfrom resolver.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "heavy = {'argparse', 'pathlib', 'hashlib', 'packaging', 'resolvelib',"
             " 'installer', 'typing', 'json', 're', 'subprocess'} & (set(sys.modules) - before)\n"
             "print('HEAVY', sorted(heavy))\nsys.exit(code)\n")
    again = subprocess.run(
        [python, "-c", probe, "mkvenv", "ensuregroup", "--dir", str(wheels),
         "pythondeps.toml", "meson"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PIP_CONFIG_FILE": os.devnull},
        check=False)
    assert again.returncode == 0, again.stderr
    assert "is up to date for meson" in again.stderr
    assert "HEAVY []" in again.stdout
    # A changed manifest, or another group, runs in full.
    (tmp_path / "pythondeps.toml").write_text(QEMU_DEPS + "\n")
    changed = mkvenv(python, "ensuregroup", "--dir", str(wheels), "pythondeps.toml", "meson",
                     cwd=tmp_path)
    assert changed.returncode == 0 and "up to date" not in changed.stderr


def test_configure_then_check_venv_call_sequence(
        tmp_path: Path, wheels: Path, index: tuple[str, IndexConfig]) -> None:
    # QEMU 10.2's exact calls, in order: configure (create; ensuregroup --dir ... meson;
    # ensuregroup --online docs), then make check-venv (pip install -e python/;
    # ensuregroup --online testdeps), with a loopback index standing for PyPI.
    url, config = index
    python = configured(tmp_path, wheels)
    env = {"PIP_INDEX_URL": url}
    docs = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "docs",
                  cwd=tmp_path, env=env)
    assert docs.returncode == 0, docs.stderr
    venv = tmp_path / "pyvenv"
    editable_install(venv, tmp_path / "python")
    tests = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "testdeps",
                   cwd=tmp_path, env=env)
    assert tests.returncode == 0, tests.stderr
    for program, first in (("meson", "meson"), ("sphinx-build", "sphinx"),
                           ("qmp-shell", "qemu.qmp")):
        assert run(venv / "bin" / program).stdout.split()[0] == first, program
    assert sorted(p.rsplit("/", 1)[-1] for p in config.log if p.endswith(".whl")) == [
        "qemu_qmp-0.0.3-py3-none-any.whl", "sphinx-6.2.1-py3-none-any.whl"]
    # check-venv again (make runs it before every functional test): nothing to do.
    again = mkvenv(python, "ensuregroup", "--online", "pythondeps.toml", "testdeps",
                   cwd=tmp_path, env=env)
    assert again.returncode == 0
    assert ("is up to date for testdeps" in again.stderr if ACCELERATED
            else unchanged(again.stderr))
