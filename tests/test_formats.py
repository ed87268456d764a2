"""Manifests from packaging standards: pyproject.toml and requirements files."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from resolver.errors import ManifestError
from resolver.manifest import load
from test_e2e import demo_wheel, fill, run

PYPROJECT = """
[project]
name = "app"
version = "1"
dependencies = ["pip>=19", "demo>=1; python_version >= '3.8'"]

[project.optional-dependencies]
Docs = ["docsdep>=0.18"]

[dependency-groups]
test = ["pytest>=7", {include-group = "lint"}]
lint = ["ruff"]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pyproject_groups(tmp_path: Path) -> None:
    manifest = load(write(tmp_path, "pyproject.toml", PYPROJECT))
    assert [e.name for e in manifest.select()] == ["pip", "demo"]  # project only
    assert [e.name for e in manifest.select(["docs"])] == ["pip", "demo", "docsdep"]
    test = manifest.select(["test"])
    assert [e.name for e in test] == ["pip", "demo", "pytest", "ruff"]
    assert test[-1].group == "test"  # included entries count for the including group
    assert manifest.select()[0].accepted == SpecifierSet(">=19")
    with pytest.raises(ManifestError, match="group 'tests' is not defined"):
        manifest.select(["tests"])


def test_pyproject_problems_at_once(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, "pyproject.toml", """
            [project]
            dependencies = ["ok", "not a req!", "x @ https://example.invalid/x.whl"]
            [dependency-groups]
            a = [{include-group = "b"}]
            b = [{include-group = "a"}]
            c = [{include-group = "missing"}]
        """))
    text = str(info.value)
    assert "'not a req!' is not a valid requirement" in text
    assert "is a direct reference" in text
    assert "[dependency-groups] a: Cyclic dependency group include" in text
    assert "[dependency-groups] c: Dependency group 'missing' not found" in text


def test_dependency_group_names_that_normalise_alike_are_refused(tmp_path: Path) -> None:
    # PEP 735: group names are compared normalised; two spellings of one name in one
    # table are an error, not one silently replacing the other.
    with pytest.raises(ManifestError, match=r"Duplicate dependency group names: "
                       r"test \(Test, test\)"):
        load(write(tmp_path, "pyproject.toml", """
            [dependency-groups]
            Test = ["pytest"]
            test = ["ruff"]
        """))


def test_requirements_file(tmp_path: Path) -> None:
    digest = "ab" * 32
    manifest = load(write(tmp_path, "requirements.txt", f"""
# pinned by a tool
pip>=19  # inline comment
demo==1.0 \\
    --hash=sha256:{digest}
requests[socks]>=2; sys_platform != "win32"
"""))
    pip, demo, requests = manifest.select()
    assert pip.accepted == SpecifierSet(">=19")
    assert demo.hashes == frozenset({f"sha256:{digest}"})
    assert requests.extras == frozenset({"socks"}) and requests.marker is not None


def test_requirements_options_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, "requirements.txt",
                   "--index-url https://example.invalid\n-r other.txt\nok>=1\n"))
    assert len(info.value.problems) == 2
    assert "line 1: option --index-url is not supported" in str(info.value)


@pytest.mark.e2e
def test_fill_from_pyproject_and_requirements(tmp_path: Path, wheels: Path) -> None:
    demo_wheel(wheels, "demo", "1.0")
    demo_wheel(wheels, "docsdep", "0.18")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    proc = fill(tmp_path, "unused", "--manifest", "pyproject.toml", "--group", "docs")
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / ".venv"
    assert run(venv / "bin" / "python", "-c", "import demo_mod, docsdep_mod").returncode == 0
    (tmp_path / "requirements.txt").write_text("demo>=1\npip>=19\n")
    proc = fill(tmp_path, "unused", "--manifest", "requirements.txt", "--venv", "r")
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / "r" / "bin" / "demo").stdout.split()[:2] == ["demo", "1.0"]
