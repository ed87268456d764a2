"""The cache of unpacked wheels: hard links into venvs, copies across filesystems,
damage detection, and ``venvfill cache gc``."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, require_python, run_cli
from test_e2e import demo_wheel, fill, run

pytestmark = pytest.mark.e2e

DEMO = "[g]\ndemo = '>=1'\n"


def site(venv: Path) -> Path:
    return venv / "lib" / "python3.11" / "site-packages"


def record_ok(venv: Path, dist_info: str) -> None:
    """Every file RECORD lists with a hash has that hash and size."""
    base = site(venv)
    lines = (base / dist_info / "RECORD").read_text().splitlines()
    assert lines
    for line in lines:
        path, hash_, size = line.rsplit(",", 2)
        if not hash_:
            continue
        data = (base / path).read_bytes()
        algo, value = hash_.split("=", 1)
        digest = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=")
        assert (digest.decode(), len(data)) == (value, int(size)), path


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "unpacked").iterdir())


def test_files_are_hard_links_shared_between_venvs(tmp_path: Path, wheels: Path,
                                                   own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data.txt": b"payload\n"})
    one, two = tmp_path / "one", tmp_path / "two"
    for d in (one, two):
        d.mkdir()
        proc = fill(d, DEMO, "--wheels", str(wheels))
        assert proc.returncode == 0, proc.stderr
    a = site(one / ".venv") / "demo_mod" / "data.txt"
    b = site(two / ".venv") / "demo_mod" / "data.txt"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert os.stat(a).st_nlink == 3  # the cache's copy and the two venvs'
    assert len(entries(own_cache)) == 1
    for d in (one, two):
        record_ok(d / ".venv", "demo-1.0.dist-info")
        assert run(d / ".venv" / "bin" / "demo").stdout.split() == [
            "demo", "1.0", str(d / ".venv")]


def test_cache_on_another_filesystem_copies(tmp_path: Path, wheels: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's")
    cache = shm / f"venvfill-test-{os.getpid()}"
    try:
        demo_wheel(wheels, "demo", "1.0")
        proc = fill(tmp_path, DEMO, "--cache-dir", str(cache))
        assert proc.returncode == 0, proc.stderr
        module = site(tmp_path / ".venv") / "demo_mod" / "__init__.py"
        assert os.stat(module).st_nlink == 1
        assert os.stat(module).st_dev != os.stat(cache).st_dev
        record_ok(tmp_path / ".venv", "demo-1.0.dist-info")
        assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_an_edit_through_one_venv_does_not_reach_the_next(tmp_path: Path, wheels: Path,
                                                          own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert fill(one, DEMO, "--wheels", str(wheels)).returncode == 0
    edited = site(one / ".venv") / "demo_mod" / "__init__.py"
    original = edited.read_bytes()
    with open(edited, "ab") as f:  # in place, as an editor without backup files does
        f.write(b"raise SystemExit('edited')\n")
    proc = fill(two, DEMO, "--wheels", str(wheels))
    assert proc.returncode == 0, proc.stderr
    fresh = site(two / ".venv") / "demo_mod" / "__init__.py"
    assert fresh.read_bytes() == original
    assert os.stat(fresh).st_ino != os.stat(edited).st_ino
    assert run(two / ".venv" / "bin" / "demo").returncode == 0
    assert b"edited" in edited.read_bytes()  # the first venv keeps its own edit


def test_a_bad_wheel_leaves_no_cache_entry(tmp_path: Path, wheels: Path,
                                           own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", record_override={"demo_mod/__init__.py": "sha256=AAAA"})
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5
    assert entries(own_cache) == []


def test_gc_removes_entries_of_replaced_packages_and_deleted_venvs(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    demo_wheel(wheels, "other", "1.0")
    keep, gone = tmp_path / "keep", tmp_path / "gone"
    keep.mkdir()
    gone.mkdir()
    assert fill(keep, "[g]\ndemo = { accepted = '>=1', installed = '1.0' }\n",
                "--wheels", str(wheels)).returncode == 0
    assert fill(gone, "[g]\nother = '>=1'\n", "--wheels", str(wheels)).returncode == 0
    # demo 1.0 is replaced by 2.0: its entry is no longer used.
    assert fill(keep, "[g]\ndemo = { accepted = '>=1', installed = '2.0' }\n",
                "--wheels", str(wheels)).returncode == 0
    assert len(entries(own_cache)) == 3
    shutil.rmtree(gone)
    proc = run_cli("cache", "gc", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "removed 2 unused cache entries" in proc.stdout
    assert "kept 1 in use" in proc.stdout and "forgot 1 venvs" in proc.stdout
    (left,) = entries(own_cache)
    assert left == hashlib.sha256(
        (wheels / "demo-2.0-py3-none-any.whl").read_bytes()).hexdigest()
    assert run(keep / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    # The venv still works after every entry is gone: its files are its own links.
    shutil.rmtree(own_cache / "unpacked")
    assert run(keep / ".venv" / "bin" / "demo").returncode == 0
    assert run_cli("cache", "dir", cwd=tmp_path).stdout.strip() == str(own_cache)


@pytest.mark.accelerated
def test_up_to_date_run_imports_no_heavy_modules(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, DEMO).returncode == 0
    probe = ("import sys\nfrom resolver.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "heavy = {'argparse', 'pathlib', 'hashlib', 'packaging', 'resolvelib',"
             " 'installer', 'typing', 'dataclasses', 'json', 're', 'subprocess'}"
             " & set(sys.modules)\n"
             "print('HEAVY', sorted(heavy))\nsys.exit(code)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe, "--manifest", "deps.toml", "--python",
         require_python("3.11"), "--offline"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "is up to date" in proc.stdout
    assert "HEAVY []" in proc.stdout


def imported(python: str, *args: str, cwd: Path) -> tuple[set[str], str]:
    """The modules a run imports (``-X importtime``'s report) and its standard output.
    Without site (an editable install's finder imports re), the resolver from ROOT."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([python, "-S", "-X", "importtime", *args], cwd=cwd,
                          env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return ({line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:")}, proc.stdout)


@pytest.mark.accelerated
def test_installed_command_launches_an_up_to_date_run_without_re(
        tmp_path: Path, wheels: Path) -> None:
    # The venvfill command is scripts/venvfill, not an entry point: the launchers
    # installers write for entry points import re, a third of this run's time.
    command = Path(sys.executable).parent / "venvfill"
    if not command.exists():
        assert not os.environ.get("CI"), f"{command} is not installed"
        pytest.skip("venvfill is not installed next to this interpreter")
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, DEMO).returncode == 0
    bare, _ = imported(sys.executable, "-c", "pass", cwd=tmp_path)
    modules, out = imported(sys.executable, str(command), "--manifest", "deps.toml",
                            "--python", require_python("3.11"), "--offline", cwd=tmp_path)
    assert "is up to date" in out
    assert "resolver._speed.quick" in modules
    assert not {"re", "enum", "argparse"} & (modules - bare)


def test_dry_run_writes_nothing_to_the_cache(tmp_path: Path, wheels: Path,
                                             own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, DEMO, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert not (own_cache / "unpacked").exists() or entries(own_cache) == []
