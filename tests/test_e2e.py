"""End to end through the CLI: real venvs, then run what is in them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import DEBIAN_PYTHON, find_python, require_python, run_cli, unchanged
from wheelfactory import build_wheel, default_script

pytestmark = pytest.mark.e2e

BASE = "3.11"  # the base interpreter for most tests (pyenv's; it has pip in its base)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          env=clean_env(), timeout=120, check=False)


def fill(tmp_path: Path, manifest: str, *args: str,
         python: str | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deps.toml").write_text(manifest)
    py = python or require_python(BASE)
    return run_cli("--manifest", "deps.toml", "--python", py, "--offline", *args,
                   cwd=tmp_path)


def demo_wheel(wheels: Path, name: str, version: str, **kw: object) -> Path:
    return build_wheel(wheels, name, version, scripts={name: default_script(name)}, **kw)  # type: ignore[arg-type]


def parent_venv(tmp_path: Path, wheels: Path, name: str, version: str = "1.0") -> str:
    """A venv at tmp_path/p holding ``name`` (with a script of that name), to stand in
    for "the system" of a child venv; return its python."""
    demo_wheel(wheels, name, version)
    parent_dir = tmp_path / "p"
    parent_dir.mkdir()
    proc = fill(parent_dir, f"[g]\n{name} = '>={version}'\n", "--wheels", str(wheels))
    assert proc.returncode == 0, proc.stderr
    return str(parent_dir / ".venv" / "bin" / "python")


MANIFEST = """
[tools]
pip = { accepted = ">=19", canary = "pip" }
[demo]
demo = { accepted = ">=1.0", installed = "1.0", canary = "demo" }
"""


def test_fill_from_base_and_wheels(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    proc = fill(tmp_path, MANIFEST)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    lines = proc.stdout.splitlines()
    assert lines[-1] == str(venv / "bin" / "python")
    assert any("pip" in line and "base" in line and "kept" in line for line in lines)
    assert any("demo" in line and "1.0" in line and "installed" in line for line in lines)
    assert "offline" in lines[0]
    site = venv / "lib" / "python3.11" / "site-packages"
    assert not list(site.rglob("*.pyc"))  # no bytecode by default (checked before any import)

    # The installed wheel's script runs on the venv's interpreter.
    out = run(venv / "bin" / "demo")
    assert out.stdout.split() == ["demo", "1.0", str(venv)]
    # The base's pip got a venv-bound script, and runs the base's pip on the venv.
    assert (venv / "bin" / "pip").read_text().splitlines()[0] == f"#!{venv}/bin/python"
    pip = run(venv / "bin" / "pip", "--version")
    assert pip.returncode == 0 and "python 3.11" in pip.stdout
    # Non-isolated, no pip of its own, installer metadata written.
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = true" in cfg
    assert not list(site.glob("pip*"))
    info = site / "demo-1.0.dist-info"
    assert (info / "INSTALLER").read_text().strip() == "venvfill"
    assert (info / "REQUESTED").exists()


def test_rerun_changes_nothing_then_pin_change_replaces(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    assert fill(tmp_path, MANIFEST).returncode == 0
    venv = tmp_path / ".venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    before = sorted(str(p.relative_to(venv)) for p in venv.rglob("*"))

    again = fill(tmp_path, MANIFEST)
    assert again.returncode == 0, again.stderr
    assert unchanged(again.stdout)
    assert sorted(str(p.relative_to(venv)) for p in venv.rglob("*")) == before
    # Even a full run (the fingerprint gone) finds nothing to do.
    (venv / ".venvfill" / "fingerprint").unlink(missing_ok=True)
    full = fill(tmp_path, MANIFEST)
    assert full.returncode == 0, full.stderr
    assert "reused" in full.stdout.splitlines()[0]
    assert "installed" not in full.stdout and "scripts written" not in full.stdout
    assert sorted(str(p.relative_to(venv)) for p in venv.rglob("*")) == before

    changed = fill(tmp_path, MANIFEST.replace('installed = "1.0"', 'installed = "2.0"'))
    assert changed.returncode == 0, changed.stderr
    assert "replaced (was 1.0)" in changed.stdout
    assert run(venv / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    assert not (site / "demo-1.0.dist-info").exists()
    assert (site / "demo-2.0.dist-info" / "RECORD").exists()


def test_group_selection_and_unknown_group(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, MANIFEST, "--group", "tools")
    assert proc.returncode == 0, proc.stderr
    assert "demo" not in proc.stdout
    bad = fill(tmp_path, MANIFEST, "--group", "tool", "--venv", "other")
    assert bad.returncode == 2
    assert "group 'tool' is not defined (did you mean 'tools'?)" in bad.stderr
    assert "deps.toml" in bad.stderr
    assert not (tmp_path / "other").exists()
    assert "Traceback" not in bad.stderr


def test_missing_package_fails_clearly_and_creates_nothing(tmp_path: Path, wheels: Path) -> None:
    proc = fill(tmp_path, "[docs]\nsphinx = { accepted = '>=3.4.3', installed = '6.2.1', "
                "canary = 'sphinx-build' }\n")
    assert proc.returncode == 4
    assert "cannot satisfy the manifest offline" in proc.stderr
    assert "the system has no sphinx visible to" in proc.stderr
    assert "has no wheel of sphinx" in proc.stderr
    assert "put a wheel of sphinx (==6.2.1)" in proc.stderr
    assert not (tmp_path / ".venv").exists()
    assert "Traceback" not in proc.stderr


def test_failed_plan_undoes_the_venv_built_meanwhile(tmp_path: Path, wheels: Path) -> None:
    # A new venv is built while the plan is made; when the plan fails, the builder's
    # work is undone and a directory the user made is left as it was (empty).
    (tmp_path / ".venv").mkdir()
    proc = fill(tmp_path, "[g]\nmissing = '>=1'\n")
    assert proc.returncode == 4, proc.stderr
    assert set(os.listdir(tmp_path / ".venv")) <= {".venvfill"}
    assert not (tmp_path / ".venv" / ".venvfill" / "creating").exists()
    proc = fill(tmp_path, "[g]\n")
    assert proc.returncode == 0, proc.stderr
    assert "created" in proc.stdout.splitlines()[0]


def test_conflict_exit_code_and_chain(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "app", "1.0", requires=["lib<2"])
    build_wheel(wheels, "lib", "2.0")
    proc = fill(tmp_path, "[g]\napp = '>=1'\nlib = '>=2'\n")
    assert proc.returncode == 4
    assert "needs lib<2, required by app 1.0" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_canary_missing_exit_7(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "quiet", "1.0")  # no scripts at all
    proc = fill(tmp_path, "[g]\nquiet = { accepted = '>=1', canary = 'quiet-tool' }\n")
    assert proc.returncode == 7
    assert "its program 'quiet-tool' is not in" in proc.stderr


def test_tampered_wheel_exit_5_and_nothing_created(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "demo", "1.0",
                record_override={"demo_mod/__init__.py": "sha256=AAAA"})
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 5
    assert "demo-1.0-py3-none-any.whl failed verification" in proc.stderr
    assert "demo_mod/__init__.py does not match its sha256 in RECORD" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_wheel_for_another_platform_is_explained(tmp_path: Path, wheels: Path) -> None:
    build_wheel(wheels, "native", "1.0", tag="cp311-cp311-win_amd64")
    proc = fill(tmp_path, "[g]\nnative = '>=1'\n")
    assert proc.returncode == 4
    assert "native-1.0-cp311-cp311-win_amd64.whl is not for this target" in proc.stderr
    assert "the target supports cp311-cp311-manylinux_" in proc.stderr


def test_venv_path_problems(tmp_path: Path, wheels: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "--venv", "afile")
    assert proc.returncode == 6 and "is a file" in proc.stderr
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "precious.txt").write_text("keep me")
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "--venv", "stuff", "--clear")
    assert proc.returncode == 6 and "not a virtual environment" in proc.stderr
    assert (tmp_path / "stuff" / "precious.txt").read_text() == "keep me"


def test_venv_of_another_version_needs_clear(tmp_path: Path, wheels: Path) -> None:
    py38 = require_python("3.8")
    assert fill(tmp_path, "[g]\npip = '>=1'\n", python=py38).returncode == 0
    proc = fill(tmp_path, "[g]\npip = '>=1'\n")
    assert proc.returncode == 6 and "--clear" in proc.stderr
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "--clear")
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "python", "-c",
               "import sys; print(sys.version_info[:2])").stdout.strip() == "(3, 11)"


def test_quiet_prints_only_the_python(tmp_path: Path, wheels: Path) -> None:
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "-q")
    assert proc.returncode == 0
    assert proc.stdout == f"{tmp_path / '.venv' / 'bin' / 'python'}\n"


@pytest.mark.interpreters
@pytest.mark.parametrize("version", ["3.8", "3.9", "3.12", "3.13"])
def test_target_other_than_running_interpreter(tmp_path: Path, wheels: Path,
                                               version: str) -> None:
    py = require_python(version)
    demo_wheel(wheels, "demo", "1.0")
    build_wheel(wheels, "newonly", "1.0", requires_python=">=3.12")
    build_wheel(wheels, "newonly", "0.9")
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\nnewonly = '>=0.5'\n", python=py)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    out = run(venv / "bin" / "python", "-c",
              "import sys, demo_mod, newonly_mod; print('%d.%d' % sys.version_info[:2], "
              "newonly_mod.__version__)")
    expected = "1.0" if tuple(map(int, version.split("."))) >= (3, 12) else "0.9"
    assert out.stdout.split() == [version, expected], out.stderr
    assert run(venv / "bin" / "demo").stdout.split()[2] == str(venv)
    assert (venv / "lib" / f"python{version}" / "site-packages" / "demo_mod").is_dir()


@pytest.mark.interpreters
def test_debian_system_python(tmp_path: Path, wheels: Path) -> None:
    if not Path(DEBIAN_PYTHON).exists():
        pytest.skip("no Debian system python3")
    probe = run(DEBIAN_PYTHON, "-c", "import importlib.metadata as m; "
                "print(m.version('Pygments'))")
    demo_wheel(wheels, "demo", "1.0")
    manifest = "[g]\ndemo = '>=1'\n"
    if probe.returncode == 0:
        manifest += "pygments = { accepted = '>=2', canary = 'pygmentize' }\n"
    proc = fill(tmp_path, manifest, python=DEBIAN_PYTHON)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    assert run(venv / "bin" / "demo").stdout.split()[2] == str(venv)
    if probe.returncode == 0:  # an .egg-info distribution of Debian's, its script venv-bound
        assert "pygments" in proc.stdout and "base" in proc.stdout
        assert run(venv / "bin" / "pygmentize", "-V").returncode == 0
        assert (venv / "bin" / "pygmentize").read_text().startswith(f"#!{venv}/bin/python")


def test_nested_venv_sees_parent_and_gets_its_scripts(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "parentpkg", "1.0")
    demo_wheel(wheels, "parentpkg", "2.0")
    demo_wheel(wheels, "childpkg", "1.0")
    parent_dir = tmp_path / "p"
    parent_dir.mkdir()
    (parent_dir / "wheels").symlink_to(wheels)
    assert fill(parent_dir, "[g]\nparentpkg = { accepted = '>=1', installed = '1.0' }\n",
                "--wheels", str(wheels)).returncode == 0
    parent_py = str(parent_dir / ".venv" / "bin" / "python")

    child_manifest = ("[g]\nparentpkg = { accepted = '>=1', installed = '2.0' }\n"
                      "childpkg = '>=1'\npip = '>=19'\n")
    proc = fill(tmp_path, child_manifest, "--wheels", str(wheels), python=parent_py)
    assert proc.returncode == 0, proc.stderr
    assert any("parentpkg" in line and "parent" in line and "kept" in line
               for line in proc.stdout.splitlines())
    child = tmp_path / ".venv"
    # The parent's distribution, the child's own, and the base's are all importable.
    imp = run(child / "bin" / "python", "-c", "import parentpkg_mod, childpkg_mod, pip")
    assert imp.returncode == 0, imp.stderr
    # The parent's script runs the parent's package on the child's interpreter.
    assert run(child / "bin" / "parentpkg").stdout.split() == ["parentpkg", "1.0", str(child)]

    # When the child needs its own copy, the wheel's script replaces ours.
    proc = fill(tmp_path, child_manifest.replace("'>=1', installed = '2.0'",
                                                 "'>=2', installed = '2.0'"),
                "--wheels", str(wheels), python=parent_py)
    assert proc.returncode == 0, proc.stderr
    assert run(child / "bin" / "parentpkg").stdout.split()[:2] == ["parentpkg", "2.0"]


def test_stale_base_scripts_are_removed(tmp_path: Path, wheels: Path) -> None:
    parent_py = parent_venv(tmp_path, wheels, "gone")
    parent_dir = tmp_path / "p"
    manifest = "[g]\ngone = '>=1'\n"
    assert fill(tmp_path, manifest, python=parent_py).returncode == 0
    child = tmp_path / ".venv"
    assert (child / "bin" / "gone").exists()
    # The parent loses the distribution: the child's script for it must go.
    import shutil
    site = parent_dir / ".venv" / "lib" / "python3.11" / "site-packages"
    shutil.rmtree(site / "gone-1.0.dist-info")
    shutil.rmtree(site / "gone_mod")
    proc = fill(tmp_path, "[other]\npip = '>=1'\n", python=parent_py)
    assert proc.returncode == 0, proc.stderr
    assert "scripts removed: gone" in proc.stdout
    assert not (child / "bin" / "gone").exists()


def test_isolated_parent_gives_isolated_child(tmp_path: Path, wheels: Path) -> None:
    base = require_python(BASE)
    parent = tmp_path / "iso"
    assert run(base, "-m", "venv", "--without-pip", parent).returncode == 0
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", python=str(parent / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    child = tmp_path / ".venv"
    assert "include-system-site-packages = false" in (child / "pyvenv.cfg").read_text()
    assert run(child / "bin" / "python", "-c", "import pip").returncode != 0
    assert run(child / "bin" / "python", "-c", "import demo_mod").returncode == 0


def test_python_m_resolver_and_help(tmp_path: Path) -> None:
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for option in ("--manifest", "--group", "--python", "--venv", "--wheels", "--clear",
                   "--offline", "--online", "exit codes"):
        assert option in proc.stdout
    both = run_cli("--manifest", "x.toml", "--online", "--offline", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_bad_python(tmp_path: Path) -> None:
    (tmp_path / "deps.toml").write_text("[g]\npip = '>=1'\n")
    proc = run_cli("--manifest", "deps.toml", "--python", str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode == 3 and "no such file" in proc.stderr
    fake = tmp_path / "fakepy"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    proc = run_cli("--manifest", "deps.toml", "--python", str(fake), cwd=tmp_path)
    assert proc.returncode == 3 and "Is it a Python interpreter?" in proc.stderr
    py37 = find_python("3.7")
    if py37:
        proc = run_cli("--manifest", "deps.toml", "--python", py37, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert "is Python 3.7" in proc.stderr and "3.8 and newer" in proc.stderr
    py27 = find_python("2.7")
    if py27:
        proc = run_cli("--manifest", "deps.toml", "--python", py27, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_foreign_script_is_never_overwritten(tmp_path: Path, wheels: Path) -> None:
    parent_py = parent_venv(tmp_path, wheels, "tool")
    assert fill(tmp_path, "[g]\npip = '>=1'\n", python=parent_py).returncode == 0
    mine = tmp_path / ".venv" / "bin" / "tool"
    mine.write_text("#!/bin/sh\necho mine\n")
    proc = fill(tmp_path, "[g]\ntool = '>=1'\n", python=parent_py)
    assert proc.returncode == 0, proc.stderr
    assert "warning: tool:" in proc.stdout and "is not venvfill's; left alone" in proc.stdout
    assert mine.read_text() == "#!/bin/sh\necho mine\n"


def test_canary_on_path_of_another_interpreter_is_named(tmp_path: Path, wheels: Path) -> None:
    other = tmp_path / "otherbin"
    other.mkdir()
    (other / "ghost-tool").write_text("#!/bin/sh\nexit 0\n")
    (other / "ghost-tool").chmod(0o755)
    (tmp_path / "deps.toml").write_text(
        "[g]\nghost = { accepted = '>=1', canary = 'ghost-tool' }\n")
    proc = run_cli("--manifest", "deps.toml", "--python", require_python(BASE), cwd=tmp_path,
                   env={"PATH": f"{other}:{os.environ['PATH']}"})
    assert proc.returncode == 4
    assert f"'ghost-tool' is on PATH at {other}/ghost-tool" in proc.stderr
    assert "installed for a different Python interpreter" in proc.stderr


def test_python_may_be_the_venv_itself(tmp_path: Path, wheels: Path) -> None:
    """QEMU runs its ensuregroup step with the venv's own python."""
    demo_wheel(wheels, "demo", "1.0")
    assert fill(tmp_path, "[g]\npip = '>=1'\n").returncode == 0
    venv_py = str(tmp_path / ".venv" / "bin" / "python")
    cfg = (tmp_path / ".venv" / "pyvenv.cfg").read_text()
    proc = fill(tmp_path, MANIFEST, python=venv_py)
    assert proc.returncode == 0, proc.stderr
    assert "reused" in proc.stdout.splitlines()[0]
    assert (tmp_path / ".venv" / "pyvenv.cfg").read_text() == cfg
    assert not list((tmp_path / ".venv").rglob("_venvfill_parent.pth"))
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]
    again = fill(tmp_path, MANIFEST, python=venv_py)
    assert again.returncode == 0 and "installed" not in again.stdout


