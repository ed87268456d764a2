from __future__ import annotations

from pathlib import Path

import pytest

from fakes import fake_target
from resolver.errors import UnsatisfiableError, WheelError
from resolver.manifest import tomllib
from resolver.manifest.model import Manifest
from resolver.manifest.pythondeps import parse
from resolver.resolve.plan import Plan, resolve
from resolver.sources.wheelhouse import scan
from wheelfactory import build_wheel


def manifest(text: str, tmp_path: Path) -> Manifest:
    return parse(tomllib.loads(text), tmp_path / "deps.toml")


def plan_for(tmp_path: Path, text: str, wheels: Path, **target: object) -> Plan:
    entries = manifest(text, tmp_path).select()
    return resolve(entries, fake_target(tmp_path, **target), scan([wheels]))  # type: ignore[arg-type]


def summary(plan: Plan) -> dict[str, tuple[str, str, str]]:
    return {s.name: (s.action, str(s.version), s.source) for s in plan.steps}


def test_base_kept_gap_filled_with_pin(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "meson", "1.8.1")
    build_wheel(wheels, "meson", "1.9.0")
    plan = plan_for(tmp_path, """
        [g]
        sphinx = { accepted = ">=3.4.3", installed = "6.2.1" }
        meson = { accepted = ">=1.5", installed = "1.8.1" }
    """, wheels, base={"sphinx": "5.3.0"})
    assert summary(plan) == {"sphinx": ("keep", "5.3.0", "base"),
                             "meson": ("install", "1.8.1", "wheels")}
    assert [d.name for d in plan.script_sources()] == ["sphinx"]


def test_gap_without_pin_takes_highest_final(tmp_path: Path, wheels: Path) -> None:
    for v in ("1.0", "2.0", "3.0b1"):
        build_wheel(wheels, "x", v)
    plan = plan_for(tmp_path, "[g]\nx = '>=1'\n", wheels)
    assert summary(plan)["x"] == ("install", "2.0", "wheels")


def test_base_too_old_is_shadowed_not_touched(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "meson", "1.8.1")
    plan = plan_for(tmp_path, "[g]\nmeson = { accepted = '>=1.5', installed = '1.8.1' }\n",
                    wheels, base={"meson": "1.0.1"})
    assert summary(plan)["meson"] == ("install", "1.8.1", "wheels")


def test_transitive_dependencies_resolved_and_base_reused(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "theme", "1.2.2", requires=["docutils<0.19", "sphinx>=1.6",
                                                     "winonly; sys_platform == 'win32'"])
    build_wheel(wheels, "docutils", "0.18.1")
    build_wheel(wheels, "docutils", "0.20")
    plan = plan_for(tmp_path, "[g]\ntheme = '>=1'\n", wheels, base={"sphinx": "5.3.0"})
    assert summary(plan) == {
        "theme": ("install", "1.2.2", "wheels"),
        "docutils": ("install", "0.18.1", "wheels"),
        "sphinx": ("keep", "5.3.0", "base"),
    }
    assert [s.requested for s in plan.steps] == [True, False, False]


def test_pin_change_replaces_venv_copy(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "meson", "1.8.1")
    build_wheel(wheels, "meson", "1.9.0")
    plan = plan_for(tmp_path, "[g]\nmeson = { accepted = '>=1.5', installed = '1.9.0' }\n",
                    wheels, venv={"meson": "1.8.1"})
    (step,) = plan.steps
    assert (step.action, str(step.version)) == ("replace", "1.9.0")
    assert step.old is not None and str(step.old.version) == "1.8.1"


def test_venv_copy_kept_when_it_fits(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "meson", "1.9.0")
    plan = plan_for(tmp_path, "[g]\nmeson = { accepted = '>=1.5', installed = '1.8.1' }\n",
                    wheels, venv={"meson": "1.8.1"})
    assert summary(plan)["meson"] == ("keep", "1.8.1", "venv")
    assert not plan.changes


