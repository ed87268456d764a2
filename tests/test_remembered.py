"""What fills remember between runs, and the short cuts they take: the probe's
report (probes.py), wheels' digests and metadata (ledger.py), and cache entries
linked into the stage without installer's per-file machinery (install.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_cache import record_ok, site

from conftest import require_python
from resolver._speed import ledger as ledger_module
from resolver._speed.accelerated import Accelerated
from resolver._speed.ledger import Ledger
from resolver.sources.wheelhouse import scan
from test_e2e import BASE, demo_wheel, fill, run

pytestmark = pytest.mark.e2e

DEMO = "[g]\ndemo = '>=1'\n"
LONG_AGO = time.time() - 3600


def age(*paths: Path) -> None:
    """Give every file and directory under ``paths`` an mtime an hour ago."""
    for top in paths:
        for root, dirs, files in os.walk(top):
            for name in [*dirs, *files]:
                os.utime(os.path.join(root, name), (LONG_AGO, LONG_AGO), follow_symlinks=False)
        os.utime(top, (LONG_AGO, LONG_AGO), follow_symlinks=False)


def rich_wheel(wheels: Path) -> Path:
    """A wheel using every part of the format a venv install handles differently."""
    return demo_wheel(wheels, "demo", "1.0", extra_files={
        "demo_mod/data/table.txt": b"payload\n",
        "demo-1.0.data/scripts/demo-tool": b"#!python\nimport sys\nprint(sys.prefix)\n",
        "demo-1.0.data/data/share/demo/readme.txt": b"shared\n",
        "demo-1.0.data/headers/demo.h": b"#define DEMO 1\n",
        "demo-1.0.dist-info/licenses/LICENSE": b"MIT\n",
    })


def tree(venv: Path) -> dict[str, tuple[bool, bytes]]:
    """Every file the fill put into the venv: executable?, contents (paths relative)."""
    found = {}
    for root, _, files in os.walk(venv):
        for name in files:
            path = Path(root) / name
            rel = str(path.relative_to(venv))
            if rel.startswith((".venvfill", "bin/python", "bin/activate", "bin/Activate",
                               "pyvenv.cfg", "lib64")) or "venvfill" in name:
                continue
            found[rel] = (bool(path.stat().st_mode & stat.S_IXUSR), path.read_bytes())
    return found


def test_linked_install_matches_installer(tmp_path: Path, wheels: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rich_wheel(wheels)
    linked, plain = tmp_path / "linked", tmp_path / "plain"
    for d in (linked, plain):
        d.mkdir()
        (d / "wheels").symlink_to(wheels)
    assert fill(linked, DEMO).returncode == 0
    # A cache that cannot be created: the wheel goes through installer from the zip.
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("VENVFILL_CACHE_DIR", str(tmp_path / "not-a-dir" / "cache"))
    assert fill(plain, DEMO).returncode == 0
    a, b = linked / ".venv", plain / ".venv"
    one, two = tree(a), tree(b)
    assert sorted(one) == sorted(two)
    for rel in one:
        if rel.endswith("/RECORD"):
            continue  # compared row by row below (the order differs)
        mode_a, data_a = one[rel]
        mode_b, data_b = two[rel]
        assert mode_a == mode_b, rel
        # Scripts name their own venv's python; everything else is byte for byte.
        assert data_a.replace(str(a).encode(), b"@") == data_b.replace(str(b).encode(), b"@"), rel
    def record(venv: Path) -> dict[str, str]:
        rows = (site(venv) / "demo-1.0.dist-info" / "RECORD").read_text().splitlines()
        return {path: rest for path, _, rest in (row.partition(",") for row in rows)}

    assert sorted(record(a)) == sorted(record(b))
    assert {p: r for p, r in record(a).items() if "/bin/" not in p} == {
        p: r for p, r in record(b).items() if "/bin/" not in p}
    assert "../../../bin/demo-tool" in record(a)
    assert "../../../include/site/python3.11/demo/demo.h" in record(a)
    assert "../../../share/demo/readme.txt" in record(a)
    for venv in (a, b):
        record_ok(venv, "demo-1.0.dist-info")
        assert run(venv / "bin" / "demo-tool").stdout.strip() == str(venv)
        assert run(venv / "bin" / "demo").returncode == 0
    module = site(a) / "demo_mod" / "__init__.py"
    assert os.stat(module).st_nlink == 2  # the cache's file and the linked venv's


@pytest.mark.accelerated
def test_probe_is_remembered_until_the_target_changes(tmp_path: Path, wheels: Path,
                                                      own_cache: Path) -> None:
    # The target: a venv of its own (a parent), reached through a wrapper that logs
    # every start, so the log counts probe runs (the builder runs sys.executable).
    parent = tmp_path / "parent"
    subprocess.run([require_python(BASE), "-m", "venv", "--without-pip", str(parent)],
                   check=True)
    log = tmp_path / "starts.log"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho run >> {log}\nexec {parent}/bin/python "$@"\n')
    wrapper.chmod(0o755)
    age(parent, wrapper)  # settled long ago, so the report may be remembered
    demo_wheel(wheels, "demo", "1.0")

    def fill_anew() -> subprocess.CompletedProcess[str]:
        # Without the recipe of the last fill (recipes.py), which would skip the probe
        # altogether once the wheels are old enough: this test is about probe records.
        subprocess.run(["rm", "-rf", str(tmp_path / ".venv"), str(own_cache / "recipes")],
                       check=True)
        proc = fill(tmp_path, DEMO, python=str(wrapper))
        assert proc.returncode == 0, proc.stderr
        return proc

    fill_anew()
    assert log.read_text().count("run") == 1
    assert len(list((own_cache / "probes").iterdir())) == 1
    fill_anew()
    assert log.read_text().count("run") == 1  # remembered: the target was not started
    assert (site(tmp_path / ".venv") / "demo-1.0.dist-info").is_dir()

    # An existing venv is always probed (here: a changed manifest, so no up-to-date skip).
    proc = fill(tmp_path, DEMO + "# changed\n", python=str(wrapper))
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().count("run") == 2

    # demo appears in the parent: the remembered report is stale and must not be used.
    info = site(parent) / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (site(parent) / "demo_mod.py").write_text("")
    fill_anew()
    assert log.read_text().count("run") == 3
    assert not (site(tmp_path / ".venv") / "demo-1.0.dist-info").exists()

    # A damaged record (still matching every watched mtime) is not trusted: probe again.
    age(parent)
    fill_anew()
    (record_file,) = (own_cache / "probes").iterdir()
    starts = log.read_text().count("run")
    fill_anew()
    assert log.read_text().count("run") == starts  # the record holds again
    record = json.loads(record_file.read_text())
    del record["data"]["markers"]
    record_file.write_text(json.dumps(record))
    proc = fill_anew()
    assert log.read_text().count("run") == starts + 1
    assert "Traceback" not in proc.stderr


def test_recent_changes_are_not_remembered(tmp_path: Path, wheels: Path,
                                           own_cache: Path) -> None:
    # A target changed moments ago may have changed while it was probed.  "Moments
    # ago" however long making the venv took: its files are dated to the future.
    parent = tmp_path / "parent"
    subprocess.run([require_python(BASE), "-m", "venv", "--without-pip", str(parent)],
                   check=True)
    soon = time.time() + 3600
    for root, dirs, files in os.walk(parent):
        for name in [*dirs, *files]:
            os.utime(os.path.join(root, name), (soon, soon), follow_symlinks=False)
    os.utime(parent, (soon, soon))
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, DEMO, python=str(parent / "bin" / "python")).returncode == 0
    assert not (own_cache / "probes").exists() or not list((own_cache / "probes").iterdir())


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat files as settled at once (they were all written moments ago)."""
    monkeypatch.setattr(ledger_module, "_SETTLED_NS", -10**12)


