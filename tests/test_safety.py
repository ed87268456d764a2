"""Failure safety end to end: hash pins, crashes at several points, two writers, the base."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT, require_python
from resolver.sources.wheelhouse import file_digest as digest
from test_e2e import MANIFEST, clean_env, demo_wheel, fill, run

pytestmark = pytest.mark.e2e

DRIVER = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from resolver.venv import environment
    from resolver.install import transaction as install
    point, after = os.environ["CRASH_POINT"], int(os.environ.get("CRASH_AFTER", "0"))
    count = [0]

    def crash_after(func):
        def wrapper(*args, **kwargs):
            count[0] += 1
            if count[0] > after:
                os.kill(os.getpid(), signal.SIGKILL)
            return func(*args, **kwargs)
        return wrapper

    if point == "commit":
        install._move = crash_after(install._move)
    elif point == "stage":
        from resolver.install import destination
        cls = destination.RecordingDestination
        cls.write_to_fs = crash_after(cls.write_to_fs)
    elif point == "create":
        def wait_then_die(self, **kwargs):
            self.finished()
            os.kill(os.getpid(), signal.SIGKILL)  # venv built, creation marker still there
        environment.Creation.wait = wait_then_die
    elif point == "replay":
        from resolver._speed import recipes
        recipes._move_in = crash_after(recipes._move_in)
    elif point == "slow":
        real_recover = install.recover
        def recover(venv):
            open(os.environ["LOCKED_MARKER"], "w").close()  # the lock is held now
            deadline = time.monotonic() + 60  # held until the test says, at most a minute
            while not os.path.exists(os.environ["RELEASE_MARKER"]) and time.monotonic() < deadline:
                time.sleep(0.01)
            return real_recover(venv)
        install.recover = recover
    from resolver.cli import main
    sys.exit(main())
""")


def driven(tmp_path: Path, point: str, manifest: str, *args: str, after: int = 0,
           background: bool = False) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(root=str(ROOT)))
    (tmp_path / "deps.toml").write_text(manifest)
    cmd = [sys.executable, str(driver), "--manifest", "deps.toml", "--python",
           require_python("3.11"), *args]
    env = dict(clean_env(), CRASH_POINT=point, CRASH_AFTER=str(after),
               LOCKED_MARKER=str(tmp_path / "locked"), RELEASE_MARKER=str(tmp_path / "release"))
    if background:
        return subprocess.Popen(cmd, cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def healthy(venv: Path, version: str) -> None:
    """The venv works, holds exactly one demo, and venvfill left no scaffolding."""
    assert run(venv / "bin" / "demo").stdout.split()[:2] == ["demo", version]
    site = venv / "lib" / "python3.11" / "site-packages"
    assert [p.name for p in site.glob("demo-*.dist-info")] == [f"demo-{version}.dist-info"]
    record = (site / f"demo-{version}.dist-info" / "RECORD").read_text().splitlines()
    for line in record:
        assert (site / line.split(",")[0]).exists(), line
    assert not (site / "demo_mod" / "only_in_1.py").exists() or version == "1.0"
    leftovers = set(os.listdir(venv / ".venvfill")) - {"lock", "state.json", "fingerprint",
                                                        "provenance.json"}
    assert not leftovers, leftovers


def two_versions(wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/only_in_1.py": b"x = 1\n",
                                                   **{f"demo_mod/m{i}.py": b"" for i in range(6)}})
    demo_wheel(wheels, "demo", "2.0", extra_files={f"demo_mod/m{i}.py": b"# 2\n"
                                                   for i in range(6)})


PIN_2 = MANIFEST.replace('installed = "1.0"', 'installed = "2.0"')


@pytest.mark.parametrize("after", [0, 1, 5, 12])
def test_sigkill_during_commit_is_completed_by_next_run(tmp_path: Path, wheels: Path,
                                                        after: int) -> None:
    two_versions(wheels)
    assert fill(tmp_path, MANIFEST).returncode == 0
    crashed = driven(tmp_path, "commit", PIN_2, after=after)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    assert (tmp_path / ".venv" / ".venvfill" / "journal.json").exists()
    proc = fill(tmp_path, PIN_2)
    assert proc.returncode == 0, proc.stderr
    assert "repaired: completed a fill that was interrupted while committing" in proc.stdout
    healthy(tmp_path / ".venv", "2.0")


@pytest.mark.parametrize("after", [0, 1])
def test_sigkill_while_moving_new_directories_is_completed(tmp_path: Path, wheels: Path,
                                                           after: int) -> None:
    # A fresh install: the new venv's site-packages is empty, so the staged one takes
    # its place in one rename (bin/demo moves alone); killed before it, and between.
    two_versions(wheels)
    crashed = driven(tmp_path, "commit", PIN_2, after=after)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    journal = json.loads((tmp_path / ".venv" / ".venvfill" / "journal.json").read_text())
    assert [Path(d).name for _, d in journal["dirs"]] == ["site-packages"]
    assert [Path(d).name for _, d in journal["moves"]] == ["demo"]
    proc = fill(tmp_path, PIN_2)
    assert proc.returncode == 0, proc.stderr
    assert "repaired: completed a fill that was interrupted while committing" in proc.stdout
    healthy(tmp_path / ".venv", "2.0")


