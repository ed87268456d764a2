"""The SBOM: a CycloneDX 1.6 document of everything a venv's interpreter sees."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import require_python, run_cli
from test_e2e import demo_wheel
from wheelfactory import build_wheel

pytestmark = pytest.mark.e2e


def _validate(text: str) -> None:
    # The schema check is a test-only dependency (tox installs it).
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install cyclonedx-python-lib[json-validation] (tox.ini)")
        pytest.skip("cyclonedx-python-lib[json-validation] is not installed")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def test_the_sbom_of_a_fill_lists_kept_base_packages_and_installed_wheels(
        tmp_path: Path, wheels: Path) -> None:
    helper = build_wheel(wheels, "helper", "1.0", metadata_lines=[
        "License-Expression: Apache-2.0"])
    demo = demo_wheel(wheels, "demo", "2.0", requires=["helper>=1"], metadata_lines=[
        "Classifier: License :: OSI Approved :: MIT License"])
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\npip = '>=1'\n")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    proc = run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                   "--sbom", "bom.json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "bom.json").read_text()
    _validate(text)
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6" and bom["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    props = {ref: {p["name"]: p["value"] for p in c["properties"]} for ref, c in by_ref.items()}
    # The wheels venvfill installed: purl, sha256 of the very wheel file, its name.
    for ref, wheel, licence in (("venv:pkg:pypi/demo@2.0", demo,
                                 {"license": {"name": "MIT License"}}),
                                ("venv:pkg:pypi/helper@1.0", helper,
                                 {"expression": "Apache-2.0"})):
        component = by_ref[ref]
        assert component["purl"] == ref.split(":", 1)[1]
        assert component["hashes"] == [
            {"alg": "SHA-256", "content": hashlib.sha256(wheel.read_bytes()).hexdigest()}]
        assert props[ref]["venvfill:wheel"] == wheel.name
        assert props[ref]["venvfill:installer"] == "venvfill"
        assert component["licenses"] == [licence]
    # The base's pip, kept: where it lives and who installed it, no wheel hash.
    pip = next(ref for ref in by_ref if ref.startswith("base:pkg:pypi/pip@"))
    assert props[pip]["venvfill:source"] == "base" and "hashes" not in by_ref[pip]
    assert props[pip]["venvfill:installer"] == "pip"
    deps = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert deps["venv:pkg:pypi/demo@2.0"] == ["venv:pkg:pypi/helper@1.0"]
    assert {"venv:pkg:pypi/demo@2.0", pip} <= set(deps["venv"])
    # The same venv, the same bytes; the timestamp only from SOURCE_DATE_EPOCH.
    again = run_cli("sbom", "-o", "again.json", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.json").read_text() == text
    plain = run_cli("sbom", cwd=tmp_path)
    assert plain.returncode == 0 and "timestamp" not in json.loads(plain.stdout)["metadata"]


def test_sbom_refuses_what_is_not_a_venv_and_a_dry_run(tmp_path: Path) -> None:
    proc = run_cli("sbom", "--venv", "nowhere", cwd=tmp_path)
    assert proc.returncode == 6 and "is not a venv" in proc.stderr
    (tmp_path / "deps.toml").write_text("[g]\npip = '>=1'\n")
    proc = run_cli("--manifest", "deps.toml", "--dry-run", "--sbom", "b.json", cwd=tmp_path)
    assert proc.returncode == 2 and "a dry run fills nothing" in proc.stderr
    assert not (tmp_path / "b.json").exists()


def test_an_index_wheel_is_listed_with_the_url_it_came_from(tmp_path: Path) -> None:
    from indexserver import IndexConfig, serve

    remote = tmp_path / "remote"
    demo_wheel(remote, "demo", "1.0")
    (tmp_path / "deps.toml").write_text("[g]\ndemo = '>=1'\n")
    with serve(IndexConfig(remote)) as url:
        proc = run_cli("--manifest", "deps.toml", "--python", require_python("3.11"),
                       "--online", "--index-url", url, "--sbom", "bom.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "bom.json").read_text()
    _validate(text)
    demo = next(c for c in json.loads(text)["components"]
                if c["bom-ref"] == "venv:pkg:pypi/demo@1.0")
    (reference,) = demo["externalReferences"]
    assert reference["type"] == "distribution"
    assert reference["url"].startswith(url.rsplit("/simple", 1)[0])
    assert reference["url"].endswith("/demo-1.0-py3-none-any.whl")
