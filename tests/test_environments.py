"""Installations that are not plain: venv look-alikes (Nix-style) and nested venvs."""

from __future__ import annotations

import json
import marshal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from conftest import require_python, run_cli
from resolver.target.target_side import script_source
from test_e2e import clean_env, demo_wheel, fill, run

pytestmark = pytest.mark.e2e

SITECUSTOMIZE = """\
import os, site, sys
_prefix = os.environ.get("FAKE_NIX_PREFIX")
if _prefix:
    sys.prefix = sys.exec_prefix = _prefix
    for _d in os.environ.get("FAKE_NIX_PATH", "").split(os.pathsep):
        if _d:
            site.addsitedir(_d)
"""


def install_into(wheel: Path, site: Path, bindir: Path, python: str) -> None:
    scheme = {"purelib": str(site), "platlib": str(site), "scripts": str(bindir),
              "data": str(site.parent), "headers": str(site.parent / "include")}
    with WheelFile.open(wheel) as source:
        install(source, SchemeDictionaryDestination(scheme, python, "posix"), {})


@pytest.fixture
def look_alike(tmp_path: Path) -> tuple[Path, Path]:
    """A Nix-style environment: a wrapper script that sets variables a sitecustomize
    of its base reads to change sys.prefix and add the environment's site-packages.
    The base is a copy of pyenv's 3.11 binary over a symlinked standard library, so
    the test owns its site-packages (the real base is never touched)."""
    real = Path(require_python("3.11")).resolve()
    prefix = real.parent.parent
    if sys.platform != "linux" or not (prefix / "lib" / "python3.11").is_dir():
        pytest.skip("needs a pyenv-style CPython 3.11 on Linux")
    base = tmp_path / "base"
    stdlib = base / "lib" / "python3.11"
    (stdlib / "site-packages").mkdir(parents=True)
    (base / "bin").mkdir()
    for entry in (prefix / "lib" / "python3.11").iterdir():
        if entry.name != "site-packages":
            (stdlib / entry.name).symlink_to(entry)
    exe = base / "bin" / "python3.11"
    exe.write_bytes(real.read_bytes())
    exe.chmod(0o755)
    (stdlib / "site-packages" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = tmp_path / "env"
    env_site = env / "lib" / "python3.11" / "site-packages"
    env_site.mkdir(parents=True)
    wrapper = env / "bin" / "python3"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f"#!/bin/sh\nexport FAKE_NIX_PREFIX={env} FAKE_NIX_PATH={env_site}\n"
                       f"exec {exe} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    check = run(wrapper, "-I", "-c", "import sys; print(sys.prefix != sys.base_prefix)")
    if check.stdout.strip() != "True":
        pytest.skip(f"could not build a look-alike environment here: {check.stderr}")
    return wrapper, env_site


def test_look_alike_is_not_a_venv_and_its_packages_are_carried(
        tmp_path: Path, wheels: Path, look_alike: tuple[Path, Path]) -> None:
    wrapper, env_site = look_alike
    wheel = demo_wheel(wheels, "nixpkg", "1.0")
    install_into(wheel, env_site, env_site.parent.parent.parent / "bin", str(wrapper))

    info = json.loads(run_cli("inspect", "--python", str(wrapper), "--json",
                              cwd=tmp_path).stdout)
    assert info["kind"].startswith("venv look-alike")
    work = tmp_path / "work"
    work.mkdir()
    proc = fill(work, "[g]\nnixpkg = '>=1'\n", python=str(wrapper))
    assert proc.returncode == 0, proc.stderr
    assert any(line.split()[:4] == ["nixpkg", "1.0", "base", "kept"]
               for line in proc.stdout.splitlines()), proc.stdout
    venv = work / ".venv"
    # No wrapper variables in this process: the child sees the environment's packages
    # through its own .pth, not through FAKE_NIX_*.
    assert not any(k.startswith("FAKE_NIX") for k in clean_env())
    imp = run(venv / "bin" / "python", "-c", "import nixpkg_mod")
    assert imp.returncode == 0, imp.stderr
    pth = venv / "lib" / "python3.11" / "site-packages" / "_venvfill_parent.pth"
    assert pth.read_text().splitlines() == [str(env_site)]
    assert run(venv / "bin" / "nixpkg").stdout.split() == ["nixpkg", "1.0", str(venv)]
    cfg = (venv / "pyvenv.cfg").read_text()
    assert f"home = {Path(wrapper).parent.parent.parent / 'base' / 'bin'}" in cfg


def site_order(python: Path | str) -> list[str]:
    """The interpreter's sys.path without the standard library."""
    out = run(python, "-c", "import sys, sysconfig, json; std = {sysconfig.get_path('stdlib'),"
              " sysconfig.get_path('platstdlib')}; print(json.dumps([p for p in sys.path if p "
              "and p not in std and not p.endswith(('.zip', 'lib-dynload'))]))")
    return list(json.loads(out.stdout))


def test_nested_venv_sees_what_the_parent_sees_in_the_same_order(tmp_path: Path,
                                                                  wheels: Path) -> None:
    parent_dir = tmp_path / "p"
    parent_dir.mkdir()
    assert fill(parent_dir, "[g]\npip = '>=1'\n").returncode == 0
    parent = parent_dir / ".venv"
    parent_site = parent / "lib" / "python3.11" / "site-packages"
    # A directory the parent sees only through a .pth file of its own.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extra_mod.py").write_text("X = 1\n")
    (parent_site / "zz_extra.pth").write_text(f"{extra}\n")

    child_dir = tmp_path / "c"
    child_dir.mkdir()
    assert fill(child_dir, "[g]\npip = '>=1'\n",
                python=str(parent / "bin" / "python")).returncode == 0
    child = child_dir / ".venv"
    assert run(child / "bin" / "python", "-c", "import extra_mod").returncode == 0
    parent_view = site_order(parent / "bin" / "python")
    child_view = site_order(child / "bin" / "python")
    own = str(child / "lib" / "python3.11" / "site-packages")
    assert child_view[0] == own
    assert child_view[1:] == parent_view


@pytest.mark.interpreters
def test_nested_venv_of_python38(tmp_path: Path, wheels: Path) -> None:
    """Before 3.11 a venv's sys._base_executable is the venv's own link; the child
    must still point at the real interpreter and start."""
    py = require_python("3.8")
    demo_wheel(wheels, "demo", "1.0")
    parent_dir = tmp_path / "p"
    parent_dir.mkdir()
    assert fill(parent_dir, "[g]\ndemo = '>=1'\n", "--wheels", str(wheels),
                python=py).returncode == 0
    child_dir = tmp_path / "c"
    child_dir.mkdir()
    proc = fill(child_dir, "[g]\ndemo = '>=1'\n",
                python=str(parent_dir / ".venv" / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    child = child_dir / ".venv"
    home = next(line for line in (child / "pyvenv.cfg").read_text().splitlines()
            if line.startswith("home"))
    assert str(parent_dir) not in home
    out = run(child / "bin" / "python", "-c", "import demo_mod, sys; print(sys.version_info[:2])")
    assert out.returncode == 0 and out.stdout.strip() == "(3, 8)", out.stderr


def test_relocatable_venv_works_after_a_move(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0",
               extra_files={"demo-1.0.data/scripts/plain-tool":
                            b"#!python\nimport sys\nprint('plain', sys.prefix)\n"})
    first = tmp_path / "first"
    first.mkdir()
    proc = fill(first, "[g]\ndemo = '>=1'\npip = { accepted = '>=1', canary = 'pip' }\n",
                "--wheels", str(wheels), "--relocatable")
    assert proc.returncode == 0, proc.stderr
    old = first / ".venv"
    new = tmp_path / "elsewhere" / "moved-venv"
    new.parent.mkdir()
    old.rename(new)
    assert not old.exists()
    # Nothing in the venv names its old place.
    for path in new.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert str(old).encode() not in path.read_bytes(), path
    # Scripts of wheels, of .data/scripts and of the base all run on the moved venv.
    assert run(new / "bin" / "demo").stdout.split() == ["demo", "1.0", str(new)]
    assert run(new / "bin" / "plain-tool").stdout.split() == ["plain", str(new)]
    pip = run(new / "bin" / "pip", "--version")
    assert pip.returncode == 0 and "python 3.11" in pip.stdout
    assert run(new / "bin" / "python", "-c", "import demo_mod, pip").returncode == 0
    # A symlink to a script elsewhere still finds the venv.
    link = tmp_path / "demo-link"
    link.symlink_to(new / "bin" / "demo")
    assert run(link).stdout.split()[2] == str(new)
    # Activation finds the venv where it is now.
    shell = run("bash", "-c", f". {new}/bin/activate && echo $VIRTUAL_ENV && command -v python")
    assert shell.stdout.split() == [str(new), str(new / "bin" / "python")], shell.stderr
    # And venvfill keeps working on it there (the choice is sticky).
    again = run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                    "--venv", str(new), "--wheels", str(wheels), cwd=first)
    assert again.returncode == 0, again.stderr
    assert (new / "bin" / "demo").read_bytes().startswith(b"#!/bin/sh\n")


def test_relocatable_needs_clear_on_an_ordinary_venv(tmp_path: Path) -> None:
    assert fill(tmp_path, "[g]\npip = '>=1'\n").returncode == 0
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "--relocatable")
    assert proc.returncode == 6 and "--clear" in proc.stderr
    assert fill(tmp_path, "[g]\npip = '>=1'\n", "--relocatable", "--clear").returncode == 0
    assert (tmp_path / ".venv" / "bin" / "pip").read_bytes().startswith(b"#!/bin/sh\n")


def _imported(python: str, *args: str) -> set[str]:
    # Every module a run of the interpreter imports, from -X importtime's report.
    proc = subprocess.run([python, "-I", "-X", "importtime", *args],
                          capture_output=True, text=True, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("version", [None, pytest.param("3.8", marks=pytest.mark.interpreters)])
def test_builder_does_without_modules_it_does_not_use(tmp_path: Path,
                                                      version: str | None) -> None:
    # Its start-up is part of every new venv: venv's and shutil's imports that
    # creating a venv without pip does not use stay unimported, the venv works.
    python = require_python(version) if version else sys.executable
    venv = tmp_path / "v"
    spec = {"dir": str(venv), "system_site_packages": True, "clear": False,
            "parent_dirs": [], "pth_dir": str(tmp_path / "pth"), "pth_name": "x.pth",
            "keep": ".venvfill", "relocatable": False}
    builder = script_source("builder.py")
    imported = _imported(python, "-c", builder, marshal.dumps(spec, 4).hex())
    assert "venv" in imported and "shutil" in imported
    unused = {"logging", "subprocess", "re", "fnmatch", "bz2", "lzma", "json"}
    # (whatever a bare start imports, say from a .pth file, does not count)
    assert not unused & (imported - _imported(python, "-c", "pass"))
    assert run(venv / "bin" / "python", "-c", "import sys; assert sys.prefix != "
               "sys.base_prefix").returncode == 0


def test_builder_stand_ins_give_way_to_the_real_modules() -> None:
    # Anything of a stand-in beyond what the builder's venv needs is the real thing.
    check = (
        "import sys\n"
        "exec(compile(sys.argv[1], 'builder', 'exec'), {'__name__': 'builder'})\n"
        "import venv, subprocess, logging\n"
        "venv.logger.debug('dropped, as by default')\n"
        "venv.logger.warning('careful with %s', 42)\n"
        "print(subprocess.list2cmdline(['a b']))\n"
        "import logging.handlers\n"
        "print(type(sys.modules['logging']).__name__, type(sys.modules['subprocess']).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", check, script_source("builder.py")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ['"a b"', "module module"]
    assert proc.stderr == "careful with 42\n"