def test_venv_copy_removed_when_system_now_acceptable(tmp_path: Path, wheels: Path) -> None:
    plan = plan_for(tmp_path, "[g]\nmeson = '>=1.0'\n", wheels,
                    base={"meson": "1.0.1"}, venv={"meson": "0.9"})
    (step,) = plan.steps
    assert (step.action, step.source, str(step.version)) == ("remove", "base", "1.0.1")


def test_parent_venv_distribution_counts_as_system(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "x", "9.0")
    plan = plan_for(tmp_path, "[g]\nx = { accepted = '>=1', installed = '9.0' }\n", wheels,
                    parent={"x": "1.5"})
    assert summary(plan)["x"] == ("keep", "1.5", "parent")


def test_marker_false_entry_skipped(tmp_path: Path, wheels: Path) -> None:
    text = "[g]\nx = { accepted = '>=1', marker = \"sys_platform == 'win32'\" }\n"
    plan = plan_for(tmp_path, text, wheels)
    assert plan.steps == () and [e.name for e in plan.skipped] == ["x"]


def test_requires_python_and_tags_are_honoured(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "x", "2.0", requires_python=">=3.12")
    build_wheel(wheels, "x", "1.5", tag="cp311-cp311-win_amd64")
    build_wheel(wheels, "x", "1.4", tag="cp311-cp311-manylinux_2_17_x86_64")
    build_wheel(wheels, "x", "1.4", tag="py3-none-any")
    plan = plan_for(tmp_path, "[g]\nx = '>=1'\n", wheels)
    (step,) = plan.steps
    assert str(step.version) == "1.4"
    assert step.wheel is not None and "manylinux" in step.wheel.filename  # best tag wins


def test_extras_pull_their_dependencies(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "req", "2.0", extras={"socks": ["pysocks>=1"]})
    build_wheel(wheels, "pysocks", "1.7")
    plan = plan_for(tmp_path, "[g]\nreq = { accepted = '>=2', extras = ['socks'] }\n", wheels)
    assert summary(plan) == {"req": ("install", "2.0", "wheels"),
                             "pysocks": ("install", "1.7", "wheels")}


def test_same_package_in_two_groups_both_constraints_apply(tmp_path: Path,
                                                           wheels: Path) -> None:
    for v in ("1.0", "2.0", "3.0"):
        build_wheel(wheels, "x", v)
    plan = plan_for(tmp_path, "[a]\nx = '>=1.5'\n[b]\nx = '<3'\n", wheels)
    assert summary(plan)["x"] == ("install", "2.0", "wheels")


def test_missing_package_error_names_everything(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "sphinx", "7.0", requires_python=">=3.12")
    (wheels / "sphinx-6.2.1.tar.gz").write_bytes(b"")
    with pytest.raises(UnsatisfiableError) as info:
        plan_for(tmp_path, "[docs]\nsphinx = { accepted = '>=6', installed = '7.0' }\n",
                 wheels, base={"sphinx": "5.3.0"})
    text = str(info.value)
    assert "needs sphinx>=6 (installs ==7.0), from the manifest (group [docs])" in text
    assert "the system has sphinx 5.3.0 (base" in text
    assert "has sphinx 7.0" in text
    assert "sphinx-7.0-py3-none-any.whl requires Python >=3.12; the target is 3.11.7" in text
    assert "sphinx-6.2.1.tar.gz is there only as an sdist" in text
    assert "put a wheel of sphinx (==7.0)" in text
    assert info.value.exit_code == 4


def test_conflict_error_shows_the_chain(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "app", "1.0", requires=["lib>=1"])
    build_wheel(wheels, "lib", "1.0", requires=["core<2"])
    build_wheel(wheels, "core", "2.0")
    with pytest.raises(UnsatisfiableError) as info:
        plan_for(tmp_path, "[g]\napp = '>=1'\ncore = '>=2'\n", wheels)
    text = str(info.value)
    assert "core:" in text
    assert "needs core<2, required by lib 1.0 (wheels: lib-1.0-py3-none-any.whl) <- app 1.0" \
        in text
    assert "needs core>=2, from the manifest (group [g])" in text


