"""sdists in the wheel directories are built (PEP 517, pyproject-hooks) when no wheel
will do, in a build venv filled offline from the base and the wheelhouse."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import DEBIAN_PYTHON, require_python, run_cli
from indexserver import IndexConfig, serve
from test_e2e import demo_wheel, run
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e

# A complete, tiny PEP 517 backend, shipped to the tests as a wheel ("tinyback"; also
# benchmarks/scenarios.py's).  It packs the source tree's package directory into a
# wheel with [project]'s metadata, asks for the
# requirements listed in TINY_EXTRA (tool.tiny.extra), logs each build to
# $TINY_LOG, and fails on purpose when the project says so.
BACKEND = '''
import base64, hashlib, os, zipfile
try:
    import tomllib
except ImportError:
    import tomli as tomllib

def _project():
    with open("pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    return data["project"], data.get("tool", {}).get("tiny", {})

def get_requires_for_build_wheel(config_settings=None):
    return list(_project()[1].get("extra", []))

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project, tiny = _project()
    if tiny.get("fail"):
        print("tinyback: this project cannot be built")
        raise SystemExit(3)
    name, version = project["name"], project["version"]
    log = os.environ.get("TINY_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{name} {version}\\n")
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {}
    for root, _, names in os.walk(dist):
        for n in names:
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                files[path.replace(os.sep, "/")] = f.read()
    meta = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    if project.get("requires-python"):
        meta += f"Requires-Python: {project['requires-python']}\\n"
    meta += "".join(f"Requires-Dist: {r}\\n" for r in project.get("dependencies", []))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        meta += f"Provides-Extra: {extra}\\n"
        meta += "".join(f"Requires-Dist: {r} ; extra == '{extra}'\\n" for r in reqs)
    files[f"{info}/METADATA"] = meta.encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\\nGenerator: tinyback\\n"
                              b"Root-Is-Purelib: true\\nTag: py3-none-any\\n")
    scripts = project.get("scripts", {})
    if scripts:
        files[f"{info}/entry_points.txt"] = ("[console_scripts]\\n" + "".join(
            f"{k} = {v}\\n" for k, v in scripts.items())).encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return filename
'''


def backend_wheel(wheels: Path) -> Path:
    return build_wheel(wheels, "tinyback", "1.0",
                       extra_files={"tinyback/__init__.py": BACKEND.encode()})


def sdist(wheels: Path, name: str, version: str, *, pyproject: str | None = None,
          files: dict[str, str] | None = None, extra_members: tuple[str, ...] = ()) -> Path:
    """``name-version.tar.gz`` with one package whose main() prints its name."""
    wheels.mkdir(parents=True, exist_ok=True)
    top = f"{name}-{version}"
    mod = name.replace("-", "_")
    content = {f"{mod}/__init__.py":
               f"def main():\n    print({name!r}, {version!r}, 'built')\n"}
    if pyproject is None:
        pyproject = (f'[build-system]\nrequires = ["tinyback"]\nbuild-backend = "tinyback"\n'
                     f'[project]\nname = "{name}"\nversion = "{version}"\n'
                     f'[project.scripts]\n{name} = "{mod}:main"\n')
    if pyproject:
        content["pyproject.toml"] = pyproject
    content.update(files or {})
    path = wheels / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, text in [*content.items(), *((m, "x") for m in extra_members)]:
            data = text.encode()
            info = tarfile.TarInfo(member if member.startswith("..") else f"{top}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def fill(tmp_path: Path, manifest: str, *args: str, python: str | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deps.toml").write_text(manifest)
    return run_cli("--manifest", "deps.toml", "--python", python or require_python("3.11"),
                   *args, cwd=tmp_path, env=env)


def test_an_sdist_is_built_offline_and_the_wheel_is_cached(tmp_path: Path,
                                                           wheels: Path) -> None:
    backend_wheel(wheels)
    sdist(wheels, "demo", "1.0")
    log = tmp_path / "builds.log"
    env = {"TINY_LOG": str(log)}
    proc = fill(tmp_path, "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\n", "--json",
                env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["actions"]["installed"] == ["demo"]
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split() == ["demo", "1.0", "built"]
    # The build backend went into a throwaway build venv, not into ours.
    assert not list((tmp_path / ".venv").glob("lib/python*/site-packages/tinyback*"))
    assert log.read_text() == "demo 1.0\n"
    # Another venv: the built wheel comes from the cache, nothing is built again.
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--venv", "second", env=env)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == "demo 1.0\n"
    assert run(tmp_path / "second" / "bin" / "demo").returncode == 0


def test_a_wheel_of_the_same_version_is_preferred_and_nothing_is_built(
        tmp_path: Path, wheels: Path) -> None:
    sdist(wheels, "demo", "1.0")  # no backend anywhere: building would fail
    demo_wheel(wheels, "demo", "1.0")
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 0, proc.stderr


def test_build_requirements_from_get_requires_are_filled_too(tmp_path: Path,
                                                             wheels: Path) -> None:
    backend_wheel(wheels)
    pyproject = ('[build-system]\nrequires = ["tinyback"]\nbuild-backend = "tinyback"\n'
                 '[project]\nname = "demo"\nversion = "1.0"\n'
                 '[tool.tiny]\nextra = ["helperbuild>=2"]\n')
    sdist(wheels, "demo", "1.0", pyproject=pyproject)
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 4, proc.stderr
    assert "helperbuild>=2" in proc.stderr and "demo-1.0.tar.gz" in proc.stderr
    demo_wheel(wheels, "helperbuild", "2.0")
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 0, proc.stderr


def test_a_missing_build_requirement_is_named_with_the_fix(tmp_path: Path,
                                                           wheels: Path) -> None:
    sdist(wheels, "demo", "1.0")
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 4, proc.stderr
    assert "cannot build demo-1.0.tar.gz" in proc.stderr
    assert "Put a wheel of tinyback into" in proc.stderr and "--online" in proc.stderr
    assert not (tmp_path / ".venv").exists() and "Traceback" not in proc.stderr


def test_no_build_system_means_setuptools_legacy(tmp_path: Path, wheels: Path) -> None:
    # pyenv's 3.12 has no setuptools: the legacy backend's requirement is missing.
    sdist(wheels, "demo", "1.0", pyproject="", files={"setup.py": "raise SystemExit(1)\n"})
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", python=require_python("3.12"))
    assert proc.returncode == 4, proc.stderr
    assert "setuptools>=40.8.0" in proc.stderr and "wheels/" in proc.stderr


@pytest.mark.distro
def test_legacy_setup_py_builds_with_the_distros_setuptools(tmp_path: Path,
                                                            wheels: Path) -> None:
    if not os.path.exists(DEBIAN_PYTHON) or run(
            DEBIAN_PYTHON, "-c", "import setuptools, wheel").returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("CI must install python3-setuptools and python3-wheel")
        pytest.skip("Debian's python3 with setuptools and wheel is not available")
    setup = ("from setuptools import setup\n"
             "setup(name='demo', version='1.0', packages=['demo'],\n"
             "      entry_points={'console_scripts': ['demo = demo:main']})\n")
    sdist(wheels, "demo", "1.0", pyproject="", files={"setup.py": setup})
    proc = fill(tmp_path, "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\n",
                python=DEBIAN_PYTHON)
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split() == ["demo", "1.0", "built"]


def test_a_failing_build_shows_the_backend_output(tmp_path: Path, wheels: Path) -> None:
    backend_wheel(wheels)
    pyproject = ('[build-system]\nrequires = ["tinyback"]\nbuild-backend = "tinyback"\n'
                 '[project]\nname = "demo"\nversion = "1.0"\n[tool.tiny]\nfail = true\n')
    sdist(wheels, "demo", "1.0", pyproject=pyproject)
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 10, proc.stderr
    assert "this project cannot be built" in proc.stderr and "demo-1.0.tar.gz" in proc.stderr
    assert not (tmp_path / ".venv").exists() and "Traceback" not in proc.stderr


def test_an_sdist_escaping_its_directory_is_refused(tmp_path: Path, wheels: Path) -> None:
    backend_wheel(wheels)
    sdist(wheels, "demo", "1.0", extra_members=("../evil.txt",))
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n")
    assert proc.returncode == 10 and "outside the build directory" in proc.stderr
    assert not (tmp_path / "evil.txt").exists() and not (wheels.parent / "evil.txt").exists()


def test_a_dry_run_builds_but_writes_nothing_to_the_cache(tmp_path: Path,
                                                          wheels: Path) -> None:
    backend_wheel(wheels)
    sdist(wheels, "demo", "1.0")
    cache = tmp_path / "cache"
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--dry-run", "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout
    assert not (cache / "built").exists() and not (tmp_path / ".venv").exists()


def test_an_index_sdist_is_downloaded_checked_and_built_online(tmp_path: Path,
                                                              own_cache: Path) -> None:
    remote = tmp_path / "remote"
    backend_wheel(remote)  # the build backend comes from the index as well
    sdist(remote, "demo", "1.0")
    config = IndexConfig(remote)
    with serve(config) as url:
        dry = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--online", "--index-url", url,
                   "--dry-run", "--cache-dir", str(tmp_path / "cache"))
        assert dry.returncode == 0, dry.stderr
        assert not (tmp_path / "cache" / "downloads").exists()
        proc = fill(tmp_path, "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\n",
                    "--online", "--index-url", url)
    assert proc.returncode == 0, proc.stderr
    assert "/files/demo-1.0.tar.gz" in config.log
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split() == ["demo", "1.0", "built"]
    assert not list((tmp_path / ".venv").glob("lib/python*/site-packages/tinyback*"))
    # cache gc: the built wheel stays while the venv uses it; downloads nobody uses
    # (the sdist, the build venv's backend) go; once the venv is gone, all of it.
    def listing(kind: str) -> list[str]:
        return sorted(p.name for p in (own_cache / kind).iterdir())

    assert len(listing("built")) == 1 and len(listing("downloads")) == 2
    gc = run_cli("cache", "gc", cwd=tmp_path)
    assert gc.returncode == 0, gc.stderr
    assert len(listing("built")) == 1 and listing("downloads") == []
    shutil.rmtree(tmp_path / ".venv")
    assert run_cli("cache", "gc", cwd=tmp_path).returncode == 0
    assert listing("built") == [] and listing("unpacked") == [] and listing("metadata") == []


def test_a_version_whose_wheels_do_not_fit_is_built_from_its_sdist(
        tmp_path: Path, wheels: Path) -> None:
    # demo 1.0 has a wheel, but for Windows: pip and uv build the sdist of 1.0.
    backend_wheel(wheels)
    demo_wheel(wheels, "demo", "1.0", tag="cp311-cp311-win_amd64")
    sdist(wheels, "demo", "1.0")
    proc = fill(tmp_path, "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\n")
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split() == ["demo", "1.0", "built"]


@pytest.mark.parametrize(("args", "entry", "why"), [
    (["--no-build"], "", "--no-build"),
    (["--only-binary", "demo"], "", "--only-binary"),
    (["--only-binary", ":all:"], "", "--only-binary"),
    ([], ", only-binary = true", "the manifest's only-binary"),
])
def test_the_build_policy_passes_sdists_over_and_says_so(
        tmp_path: Path, wheels: Path, args: list[str], entry: str, why: str) -> None:
    backend_wheel(wheels)
    demo_wheel(wheels, "demo", "1.0", tag="cp311-cp311-win_amd64")
    sdist(wheels, "demo", "1.0")
    log = tmp_path / "builds.log"
    proc = fill(tmp_path, f"[g]\ndemo = {{ accepted = '>=1'{entry} }}\n", *args,
                env={"TINY_LOG": str(log)})
    assert proc.returncode == 4, proc.stderr
    assert f"passed over: demo-1.0.tar.gz is not built ({why})" in proc.stderr
    assert "demo-1.0-cp311-cp311-win_amd64.whl is not for this target" in proc.stderr
    assert not log.exists() and not (tmp_path / ".venv").exists()


@pytest.mark.parametrize(("args", "entry"), [
    (["--no-binary", "demo"], ""), (["--no-binary", ":all:", "--only-binary", "tinyback"], ""),
    ([], ", no-binary = true")])
def test_no_binary_builds_the_sdist_though_a_wheel_fits(
        tmp_path: Path, wheels: Path, args: list[str], entry: str) -> None:
    backend_wheel(wheels)
    demo_wheel(wheels, "demo", "1.0")
    sdist(wheels, "demo", "1.0")
    proc = fill(tmp_path, f"[g]\ndemo = {{ accepted = '>=1', canary = 'demo'{entry} }}\n",
                *args)
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split() == ["demo", "1.0", "built"]


def test_a_package_both_never_built_and_never_from_wheels_is_refused(
        tmp_path: Path, wheels: Path) -> None:
    proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--no-binary", "demo", "--only-binary", "Demo")
    assert proc.returncode == 2, proc.stderr
    assert "demo given to both --no-binary and --only-binary" in proc.stderr
    proc = fill(tmp_path, "[g]\ndemo = { accepted = '>=1', no-binary = true, "
                "only-binary = true }\n")
    assert proc.returncode == 2, proc.stderr
    assert "'no-binary' and 'only-binary' cannot both be true" in proc.stderr


def test_no_build_downloads_no_sdist_from_the_index(tmp_path: Path, own_cache: Path) -> None:
    remote = tmp_path / "remote"
    backend_wheel(remote)
    sdist(remote, "demo", "1.0")
    config = IndexConfig(remote)
    with serve(config) as url:
        proc = fill(tmp_path, "[g]\ndemo = '>=1'\n", "--online", "--index-url", url,
                    "--no-build")
    assert proc.returncode == 4, proc.stderr
    assert "passed over: demo-1.0.tar.gz is not built (--no-build)" in proc.stderr
    assert not any("/files/" in line for line in config.log)  # nothing downloaded