def test_missing_wheels_directory(tmp_path: Path) -> None:
    proc = fill(tmp_path, "[g]\npip = '>=1'\n", "--wheels", "nowhere")
    assert proc.returncode == 2
    assert "--wheels nowhere: no such directory" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_missing_manifest_through_the_cli(tmp_path: Path) -> None:
    proc = run_cli("--manifest", "nope.toml", "--python", require_python(BASE), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.toml has a problem:" in proc.stderr and "does not exist" in proc.stderr
    assert not (tmp_path / ".venv").exists()


@pytest.mark.interpreters
def test_compile_uses_the_target_interpreter(tmp_path: Path, wheels: Path) -> None:
    py38 = require_python("3.8")
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0")
    build_wheel(wheels, "plain", "1.0")  # no scripts: finished without installer
    manifest = '[g]\ndemo = { accepted = ">=1", installed = "1.0" }\nplain = ">=1"\n'
    proc = fill(tmp_path, manifest, "--compile", python=py38)
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / ".venv" / "lib" / "python3.8" / "site-packages"
    pycs = sorted(p.name for p in site.rglob("*.pyc"))
    assert pycs == ["__init__.cpython-38.pyc"] * 2  # the target's tag, not the tool's
    record = (site / "demo-1.0.dist-info" / "RECORD").read_text()
    assert "demo_mod/__pycache__/__init__.cpython-38.pyc,sha256=" in record
    # RECORD is the venv's own file, never shared.
    record = (site / "plain-1.0.dist-info" / "RECORD").read_text()
    assert "plain_mod/__pycache__/__init__.cpython-38.pyc,sha256=" in record
    assert os.stat(site / "plain-1.0.dist-info" / "RECORD").st_nlink == 1
    # Replacing the version removes the old bytecode through RECORD.
    proc = fill(tmp_path, manifest.replace('"1.0"', '"2.0"'), python=py38)
    assert proc.returncode == 0, proc.stderr
    assert [p.parent.parent.name for p in site.rglob("*.pyc")] == ["plain_mod"]


@pytest.mark.accelerated
def test_a_fill_of_plain_cached_wheels_does_not_import_installer(
        tmp_path: Path, wheels: Path) -> None:
    # Wheels without entry points are linked from the cache and finished by
    # install.py alone: installer, and the email package it imports, stay unloaded
    # (start-up time).  A wheel with a console script needs installer again.
    import sys

    from conftest import ROOT
    build_wheel(wheels, "plain", "1.0", requires=["leaf>=1"])
    build_wheel(wheels, "leaf", "1.0")
    # The wheels count as settled at once, so the ledger keeps their digests (a
    # wheel the ledger does not know is hashed by the workers that would unpack it,
    # and they need installer's RECORD parser).
    code = ("import sys, resolver._speed.ledger; resolver._speed.ledger._SETTLED_NS = -10**12; "
            "from resolver.cli import main; rc = main(sys.argv[1:]); "
            "print('loaded:', sorted({m.split('.')[0] for m in sys.modules} "
            "& {'installer', 'email'})); sys.exit(rc)")

    def fill_in_process(manifest: str, venv: str) -> str:
        (tmp_path / "deps.toml").write_text(manifest)
        proc = subprocess.run(
            [sys.executable, "-c", code, "--manifest", "deps.toml", "--python",
             require_python(BASE), "--offline", "--venv", venv], cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
            env={**clean_env(), "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    # The first fill unpacks the wheels (verifying RECORD needs installer's parser).
    fill_in_process("[g]\nplain = '>=1'\n", "first")
    assert "loaded: []" in fill_in_process("[g]\nplain = '>=1'\n", "second")
    site = next((tmp_path / "second" / "lib").glob("python3.*")) / "site-packages"
    assert (site / "plain-1.0.dist-info" / "RECORD").read_text().count("\n") == 6
    assert run(tmp_path / "second" / "bin" / "python", "-c",
               "import plain_mod, leaf_mod").returncode == 0
    demo_wheel(wheels, "demo", "1.0")
    assert "loaded: ['email', 'installer']" in fill_in_process(
        "[g]\nplain = '>=1'\ndemo = '>=1'\n", "third")
    assert (tmp_path / "third" / "bin" / "demo").exists()


def test_pre_ranks_pre_releases_with_final_releases(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "demo", "2.0b1")
    manifest = "[g]\ndemo = '>=1'\n"
    final = fill(tmp_path, manifest, "--venv", "final")
    assert final.returncode == 0, final.stderr
    assert run(tmp_path / "final" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]
    pre = fill(tmp_path, manifest, "--venv", "pre", "--pre")
    assert pre.returncode == 0, pre.stderr
    assert run(tmp_path / "pre" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0b1"]
    again = fill(tmp_path, manifest, "--venv", "pre", "--pre")
    assert again.returncode == 0 and unchanged(again.stdout)
