"""Reproducible venvs: the same inputs give the same tree, wherever and however made."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_remembered import age

from conftest import ACCELERATED, require_python, run_cli
from test_e2e import demo_wheel
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e

MANIFEST = "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\npip = '>=1'\n"


def _fill(where: Path, venv: str, cache: Path, *args: str, umask: int = 0o022,
          env: dict[str, str] | None = None) -> str:
    if not (where / "deps.toml").exists():
        (where / "deps.toml").write_text(MANIFEST)
        age(where / "deps.toml")  # settled, so that a fill keeps its recipe
    old = os.umask(umask)
    try:
        proc = run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                       "--venv", venv, *args, cwd=where,
                       env={"VENVFILL_CACHE_DIR": str(cache), **(env or {})})
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _digest(where: Path, venv: str) -> str:
    proc = run_cli("digest", "--venv", venv, cwd=where)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[0]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    wheels = tmp_path / "wheels"
    demo_wheel(wheels, "demo", "1.0", requires=["helper"],
               extra_files={"demo-1.0.data/scripts/demo-tool": b"#!python\nprint('tool')\n",
                            "demo_mod/data/table.txt": b"x\n"})
    build_wheel(wheels, "helper", "2.0")
    age(wheels)
    return tmp_path


def test_the_same_inputs_give_the_same_tree_whatever_path_cache_umask_or_route(
        inputs: Path) -> None:
    one, two = inputs / "one", inputs / "two"
    one.mkdir()
    two.mkdir()
    for where in (one, two):
        (where / "wheels").symlink_to(inputs / "wheels")
    cold = _fill(one, "a", inputs / "cache1")
    assert "installed" in cold
    _fill(one, "b", inputs / "cache1")  # warm: from the cache, through the prestage
    _fill(one, "c", inputs / "cache1")
    subprocess.run(["rm", "-rf", str(one / "c")], check=True)
    replayed = _fill(one, "c", inputs / "cache1")  # a recipe replay
    assert ("made as the last fill made it" in replayed) is ACCELERATED
    _fill(two, "d", inputs / "cache2", umask=0o077)  # another path, cache and umask
    # The other implementation of the speed points (cli/speed.py), cold and warm.
    other = {"VENVFILL_SPEED": "plain" if ACCELERATED else "accelerated"}
    _fill(two, "e", inputs / "cache3", env=other)
    _fill(two, "f", inputs / "cache3", env=other)
    digests = {_digest(one, "a"), _digest(one, "b"), _digest(one, "c"), _digest(two, "d"),
               _digest(two, "e"), _digest(two, "f")}
    assert len(digests) == 1, digests
    assert (two / "d").stat().st_mode & 0o777 == 0o700  # the venv itself: the user's umask
    # The digest sees a change: one edited byte makes another.
    module = next((one / "b").glob("lib/python*/site-packages/helper_mod/__init__.py"))
    module.unlink()
    module.write_text("edited = True\n")
    assert _digest(one, "b") != _digest(one, "a")


def test_compiled_venvs_are_the_same_with_source_date_epoch(inputs: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    (inputs / "x").mkdir()
    (inputs / "x" / "wheels").symlink_to(inputs / "wheels")
    _fill(inputs, "a", inputs / "cache1", "--compile", env=env)
    _fill(inputs / "x", "b", inputs / "cache2", "--compile", env=env)
    pycs = list((inputs / "a").glob("lib/python*/site-packages/*/__pycache__/*.pyc"))
    assert pycs  # compiled, and listed in RECORD (the digest covers them)
    assert _digest(inputs, "a") == _digest(inputs / "x", "b")


def test_relocatable_venvs_of_one_name_are_byte_identical_anywhere(inputs: Path) -> None:
    for where in ("p", "q/r"):
        (inputs / where).mkdir(parents=True)
        (inputs / where / "wheels").symlink_to(inputs / "wheels")
        _fill(inputs / where, "venv", inputs / f"cache-{where[0]}", "--relocatable")
    first, second = inputs / "p" / "venv", inputs / "q" / "r" / "venv"
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*")
                   if p.is_file() and ".venvfill" not in p.parts)
    assert files == sorted(str(p.relative_to(second)) for p in second.rglob("*")
                           if p.is_file() and ".venvfill" not in p.parts)
    for rel in files:
        a, b = (first / rel), (second / rel)
        assert a.read_bytes() == b.read_bytes(), rel
        assert a.stat().st_mode == b.stat().st_mode, rel
        assert str(first).encode() not in a.read_bytes(), rel
