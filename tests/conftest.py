from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCELERATED = os.environ.get("VENVFILL_SPEED", "") != "plain"
"""Whether this run of the suite fills with the speed-ups (resolver/cli/speed.py)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under VENVFILL_SPEED=plain, skip the tests of the speed-ups themselves."""
    if ACCELERATED:
        return
    skip = pytest.mark.skip(reason="tests a speed-up; this run fills plainly")
    for item in items:
        if item.get_closest_marker("accelerated"):
            item.add_marker(skip)


def unchanged(report: str) -> bool:
    """Whether a fill's text report says it changed nothing.

    Accelerated, an unchanged rerun is answered by the fingerprint ("is up to
    date"); plainly, by a full fill that reuses the venv and keeps every package.
    """
    if ACCELERATED:
        return "is up to date" in report
    first, *rest = report.splitlines()
    return (" reused " in first and "repaired" not in report and "scripts " not in report
            and all(line.split()[-1] == "kept" for line in rest
                    if line.startswith("  ") and not line.startswith("  (")
                    and not line.lstrip().startswith(("warning:", "ignored:"))))


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Fail any test that opens an internet socket in this process.

    Subprocesses (the probe, the builder, the CLI in e2e tests) are covered by
    CI's run of an end-to-end fill inside ``unshare -n``.
    """
    if request.node.get_closest_marker("network"):
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed(f"network access attempted: {args!r}")

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test gets its own empty wheel cache, never the user's."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("VENVFILL_CACHE_DIR", str(path))
    return path


def find_python(version: str) -> str | None:
    """A CPython X.Y from pyenv (or PATH), or None."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if root.is_dir():
        for d in sorted(root.glob(f"{version}.*"), reverse=True):
            exe = d / "bin" / f"python{version}"
            if exe.exists():
                return str(exe)
    found = shutil.which(f"python{version}")
    return found


def require_python(version: str) -> str:
    exe = find_python(version)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Python {version} (pyenv)")
        pytest.skip(f"Python {version} not available")
    return exe


DEBIAN_PYTHON = "/usr/bin/python3"


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    return d


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run ``python -m resolver`` as a user would, capturing output."""
    full_env = dict(os.environ)
    full_env.pop("VENVFILL_DEBUG", None)
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run([python, "-m", "resolver", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[object]:
    def call(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    yield call
