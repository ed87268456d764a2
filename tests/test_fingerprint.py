"""An unchanged re-run skips the work; any change to what a fill depends on does not."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from test_e2e import MANIFEST, demo_wheel, fill, parent_venv, run

pytestmark = [pytest.mark.e2e, pytest.mark.accelerated]

UP_TO_DATE = "is up to date"


def settle() -> None:
    time.sleep(0.02)  # mtimes are compared in nanoseconds; keep changes distinct


def test_unchanged_rerun_is_up_to_date(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    first = fill(tmp_path, MANIFEST)
    assert first.returncode == 0 and UP_TO_DATE not in first.stdout
    again = fill(tmp_path, MANIFEST)
    assert again.returncode == 0, again.stderr
    assert UP_TO_DATE in again.stdout
    assert again.stdout.splitlines()[-1] == str(tmp_path / ".venv" / "bin" / "python")
    quiet = fill(tmp_path, MANIFEST, "-q")
    assert quiet.stdout == f"{tmp_path / '.venv' / 'bin' / 'python'}\n"


@pytest.mark.parametrize("change", ["manifest", "wheel added", "group", "option",
                                    "script deleted", "venv edited", "clear",
                                    "record truncated", "record damaged", "record of 0.1"])
def test_any_change_means_a_real_run(tmp_path: Path, wheels: Path, change: str) -> None:
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    assert UP_TO_DATE in fill(tmp_path, MANIFEST).stdout
    settle()
    venv = tmp_path / ".venv"
    manifest, args = MANIFEST, []
    if change == "manifest":
        manifest = MANIFEST + "# a comment\n"
    elif change == "wheel added":
        demo_wheel(wheels, "other", "1.0")
    elif change == "group":
        args = ["--group", "demo"]
    elif change == "option":
        args = ["--require-hashes"]
    elif change == "script deleted":
        (venv / "bin" / "pip").unlink()
    elif change == "venv edited":  # someone uninstalled demo by hand
        site = venv / "lib" / "python3.11" / "site-packages"
        shutil.rmtree(site / "demo-1.0.dist-info")
        shutil.rmtree(site / "demo_mod")
        (venv / "bin" / "demo").unlink()
    elif change == "clear":
        args = ["--clear"]
    elif change.startswith("record"):  # the fingerprint itself (statefile.py)
        record = venv / ".venvfill" / "fingerprint"
        raw = record.read_bytes()
        if change == "record truncated":
            record.write_bytes(raw[:len(raw) // 2])
        elif change == "record damaged":
            record.write_bytes(raw[:raw.index(b"\n") + 1] + b"\xff" * 40)
        else:  # venvfill 0.1 kept JSON beside; the new record replaces it
            record.unlink()
            (venv / ".venvfill" / "fingerprint.json").write_text('{"key": "x"}')
    proc = fill(tmp_path, manifest, *args)
    assert UP_TO_DATE not in proc.stdout, change
    assert proc.returncode == 0, proc.stderr
    assert run(venv / "bin" / "demo").returncode == 0
    assert (venv / "bin" / "pip").exists()
    # ...and the fingerprint it recorded holds for the same run again.
    same = [a for a in args if a != "--clear"]
    assert UP_TO_DATE in fill(tmp_path, manifest, *same).stdout
    assert not (venv / ".venvfill" / "fingerprint.json").exists()


def test_system_changes_are_noticed(tmp_path: Path, wheels: Path) -> None:
    """The 'system' here is a parent venv; a package leaving it must not go unnoticed."""
    parent_py = parent_venv(tmp_path, wheels, "tool")
    parent_dir = tmp_path / "p"
    child = tmp_path / "c"
    child.mkdir()
    assert fill(child, "[g]\ntool = '>=1'\n", python=parent_py).returncode == 0
    assert UP_TO_DATE in fill(child, "[g]\ntool = '>=1'\n", python=parent_py).stdout
    settle()
    site = parent_dir / ".venv" / "lib" / "python3.11" / "site-packages"
    shutil.rmtree(site / "tool-1.0.dist-info")
    shutil.rmtree(site / "tool_mod")
    proc = fill(child, "[g]\ntool = '>=1'\n", python=parent_py)
    assert proc.returncode == 4, proc.stdout  # really resolved again: tool is gone


def test_in_place_metadata_rewrite_is_noticed(tmp_path: Path, wheels: Path) -> None:
    parent_py = parent_venv(tmp_path, wheels, "tool")
    parent_dir = tmp_path / "p"
    child = tmp_path / "c"
    child.mkdir()
    manifest = "[g]\ntool = '>=1'\n"
    assert fill(child, manifest, python=parent_py).returncode == 0
    settle()
    meta = parent_dir / ".venv" / "lib" / "python3.11" / "site-packages" / \
        "tool-1.0.dist-info" / "METADATA"
    with open(meta, "r+") as f:  # rewritten in place: the directory's mtime stays
        text = f.read().replace("Version: 1.0", "Version: 0.5")
        f.seek(0)
        f.write(text)
        f.truncate()
    os.utime(meta.parent, ns=(meta.parent.stat().st_atime_ns, meta.parent.stat().st_mtime_ns))
    proc = fill(child, manifest, python=parent_py)
    assert UP_TO_DATE not in proc.stdout
    assert proc.returncode == 4  # 0.5 is not acceptable and there is no wheel


def test_kernel_ignores_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Remembered probes and recipes compare the kernel; a container's new host name
    # must not void them, a new kernel release must.
    from resolver._speed import fingerprint

    uname = os.uname_result(("Linux", "host-a", "6.1.0", "#1 SMP", "x86_64"))
    monkeypatch.setattr(os, "uname", lambda: uname)
    first = fingerprint.kernel()
    uname = os.uname_result(("Linux", "host-b", "6.1.0", "#1 SMP", "x86_64"))
    assert fingerprint.kernel() == first
    uname = os.uname_result(("Linux", "host-b", "6.2.0", "#1 SMP", "x86_64"))
    assert fingerprint.kernel() != first


def test_the_up_to_date_path_reads_each_option_as_argparse_does() -> None:
    # One table (cli/options.py) defines the options; the up-to-date path reads
    # those it may, with argparse's meaning, and gives up on every other one.
    from resolver._speed import quick
    from resolver.cli import commands, options

    parser = commands.build_parser()
    for spellings, dest, kind, _, _, fast in options.FILL:
        for spelling in spellings:
            given = {"flag": [], "count": [], "choice": ["copy"]}.get(kind, ["given"])
            rest = [] if dest in options.REQUIRED_ONE_OF else ["--manifest", "m.toml"]
            line = [spelling, *given, *rest]
            seen = quick.parse(line)
            if not fast:
                assert seen is None, line
                continue
            assert seen is not None, line
            parsed = getattr(parser.parse_args(line), dest)
            if kind in ("flag", "count"):
                assert seen[dest] is True and bool(parsed), line
            elif kind in ("values", "paths"):
                assert seen[dest] == [str(p) for p in parsed] == ["given"], line
            else:
                assert seen[dest] == str(parsed) == given[0], line
    assert quick.parse(["--manifest", "m.toml", "--lock", "l.toml"]) is None
    assert quick.parse(["--group", "g"]) is None  # neither: argparse's error to give
