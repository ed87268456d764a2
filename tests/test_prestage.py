"""Staging while resolution runs (prestage.py): the same venv as staging after it,
and every way the speculation can end — kept, given up, failed, died — leaves the
fill's outcome and messages as they were, and no stage behind."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import require_python
from resolver import fill as fill_module
from resolver._speed import ledger as ledger_module
from resolver._speed import prestage
from resolver._speed.accelerated import Accelerated
from resolver._speed.ledger import Ledger
from resolver.cache import unpacked
from resolver.cache.store import Cache
from resolver.errors import HashError, InstallError
from resolver.fill import Options, Outcome
from resolver.install import transaction as install
from resolver.resolve.candidates import Candidate
from resolver.resolve.plan import Step
from resolver.sources.wheelhouse import scan
from test_e2e import BASE, demo_wheel, run
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger trusts the digests of the wheels written moments ago (it waits for
    a file's mtime to settle): the prestage finds cache entries by those digests."""
    monkeypatch.setattr(ledger_module, "_SETTLED_NS", -10**12)


def fill_venv(venv: Path, manifest: str, wheels: Path, cache: Path,
              **options: Any) -> Outcome:
    """A fill of a new venv at ``venv`` from ``wheels``, in this process, accelerated."""
    options.setdefault("speed", Accelerated())
    venv.parent.mkdir(parents=True, exist_ok=True)
    path = venv.parent / "deps.toml"
    path.write_text(manifest)
    return fill_module.fill(Options(manifest=path, groups=(), python=require_python(BASE),
                                    venv=venv, wheels=(wheels,), cache=Cache(cache),
                                    **options))


