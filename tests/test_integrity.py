"""Hostile wheels, planted state and damaged caches: nothing outside the venv, no half states.

Each test builds the hostile input in a fixture and runs it through the CLI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, require_python, unchanged
from test_e2e import MANIFEST, demo_wheel, fill, run

pytestmark = pytest.mark.e2e

DEMO = '[g]\ndemo = { accepted = ">=1.0", installed = "1.0" }\n'


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.name not in ("lock", "fingerprint")}


def existing_venv(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A venv filled with the base's pip only, and its files' contents."""
    assert fill(tmp_path, MANIFEST, "--group", "tools").returncode == 0
    venv = tmp_path / ".venv"
    return venv, tree(venv)


@pytest.mark.parametrize("member", [
    "demo-1.0.data/data/.venvfill/journal.json",
    "demo-1.0.data/data/.venvfill/creating",
    "demo-1.0.data/data/.venvfill/stage/x.py",
    "demo-1.0.data/data/pyvenv.cfg",
    "demo-1.0.data/scripts/python3",
    "demo-1.0.data/data/bin/activate",
    "demo-1.0.data/data/bin/Activate.ps1",
    "_venvfill_parent.pth",
    "demo-1.0.data/purelib/_venvfill_parent.pth",
    "demo-1.0.data/data/lib/python3.11/site-packages/_venvfill_parent.pth",
])
def test_a_wheel_cannot_write_venvfill_s_or_the_venv_s_own_files(
        tmp_path: Path, wheels: Path, member: str) -> None:
    venv, before = existing_venv(tmp_path)
    demo_wheel(wheels, "demo", "1.0", extra_files={member: b'{"planted": 1}\n'})
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 5, proc.stderr
    assert "demo-1.0-py3-none-any.whl would install" in proc.stderr
    assert "refused, nothing in the venv was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(venv) == before


@pytest.mark.parametrize("script", ["python", "python3.11", "activate"])
def test_a_wheel_s_console_script_cannot_replace_the_interpreter(
        tmp_path: Path, wheels: Path, script: str) -> None:
    venv, before = existing_venv(tmp_path)
    from wheelfactory import build_wheel, default_script

    build_wheel(wheels, "demo", "1.0", scripts={script: default_script("demo")})
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert f"would install bin/{script}, which is the venv's interpreter" in proc.stderr
    assert tree(venv) == before
    assert run(venv / "bin" / "python", "-c", "print('ok')").stdout == "ok\n"


