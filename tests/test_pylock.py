"""``--lock pylock.toml``: PEP 751's installer rules, through the CLI into real venvs."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from conftest import require_python, run_cli, unchanged
from indexserver import IndexConfig, serve
from test_e2e import demo_wheel, run
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e

BASE = "3.11"


def wheel_table(lock_dir: Path, wheel: Path, *, size: int | None = None,
                sha256: str | None = None, url: str | None = None) -> str:
    data = wheel.read_bytes()
    where = f'url = "{url}"' if url else f'path = "{wheel.relative_to(lock_dir)}"'
    return (f'[[packages.wheels]]\nname = "{wheel.name}"\n{where}\n'
            f"size = {len(data) if size is None else size}\n"
            f'hashes = {{ sha256 = "{sha256 or hashlib.sha256(data).hexdigest()}" }}\n')


def package(name: str, version: str, *wheels: str, marker: str | None = None) -> str:
    text = f'\n[[packages]]\nname = "{name}"\nversion = "{version}"\n'
    if marker:
        text += f"marker = {json.dumps(marker)}\n"
    return text + "".join(wheels)


def write_lock(path: Path, *packages: str, header: str = "") -> Path:
    path.write_text('lock-version = "1.0"\ncreated-by = "test"\n' + header
                    + "".join(packages))
    return path


def install(tmp_path: Path, lock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--lock", str(lock), "--python", require_python(BASE), *args,
                   cwd=tmp_path)


def base_version(name: str) -> str:
    proc = run(require_python(BASE), "-c",
               f"import importlib.metadata as m; print(m.version({name!r}))")
    return proc.stdout.strip()


def test_installs_the_locked_set_and_keeps_what_the_base_has(tmp_path: Path) -> None:
    d = tmp_path / "locked"
    demo = demo_wheel(d, "demo", "2.0", requires=["helper>=1"])
    helper = demo_wheel(d, "helper", "1.0")
    pip_version = base_version("pip")
    # A "pip" wheel at the base's own version: never opened, the base's copy is kept.
    fake_pip = build_wheel(d, "pip", pip_version)
    lock = write_lock(d / "pylock.toml",
                      package("demo", "2.0", wheel_table(d, demo)),
                      package("helper", "1.0", wheel_table(d, helper)),
                      package("pip", pip_version, wheel_table(d, fake_pip)))
    proc = install(tmp_path, lock, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(report["actions"]["installed"]) == ["demo", "helper"]
    assert report["actions"]["kept"] == ["pip"]
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    assert not list((tmp_path / ".venv").glob("lib/python*/site-packages/pip*"))
    # The base's pip script is bound to the venv, as for a manifest.
    assert (tmp_path / ".venv" / "bin" / "pip").exists()
    again = install(tmp_path, lock)
    assert again.returncode == 0 and unchanged(again.stdout)
    # A changed lock is a changed run: the fingerprint covers its bytes.
    write_lock(lock, package("demo", "2.0", wheel_table(d, demo)),
               package("helper", "1.0", wheel_table(d, helper)))
    changed = install(tmp_path, lock)
    assert changed.returncode == 0 and "up to date" not in changed.stdout


def test_a_different_base_version_is_shadowed_by_the_locked_wheel(tmp_path: Path) -> None:
    d = tmp_path / "locked"
    fake_pip = build_wheel(d, "pip", "1.0")
    lock = write_lock(d / "pylock.toml", package("pip", "1.0", wheel_table(d, fake_pip)))
    proc = install(tmp_path, lock, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["actions"]["installed"] == ["pip"]
    python = tmp_path / ".venv" / "bin" / "python"
    out = run(python, "-c", "import importlib.metadata as m; print(m.version('pip'))")
    assert out.stdout.strip() == "1.0"


@pytest.mark.parametrize("damage", ["size", "hash"])
def test_size_and_hash_are_checked_before_anything_is_written(tmp_path: Path,
                                                              damage: str) -> None:
    d = tmp_path / "locked"
    demo = demo_wheel(d, "demo", "1.0")
    table = (wheel_table(d, demo, size=1) if damage == "size"
             else wheel_table(d, demo, sha256="ab" * 32))
    lock = write_lock(d / "pylock.toml", package("demo", "1.0", table))
    proc = install(tmp_path, lock)
    assert proc.returncode == 8, proc.stderr
    assert str(demo) in proc.stderr and "Nothing was installed" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_markers_tags_and_groups_choose_what_is_installed(tmp_path: Path) -> None:
    d = tmp_path / "locked"
    demo = demo_wheel(d, "demo", "1.0")
    alien = demo_wheel(d, "demo", "1.0", tag="cp27-cp27m-win32")
    old = demo_wheel(d, "oldonly", "1.0")
    docs = demo_wheel(d, "docsonly", "1.0")
    lock = write_lock(
        d / "pylock.toml",
        package("demo", "1.0", wheel_table(d, alien), wheel_table(d, demo)),
        package("oldonly", "1.0", wheel_table(d, old), marker="python_version < '3'"),
        package("docsonly", "1.0", wheel_table(d, docs),
                marker="'docs' in dependency_groups"),
        header='dependency-groups = ["docs"]\ndefault-groups = []\n')
    proc = install(tmp_path, lock, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["actions"]["installed"] == ["demo"]
    record = next((tmp_path / ".venv").glob("lib/python*/site-packages/demo-1.0.dist-info"))
    assert (record / "WHEEL").read_text().count("py3-none-any") == 1
    proc = install(tmp_path, lock, "--json", "--group", "docs")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["actions"]["installed"] == ["docsonly"]


@pytest.mark.parametrize(("header", "expected"), [
    ('requires-python = ">=3.99"\n', "does not satisfy the Python version"),
    ("environments = [\"sys_platform == 'win32'\"]\n", "environments"),
])
def test_a_lock_for_another_environment_is_refused(tmp_path: Path, header: str,
                                                   expected: str) -> None:
    d = tmp_path / "locked"
    demo = demo_wheel(d, "demo", "1.0")
    lock = write_lock(d / "pylock.toml", package("demo", "1.0", wheel_table(d, demo)),
                      header=header)
    proc = install(tmp_path, lock)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and str(lock) in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / ".venv").exists()


@pytest.mark.parametrize(("text", "name", "expected"), [
    ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', "pylock.toml",
     "lock-version 2.0"),
    ('lock-version = "1.0"\npackages = []\n', "pylock.toml", "created-by"),
    ('lock-version = "1.0"\ncreated-by = "x"\npackages = [\n', "pylock.toml",
     "not valid TOML"),
    ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n', "deps.lock",
     "must be named pylock.toml"),
])
def test_bad_lock_files_are_refused_clearly(tmp_path: Path, text: str, name: str,
                                            expected: str) -> None:
    lock = tmp_path / name
    lock.write_text(text)
    proc = install(tmp_path, lock)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and name in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / ".venv").exists()


def test_only_an_sdist_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "locked"
    d.mkdir()
    (d / "demo-1.0.tar.gz").write_bytes(b"not really")
    lock = write_lock(d / "pylock.toml", '\n[[packages]]\nname = "demo"\nversion = "1.0"\n'
                      '[packages.sdist]\nname = "demo-1.0.tar.gz"\npath = "demo-1.0.tar.gz"\n'
                      f'hashes = {{ sha256 = "{"0" * 64}" }}\n')
    proc = install(tmp_path, lock)
    assert proc.returncode == 2 and "sdist" in proc.stderr and "demo" in proc.stderr
    demo = demo_wheel(tmp_path / "elsewhere", "demo", "1.0")
    table = wheel_table(tmp_path / "elsewhere", demo)
    write_lock(lock, package("demo", "1.0", table))
    proc = install(tmp_path, lock)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_url_wheels_need_online_and_are_hash_checked(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    demo = demo_wheel(remote, "demo", "1.0")
    config = IndexConfig(remote)
    d = tmp_path / "locked"
    d.mkdir()
    with serve(config) as url:
        files = url.replace("/simple/", "/files/")
        lock = write_lock(d / "pylock.toml",
                          package("demo", "1.0", wheel_table(remote, demo,
                                                             url=files + demo.name)))
        offline = install(tmp_path, lock)
        assert offline.returncode == 4 and "--online" in offline.stderr
        assert config.log == []
        write_lock(lock, package("demo", "1.0", wheel_table(
            remote, demo, url=files + demo.name, sha256="0" * 64)))
        bad = install(tmp_path, lock, "--online")
        assert bad.returncode == 9 and "sha256" in bad.stderr
        assert not (tmp_path / ".venv").exists()
        write_lock(lock, package("demo", "1.0", wheel_table(remote, demo,
                                                            url=files + demo.name)))
        proc = install(tmp_path, lock, "--online")
    assert proc.returncode == 0, proc.stderr
    assert config.log.count("/files/" + demo.name) == 2  # the bad try and this one
    assert run(tmp_path / ".venv" / "bin" / "demo").returncode == 0