def test_new_directory_that_appeared_meanwhile_is_merged(tmp_path: Path,
                                                         wheels: Path) -> None:
    # Killed before the directory moves; meanwhile something else made demo_mod/ in
    # the venv's site-packages, empty until then.  Recovery cannot rename onto a filled
    # directory, so it moves the files in one by one.
    two_versions(wheels)
    crashed = driven(tmp_path, "commit", PIN_2, after=0)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    intruder = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "demo_mod"
    intruder.mkdir()
    (intruder / "stray.txt").write_text("not ours\n")
    proc = fill(tmp_path, PIN_2)
    assert proc.returncode == 0, proc.stderr
    assert "repaired: completed a fill that was interrupted while committing" in proc.stdout
    healthy(tmp_path / ".venv", "2.0")
    assert (intruder / "stray.txt").read_text() == "not ours\n"
    assert (intruder / "m0.py").read_bytes() == b"# 2\n"


def test_files_cut_short_by_a_power_loss_are_reinstalled(tmp_path: Path,
                                                       wheels: Path) -> None:
    # The journal is synced, the files are not: a power loss after the journal can
    # leave a file empty.  Killed right after the journal, then a staged file (the
    # same inode as the cache's copy, as a lost write would leave both) truncated:
    # the next run notices the size, removes demo 2.0 and installs it afresh.
    two_versions(wheels)
    assert fill(tmp_path, MANIFEST).returncode == 0
    crashed = driven(tmp_path, "commit", PIN_2, after=0)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    staged = (tmp_path / ".venv" / ".venvfill" / "stage" / "lib" / "python3.11"
              / "site-packages" / "demo_mod" / "m0.py")
    assert staged.read_bytes() == b"# 2\n"
    staged.write_bytes(b"")
    proc = fill(tmp_path, PIN_2)
    assert proc.returncode == 0, proc.stderr
    assert "removed demo-2.0.dist-info, whose files were cut short" in proc.stdout
    healthy(tmp_path / ".venv", "2.0")
    module = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "demo_mod" / "m0.py"
    assert module.read_bytes() == b"# 2\n"


@pytest.mark.parametrize("after", [0, 3])
def test_sigkill_while_staging_leaves_venv_untouched(tmp_path: Path, wheels: Path,
                                                     after: int) -> None:
    two_versions(wheels)
    assert fill(tmp_path, MANIFEST).returncode == 0
    crashed = driven(tmp_path, "stage", PIN_2, after=after)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]
    proc = fill(tmp_path, PIN_2)
    assert proc.returncode == 0, proc.stderr
    assert "discarded a fill that was interrupted before committing" in proc.stdout
    healthy(tmp_path / ".venv", "2.0")


def test_sigkill_during_venv_creation_is_rebuilt(tmp_path: Path, wheels: Path) -> None:
    two_versions(wheels)
    crashed = driven(tmp_path, "create", MANIFEST)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL
    assert (tmp_path / ".venv" / ".venvfill" / "creating").exists()
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr
    assert "created" in proc.stdout.splitlines()[0]
    healthy(tmp_path / ".venv", "1.0")


# after=1: killed once the venv's top-level entries are moved in, before its records.
@pytest.mark.accelerated
@pytest.mark.parametrize("after", [0, 1])
def test_sigkill_while_replaying_a_recipe_is_rebuilt(tmp_path: Path, wheels: Path,
                                                     after: int) -> None:
    from test_remembered import age

    two_versions(wheels)
    age(wheels)  # settled: the first fill keeps a recipe
    assert fill(tmp_path, MANIFEST).returncode == 0
    subprocess.run(["rm", "-rf", str(tmp_path / ".venv")], check=True)
    crashed = driven(tmp_path, "replay", MANIFEST, "--offline", after=after)
    assert isinstance(crashed, subprocess.CompletedProcess)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert (tmp_path / ".venv" / ".venvfill" / "creating").exists()
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr
    assert "made as the last fill made it" not in proc.stdout
    healthy(tmp_path / ".venv", "1.0")