def test_ledger_remembers_digest_and_metadata(tmp_path: Path, wheels: Path,
                                              settled: None) -> None:
    path = demo_wheel(wheels, "demo", "1.0", requires=["dep>=2"])
    first = Ledger(tmp_path)
    wheel = scan([wheels], first).wheels["demo"][0]
    digest = wheel.sha256()
    assert [str(r) for r in wheel.metadata().requires_dist] == ["dep>=2"]
    first.save()
    saved = json.loads((tmp_path / "ledger.json").read_text())[str(path)]
    assert saved["sha256"] == digest
    assert saved["metadata"]["requires_dist"] == ["dep>=2"]

    # A second run trusts the ledger while the file is unchanged: prove it with a
    # ledger entry that lies (no file reads could produce it).
    saved["sha256"] = "0" * 64
    saved["metadata"]["requires_dist"] = ["other"]
    (tmp_path / "ledger.json").write_text(json.dumps({str(path): saved}))
    wheel = scan([wheels], Ledger(tmp_path)).wheels["demo"][0]
    assert wheel.sha256() == "0" * 64
    assert [str(r) for r in wheel.metadata().requires_dist] == ["other"]

    # Rewritten in place with the same size and mtime: the ctime gives it away.
    time.sleep(0.05)
    st = path.stat()
    path.write_bytes(path.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    wheel = scan([wheels], Ledger(tmp_path)).wheels["demo"][0]
    assert wheel.sha256() == digest
    assert [str(r) for r in wheel.metadata().requires_dist] == ["dep>=2"]


def test_ledger_skips_fresh_files_and_malformed_entries(tmp_path: Path, wheels: Path) -> None:
    path = demo_wheel(wheels, "demo", "1.0", requires=["dep"])
    fresh = Ledger(tmp_path)
    scan([wheels], fresh).wheels["demo"][0].sha256()
    fresh.save()
    assert not (tmp_path / "ledger.json").exists()  # written just now: not settled

    st = path.stat()
    entry = {"id": [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns],
             "metadata": {"name": "demo", "requires_dist": "not a list"}}
    (tmp_path / "ledger.json").write_text(json.dumps({str(path): entry}))
    wheel = scan([wheels], Ledger(tmp_path)).wheels["demo"][0]
    assert [str(r) for r in wheel.metadata().requires_dist] == ["dep"]


def test_gc_prunes_the_ledger(tmp_path: Path, wheels: Path, own_cache: Path,
                              settled: None) -> None:
    kept = demo_wheel(wheels, "demo", "1.0")
    gone = demo_wheel(wheels, "other", "1.0")
    book = Ledger(own_cache)
    for wheel in scan([wheels], book).wheels.values():
        wheel[0].sha256()
    book.save()
    gone.unlink()
    assert Ledger(own_cache).prune() == 1
    assert list(json.loads((own_cache / "ledger.json").read_text())) == [str(kept)]


def test_gc_forgets_probes_of_interpreters_that_are_gone(tmp_path: Path,
                                                        own_cache: Path) -> None:
    from resolver._speed import probes

    (own_cache / "probes").mkdir(parents=True)
    alive = own_cache / "probes" / "a.json"
    alive.write_text(json.dumps({"python": require_python(BASE)}))
    (own_cache / "probes" / "b.json").write_text(json.dumps({"python": str(tmp_path / "gone")}))
    (own_cache / "probes" / "c.json").write_text("{not json")
    assert probes.prune(own_cache) == 2
    assert [p.name for p in (own_cache / "probes").iterdir()] == ["a.json"]


def logged_python(tmp_path: Path) -> tuple[Path, Path]:
    """A wrapper around the base interpreter that logs each start."""
    log = tmp_path / "starts.log"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho run >> {log}\nexec {require_python(BASE)} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def test_early_probe_serves_a_new_venv_once(tmp_path: Path, wheels: Path,
                                            own_cache: Path) -> None:
    # A new venv and no record: the probe starts before the imports, and is the
    # only probe of the run.
    wrapper, log = logged_python(tmp_path)
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, DEMO, python=str(wrapper))
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().count("run") == 1
    assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0