def test_corrupt_wheel_is_a_wheel_error(tmp_path: Path, wheels: Path) -> None:
    (wheels / "x-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(WheelError, match=r"x-1.0-py3-none-any.whl is not a valid zip"):
        plan_for(tmp_path, "[g]\nx = '>=1'\n", wheels)


def test_renamed_wheel_is_refused(tmp_path: Path, wheels: Path) -> None:
    path = build_wheel(wheels, "x", "1.0", metadata_name="evil")
    assert path.exists()
    with pytest.raises(WheelError, match=r"the file name says x 1.0, its METADATA says evil"):
        plan_for(tmp_path, "[g]\nx = '>=1'\n", wheels)


def test_read_ahead_reads_the_newest_wheels_of_what_is_named_and_required(
        tmp_path: Path) -> None:
    from resolver._speed.ahead import read_ahead

    build_wheel(tmp_path, "app", "1.0", requires=["lib>=1", "win; sys_platform == 'win32'"])
    build_wheel(tmp_path, "app", "0.9")
    build_wheel(tmp_path, "lib", "2.0", requires=["app"])  # a cycle ends
    build_wheel(tmp_path, "win", "1.0")
    broken = build_wheel(tmp_path, "broken", "1.0")
    broken.write_bytes(b"not a zip")
    build_wheel(tmp_path, "unrelated", "1.0")
    house = scan([tmp_path])
    done = read_ahead(house, ["App", "broken", "absent"], lambda: False)
    read = {w.filename for ws in house.wheels.values() for w in ws if w._metadata}
    assert {w.filename for w in done} == read == {
        "app-1.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl",
        "win-1.0-py3-none-any.whl"}  # markers are not judged

    again = scan([tmp_path])
    asked: list[int] = []
    done = read_ahead(again, ["app"], lambda: len(asked.append(1) or asked) > 2)
    assert [w.filename for w in done] == ["app-1.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl"]
    with pytest.raises(WheelError):  # still reported by resolution's own reading
        again.wheels["broken"][0].metadata()


def test_finder_offers_each_wheel_once_as_the_same_candidate(tmp_path: Path,
                                                             wheels: Path) -> None:
    # resolvelib asks for a name's candidates every round; the finder hands out the
    # same objects (their verdicts are kept per object) and judges Requires-Python
    # once per wheel, with the same offers and the same rejection as the first time.
    from resolver.resolve.candidates import Finder

    build_wheel(wheels, "x", "2.0", requires_python=">=3.12")
    build_wheel(wheels, "x", "1.5")
    build_wheel(wheels, "x", "1.4")
    finder = Finder(fake_target(tmp_path), scan([wheels]))  # type: ignore[arg-type]
    first = list(finder.candidates("x", frozenset()))  # type: ignore[arg-type]
    second = list(finder.candidates("x", frozenset()))  # type: ignore[arg-type]
    assert [str(c.version) for c in first] == ["1.5", "1.4"]
    assert len(second) == 2 and all(a is b for a, b in zip(first, second))
    assert len(finder.rejected["x"]) == 1 and "requires Python >=3.12" in finder.rejected["x"][0]
    extra = list(finder.candidates("x", frozenset({"e"})))  # type: ignore[arg-type]
    assert [c.extras for c in extra] == [frozenset({"e"})] * 2  # its own view, not the plain one
    assert extra[0] is not first[0] and extra[0].wheel is first[0].wheel


# -- pre-releases (PEP 440) -----------------------------------------------------------

@pytest.mark.parametrize(("spec", "chosen"), [
    (">=0.1", "0.1.0"),          # final releases first
    (">=0.1.0a1", "0.2.0a2"),    # a specifier naming a pre-release admits them: highest
    ("<0.2.0a3", "0.2.0a2"),
    (">=0.1,<0.2.0a3", "0.2.0a2"),
    (">=0.2.0a1", "0.2.0a2"),    # only pre-releases fit: the highest, as before
])
def test_a_specifier_naming_a_pre_release_admits_pre_releases(
        tmp_path: Path, wheels: Path, spec: str, chosen: str) -> None:
    for v in ("0.0.9", "0.1.0", "0.2.0a1", "0.2.0a2"):
        build_wheel(wheels, "a", v)
    plan = plan_for(tmp_path, f"[g]\na = '{spec}'\n", wheels)
    assert summary(plan)["a"] == ("install", chosen, "wheels")


def test_a_dependency_naming_a_pre_release_admits_them_for_that_name(
        tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "top", "1.0", requires=["a>=0.1.0a1"])
    for v in ("0.1.0", "0.2.0a2"):
        build_wheel(wheels, "a", v)
    build_wheel(wheels, "b", "1.0")
    build_wheel(wheels, "b", "2.0b1")
    plan = plan_for(tmp_path, "[g]\ntop = '>=1'\nb = '>=1'\n", wheels)
    assert summary(plan)["a"] == ("install", "0.2.0a2", "wheels")
    assert summary(plan)["b"] == ("install", "1.0", "wheels")  # not for other names


def test_prereleases_per_entry_and_for_all(tmp_path: Path, wheels: Path) -> None:
    for v in ("1.0", "2.0b1"):
        build_wheel(wheels, "a", v)
        build_wheel(wheels, "b", v)
    text = "[g]\na = { accepted = '>=1', prereleases = true }\nb = '>=1'\n"
    plan = plan_for(tmp_path, text, wheels)
    assert summary(plan)["a"][1] == "2.0b1" and summary(plan)["b"][1] == "1.0"
    entries = manifest(text, tmp_path).select()
    everything = resolve(entries, fake_target(tmp_path), scan([wheels]), pre=True)
    assert summary(everything)["b"][1] == "2.0b1"
    # A system copy that satisfies is still kept, pre-releases or not.
    kept = plan_for(tmp_path, text, wheels, base={"a": "1.0"})
    assert summary(kept)["a"] == ("keep", "1.0", "base")


def test_prereleases_must_be_a_boolean(tmp_path: Path) -> None:
    from resolver.errors import ManifestError

    with pytest.raises(ManifestError, match="'prereleases' must be true or false"):
        manifest("[g]\na = { accepted = '>=1', prereleases = 'yes' }\n", tmp_path)


def test_build_policy_reads_as_pip_does() -> None:
    from resolver.resolve.policy import DEFAULT, from_options, with_entries

    assert DEFAULT.why_no_wheels("a") is None and DEFAULT.why_no_builds("a") is None
    # Names separated by commas, normalised; ":none:" forgets what came before it.
    policy = from_options(["A_b,c", ":none:", "D"], ["e"], no_build=False)
    assert dict(policy.no_binary) == {"d": "--no-binary"}
    # A name given explicitly wins over :all:.
    policy = from_options([":all:"], ["tool"], no_build=False)
    assert policy.why_no_wheels("x") == "--no-binary" and policy.why_no_builds("x") is None
    assert policy.why_no_wheels("tool") is None and policy.why_no_builds("tool") == "--only-binary"
    policy = from_options(["special"], [], no_build=True)
    assert policy.why_no_builds("x") == "--no-build" and policy.why_no_builds("special") is None
    # The manifest adds names; the command line's word for a name stands.
    merged = with_entries(from_options([], ["x"], False), no_binary=["x", "y"], only_binary=[])
    assert merged.why_no_wheels("y") == "the manifest's no-binary"
    assert merged.why_no_wheels("x") is None and merged.why_no_builds("x") == "--only-binary"


def test_a_conflict_is_fixed_by_changing_a_requirement_not_by_a_wheel(
        tmp_path: Path, wheels: Path) -> None:
    # Both versions are here; the manifest and b ask for different ones.
    build_wheel(wheels, "a", "1.0.0")
    build_wheel(wheels, "a", "2.0.0")
    build_wheel(wheels, "b", "1.0", requires=["a==2.0.0"])
    with pytest.raises(UnsatisfiableError) as info:
        plan_for(tmp_path, "[g]\na = '==1.0.0'\nb = '>=1'\n", wheels)
    text = str(info.value)
    assert "its requirements conflict" in text
    assert "no version of a can meet a==1.0.0 and a==2.0.0 at once" in text
    assert ("a: a==1.0.0 (from the manifest (group [g])) conflicts with a==2.0.0 "
            "(required by b 1.0") in text
    assert "put a wheel of a" not in text and "--online" not in text
    # No version at hand meets core<2, but no wheel could meet it and core>=2 either.
    build_wheel(wheels, "app", "1.0", requires=["lib>=1"])
    build_wheel(wheels, "lib", "1.0", requires=["core<2"])
    build_wheel(wheels, "core", "2.0")
    with pytest.raises(UnsatisfiableError) as info:
        plan_for(tmp_path, "[g]\napp = '>=1'\ncore = '>=2'\n", wheels)
    text = str(info.value)
    assert "core: core>=2 (from the manifest (group [g])) conflicts with core<2 (required " \
        "by lib 1.0" in text and "put a wheel of core" not in text
    # A gap, not a conflict: the fix is still a wheel.
    with pytest.raises(UnsatisfiableError) as info:
        plan_for(tmp_path, "[g]\ncore = '>=2,<3'\nlib = '>=1'\nx = '>1,<2'\n", wheels)
    assert "put a wheel of x (<2,>1)" in str(info.value)


def test_resolution_that_gives_up_names_what_it_went_round_on(
        tmp_path: Path, wheels: Path) -> None:
    from resolver.resolve import plan as plan_module

    # Only a 1.0 goes with c, and a is tried newest first: one back-track per version.
    for n in range(1, 16):
        build_wheel(wheels, "a", f"{n}.0", requires=[f"b=={n}.0"])
        build_wheel(wheels, "b", f"{n}.0")
    build_wheel(wheels, "c", "1.0", requires=["b==1.0"])
    entries = manifest("[g]\na = '>=1'\nc = '>=1'\n", tmp_path).select()
    with pytest.raises(UnsatisfiableError) as info:
        resolve(entries, fake_target(tmp_path), scan([wheels]), max_rounds=10)  # type: ignore[arg-type]
    text = str(info.value)
    assert "resolution gave up after 10 rounds of backtracking; it was going round on" in text
    assert "b (tried" in text and "a (tried" in text
    assert "Pin " in text and "with 'installed' in the manifest" in text
    assert plan_module.MAX_ROUNDS >= 100_000  # pip's order of magnitude, not 2,000
    # Given the rounds it needs, the same graph resolves.
    plan = resolve(entries, fake_target(tmp_path), scan([wheels]))  # type: ignore[arg-type]
    assert {s.name: str(s.version) for s in plan.steps} == {"a": "1.0", "b": "1.0", "c": "1.0"}


def test_upper_bounded_requirements_are_decided_first(tmp_path: Path, wheels: Path) -> None:
    # bb<2 settles zz<2 (through bb 1).  Decided first, as pip's provider decides
    # upper-bounded names early, it rules each newer aa out within one round;
    # decided after aa (by name), every aa from 30 down is a back-track of its own.
    for n in range(1, 31):
        build_wheel(wheels, "aa", f"{n}.0", requires=[f"zz>={n}"])
        build_wheel(wheels, "zz", f"{n}.0")
    build_wheel(wheels, "bb", "1.0", requires=["zz<2"])
    build_wheel(wheels, "bb", "2.0")
    entries = manifest("[g]\naa = '>=1'\nbb = '<2'\n", tmp_path).select()
    plan = resolve(entries, fake_target(tmp_path), scan([wheels]),  # type: ignore[arg-type]
                   max_rounds=10)
    assert {s.name: str(s.version) for s in plan.steps} == {"aa": "1.0", "bb": "1.0",
                                                             "zz": "1.0"}


def test_a_requirement_s_bounds_are_judged_as_pip_judges_them() -> None:
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    from resolver.resolve.candidates import Requirement

    def bounds(spec: str) -> tuple[bool, bool]:
        return Requirement(canonicalize_name("x"), SpecifierSet(spec)).bounds

    assert bounds("==1.0") == (True, False) and bounds("===1.0") == (True, False)
    assert bounds("<2") == bounds("<=2") == bounds("~=1.4") == bounds("==1.*") == (False, True)
    assert bounds(">=1,!=1.5") == bounds("") == (False, False)
    assert bounds(">=1,<2") == (False, True)