def tree(venv: Path) -> dict[str, tuple[Any, ...]]:
    """Every path below ``venv`` but its state: kind, mode, bytes (the venv's own
    path written as @) or link target."""
    out: dict[str, tuple[Any, ...]] = {}
    for top, dirs, files in os.walk(venv):
        for name in dirs + files:
            path = os.path.join(top, name)
            rel = os.path.relpath(path, venv)
            if rel.split(os.sep)[0] == ".venvfill":
                continue
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode)
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", st.st_mode,
                                f.read().replace(str(venv).encode(), b"@"))
    return out


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The names of the wheels each fill's prestage kept, one set per fill that
    started one."""
    seen: list[set[str]] = []
    real = prestage.Prestage.collect

    def spy(self: prestage.Prestage, steps: Any) -> dict[Path, unpacked.Unpacked]:
        entries = real(self, steps)
        seen.append({p.name.split("-")[0] for p in entries})
        return entries

    monkeypatch.setattr(prestage.Prestage, "collect", spy)
    return seen


def no_prestage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prestage.Prestage, "start", classmethod(lambda cls, *a: None))


@pytest.mark.parametrize("options", [{}, {"compile": True}, {"relocatable": True}],
                         ids=["plain", "compile", "relocatable"])
def test_a_new_venv_is_staged_while_resolving_as_it_would_be_after(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]],
        monkeypatch: pytest.MonkeyPatch, options: dict[str, bool]) -> None:
    # demo has a console script: installer writes it, in the worker.
    demo_wheel(wheels, "demo", "1.0", requires=["dep>=1"])
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "dep", version)
    manifest = "[g]\ndemo = '>=1'\n"
    fill_venv(tmp_path / "cold" / "venv", manifest, wheels, own_cache, **options)
    assert collected == [set()]  # nothing was in the cache yet: apply staged it all
    venv = tmp_path / "one" / "venv"
    outcome = fill_venv(venv, manifest, wheels, own_cache, **options)
    assert collected[1] == {"demo", "dep"}
    assert {(s.name, str(s.version), s.action) for s in outcome.plan.steps} == {
        ("demo", "1.0", "install"), ("dep", "2.0", "install")}
    assert not (venv / ".venvfill" / "stage").exists()
    prestaged = tree(venv)  # before running it: an import writes bytecode
    proc = run(venv / "bin" / "demo")
    assert proc.returncode == 0 and proc.stdout.split()[:2] == ["demo", "1.0"]
    # Linked from the cache, as apply links: the module shares the entry's inode.
    (module,) = (venv / "lib").glob("python3.*/site-packages/demo_mod/__init__.py")
    assert module.stat().st_nlink > 1
    if options.get("compile"):
        assert list(module.parent.glob("__pycache__/__init__.*.pyc"))
    venv.rename(tmp_path / "one" / "aside")  # the same path again: scripts name it
    no_prestage(monkeypatch)
    fill_venv(venv, manifest, wheels, own_cache, **options)
    assert len(collected) == 2  # this one started none
    assert tree(venv) == prestaged


def test_a_backjump_gives_the_speculation_up(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a 2.0 is pinned first (newest) and handed over; b then rules its c out, so
    # resolvelib must go back to a 1.0.
    build_wheel(wheels, "a", "1.0")
    build_wheel(wheels, "a", "2.0", requires=["c>=2"])
    build_wheel(wheels, "b", "1.0", requires=["c<2"])
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "c", version)
    fill_venv(tmp_path / "w1" / "venv", "[g]\na = '==2.0'\n", wheels, own_cache)
    fill_venv(tmp_path / "w2" / "venv", "[g]\na = '<2'\nb = '>=1'\n", wheels, own_cache)
    handed: list[tuple[bool, set[int]]] = []  # worker still running?, what it was given
    real = prestage.Prestage.give_up

    def noting(self: prestage.Prestage) -> None:
        handed.append((self._pid is not None, set(self._sent)))
        real(self)

    monkeypatch.setattr(prestage.Prestage, "give_up", noting)
    one = tmp_path / "one" / "venv"
    outcome = fill_venv(one, "[g]\na = '>=1'\nb = '>=1'\n", wheels, own_cache)
    assert {(s.name, str(s.version)) for s in outcome.plan.steps} == {
        ("a", "1.0"), ("b", "1.0"), ("c", "1.0")}
    running, given = handed[0]
    assert running and given  # given up during resolution, with a pin handed over
    assert collected[-1] == set()
    assert not (one / ".venvfill" / "stage").exists()
    site = next((one / "lib").glob("python3.*/site-packages"))
    assert sorted(p.name for p in site.glob("*.dist-info")) == [
        "a-1.0.dist-info", "b-1.0.dist-info", "c-1.0.dist-info"]
    prestaged = tree(one)
    one.rename(tmp_path / "one" / "aside")
    no_prestage(monkeypatch)
    fill_venv(one, "[g]\na = '>=1'\nb = '>=1'\n", wheels, own_cache)
    assert tree(one) == prestaged


def started_on(venv: Path, house: Any, cache: Path) -> tuple[install.Transaction,
                                                               prestage.Prestage]:
    """A new Transaction for ``venv`` and a prestage over ``house`` (c requested)."""
    scheme = {k: str(venv / k) for k in ("purelib", "platlib", "scripts", "headers", "data")}
    txn = install.Transaction(venv=venv, scheme=scheme, interpreter=sys.executable)
    started = prestage.Prestage.start(txn, house, {"c"}, cache / "unpacked")
    assert started is not None
    return txn, started


def test_a_second_pin_of_an_identifier_gives_up(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    build_wheel(wheels, "c", "1.0")
    house = scan([wheels], Ledger(own_cache))
    (wheel,) = house.for_name("c")  # type: ignore[arg-type]
    entry = unpacked.unpack(wheel, own_cache / "unpacked")
    venv = tmp_path / "venv"
    txn, started = started_on(venv, house, own_cache)
    assert started is not None and txn.stage.is_dir()
    candidate = Candidate(wheel.name, wheel.version, "wheels", wheel=wheel)
    started.pinning(candidate=candidate)
    started.pinning(candidate=candidate)
    assert not txn.stage.exists()  # the worker stopped, its stage thrown away
    assert started.collect([]) == {} and started.hand_over() is None
    # Once more, pinned only once: the worker stages it from the entry.
    txn, started = started_on(venv, house, own_cache)
    started.pinning(candidate=candidate)
    entries = started.collect([Step(action="install", name=wheel.name, version=wheel.version,
                                    source="wheels", requested=True, wheel=wheel)])
    assert entries == {wheel.path: entry}
    handed = started.hand_over()
    assert handed is not None and handed[0] is txn
    assert (txn.stage / "purelib" / "c_mod" / "__init__.py").is_file()
    assert started.hand_over() is None  # handed over once
    started.give_up()
    assert txn.stage.is_dir()  # apply's now, not thrown away


@pytest.mark.parametrize("plan", ["without the wheel", "not requested"])
def test_staged_work_the_plan_does_not_match_is_thrown_away(
        tmp_path: Path, wheels: Path, own_cache: Path, plan: str) -> None:
    # Whatever resolvelib reported, collect keeps only what the final plan installs,
    # as it was staged (REQUESTED depends on it).
    build_wheel(wheels, "c", "1.0")
    build_wheel(wheels, "d", "1.0")
    house = scan([wheels], Ledger(own_cache))
    for ws in house.wheels.values():
        unpacked.unpack(ws[0], own_cache / "unpacked")
    (c,), (d,) = house.for_name("c"), house.for_name("d")  # type: ignore[arg-type]
    venv = tmp_path / "venv"
    txn, started = started_on(venv, house, own_cache)
    started.pinning(candidate=Candidate(c.name, c.version, "wheels", wheel=c))
    started.pinning(candidate=Candidate(d.name, d.version, "wheels", wheel=d))
    steps = [Step(action="install", name=c.name, version=c.version, source="wheels",
                  requested=plan == "without the wheel", wheel=c)]
    if plan == "not requested":
        steps.append(Step(action="install", name=d.name, version=d.version, source="wheels",
                          requested=False, wheel=d))
    assert started.collect(steps) == {}
    assert started.hand_over() is None and not txn.stage.exists()


def test_a_failure_while_prestaging_is_reported_as_without_it(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # One distribution ships a file where the other needs a directory: whichever
    # is staged second fails.
    build_wheel(wheels, "x", "1.0", extra_files={"shared": b"x"})
    build_wheel(wheels, "y", "1.0", extra_files={"shared/data.txt": b"y"})
    manifest = "[g]\nx = '>=1'\ny = '>=1'\n"
    with pytest.raises(InstallError):
        fill_venv(tmp_path / "warm" / "venv", manifest, wheels, own_cache)  # caches both
    house = scan([wheels], Ledger(own_cache))
    assert all(unpacked.cached(w, own_cache / "unpacked") is not None
               for ws in house.wheels.values() for w in ws)
    messages = []
    for name, use in (("one", True), ("two", False)):
        if not use:
            no_prestage(monkeypatch)
        venv = tmp_path / name / "venv"
        with pytest.raises(InstallError) as failed:
            fill_venv(venv, manifest, wheels, own_cache)
        messages.append(str(failed.value).replace(str(venv), "@"))
        assert not (venv / ".venvfill" / "stage").exists()
        assert not list((venv / "lib").glob("python3.*/site-packages/shared"))
    assert collected[-1] == set()  # the worker's failure gave everything up
    assert messages[0] == messages[1]
    assert "shared" in messages[0]


def test_a_plan_refused_after_prestaging_leaves_no_stage(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]]) -> None:
    demo_wheel(wheels, "demo", "1.0")
    fill_venv(tmp_path / "warm" / "venv", "[g]\ndemo = '>=1'\n", wheels, own_cache)
    venv = tmp_path / "one" / "venv"
    with pytest.raises(HashError):
        fill_venv(venv, "[g]\ndemo = { accepted = '>=1', hashes = ['sha256:" + "0" * 64
                  + "'] }\n", wheels, own_cache)
    assert len(collected) == 1  # refused before the prestage was collected
    assert not (venv / ".venvfill" / "stage").exists()
    assert not list(venv.glob("lib/python3.*/site-packages/demo_mod"))


def test_a_plan_that_installs_nothing_leaves_no_stage(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]]) -> None:
    # pip is in the base: kept, nothing to stage.  The stage the prestage made
    # must not outlive the fill (the next run would take it for an interrupted one).
    demo_wheel(wheels, "demo", "1.0")
    venv = tmp_path / "one" / "venv"
    outcome = fill_venv(venv, "[g]\npip = '>=1'\n", wheels, own_cache)
    assert [s.action for s in outcome.plan.steps] == ["keep"]
    assert collected == [set()]
    assert (venv / ".venvfill").is_dir() and not (venv / ".venvfill" / "stage").exists()


def test_a_worker_that_dies_leaves_the_staging_to_apply(
        tmp_path: Path, wheels: Path, own_cache: Path, collected: list[set[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    demo_wheel(wheels, "demo", "1.0", requires=["dep>=1"])
    build_wheel(wheels, "dep", "1.0")
    manifest = "[g]\ndemo = '>=1'\n"
    fill_venv(tmp_path / "warm" / "venv", manifest, wheels, own_cache)
    parent = os.getpid()
    real = prestage._drain

    def dying(*args: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)  # the worker, killed say by the out-of-memory killer
        return real(*args)

    monkeypatch.setattr(prestage, "_drain", dying)
    venv = tmp_path / "one" / "venv"
    fill_venv(venv, manifest, wheels, own_cache)
    assert collected[-1] == set()
    assert not (venv / ".venvfill" / "stage").exists()
    proc = run(venv / "bin" / "demo")
    assert proc.returncode == 0 and proc.stdout.split()[:2] == ["demo", "1.0"]


def test_a_conflict_or_nothing_staged_ends_with_no_stage(
        tmp_path: Path, wheels: Path, own_cache: Path) -> None:
    build_wheel(wheels, "c", "1.0")
    house = scan([wheels], Ledger(own_cache))
    (c,) = house.for_name("c")  # type: ignore[arg-type]
    venv = tmp_path / "venv"
    steps = [Step(action="install", name=c.name, version=c.version, source="wheels",
                  requested=True, wheel=c)]
    # Not in the cache: the worker stages nothing, and collect removes the stage.
    txn, started = started_on(venv, house, own_cache)
    started.pinning(candidate=Candidate(c.name, c.version, "wheels", wheel=c))
    assert started.collect(steps) == {} and not txn.stage.exists()
    # Cached, handed over, then resolvelib announces a backjump: given up at once.
    unpacked.unpack(c, own_cache / "unpacked")
    txn, started = started_on(venv, house, own_cache)
    started.pinning(candidate=Candidate(c.name, c.version, "wheels", wheel=c))
    started.resolving_conflicts(causes=[])
    assert not txn.stage.exists()
    assert started.collect(steps) == {}

