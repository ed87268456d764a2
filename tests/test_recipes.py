"""Recipes (recipes.py): a new venv made again as the last fill made it, without
resolving, and only while nothing it depends on changed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_cache import record_ok, site
from test_remembered import DEMO, age, rich_wheel, tree

from conftest import ROOT, require_python, run_cli
from test_e2e import BASE, demo_wheel, fill, run

pytestmark = [pytest.mark.e2e, pytest.mark.accelerated]

REPLAYED = "made as the last fill made it"


def own_files(venv: Path) -> dict[str, bytes]:
    """venvfill's records in the venv that a replay must reproduce."""
    return {name: (venv / ".venvfill" / name).read_bytes()
            for name in sorted(os.listdir(venv / ".venvfill"))
            if name not in ("lock", "fingerprint")}


def layout(venv: Path) -> dict[str, tuple[str, int, object]]:
    """Everything in the venv but venvfill's directory: kind, mode, bytes or link target."""
    found: dict[str, tuple[str, int, object]] = {}
    for root, dirs, files in os.walk(venv):
        if Path(root) == venv:
            dirs.remove(".venvfill")
        for name in [*dirs, *files]:
            path = Path(root) / name
            st = path.lstat()
            rel = str(path.relative_to(venv))
            if path.is_symlink():
                found[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return found


def recipes_in(cache: Path) -> list[Path]:
    return sorted((cache / "recipes").iterdir()) if (cache / "recipes").is_dir() else []


def fill_anew(tmp_path: Path, manifest: str = DEMO, *args: str,
              python: str | None = None) -> subprocess.CompletedProcess[str]:
    shutil.rmtree(tmp_path / ".venv", ignore_errors=True)
    proc = fill(tmp_path, manifest, *args, python=python)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_new_venv_is_made_from_the_recipe_without_the_resolver(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    rich_wheel(wheels)
    age(wheels)  # settled: a recipe may be kept
    venv = tmp_path / ".venv"
    first = fill_anew(tmp_path)
    assert REPLAYED not in first.stdout
    assert len(recipes_in(own_cache)) == 1

    files, records, made = tree(venv), own_files(venv), layout(venv)

    # Run in-process, to see what the run imported and whether it started anything.
    code = ("import os, sys; spawned = []; real = os.posix_spawnp\n"
            "def spawn(path, *args, **kwargs):\n"
            "    spawned.append(path); return real(path, *args, **kwargs)\n"
            "os.posix_spawnp = spawn\n"
            "from resolver.cli import main; rc = main(sys.argv[1:]); "
            "heavy = {m.split('.')[0] for m in sys.modules} & "
            "{'resolvelib', 'packaging', 'installer', 'json', 'subprocess', 're', "
            "'threading', 'typing'}; "
            "print('heavy:', sorted(heavy)); print('spawned:', spawned); sys.exit(rc)")
    shutil.rmtree(venv)
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, "--manifest", "deps.toml", "--python",
         require_python(BASE), "--offline"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert REPLAYED in proc.stdout
    assert "heavy: []" in proc.stdout
    assert "spawned: []" in proc.stdout  # not even the builder: its output is replayed
    assert proc.stdout.splitlines()[-3] == str(venv / "bin" / "python")

    # The same venv as the full fill made: every file, mode and RECORD byte for byte,
    # what the builder made (pyvenv.cfg, links, activation scripts) too, venvfill's
    # own records, the package files hard links into the cache.
    assert tree(venv) == files
    assert layout(venv) == made
    assert run(venv / "bin" / "python", "-c", "import sys; print(sys.prefix)"
               ).stdout.strip() == str(venv)
    assert own_files(venv) == records
    record_ok(venv, "demo-1.0.dist-info")
    module = site(venv) / "demo_mod" / "__init__.py"
    assert module.stat().st_nlink >= 2
    assert run(venv / "bin" / "demo").returncode == 0
    assert run(venv / "bin" / "demo-tool").stdout.strip() == str(venv)
    assert not (venv / ".venvfill" / "creating").exists()
    assert not (venv / ".venvfill" / "stage").exists()

    # The replayed venv is recorded like any other: the next run is a no-op...
    again = fill(tmp_path, DEMO)
    assert "is up to date" in again.stdout
    # ...and --json says what happened.
    shutil.rmtree(venv)
    data = json.loads(fill(tmp_path, DEMO, "--json").stdout)
    assert data["replayed"] is True and data["created"] is True
    assert [p["name"] for p in data["packages"]] == ["demo"]
    assert data["packages"][0]["action"] == "installed"


def test_any_change_means_the_full_fill(tmp_path: Path, wheels: Path,
                                        own_cache: Path) -> None:
    # The target: a venv of its own (a parent), so that the test can change what
    # the base holds.
    parent = tmp_path / "parent"
    subprocess.run([require_python(BASE), "-m", "venv", "--without-pip", str(parent)],
                   check=True)
    python = str(parent / "bin" / "python")
    demo_wheel(wheels, "demo", "1.0")
    age(wheels, parent)
    fill_anew(tmp_path, python=python)
    assert REPLAYED in fill_anew(tmp_path, python=python).stdout

    # Another manifest: another key.
    assert REPLAYED not in fill_anew(tmp_path, DEMO + "# changed\n", python=python).stdout

    # A newer wheel in the wheel directory.
    fill_anew(tmp_path, python=python)
    demo_wheel(wheels, "demo", "2.0")
    age(wheels)
    proc = fill_anew(tmp_path, python=python)
    assert REPLAYED not in proc.stdout
    assert (site(tmp_path / ".venv") / "demo-2.0.dist-info").is_dir()
    assert REPLAYED in fill_anew(tmp_path, python=python).stdout

    # That wheel rebuilt in place, with a module more, its mtime as old as ever
    # but another size: the key (each wheel's name, size and mtime) tells; the
    # recipe does not watch the wheels again.
    from resolver._speed import recipes, statefile

    kept = statefile.load(recipes._file(str(own_cache), str(tmp_path / ".venv")),
                          recipes._TAG)
    assert not [p for p, _ in kept["watched"] if p.startswith(str(wheels))]
    demo_wheel(wheels, "demo", "2.0", extra_files={"demo_extra.py": b"X = 1\n"})
    age(wheels)
    proc = fill_anew(tmp_path, python=python)
    assert REPLAYED not in proc.stdout
    assert (site(tmp_path / ".venv") / "demo_extra.py").is_file()

    # demo appears in the base: the venv must now take the base's.
    info = site(parent) / "demo-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n")
    (site(parent) / "demo_mod.py").write_text("")
    proc = fill_anew(tmp_path, python=python)
    assert REPLAYED not in proc.stdout
    assert not list(site(tmp_path / ".venv").glob("demo-*.dist-info"))

    # Another venv path: recipes are per path.
    age(parent)
    fill_anew(tmp_path, python=python)
    proc = fill(tmp_path, DEMO, "--venv", "elsewhere", python=python)
    assert proc.returncode == 0 and REPLAYED not in proc.stdout

    # A changed recipe is never trusted beyond its key: damage it and the full
    # fill runs, with no traceback.
    for damage in ("links", "truncated", "garbage"):
        fill_anew(tmp_path, python=python)
        path = Path(recipes._file(str(own_cache), str(tmp_path / ".venv")))
        assert path.exists()
        if damage == "links":
            data = statefile.load(str(path), recipes._TAG)
            data["links"] = "garbage"
            statefile.dump(str(path), recipes._TAG, data)
        else:
            raw = path.read_bytes()
            path.write_bytes(raw[:len(raw) // 2] if damage == "truncated"
                             else raw[:len(recipes._TAG)] + b"\xff" * 64)
        proc = fill_anew(tmp_path, python=python)
        assert REPLAYED not in proc.stdout and "Traceback" not in proc.stderr, damage
        assert run(tmp_path / ".venv" / "bin" / "python", "-c", "import demo_mod").returncode == 0


def test_recent_inputs_keep_no_recipe(tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    # Wheels written moments ago may still change within their mtime's resolution.
    demo_wheel(wheels, "demo", "1.0")
    fill_anew(tmp_path)
    assert recipes_in(own_cache) == []
    assert REPLAYED not in fill_anew(tmp_path).stdout


def test_a_cache_file_edited_through_a_venv_is_not_replayed(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    age(wheels)
    fill_anew(tmp_path)
    module = site(tmp_path / ".venv") / "demo_mod" / "__init__.py"
    original = module.read_bytes()
    # Another venv shares the cache's files; one is edited in place through it.
    assert fill(tmp_path, DEMO, "--venv", "other").returncode == 0
    with open(site(tmp_path / "other") / "demo_mod" / "__init__.py", "ab") as f:
        f.write(b"# edited\n")
    proc = fill_anew(tmp_path)
    assert REPLAYED not in proc.stdout  # the replay saw the change and gave way
    assert module.read_bytes() == original
    assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0
    assert set(os.listdir(tmp_path / ".venv" / ".venvfill")) == {
        "lock", "state.json", "fingerprint", "provenance.json"}


def test_gc_forgets_recipes_whose_files_it_removed(tmp_path: Path, wheels: Path,
                                                   own_cache: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    age(wheels)
    fill_anew(tmp_path)
    assert len(recipes_in(own_cache)) == 1
    shutil.rmtree(tmp_path / ".venv")  # no venv uses the entry now
    assert run_cli("cache", "gc", cwd=tmp_path).returncode == 0
    assert recipes_in(own_cache) == []
    proc = fill_anew(tmp_path)
    assert REPLAYED not in proc.stdout
    assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0


def test_metadata_files_are_each_venv_s_own_in_a_fill_and_a_replay(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    # INSTALLER, REQUESTED and RECORD are never links: an edit of RECORD through one
    # venv must not change what an upgrade in another removes.  A replay writes them.
    from wheelfactory import build_wheel
    build_wheel(wheels, "plain", "1.0")
    age(wheels)
    manifest = "[g]\nplain = '>=1'\n"
    fill_anew(tmp_path, manifest)
    info = site(tmp_path / ".venv") / "plain-1.0.dist-info"
    record = (info / "RECORD").read_bytes()
    for name in ("INSTALLER", "REQUESTED", "RECORD"):
        assert os.stat(info / name).st_nlink == 1, name
    proc = fill_anew(tmp_path, manifest)
    assert REPLAYED in proc.stdout
    for name in ("INSTALLER", "REQUESTED", "RECORD"):
        assert os.stat(info / name).st_nlink == 1, name
    assert (info / "RECORD").read_bytes() == record
    record_ok(tmp_path / ".venv", "plain-1.0.dist-info")
    # A module edited in place through the venv (as root can, read-only or not):
    # the next replay gives way to the full fill, which unpacks the wheel afresh.
    module = site(tmp_path / ".venv") / "plain_mod" / "__init__.py"
    original = module.read_bytes()
    with open(module, "r+b") as f:
        f.write(b"#")
    proc = fill_anew(tmp_path, manifest)
    assert REPLAYED not in proc.stdout
    assert module.read_bytes() == original


def test_the_builder_output_is_replayed_only_as_it_was_made(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    # What the builder made depends on the target's venv package (watched), not on
    # the umask: a venv's contents are made under umask 022 whatever the user's, so
    # a replay serves another umask as well; the venv's directory keeps the user's.
    from resolver._speed import recipes, statefile

    demo_wheel(wheels, "demo", "1.0")
    age(wheels)
    venv = tmp_path / ".venv"
    fill_anew(tmp_path, DEMO, "--relocatable")
    made = layout(venv)
    replayed = fill_anew(tmp_path, DEMO, "--relocatable")
    assert REPLAYED in replayed.stdout
    assert layout(venv) == made
    assert (venv / ".venvfill" / "relocatable").exists()
    assert str(venv) not in (venv / "bin" / "activate").read_text()

    recipe = statefile.load(recipes._file(str(own_cache), str(venv)), recipes._TAG)
    stdlib = run(require_python(BASE), "-c", "import sysconfig; "
                 "print(sysconfig.get_paths()['stdlib'])").stdout.strip()
    watched = {path for path, _ in recipe["watched"]}
    assert os.path.join(stdlib, "venv", "__init__.py") in watched

    old = os.umask(0o077)
    try:
        private = fill_anew(tmp_path, DEMO, "--relocatable")
        assert REPLAYED in private.stdout
        assert layout(venv) == made
        assert stat.S_IMODE((venv / "pyvenv.cfg").stat().st_mode) == 0o644
        assert stat.S_IMODE((venv / "bin").stat().st_mode) == 0o755
        assert stat.S_IMODE(venv.stat().st_mode) == 0o700
    finally:
        os.umask(old)


@pytest.mark.parametrize("edited", ["big", "small"])
def test_an_edited_file_in_either_share_of_the_links_stops_the_replay(
        tmp_path: Path, wheels: Path, own_cache: Path, edited: str) -> None:
    # With two cores a forked child links the smaller share of the wheels (recipes._stage);
    # a stale file found by the child undoes the replay as one found by the parent does.
    from wheelfactory import build_wheel

    build_wheel(wheels, "big", "1.0",
                extra_files={f"big/m{i}.py": b"X = 1\n" for i in range(8)})
    build_wheel(wheels, "small", "1.0")
    age(wheels)
    manifest = "[g]\nbig = '>=1'\nsmall = '>=1'\n"
    fill_anew(tmp_path, manifest)
    made = layout(tmp_path / ".venv")
    assert REPLAYED in fill_anew(tmp_path, manifest).stdout
    other = tmp_path / "other"
    assert fill(tmp_path, manifest, "--venv", str(other)).returncode == 0
    victim = next(site(other).glob(f"{edited}-1.0.dist-info")) / "METADATA"
    with open(victim, "ab") as f:
        f.write(b"\n")
    proc = fill_anew(tmp_path, manifest)
    assert REPLAYED not in proc.stdout and "Traceback" not in proc.stderr
    assert layout(tmp_path / ".venv") == made
    assert set(os.listdir(tmp_path / ".venv" / ".venvfill")) == {
        "lock", "state.json", "fingerprint", "provenance.json"}


@pytest.mark.parametrize("compile_", [False, True])
def test_only_a_fill_whose_recipe_is_kept_reads_what_the_builder_made(
        tmp_path: Path, wheels: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch,
        compile_: bool) -> None:
    # Reading the builder's output walks the new venv: done for a recipe, and only
    # then (a --compile fill keeps none, as --lock and --online fills).
    from resolver import fill as fill_module
    from resolver._speed import recipes
    from resolver._speed.accelerated import Accelerated
    from resolver.cache.store import Cache
    from resolver.fill import Options
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    age(wheels, tmp_path / "deps.toml")
    read: list[str] = []
    real = recipes.builder_output

    def noting(venv: str) -> Any:
        read.append(venv)
        return real(venv)

    monkeypatch.setattr(recipes, "builder_output", noting)
    fast = Accelerated(run_key="a run key")
    outcome = fill_module.fill(Options(
        manifest=tmp_path / "deps.toml", groups=(), python=require_python(BASE),
        venv=tmp_path / "venv", wheels=(wheels,), cache=Cache(own_cache),
        speed=fast, compile=compile_))
    assert [s.action for s in outcome.plan.steps] == ["install"]
    assert (fast._recipe is None) is compile_
    assert read == ([] if compile_ else [str(tmp_path / "venv")])