def test_recovery_refuses_a_journal_naming_paths_outside_the_venv(
        tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    venv = tmp_path / ".venv"
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    state = venv / ".venvfill"
    journal = {"trash": [[str(precious), str(state / "trash" / "0")]], "dirs": [],
               "moves": [], "checks": [], "keep": [], "installs": []}
    (state / "journal.json").write_text(json.dumps(journal))
    (venv / ".venvfill" / "fingerprint").unlink(missing_ok=True)
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 6, proc.stderr
    assert "journal.json was not written by venvfill" in proc.stderr
    assert str(precious) in proc.stderr
    assert precious.read_text() == "keep me\n"

    # A journal moving one file of the venv onto another stays inside it, but not
    # inside the stage: refused as well.
    victim = venv / "lib" / "python3.11" / "site-packages" / "demo_mod" / "__init__.py"
    journal = {"trash": [], "dirs": [], "moves": [[str(victim), str(venv / "x")]],
               "checks": [], "keep": [], "installs": []}
    (state / "journal.json").write_text(json.dumps(journal))
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 6, proc.stderr
    assert victim.exists() and not (venv / "x").exists()

    (state / "journal.json").unlink()  # the hint's fix
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr


def test_uninstall_never_removes_the_venv_s_own_files(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    venv = tmp_path / ".venv"
    record = venv / "lib" / "python3.11" / "site-packages" / "demo-1.0.dist-info" / "RECORD"
    # A RECORD edited to claim the venv's own files (or written so by another tool).
    record.write_text(record.read_text() + "../../../pyvenv.cfg,,\n../../../bin/python,,\n"
                      "../../../.venvfill/state.json,,\n")
    proc = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'))
    assert proc.returncode == 0, proc.stderr
    assert (venv / "pyvenv.cfg").exists() and (venv / "bin" / "python").exists()
    assert (venv / ".venvfill" / "state.json").exists()
    assert run(venv / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]


# -- item 4: bounded resources ------------------------------------------------------

def quick_fill(tmp_path: Path, *args: str, limit_file_size: int | None = None,
               **kw: object) -> subprocess.CompletedProcess[str]:
    """A fill that must end quickly (a FIFO would make it wait forever)."""
    def limits() -> None:
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "resolver", "--manifest", "deps.toml",
                           "--python", require_python("3.11"), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=limits, **kw)  # type: ignore[call-overload]


def test_a_fifo_manifest_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "deps.toml")
    proc = quick_fill(tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "deps.toml has a problem:\n  - is a FIFO, not a file" in proc.stderr


def test_a_manifest_too_large_is_refused_unread(tmp_path: Path) -> None:
    with open(tmp_path / "deps.toml", "wb") as f:
        f.truncate(17 << 20)  # sparse: nothing written, 17 MiB long
    proc = quick_fill(tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "more than the 16 MiB venvfill reads" in proc.stderr


@pytest.mark.parametrize("make", ["fifo", "dev-zero"])
def test_a_wheel_that_is_no_file_is_refused(tmp_path: Path, wheels: Path, make: str) -> None:
    (tmp_path / "deps.toml").write_text(DEMO)
    path = wheels / "demo-1.0-py3-none-any.whl"
    if make == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    proc = quick_fill(tmp_path)
    assert proc.returncode == 5, proc.stderr
    what = "a FIFO" if make == "fifo" else "a character device"
    assert f"demo-1.0-py3-none-any.whl is {what}, not a wheel file" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_a_huge_metadata_is_refused_before_it_is_inflated(tmp_path: Path,
                                                          wheels: Path) -> None:
    # 64 MiB of METADATA (deflated to ~64 kB); the run may not use that much memory.
    path = demo_wheel(wheels, "demo", "1.0")
    rewrite_member(path, "demo-1.0.dist-info/METADATA",
                   b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: "
                   + b"x" * (64 << 20) + b"\n\n")
    (tmp_path / "deps.toml").write_text(DEMO)
    proc = quick_fill(tmp_path)
    assert proc.returncode == 5, proc.stderr
    assert "METADATA declares 67108921 bytes, more than the 16 MiB" in proc.stderr


def test_a_member_larger_than_record_says_is_never_inflated(tmp_path: Path,
                                                            wheels: Path) -> None:
    # A 32 MiB member (deflated to 32 kB) that RECORD says is 100 bytes: nothing of it
    # may be written (the child may write no file over 4 MiB).
    path = demo_wheel(wheels, "demo", "1.0")
    rewrite_member(path, "demo_mod/big.bin", b"\0" * (32 << 20), record_size=100)
    (tmp_path / "deps.toml").write_text(DEMO)
    proc = quick_fill(tmp_path, limit_file_size=4 << 20)
    assert proc.returncode == 5, proc.stderr
    assert "demo_mod/big.bin is 33554432 bytes in the archive, RECORD says 100" in proc.stderr
    cache = Path(os.environ["VENVFILL_CACHE_DIR"])
    assert not [p for p in cache.rglob("*") if p.is_file() and p.stat().st_size > 1 << 20]


def rewrite_member(path: Path, name: str, data: bytes, record_size: int | None = None) -> None:
    """Put ``data`` into the wheel as ``name``, listed in RECORD with its real hash."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members[name] = data
    record = next(n for n in members if n.endswith(".dist-info/RECORD"))
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = [r for r in members[record].decode().splitlines() if not r.startswith(name + ",")]
    rows.insert(0, f"{name},sha256={digest},{record_size or len(data)}")
    members[record] = ("\n".join(rows) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, contents in members.items():
            zf.writestr(member, contents)


# -- item 5: no "internal error" for bad input or a hostile environment ---------------

def flip_headers(path: Path, *, flag: int = 0, method: int | None = None) -> None:
    """Set a general-purpose flag bit, or a compression method, on every header."""
    data = bytearray(path.read_bytes())
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        while at >= 0:
            data[at + flags_at] |= flag
            if method is not None:
                data[at + method_at] = method
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def corrupt_deflate(path: Path) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo-1.0.dist-info/METADATA")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(info.compress_size):
        data[start + k] ^= 0x55
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "says"), [
    (lambda p: flip_headers(p, flag=1), "a member is encrypted"),
    (lambda p: flip_headers(p, method=99), "compressed with a method venvfill does not read"),
    (corrupt_deflate, "is not a valid zip archive"),
])
def test_unreadable_archives_are_bad_wheels(tmp_path: Path, wheels: Path,
                                            damage: object, says: str) -> None:
    damage(demo_wheel(wheels, "demo", "1.0"))  # type: ignore[operator]
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert says in proc.stderr and "internal error" not in proc.stderr
    assert "ZipInfo" not in proc.stderr  # no object reprs
    assert not (tmp_path / ".venv").exists()


def test_a_marker_that_cannot_be_evaluated_names_its_wheel(tmp_path: Path,
                                                           wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", requires=['dep; os_name === "posix"'])
    demo_wheel(wheels, "dep", "1.0")
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert ("demo-1.0-py3-none-any.whl: its requirement 'dep; os_name === \"posix\"' has a "
            "marker that cannot be evaluated") in proc.stderr


def test_a_deeply_nested_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    proc = fill(tmp_path, "[g]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    assert proc.returncode == 2, proc.stderr
    assert "nests tables or arrays too deeply" in proc.stderr


@pytest.mark.parametrize("stdout", ["closed", "broken", "full"])
@pytest.mark.parametrize("second", [False, True])
def test_a_report_that_cannot_be_written_is_exit_11(tmp_path: Path, wheels: Path,
                                                    stdout: str, second: bool) -> None:
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    if second:  # the up-to-date path reports too
        assert quick_fill(tmp_path).returncode == 0
    command = [sys.executable, "-m", "resolver", "--manifest", "deps.toml", "--python",
               require_python("3.11"), "--json"]
    shell = " ".join(f"'{c}'" for c in command) + {
        "closed": " >&-", "broken": " | true; exit ${PIPESTATUS[0]}", "full": " >/dev/full"}[stdout]
    proc = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert proc.returncode == 11, proc.stderr
    assert "the run finished, but its report could not be written" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "python", "-c", "import demo_mod").returncode == 0


def test_a_removed_working_directory_is_a_usage_error(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (f"cd '{gone}' && rmdir '{gone}' && exec '{sys.executable}' -m resolver "
              f"--manifest deps.toml --python '{require_python('3.11')}'")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "the current directory no longer exists" in proc.stderr


def test_a_probe_that_never_answers_says_so(tmp_path: Path) -> None:
    from resolver.errors import TargetError
    from resolver.target import interpreter as target

    def hung() -> tuple[int, str, str]:
        raise TimeoutError("the probe did not finish")

    with pytest.raises(TargetError) as caught:
        target.probe(require_python("3.11"), tmp_path / "v", hung)
    assert "did not finish in 120 s" in str(caught.value)
    assert "None" not in str(caught.value)


# -- item 8: venv paths that no shebang can hold -------------------------------------

@pytest.mark.parametrize("name", ["new\nline", "tab\there", "bell\a"])
def test_a_venv_path_with_control_characters_is_refused(tmp_path: Path, wheels: Path,
                                                        name: str) -> None:
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, MANIFEST, "--venv", name)
    assert proc.returncode == 6, proc.stderr
    assert "no shebang can hold that" in proc.stderr
    assert not (tmp_path / name).exists()


# -- item 9: validation -------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha224"])
def test_record_hashes_weaker_than_sha256_are_refused(tmp_path: Path, wheels: Path,
                                                      algorithm: str) -> None:
    member = "demo_mod/__init__.py"
    path = demo_wheel(wheels, "demo", "1.0")
    with zipfile.ZipFile(path) as zf:
        data = zf.read(member)
    digest = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=")
    path.unlink()
    demo_wheel(wheels, "demo", "1.0",
               record_override={member: f"{algorithm}={digest.decode()}"})
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert "demo-1.0-py3-none-any.whl failed verification" in proc.stderr
    assert f"{member}: RECORD uses the hash algorithm '{algorithm}', weaker" in proc.stderr


def test_a_wheel_whose_metadata_directory_is_another_project_s_is_refused(
        tmp_path: Path, wheels: Path) -> None:
    impostor = demo_wheel(wheels / "other", "other", "1.0", metadata_name="demo")
    impostor.rename(wheels / "demo-1.0-py3-none-any.whl")
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert "other-1.0.dist-info is another project's than demo" in proc.stderr
    assert not (tmp_path / ".venv").exists()


@pytest.mark.parametrize("canary", ["..", ".", "../../bin/sh", "a\\b", "x\n", " demo"])
def test_a_canary_must_be_a_plain_program_name(tmp_path: Path, canary: str) -> None:
    proc = fill(tmp_path, f'[g]\ndemo = {{ accepted = ">=1", canary = {json.dumps(canary)} }}\n')
    assert proc.returncode == 2, proc.stderr
    assert "'canary' must be a program name" in proc.stderr


# -- item 6: a failed run leaves nothing ---------------------------------------------

def clashing_wheels(wheels: Path) -> None:
    """Two wheels that ship the same file: staging the second fails."""
    from wheelfactory import build_wheel

    build_wheel(wheels, "one", "1.0", extra_files={"shared/x.py": b"1\n"})
    build_wheel(wheels, "two", "1.0", extra_files={"shared/x.py": b"2\n"})


TWO = '[g]\none = ">=1"\ntwo = ">=1"\n'


def test_a_new_venv_whose_install_fails_is_removed(tmp_path: Path, wheels: Path) -> None:
    clashing_wheels(wheels)
    proc = fill(tmp_path, TWO)
    assert proc.returncode == 5, proc.stderr
    assert "shared/x.py" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_a_new_venv_refusing_a_hostile_wheel_is_removed(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", extra_files={"demo-1.0.data/data/pyvenv.cfg": b"x\n"})
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 5, proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_an_empty_directory_the_user_made_stays_empty_after_a_failure(
        tmp_path: Path, wheels: Path) -> None:
    clashing_wheels(wheels)
    (tmp_path / "mine").mkdir()
    proc = fill(tmp_path, TWO, "--venv", "mine")
    assert proc.returncode == 5, proc.stderr
    assert list((tmp_path / "mine").iterdir()) == []
    # And one that fails before anything is built (nothing satisfies the manifest).
    proc = fill(tmp_path, '[g]\nmissing = ">=1"\n', "--venv", "mine")
    assert proc.returncode == 4, proc.stderr
    assert list((tmp_path / "mine").iterdir()) == []


def test_a_failure_under_a_umask_that_forbids_everything_leaves_no_directory(
        tmp_path: Path, wheels: Path) -> None:
    clashing_wheels(wheels)
    (tmp_path / "deps.toml").write_text(TWO)
    command = " ".join(f"'{c}'" for c in [sys.executable, "-m", "resolver", "--manifest",
                                            "deps.toml", "--python", require_python("3.11")])
    proc = subprocess.run(["bash", "-c", f"umask 0777; exec {command}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 5, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / ".venv").exists()


# -- item 3: a run that waited plans from what the other left -------------------------

def test_a_run_that_waited_for_the_lock_forgets_what_it_saw_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import threading

    from resolver.venv import lockfile

    venv = tmp_path / "v"
    (venv / ".venvfill").mkdir(parents=True)
    held = os.open(venv / ".venvfill" / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # the first run, which made the venv meanwhile
    # The second run looked before the first made the directory.
    real_lexists = os.path.lexists
    looked: list[str] = []

    def lexists(path: object) -> bool:
        if os.fspath(path) == str(venv) and not looked:  # type: ignore[arg-type]
            looked.append(str(path))
            return False
        return real_lexists(path)  # type: ignore[arg-type]

    monkeypatch.setattr(lockfile.os.path, "lexists", lexists)
    blocking = threading.Event()

    class Flock:
        LOCK_EX, LOCK_NB = fcntl.LOCK_EX, fcntl.LOCK_NB

        @staticmethod
        def flock(fd: int, how: int) -> None:
            if not how & fcntl.LOCK_NB:
                blocking.set()
            fcntl.flock(fd, how)

    monkeypatch.setattr(lockfile, "fcntl", Flock)
    seen: list[bool] = []

    def second() -> None:
        with lockfile.exclusive(venv) as fresh:
            seen.append(fresh)
        try:
            with lockfile.exclusive(venv):
                raise KeyError("this run fails after waiting")
        except KeyError:
            pass

    thread = threading.Thread(target=second)
    thread.start()
    assert blocking.wait(30)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")  # the first run's venv
    fcntl.flock(held, fcntl.LOCK_UN)
    os.close(held)
    thread.join(30)
    assert looked and seen == [False]  # it does not trust its early look
    assert (venv / "pyvenv.cfg").exists()  # and its own failure removes nothing of it


# -- item 7: upgrades pip handles ----------------------------------------------------

def test_an_upgrade_where_a_directory_becomes_a_file(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data/x.txt": b"1\n",
                                                   "demo_mod/data/sub/y.txt": b"1\n"})
    demo_wheel(wheels, "demo", "2.0", extra_files={"demo_mod/data": b"now a file\n"})
    assert fill(tmp_path, MANIFEST).returncode == 0
    proc = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'))
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    assert (site / "demo_mod" / "data").read_text() == "now a file\n"
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    # And back: the file becomes a directory again.
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr
    assert (site / "demo_mod" / "data" / "sub" / "y.txt").read_text() == "1\n"


def test_a_directory_holding_files_of_no_distribution_is_not_replaced(
        tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data/x.txt": b"1\n"})
    demo_wheel(wheels, "demo", "2.0", extra_files={"demo_mod/data": b"now a file\n"})
    assert fill(tmp_path, MANIFEST).returncode == 0
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "demo_mod" / "data" / "mine.txt").write_text("the user's\n")
    proc = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'))
    assert proc.returncode == 5, proc.stderr
    assert (site / "demo_mod" / "data" / "mine.txt").read_text() == "the user's\n"
    assert (site / "demo_mod" / "data" / "x.txt").exists()


@pytest.mark.parametrize("after", [0, 1, 2, 3])
def test_a_crash_while_a_directory_becomes_a_file_is_completed(
        tmp_path: Path, wheels: Path, after: int) -> None:
    from test_safety import driven

    demo_wheel(wheels, "demo", "1.0", extra_files={"demo_mod/data/x.txt": b"1\n",
                                                   "demo_mod/data/sub/y.txt": b"1\n"})
    demo_wheel(wheels, "demo", "2.0", extra_files={"demo_mod/data": b"now a file\n"})
    assert fill(tmp_path, MANIFEST).returncode == 0
    pin_2 = MANIFEST.replace('installed = "1.0"', 'installed = "2.0"')
    crashed = driven(tmp_path, "commit", pin_2, after=after)
    assert crashed.returncode == -9  # type: ignore[union-attr]
    proc = fill(tmp_path, pin_2)
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    assert (site / "demo_mod" / "data").read_text() == "now a file\n"
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]


# -- item 2: no venv changes another venv, the cache or a later fill --------------------

SITE = Path("lib") / "python3.11" / "site-packages"


def edit_append(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"x = 'edited'\n")


def edit_truncate(path: Path) -> None:
    os.truncate(path, 0)


def edit_cp_over(path: Path) -> None:
    other = path.with_name("other.txt")
    other.write_bytes(b"x = 'copied over'\n")
    subprocess.run(["cp", str(other), str(path)], check=True)  # in place, as cp does


def edit_chmod(path: Path) -> None:
    os.chmod(path, 0o644)


@pytest.mark.parametrize("edit", [edit_append, edit_truncate, edit_cp_over, edit_chmod])
def test_an_edit_through_one_venv_never_reaches_a_later_venv(
        tmp_path: Path, wheels: Path, edit: object) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, DEMO, "--venv", "a").returncode == 0
    module = tmp_path / "a" / SITE / "demo_mod" / "__init__.py"
    original = module.read_bytes()
    assert module.stat().st_mode & 0o777 == 0o444  # read-only: a user's write fails
    edit(module)  # type: ignore[operator]  # as root, or after a chmod
    proc = fill(tmp_path, DEMO, "--venv", "b")
    assert proc.returncode == 0, proc.stderr
    fresh = tmp_path / "b" / SITE / "demo_mod" / "__init__.py"
    assert fresh.read_bytes() == original
    assert fresh.stat().st_mode & 0o777 == 0o444
    assert fresh.stat().st_ino != module.stat().st_ino
    assert run(tmp_path / "b" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]


def test_metadata_files_are_never_shared_between_venvs(tmp_path: Path, wheels: Path) -> None:
    from wheelfactory import build_wheel

    build_wheel(wheels, "demo", "1.0")  # no scripts: finished without installer
    build_wheel(wheels, "demo", "2.0")
    for venv in ("a", "b"):
        assert fill(tmp_path, DEMO, "--venv", venv).returncode == 0
    info = SITE / "demo-1.0.dist-info"
    for name in ("RECORD", "INSTALLER", "REQUESTED"):
        assert (tmp_path / "a" / info / name).stat().st_nlink == 1, name
    # An edit of venv a's RECORD: an upgrade of b removes only b's own files.
    record_a = tmp_path / "a" / info / "RECORD"
    record_a.write_text(record_a.read_text() + "demo_mod/precious.txt,,\n")
    precious = tmp_path / "b" / SITE / "demo_mod" / "precious.txt"
    precious.write_text("the user's\n")
    proc = fill(tmp_path, DEMO.replace('installed = "1.0"', 'installed = "2.0"'),
                "--venv", "b")
    assert proc.returncode == 0, proc.stderr
    assert precious.read_text() == "the user's\n"


def test_a_pinned_wheel_is_installed_from_its_own_bytes_not_the_cache(
        tmp_path: Path, wheels: Path) -> None:
    from resolver.sources.wheelhouse import file_digest

    wheel = demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, DEMO, "--venv", "a").returncode == 0
    cached = next(Path(os.environ["VENVFILL_CACHE_DIR"]).rglob("demo_mod/__init__.py"))
    original = cached.read_bytes()
    # A same-size edit with its mtime set back: no stamp can see it.
    st = cached.stat()
    os.chmod(cached, 0o644)
    cached.write_bytes(original.replace(b"print", b"PRINT"))
    os.chmod(cached, 0o444)
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cached.read_bytes() != original and cached.stat().st_size == st.st_size
    pinned = (f'[g]\ndemo = {{ accepted = ">=1.0", installed = "1.0", '
              f'hashes = ["sha256:{file_digest(wheel)}"] }}\n')
    proc = fill(tmp_path, pinned, "--venv", "b", "--require-hashes")
    assert proc.returncode == 0, proc.stderr
    installed = tmp_path / "b" / SITE / "demo_mod" / "__init__.py"
    assert installed.read_bytes() == original
    assert installed.stat().st_nlink == 1  # shared with no other venv, nor the cache
    assert run(tmp_path / "b" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]


@pytest.mark.parametrize("raised", [RuntimeError("a bug"), KeyboardInterrupt()])
def test_json_has_its_error_object_on_every_failure_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], raised: BaseException) -> None:
    from resolver.cli import commands

    def failing(*args: object) -> int:
        raise raised

    monkeypatch.setattr(commands, "_run", failing)
    code = commands.run(["--manifest", "deps.toml", "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == error["exit_code"] == (1 if isinstance(raised, RuntimeError) else 130)
    assert error["kind"] == ("error" if isinstance(raised, RuntimeError) else "interrupted")


def test_json_reports_a_command_line_error(tmp_path: Path) -> None:
    proc = fill(tmp_path, DEMO, "--json", "--online", "--offline")
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert error["kind"] == "usage error" and "not allowed with argument" in error["message"]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_link_mode_copy_gives_each_venv_files_of_its_own(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    from wheelfactory import build_wheel

    build_wheel(wheels, "demo", "1.0")
    args: tuple[str, ...] = ("--link-mode", "copy") if how == "option" else ()
    if how == "environment":
        monkeypatch.setenv("VENVFILL_LINK_MODE", "copy")
    for venv in ("a", "b"):
        proc = fill(tmp_path, DEMO, "--venv", venv, *args)
        assert proc.returncode == 0, proc.stderr
    module = tmp_path / "a" / SITE / "demo_mod" / "__init__.py"
    assert module.stat().st_nlink == 1
    assert module.stat().st_mode & 0o200  # writable: the venv's own
    original = (tmp_path / "b" / SITE / "demo_mod" / "__init__.py").read_bytes()
    with open(module, "ab") as f:  # edited in place, as root or not
        f.write(b"x = 1\n")
    assert (tmp_path / "b" / SITE / "demo_mod" / "__init__.py").read_bytes() == original
    again = fill(tmp_path, DEMO, "--venv", "b", *args)
    assert again.returncode == 0 and unchanged(again.stdout)


def test_an_unknown_link_mode_is_a_usage_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENVFILL_LINK_MODE", "symlink")
    proc = fill(tmp_path, DEMO)
    assert proc.returncode == 2, proc.stderr
    assert "VENVFILL_LINK_MODE='symlink' is not a link mode" in proc.stderr


def test_a_copy_is_writable_keeps_the_executable_bit_and_never_overwrites(
        tmp_path: Path) -> None:
    from resolver.cache import links

    for name, mode in (("prog", 0o555), ("data", 0o444)):
        source = tmp_path / name
        source.write_bytes(b"#!/bin/sh\n" * 1000)
        source.chmod(mode)
        target = tmp_path / f"{name}.copy"
        assert links.link_or_copy(str(source), str(target), copy=True) is False
        assert target.read_bytes() == source.read_bytes()
        assert target.stat().st_nlink == 1 and target.stat().st_mode & 0o200
        assert bool(target.stat().st_mode & 0o100) == (mode == 0o555)
        with pytest.raises(FileExistsError):
            links.link_or_copy(str(source), str(target), copy=True)


def test_a_full_cache_is_an_installation_failure_not_a_bad_wheel(
        tmp_path: Path, wheels: Path) -> None:
    # A legitimate 6 MiB member, with no room for it (writes past 4 MiB fail: EFBIG,
    # as ENOSPC would).
    path = demo_wheel(wheels, "demo", "1.0")
    rewrite_member(path, "demo_mod/big.bin", os.urandom(6 << 20))
    (tmp_path / "deps.toml").write_text(DEMO)
    proc = quick_fill(tmp_path, limit_file_size=4 << 20)
    assert proc.returncode == 5, proc.stderr
    assert "installation failed: cannot unpack" in proc.stderr
    assert "into the cache" in proc.stderr and "bad wheel" not in proc.stderr
    assert not (tmp_path / ".venv").exists()
