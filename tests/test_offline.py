"""Offline is the default, and there is no code path that opens a connection."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, NetworkUsed, require_python
from resolver.cli import main
from wheelfactory import build_wheel, default_script


def test_guard_refuses_internet_sockets() -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkUsed):
            s.connect(("127.0.0.1", 9))
    finally:
        s.close()


@pytest.mark.e2e
def test_whole_fill_in_process_opens_no_socket(tmp_path: Path, wheels: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    build_wheel(wheels, "demo", "1.0", requires=["dep>=1"],
                scripts={"demo": default_script("demo")})
    build_wheel(wheels, "dep", "1.0")
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\npip = '>=1'\n")
    monkeypatch.chdir(tmp_path)
    code = main(["--manifest", "deps.toml", "--python", require_python("3.11"), "--offline"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (tmp_path / ".venv" / "bin" / "demo").exists()


@pytest.mark.e2e
def test_fill_with_no_network_at_all(tmp_path: Path, wheels: Path) -> None:
    """The whole command, subprocesses included, in a network namespace of its own."""
    unshare = shutil.which("unshare")
    usable = unshare and subprocess.run([unshare, "-n", "true"], capture_output=True,
                                        check=False).returncode == 0
    if not usable:
        if os.environ.get("CI"):
            pytest.fail("CI must be able to run 'unshare -n' (root, util-linux)")
        pytest.skip("unshare -n is not available here")
    build_wheel(wheels, "demo", "1.0", scripts={"demo": default_script("demo")})
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\npip = { accepted = '>=1', "
                                        "canary = 'pip' }\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [str(unshare), "-n", sys.executable, "-m", "resolver", "--manifest", "deps.toml",
         "--python", require_python("3.11"), "--wheels", str(wheels), "--offline"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    run = subprocess.run([str(venv / "bin" / "demo")], capture_output=True, text=True,
                         check=False)
    assert run.stdout.split() == ["demo", "1.0", str(venv)]
