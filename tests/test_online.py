"""--online: an index on loopback (HTML and JSON), yanked files, hashes, metadata
files, failures; and that nothing is fetched without --online."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from conftest import ROOT, require_python, run_cli
from indexserver import IndexConfig, serve
from test_e2e import demo_wheel, run

pytestmark = pytest.mark.e2e

DEMO = "[g]\ndemo = { accepted = '>=1', canary = 'demo' }\n"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """Wheels only the index has: demo 1.0 and 2.0 (2.0 needs helper)."""
    d = tmp_path / "remote"
    demo_wheel(d, "demo", "1.0")
    demo_wheel(d, "demo", "2.0", requires=["helper>=1"])
    demo_wheel(d, "helper", "1.0")
    return d


def online(tmp_path: Path, manifest: str, url: str, *args: str,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deps.toml").write_text(manifest)
    return run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                   "--online", "--index-url", url, *args, cwd=tmp_path, env=env)


def downloads(log: list[str]) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in log
                  if p.startswith("/files/") and p.endswith(".whl"))


@pytest.mark.parametrize("html_only", [False, True], ids=["json", "html"])
def test_fills_missing_packages_from_the_index(tmp_path: Path, remote: Path,
                                               html_only: bool) -> None:
    config = IndexConfig(remote, html_only=html_only)
    with serve(config) as url:
        proc = online(tmp_path, DEMO, url)
    assert proc.returncode == 0, proc.stderr
    assert "2 wheels from the index" in proc.stdout
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    # Metadata came from .metadata files; only the chosen wheels were downloaded.
    assert downloads(config.log) == ["demo-2.0-py3-none-any.whl",
                                     "helper-1.0-py3-none-any.whl"]
    assert "/files/demo-2.0-py3-none-any.whl.metadata" in config.log
    # The downloads are kept by hash: a second venv needs no index at all.
    again = tmp_path / "again"
    again.mkdir()
    proc = online(again, DEMO, "http://127.0.0.1:9/simple/")  # nothing listens there
    assert proc.returncode == 0, proc.stderr
    assert run(again / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]


def test_without_metadata_files_the_wheel_is_read(tmp_path: Path, remote: Path) -> None:
    config = IndexConfig(remote, metadata=False)
    with serve(config) as url:
        proc = online(tmp_path, DEMO, url)
    assert proc.returncode == 0, proc.stderr
    assert not any(p.endswith(".metadata") for p in config.log)


def test_system_and_local_wheels_come_first(tmp_path: Path, remote: Path,
                                            wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    config = IndexConfig(remote)
    with serve(config) as url:
        proc = online(tmp_path, DEMO + "pip = '>=19'\n", url)
    assert proc.returncode == 0, proc.stderr
    assert config.log == []  # demo from ./wheels, pip from the base: nothing asked
    assert "0 wheels from the index" in proc.stdout


def test_nothing_is_fetched_without_online(tmp_path: Path, remote: Path) -> None:
    config = IndexConfig(remote)
    with serve(config) as url:
        (tmp_path / "deps.toml").write_text(DEMO)
        proc = run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                       cwd=tmp_path, env={"VENVFILL_INDEX_URL": url})
        refused = run_cli("--manifest", "deps.toml", "--index-url", url, cwd=tmp_path)
    assert proc.returncode == 4
    assert "--online" in proc.stderr and "demo" in proc.stderr
    assert refused.returncode == 2 and "need --online" in refused.stderr
    assert config.log == []
    assert not (tmp_path / ".venv").exists()


def test_yanked_only_when_pinned(tmp_path: Path, remote: Path) -> None:
    config = IndexConfig(remote, yanked={"demo-2.0-py3-none-any.whl"})
    with serve(config) as url:
        proc = online(tmp_path, DEMO, url)
        assert proc.returncode == 0, proc.stderr
        assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[1] == "1.0"
        pinned = online(tmp_path, "[g]\ndemo = { accepted = '>=1', installed = '2.0' }\n",
                        url)
    assert pinned.returncode == 0, pinned.stderr
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[1] == "2.0"


def test_a_yanked_version_pinned_at_the_root_serves_every_requirement_on_it(
        tmp_path: Path, remote: Path) -> None:
    # PEP 592: the root's == selects the yanked helper 2.0; demo 2.0's "helper>=1"
    # is then met by it, as pip and uv have it.  Without the pin it is named yanked,
    # though the earlier run downloaded it into the cache.
    demo_wheel(remote, "helper", "2.0")
    config = IndexConfig(remote, yanked={"helper-2.0-py3-none-any.whl"})
    manifest = DEMO.replace("'>=1',", "'>=2',") + "helper = 'SPEC'\n"
    with serve(config) as url:
        proc = online(tmp_path, manifest.replace("SPEC", "==2.0"), url)
        assert proc.returncode == 0, proc.stderr
        refused = online(tmp_path, manifest.replace("SPEC", ">=2"), url, "--venv", "other")
    site = next((tmp_path / ".venv" / "lib").glob("python*/site-packages"))
    assert [p.name for p in site.glob("helper-*.dist-info")] == ["helper-2.0.dist-info"]
    assert refused.returncode == 4, refused.stderr
    assert ("passed over: helper-2.0-py3-none-any.whl is yanked from the index (broken); "
            "a yanked file is taken only when pinned with ==") in refused.stderr


def test_wrong_hash_is_refused_and_nothing_installed(tmp_path: Path, remote: Path) -> None:
    config = IndexConfig(remote, wrong_hash={"helper-1.0-py3-none-any.whl"})
    with serve(config) as url:
        proc = online(tmp_path, DEMO, url)
    assert proc.returncode == 9, proc.stderr
    assert "helper-1.0-py3-none-any.whl does not match the sha256" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_server_errors_and_timeouts_name_the_url(tmp_path: Path, remote: Path) -> None:
    config = IndexConfig(remote, failing={"/simple/demo"})
    with serve(config) as url:
        proc = online(tmp_path, DEMO, url)
    assert proc.returncode == 9
    assert f"{url}demo/: HTTP 500" in proc.stderr
    slow = IndexConfig(remote, slow={"/simple/demo"})
    with serve(slow) as url:
        proc = online(tmp_path, DEMO, url, env={"VENVFILL_TIMEOUT": "1"})
    assert proc.returncode == 9
    assert "no answer within 1 s" in proc.stderr
    proc = online(tmp_path, DEMO, "http://no-such-host.invalid/simple/")
    assert proc.returncode == 9
    assert "no-such-host.invalid" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.network
def test_fill_from_the_real_pypi(tmp_path: Path) -> None:
    proc = online(tmp_path, "[g]\nsix = { accepted = '==1.16.0' }\n",
                  "https://pypi.org/simple/")
    assert proc.returncode == 0, proc.stderr
    check = run(tmp_path / ".venv" / "bin" / "python", "-c", "import six; print(six.__version__)")
    assert check.stdout.strip() == "1.16.0"



def test_vendor_then_fill_with_no_network(tmp_path: Path, remote: Path) -> None:
    """Issue 5's "done when": vendor on a connected machine, fill in a sealed one."""
    unshare = shutil.which("unshare")
    if not unshare or subprocess.run([unshare, "-n", "true"], capture_output=True,
                                     check=False).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("CI must be able to run 'unshare -n'")
        pytest.skip("unshare -n is not available here")
    dest = tmp_path / "vendored"
    config = IndexConfig(remote)
    with serve(config) as url:
        # The sealed machine's base is not this one's: pip, which this base has and
        # the index lacks, cannot be vendored.
        (tmp_path / "deps.toml").write_text(DEMO + "pip = '>=19'\n")
        proc = run_cli("vendor", "--manifest", "deps.toml", "--dest", str(dest),
                       "--python", require_python("3.11"), "--index-url", url, cwd=tmp_path)
        assert proc.returncode == 4 and "no wheel of pip" in proc.stderr
        (tmp_path / "deps.toml").write_text(DEMO)
        proc = run_cli("vendor", "--manifest", "deps.toml", "--dest", str(dest),
                       "--python", require_python("3.11"), "--index-url", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "holds 2 wheels of 2 packages" in proc.stdout
    names = sorted(p.name for p in dest.glob("*.whl"))
    assert names == ["demo-2.0-py3-none-any.whl", "helper-1.0-py3-none-any.whl"]
    lock = tomllib.loads((dest / "pylock.toml").read_text())
    assert lock["lock-version"] == "1.0" and lock["created-by"].startswith("venvfill")
    for package in lock["packages"]:
        (wheel,) = package["wheels"]
        data = (dest / wheel["path"]).read_bytes()
        assert wheel["size"] == len(data)
        assert wheel["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    sealed = tmp_path / "sealed"
    sealed.mkdir()
    shutil.copytree(dest, sealed / "wheels")
    (sealed / "deps.toml").write_text(DEMO)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [unshare, "-n", sys.executable, "-m", "resolver", "--manifest", "deps.toml",
         "--python", require_python("3.11"), "--offline"],
        cwd=sealed, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert run(sealed / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    # ... and by the lock, into another venv: exactly the locked wheels, checked.
    proc = subprocess.run(
        [unshare, "-n", sys.executable, "-m", "resolver", "--lock", "wheels/pylock.toml",
         "--venv", "locked", "--python", require_python("3.11"), "--json"],
        cwd=sealed, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["actions"]["installed"]) == ["demo", "helper"]
    assert run(sealed / "locked" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]


def test_hash_pins_hold_for_index_wheels(tmp_path: Path, remote: Path) -> None:
    good = hashlib.sha256((remote / "helper-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    pinned = f"[g]\nhelper = {{ accepted = '>=1', hashes = ['sha256:{good}'] }}\n"
    wrong = pinned.replace(good, "0" * 64)
    config = IndexConfig(remote)
    with serve(config) as url:
        dry = online(tmp_path, pinned, url, "--dry-run")  # checked before any download
        assert dry.returncode == 0, dry.stderr
        assert downloads(config.log) == []
        bad = online(tmp_path, wrong, url)
        assert bad.returncode == 8 and good in bad.stderr
        assert downloads(config.log) == [] and not (tmp_path / ".venv").exists()
        proc = online(tmp_path, pinned, url)
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "python", "-c", "import helper_mod").returncode == 0


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """A plain static file server on loopback (what a fleet would put in front of DIR)."""
    handler = functools.partial(_QuietStatic, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietStatic(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_vendor_for_a_described_machine_and_serve_the_result(tmp_path: Path) -> None:
    """--platform/--python-version for a machine we cannot run; --index for a fleet."""
    remote = tmp_path / "remote"
    demo_wheel(remote, "demo", "1.0", requires=["native",
                                                "armonly; platform_machine == 'aarch64'"])
    demo_wheel(remote, "demo", "2.0", requires=["native"], requires_python=">=3.10")
    for tag in ("py3-none-any", "cp39-cp39-manylinux_2_17_aarch64", "cp39-cp39-win_amd64"):
        demo_wheel(remote, "native", "1.0", tag=tag)
    demo_wheel(remote, "armonly", "1.0")
    dest = tmp_path / "vendored"
    with serve(IndexConfig(remote)) as url:
        args = ("vendor", "--manifest", "deps.toml", "--dest", str(dest), "--index-url", url)
        (tmp_path / "deps.toml").write_text(DEMO)
        bad = run_cli(*args, "--platform", "solaris", cwd=tmp_path)
        assert bad.returncode == 2 and "--platform solaris" in bad.stderr
        bad = run_cli(*args, "--implementation", "pp", cwd=tmp_path)
        assert bad.returncode == 2 and "CPython only" in bad.stderr
        proc = run_cli(*args, "--platform", "manylinux_2_28_aarch64", "--python-version",
                       "3.9", "--implementation", "cp", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in dest.glob("*.whl")) == [
            "armonly-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl",
            "native-1.0-cp39-cp39-manylinux_2_17_aarch64.whl"]
        # Another directory for both that machine and this one's 3.11, with an index
        # (and a fresh cache: earlier downloads would be taken first).
        dest = tmp_path / "both"
        proc = run_cli(*args[:-4], "--dest", str(dest), "--index-url", url, "--platform",
                       "manylinux_2_28_aarch64", "--cache-dir", str(tmp_path / "cache2"),
                       "--python-version", "3.9",
                       "--python", require_python("3.11"), "--index", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    lock = tomllib.loads((dest / "pylock.toml").read_text())
    assert len(lock["environments"]) == 2
    by_name = {p["name"]: p for p in lock["packages"] if p["name"] != "demo"}
    assert "aarch64" in by_name["armonly"]["marker"]
    # A wheel already in DIR is reused for every target it fits (no second download).
    assert [w["name"] for w in by_name["native"]["wheels"]] == ["native-1.0-py3-none-any.whl"]
    assert sorted(w["name"] for p in lock["packages"] if p["name"] == "demo"
                  for w in p["wheels"]) == ["demo-1.0-py3-none-any.whl",
                                            "demo-2.0-py3-none-any.whl"]
    assert "win_amd64" not in (dest / "simple" / "native" / "index.html").read_text()
    assert 'data-requires-python="&gt;=3.10"' in (
        dest / "simple" / "demo" / "index.html").read_text()
    # Any static server makes the directory an index; and the lock installs offline.
    with static_server(dest) as root:
        proc = online(tmp_path, DEMO, root + "/simple/", "--cache-dir",
                      str(tmp_path / "cache3"))
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / ".venv" / "bin" / "demo").stdout.split()[:2] == ["demo", "2.0"]
    proc = run_cli("--lock", str(dest / "pylock.toml"), "--venv", "bylock", "--python",
                   require_python("3.11"), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["actions"]["installed"]) == ["demo", "native"]