def test_two_writers_on_one_venv_both_succeed(tmp_path: Path, wheels: Path) -> None:
    two_versions(wheels)
    first = driven(tmp_path, "slow", MANIFEST, background=True)
    assert isinstance(first, subprocess.Popen)
    deadline = time.monotonic() + 60
    while not (tmp_path / "locked").exists():  # the first holds the lock until released
        assert first.poll() is None and time.monotonic() < deadline, "first run never locked"
        time.sleep(0.02)
    second = driven(tmp_path, "none", MANIFEST, background=True)
    assert isinstance(second, subprocess.Popen) and second.stderr is not None
    said = ""
    while "waiting for another venvfill run" not in said:  # it waits: release the first
        line = second.stderr.readline()
        assert line, f"the second run never waited: {said}"
        said += line
    (tmp_path / "release").touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    out, rest = second.communicate(timeout=120)
    assert second.returncode == 0, said + rest
    # The second saw what the first did: nothing left to install.
    assert "installed" not in out
    healthy(tmp_path / ".venv", "1.0")


def test_a_run_that_waited_for_one_removing_the_venv_locks_the_new_lock_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The first run created the venv directory and failed before building it: on its
    # way out it removes the directory, lock file and all.  The run that waited for it
    # must then hold a lock on the lock file at the path, or a third run would not
    # wait for it.
    import fcntl
    import threading

    from resolver.venv.lockfile import exclusive
    venv = tmp_path / "venv"
    first = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from resolver.venv.lockfile import exclusive
        with exclusive({str(venv)!r}) as created:
            print(created, flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None and first.stdout.readline() == "True\n"
    second = exclusive(venv)
    created: list[bool] = []
    waiting = threading.Thread(target=lambda: created.append(second.__enter__()))
    waiting.start()
    deadline = time.monotonic() + 30
    while "waiting for another venvfill run" not in capsys.readouterr().err:
        assert time.monotonic() < deadline, "the second run never waited"
        time.sleep(0.01)
    first.communicate("\n", timeout=30)
    waiting.join(30)
    assert created == [True]  # the directory was gone: made again by the second
    lock = venv / ".venvfill" / "lock"
    assert os.path.samestat(os.fstat(second.fd), os.stat(lock))
    third = os.open(lock, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(third, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(third)
    second.__exit__(None, None, None)
    assert not venv.exists()  # made by the second, which built nothing either


def test_hash_pins(tmp_path: Path, wheels: Path) -> None:
    good = demo_wheel(wheels, "demo", "1.0")
    right = digest(good)
    wrong = "0" * 64
    manifest = f'[g]\ndemo = {{ accepted = ">=1", hashes = ["sha256:{wrong}"] }}\n'
    proc = fill(tmp_path, manifest)
    assert proc.returncode == 8
    assert f"expected sha256:{wrong}; the file is sha256:{right}" in proc.stderr
    assert f"wheels/{good.name} (demo 1.0): expected" in proc.stderr
    assert not (tmp_path / ".venv").exists()
    proc = fill(tmp_path, manifest.replace(wrong, right))
    assert proc.returncode == 0, proc.stderr


def test_require_hashes_covers_dependencies(tmp_path: Path, wheels: Path) -> None:
    top = demo_wheel(wheels, "demo", "1.0", requires=["dep>=1"])
    from wheelfactory import build_wheel

    dep = build_wheel(wheels, "dep", "1.0")
    manifest = f'[g]\ndemo = {{ accepted = ">=1", hashes = ["sha256:{digest(top)}"] }}\n'
    assert fill(tmp_path, manifest).returncode == 0  # without the flag, pins are optional
    proc = fill(tmp_path, manifest, "--require-hashes", "--venv", "strict")
    assert proc.returncode == 8
    assert f'dep 1.0) has no hash pin; add hashes = ["sha256:{digest(dep)}"]' in proc.stderr
    assert not (tmp_path / "strict").exists()
    manifest += f'dep = {{ hashes = ["sha256:{digest(dep)}"] }}\n'
    proc = fill(tmp_path, manifest, "--require-hashes", "--venv", "strict")
    assert proc.returncode == 0, proc.stderr


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_base_and_parent_are_never_touched(tmp_path: Path, wheels: Path) -> None:
    base_py = require_python("3.11")
    base_site = Path(run(base_py, "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])").stdout.strip())
    base_before = snapshot(base_site)
    two_versions(wheels)
    parent_dir = tmp_path / "p"
    parent_dir.mkdir()
    assert fill(parent_dir, MANIFEST, "--wheels", str(wheels)).returncode == 0
    parent = parent_dir / ".venv"
    parent_before = snapshot(parent)
    # The child shadows the parent's demo 1.0 with 2.0, then goes back to the parent's.
    child_py = str(parent / "bin" / "python")
    newer = '[g]\ndemo = { accepted = ">=2", installed = "2.0" }\npip = ">=1"\n'
    assert fill(tmp_path, newer, "--wheels", str(wheels), python=child_py).returncode == 0
    back = fill(tmp_path, '[g]\ndemo = "<2"\n', "--wheels", str(wheels), python=child_py)
    assert back.returncode == 0, back.stderr
    assert "venv copy 2.0 removed, system's used" in back.stdout
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]
    assert snapshot(parent) == parent_before
    assert snapshot(base_site) == base_before