@pytest.mark.accelerated
def test_early_probe_starts_before_the_command_line_is_imported(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    # cli.py starts it from quick.py's reading of the arguments: the imports of
    # argparse and the resolver then run beside it.  A dry run starts none.
    import sys

    from conftest import ROOT
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    code = ("import sys; base = set(sys.modules)  # (what site.py imported does not count)\n"
            "from resolver._speed import earlyprobe; init = earlyprobe.Early.__init__\n"
            "def seen(self, *a):\n"
            "    heavy = {'argparse', 'json', 'subprocess', 'hashlib', 'pathlib'}\n"
            "    print('started, loaded:', sorted(heavy & (set(sys.modules) - base)))\n"
            "    init(self, *a)\n"
            "earlyprobe.Early.__init__ = seen\n"
            "from resolver.cli import main; sys.exit(main(sys.argv[1:]))")
    for extra, expected in (["--dry-run"], ""), ([], "started, loaded: []"):
        proc = subprocess.run(
            [sys.executable, "-c", code, "--manifest", "deps.toml", "--python",
             require_python(BASE), "--offline", "-q", *extra], cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT), "VENVFILL_CACHE_DIR": str(own_cache)})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("started") == (1 if expected else 0)
        assert expected in proc.stdout
    assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0


def test_early_probe_is_dropped_when_the_venv_appears_before_the_lock(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    from resolver._speed import probes
    from resolver.cache.store import Cache
    from resolver.fill import Options
    from resolver.fill import fill as fill_venv

    wrapper, log = logged_python(tmp_path)
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    venv = tmp_path / "venv"
    early = probes.start(str(wrapper), venv, own_cache)
    assert early is not None
    # Another fill makes the venv (with demo in it) before this one takes the lock.
    assert fill(tmp_path, DEMO, "--venv", "venv").returncode == 0
    starts = log.read_text().count("run")
    outcome = fill_venv(Options(manifest=tmp_path / "deps.toml", groups=(), python=str(wrapper),
                                venv=venv, wheels=(wheels,), cache=Cache(own_cache),
                                speed=Accelerated(early=early)))
    assert early.pid is None  # stopped, its view (no venv) being out of date
    assert log.read_text().count("run") == starts + 1  # probed again, under the lock
    assert not outcome.built
    assert [s.action for s in outcome.plan.steps] == ["keep"]


def test_early_probe_reports_status_and_errors_and_is_stopped_at_its_timeout(
        tmp_path: Path) -> None:
    from resolver._speed.earlyprobe import Early

    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho partial\necho 'no such thing' >&2\nexit 3\n")
    hanging = tmp_path / "hanging"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    for script in (failing, hanging):
        script.chmod(0o755)
    assert Early(str(failing), str(tmp_path / "v")).result(timeout=60) == (
        3, "partial\n", "no such thing\n")
    early = Early(str(hanging), str(tmp_path / "v"))
    pid = early.pid
    with pytest.raises(TimeoutError):
        early.result(timeout=0.3)
    assert early.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped: no process left behind


def test_no_early_probe_for_an_existing_venv_or_a_missing_python(
        tmp_path: Path, own_cache: Path) -> None:
    from resolver._speed import probes

    wrapper, _ = logged_python(tmp_path)
    (tmp_path / "exists").mkdir()
    assert probes.start(str(wrapper), tmp_path / "exists", own_cache) is None
    assert probes.start(str(tmp_path / "missing-python"), tmp_path / "new", own_cache) is None
    early = probes.start(str(wrapper), tmp_path / "new", own_cache)
    assert early is not None
    early.discard()
    assert early.pid is None


def test_unpacking_hashes_only_the_wheels_the_ledger_does_not_know(
        tmp_path: Path, wheels: Path, settled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from resolver.cache import unpacked
    from resolver.sources import wheelhouse
    for name in ("a", "b", "c"):
        demo_wheel(wheels, name, "1.0")
    first = Ledger(tmp_path)
    found = [w for ws in scan([wheels], first).wheels.values() for w in ws]
    entries = unpacked.unpack_all(found, tmp_path / "cache", workers=2)
    # The workers hashed the wheels; the ledger learnt every digest from them.
    assert [first.recall(w.path, "sha256") for w in found] == [
        wheelhouse.file_digest(w.path) for w in found] == [e.sha256 for e in entries]
    first.save()

    def no_reading(path: Path, algorithm: str = "sha256") -> str:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(unpacked, "file_digest", no_reading)
    monkeypatch.delitem(sys.modules, "concurrent.futures", raising=False)
    again = [w for ws in scan([wheels], Ledger(tmp_path)).wheels.values() for w in ws]
    assert unpacked.unpack_all(again, tmp_path / "cache", workers=2) == entries
    assert "concurrent.futures" not in sys.modules  # no thread pool either


def test_wheels_the_ledger_forgot_are_found_in_the_cache_not_unpacked_again(
        tmp_path: Path, wheels: Path, settled: None) -> None:
    # A kept cache with a fresh checkout of the wheels (new files: the ledger knows
    # none of them): the workers hash each wheel, find its entry and unpack nothing.
    from resolver.cache import unpacked
    for name in ("a", "b", "c"):
        demo_wheel(wheels, name, "1.0")
    cache = tmp_path / "cache"
    found = [w for ws in scan([wheels], Ledger(tmp_path / "one")).wheels.values() for w in ws]
    entries = unpacked.unpack_all(found, cache, workers=2)
    inodes = {e.sha256: os.stat(e.root / unpacked.FILES / e.rows[0][0]).st_ino for e in entries}
    fresh = Ledger(tmp_path / "two")
    again = [w for ws in scan([wheels], fresh).wheels.values() for w in ws]
    assert unpacked.unpack_all(again, cache, workers=2) == entries
    assert {e.sha256: os.stat(e.root / unpacked.FILES / e.rows[0][0]).st_ino
            for e in entries} == inodes  # the same files: nothing unpacked anew
    assert sorted(os.listdir(cache)) == sorted(inodes)  # and no temporary left
    assert all(fresh.recall(w.path, "sha256") for w in again)


def test_unpacking_ahead_takes_small_wheels_smallest_first_until_told_to_stop(
        tmp_path: Path, wheels: Path, settled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from resolver._speed import ahead
    from resolver.cache import unpacked
    small = demo_wheel(wheels, "small", "1.0")
    medium = demo_wheel(wheels, "medium", "1.0",
                        extra_files={"medium_mod/data.bin": os.urandom(3000)})
    big = demo_wheel(wheels, "big", "1.0", extra_files={"big_mod/data.bin": os.urandom(9000)})
    broken = demo_wheel(wheels, "broken", "1.0")
    broken.write_bytes(b"not a zip")
    monkeypatch.setattr(ahead, "_SMALL", big.stat().st_size)  # big is not small
    ledger = Ledger(tmp_path)
    found = [w for ws in scan([wheels], ledger).wheels.values() for w in ws]
    cache = tmp_path / "cache"
    tried: list[str] = []
    real = unpacked.unpack_all

    def noting(wheels: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append(wheels[0].name)
        return real(wheels, *args, **kwargs)

    monkeypatch.setattr(unpacked, "unpack_all", noting)
    assert ahead.unpack_ahead(found, cache, lambda: False) == 2
    assert tried == ["broken", "small", "medium"]  # by size; the broken one skipped
    entries = {e: json.loads((cache / e / unpacked.ENTRY).read_text())["wheel"]
               for e in os.listdir(cache)}
    assert sorted(entries.values()) == [medium.name, small.name]  # nothing left of broken
    # The fill finds them by the digests the ledger learnt: nothing unpacked again.
    monkeypatch.setattr(unpacked, "unpack_all", real)
    assert all(unpacked.cached(w, cache) is not None for w in found
               if w.path in (small, medium))

    tried.clear()
    monkeypatch.setattr(unpacked, "unpack_all", noting)
    calls: list[int] = []
    stop = lambda: len(calls.append(1) or calls) > 1  # noqa: E731 - asked before each
    assert ahead.unpack_ahead(found, tmp_path / "other", stop) == 0
    assert tried == ["broken"]  # the next one waits for no one


def test_a_wheel_gone_before_unpacking_is_named(tmp_path: Path, wheels: Path) -> None:
    from resolver.cache import unpacked
    from resolver.errors import WheelError
    path = demo_wheel(wheels, "a", "1.0")
    found = [w for ws in scan([wheels], Ledger(tmp_path)).wheels.values() for w in ws]
    path.unlink()
    with pytest.raises(WheelError, match=r"a-1.0-py3-none-any.whl cannot be read"):
        unpacked.unpack_all(found, tmp_path / "cache", workers=2)


def test_a_damaged_entry_found_by_a_worker_is_unpacked_again(
        tmp_path: Path, wheels: Path, settled: None) -> None:
    from resolver.cache import unpacked
    path = demo_wheel(wheels, "a", "1.0")
    cache = tmp_path / "cache"
    found = [w for ws in scan([wheels], Ledger(tmp_path / "one")).wheels.values() for w in ws]
    (entry,) = unpacked.unpack_all(found, cache, workers=2)
    member = entry.root / unpacked.FILES / entry.rows[0][0]
    member.write_bytes(member.read_bytes() + b"# edited through a venv\n")
    again = [w for ws in scan([wheels], Ledger(tmp_path / "two")).wheels.values() for w in ws]
    (fresh,) = unpacked.unpack_all(again, cache, workers=2)
    assert fresh.rows == entry.rows and fresh.root == entry.root
    with zipfile.ZipFile(path) as zf:
        assert member.read_bytes() == zf.read(entry.rows[0][0])


def test_requires_dist_lines_are_parsed_once_and_bad_ones_named_per_file(
        tmp_path: Path, wheels: Path) -> None:
    from resolver.errors import WheelError
    demo_wheel(wheels, "demo", "1.0", requires=["dep>=2", "other; python_version<'3'"])
    demo_wheel(wheels, "demo", "2.0", requires=["dep>=2"])
    one, two = scan([wheels]).wheels["demo"]
    assert one.metadata().requires_dist[0] is two.metadata().requires_dist[0]
    assert [str(r) for r in two.metadata().requires_dist] == [
        "dep>=2", 'other; python_version < "3"']
    for version in ("3.0", "4.0"):  # an invalid line is not remembered as parsed
        demo_wheel(wheels / "bad", "demo", version, requires=["dep >>= 2"])
    for wheel in scan([wheels / "bad"]).wheels["demo"]:
        with pytest.raises(WheelError, match=rf"demo-{wheel.version}-py3.*invalid "
                           r"Requires-Dist 'dep >>= 2'"):
            wheel.metadata()


def held_python(tmp_path: Path) -> tuple[Path, Path]:
    """A wrapper around the base interpreter that starts only once ``gate`` exists.

    The test creates the gate when it has seen what must happen while the probe
    runs: the probe cannot answer before that, however slow the machine.  (A
    minute without the gate ends the wait, so a failing test cannot hang.)
    """
    gate = tmp_path / "gate"
    held = tmp_path / "python"
    held.write_text(f'#!/bin/sh\nn=0\nwhile [ ! -e "{gate}" ] && [ $n -lt 6000 ]; do '
                    f'sleep 0.01; n=$((n+1)); done\nexec {require_python(BASE)} "$@"\n')
    held.chmod(0o755)
    return held, gate


def test_a_new_venv_reads_wheels_ahead_while_the_early_probe_runs(
        tmp_path: Path, wheels: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resolver import fill as fill_module
    from resolver._speed import ahead, probes
    from resolver.cache.store import Cache
    from resolver.fill import Options

    slow, gate = held_python(tmp_path)  # a probe that answers when the test says
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    venv = tmp_path / "venv"
    early = probes.start(str(slow), venv, own_cache)
    assert early is not None and not early.finished()
    read: list[tuple[int, bool]] = []
    made: list[tuple[int, bool]] = []
    real_read, real_unpack = ahead.read_ahead, ahead.unpack_ahead

    def reading(*args: Any) -> Any:
        done = real_read(*args)
        read.append((len(done), early.finished()))
        return done

    def unpacking(*args: Any) -> int:
        done = real_unpack(*args)
        made.append((done, early.finished()))
        gate.touch()
        return done

    monkeypatch.setattr(ahead, "read_ahead", reading)
    monkeypatch.setattr(ahead, "unpack_ahead", unpacking)
    outcome = fill_module.fill(Options(manifest=tmp_path / "deps.toml", groups=(),
                                       python=str(slow), venv=venv, wheels=(wheels,),
                                       cache=Cache(own_cache),
                                       speed=Accelerated(early=early)))
    assert read == [(1, False)]  # demo's METADATA read before the probe answered
    assert made == [(1, False)]  # and demo unpacked into the cache
    assert early.finished()  # its report was collected
    assert [s.action for s in outcome.plan.steps] == ["install"]
    assert run(venv / "bin" / "demo").returncode == 0
    # The venv links the entry made ahead (one entry: none was made again).
    entries = [e for e in (own_cache / "unpacked").iterdir() if not e.name.startswith(".")]
    assert len(entries) == 1
    module = next(site(venv).glob("demo*/__init__.py"))
    assert os.path.samefile(module, entries[0] / "files" / module.parent.name / module.name)


def test_a_wheel_unpacked_ahead_that_the_base_makes_unneeded_is_left_to_cache_gc(
        tmp_path: Path, wheels: Path, own_cache: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The guess made while the probe runs: the manifest's pip has a wheel here, but
    # the base's pip will do.  Its entry is made, used by no venv, and gc removes it.
    from resolver import fill as fill_module
    from resolver._speed import ahead, probes
    from resolver.cache.store import Cache
    from resolver.fill import Options
    from wheelfactory import build_wheel

    slow, gate = held_python(tmp_path)
    real_unpack = ahead.unpack_ahead

    def unpacking(*args: Any) -> int:
        done = real_unpack(*args)
        gate.touch()  # the guess is made: the probe may answer now
        return done

    monkeypatch.setattr(ahead, "unpack_ahead", unpacking)
    build_wheel(wheels, "pip", "1.0")
    (tmp_path / "deps.toml").write_text("[g]\npip = '>=1'\n")
    venv = tmp_path / "venv"
    early = probes.start(str(slow), venv, own_cache)
    assert early is not None
    outcome = fill_module.fill(Options(manifest=tmp_path / "deps.toml", groups=(),
                                       python=str(slow), venv=venv, wheels=(wheels,),
                                       cache=Cache(own_cache),
                                       speed=Accelerated(early=early)))
    assert [(s.name, s.action, s.source) for s in outcome.plan.steps] == [
        ("pip", "keep", "base")]
    made = [e for e in (own_cache / "unpacked").iterdir() if not e.name.startswith(".")]
    assert len(made) == 1  # the guess
    report = Cache(own_cache).gc()
    assert (report.removed, report.kept) == (1, 0)
    assert not made[0].exists()


@pytest.mark.accelerated
def test_a_run_collects_no_cyclic_garbage_and_restores_the_collector(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Accelerated, cli.main turns the cycle collector off for the run (its collections
    # cost more than the few cycles a fill makes) and back on for an in-process caller.
    import gc

    from resolver import cli
    from resolver.cli import commands
    seen: list[bool] = []

    def fake_run(args: list[str], **kwargs: object) -> int:
        seen.append(gc.isenabled())
        raise KeyError("a failing run")

    monkeypatch.setattr(commands, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    assert gc.isenabled()
    with pytest.raises(KeyError):
        cli.main(["--manifest", "missing.toml", "--dry-run"])
    assert seen == [False]
    assert gc.isenabled()


WITNESS = """\
import atexit, os, sys, threading
class Witness:
    def __del__(self):  # runs only when the interpreter tears __main__ down
        os.write(2, b"TEARDOWN\\n")
witness = Witness()
atexit.register(print, "ATEXIT")
mode = sys.argv[1]
if mode == "thread":
    threading.Thread(target=threading.Event().wait, args=(0.2,)).start()
sys.argv[1:] = sys.argv[2:]
from resolver.cli import command
if mode == "plain":  # a callback would keep __main__ (and the witness) to the end
    import gc
    gc.callbacks.append(lambda phase, info: phase == "start" and os.write(2, b"COLLECTION\\n"))
command()
"""


@pytest.mark.accelerated
@pytest.mark.parametrize("thread", [False, True])
def test_the_command_ends_without_teardown_unless_a_thread_lives(
        tmp_path: Path, thread: bool) -> None:
    # cli.command skips the interpreter's teardown (15-20 ms of a fill) but still
    # runs atexit handlers, flushes the streams and passes the exit code on; with
    # another thread alive it exits as usual, so the interpreter waits for it.
    # The cycle collector never runs once the command has begun: not during the
    # run, nor after it (turning it back on would set off a collection of
    # everything the run made).  Watched in the plain run only: teardown collects.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]),
           "VENVFILL_CACHE_DIR": str(tmp_path / "cache")}
    mode = "thread" if thread else "plain"
    printed = subprocess.run([sys.executable, "-c", WITNESS, mode, "cache", "dir"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, check=False)
    assert printed.returncode == 0, printed.stderr
    # stdout is a pipe, so block-buffered: both lines are there only if flushed.
    assert printed.stdout.split("\n") == [str(tmp_path / "cache"), "ATEXIT", ""]
    assert ("TEARDOWN" in printed.stderr) is thread
    assert ("COLLECTION" in printed.stderr) is False
    failed = subprocess.run([sys.executable, "-c", WITNESS, mode, "--manifest", "missing.toml"],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=False)
    assert failed.returncode == 2  # UsageError's / ManifestError's code, passed on
    assert "missing.toml" in failed.stderr
    assert failed.stdout == "ATEXIT\n"
    assert ("TEARDOWN" in failed.stderr) is thread
    assert ("COLLECTION" in failed.stderr) is False


def test_the_early_probe_reads_a_fill_s_paths_from_its_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resolver._speed import earlyprobe, quick
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENVFILL_CACHE_DIR", "env-cache")
    line = ["--manifest", "deps.toml", "--venv", "v", "--python", "/usr/bin/python3"]
    assert quick.fill_paths(quick.parse(line)) == ("/usr/bin/python3", str(tmp_path / "v"),
                                      str(tmp_path / "env-cache"))
    assert quick.fill_paths(quick.parse([*line, "--cache-dir=c"]))[2] == str(tmp_path / "c")  # type: ignore[index]
    assert quick.fill_paths(quick.parse(["--manifest", "deps.toml"])) == (
        sys.executable, str(tmp_path / ".venv"), str(tmp_path / "env-cache"))
    assert quick.fill_paths(quick.parse([*line, "-n"])) is None  # a dry run probes nothing early
    assert quick.fill_paths(quick.parse([*line, "--clear"])) is None  # argparse's to read
    assert earlyprobe.start_for(quick.parse([*line, "-n"])) == (None, True)
    # A new venv whose interpreter's report is remembered: probes.py decides.
    memo = Path(earlyprobe.memo_file(str(tmp_path / "env-cache"), "/usr/bin/python3"))
    memo.parent.mkdir(parents=True)
    memo.write_text("{}")
    assert earlyprobe.start_for(quick.parse(line)) == (None, False)


@pytest.mark.accelerated
def test_the_short_cuts_read_the_command_line_once(
        tmp_path: Path, wheels: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The up-to-date path, the recipe replay and both early probes share one reading
    # of the command line (then argparse reads it in full, once).
    from resolver import cli
    from resolver._speed import quick

    read: list[list[str]] = []
    real = quick.parse
    monkeypatch.setattr(quick, "parse", lambda argv: read.append(list(argv)) or real(argv))
    demo_wheel(wheels, "demo", "1.0")
    (tmp_path / "deps.toml").write_text(DEMO)
    monkeypatch.chdir(tmp_path)
    line = ["--manifest", "deps.toml", "--python", require_python(BASE), "-q"]
    assert cli.main(line) == 0  # a new venv: every short cut is tried, none answers
    assert read == [line]
    assert cli.main(line) == 0  # up to date: answered by the first
    assert read == [line, line]
    capsys.readouterr()
