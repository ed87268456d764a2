from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from resolver.errors import ManifestError
from resolver.manifest import load

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deps.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_qemu_manifest_loads_as_qemu_means_it() -> None:
    manifest = load(ROOT / "manifests" / "qemu-pythondeps.toml")
    assert list(manifest.groups) == ["meson", "docs", "avocado", "testdeps"]
    sphinx = manifest.groups["docs"][0]
    assert sphinx.name == "sphinx"
    assert sphinx.accepted == SpecifierSet(">=3.4.3")
    assert sphinx.installed == Version("6.2.1")
    assert sphinx.canary == "sphinx-build"
    # sphinx_rtd_theme normalises; its display name is kept for messages.
    theme = manifest.groups["docs"][1]
    assert (theme.name, theme.display_name) == ("sphinx-rtd-theme", "sphinx_rtd_theme")
    # "(>=88.1, <93.0)" is the PEP 508 parenthesised form.
    avocado = manifest.groups["avocado"][0]
    assert avocado.accepted == SpecifierSet(">=88.1,<93.0")
    # Unquoted dotted keys are QEMU's dotted package names, not nested tables.
    (qmp,) = manifest.groups["testdeps"]
    assert qmp.name == "qemu-qmp"
    assert qmp.display_name == "qemu.qmp"
    assert qmp.installed == Version("0.0.3")


def test_shorthand_empty_table_extras_marker(tmp_path: Path) -> None:
    manifest = load(write(tmp_path, """
        [g]
        meson = ">=1.5"
        anything = {}
        requests = { accepted = ">=2", extras = ["SOCKS"], marker = "python_version >= '3.8'" }
    """))
    meson, anything, requests = manifest.groups["g"]
    assert meson.accepted == SpecifierSet(">=1.5") and meson.installed is None
    assert anything.accepted == SpecifierSet("")
    assert requests.extras == frozenset({"socks"})
    assert requests.marker is not None and str(requests.marker) == 'python_version >= "3.8"'


def test_select_groups_keeps_every_entry_of_a_repeated_package(tmp_path: Path) -> None:
    manifest = load(write(tmp_path, """
        [a]
        x = ">=1"
        [b]
        x = "<3"
        y = ">=0"
    """))
    assert [e.group for e in manifest.select(["a", "b"]) if e.name == "x"] == ["a", "b"]
    assert len(manifest.select()) == 3
    assert [e.name for e in manifest.select(["b"])] == ["x", "y"]


def test_unknown_group_names_file_and_known_groups(tmp_path: Path) -> None:
    manifest = load(write(tmp_path, "[docs]\nsphinx = '>=3'\n"))
    with pytest.raises(ManifestError) as info:
        manifest.select(["doc"])
    text = str(info.value)
    assert str(tmp_path / "deps.toml") in text
    assert "group 'doc' is not defined (did you mean 'docs'?)" in text


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, """
            top = 1
            [g]
            a = { acepted = ">=1" }
            b = { accepted = "1.0" }
            c = { accepted = ">=x!y" }
            d = { installed = 5 }
            e = { marker = "python_version >>> '3'" }
            f = 3
        """))
    err = info.value
    assert len(err.problems) == 7, err.problems
    text = str(err)
    assert "top-level key 'top' must be a group table" in text
    assert "[g] a: unknown key 'acepted' (did you mean 'accepted'?)" in text
    assert "[g] b: 'accepted' = '1.0' is a bare version; write \"==1.0\"" in text
    assert "[g] c: 'accepted' = '>=x!y' is not a valid version specifier" in text
    assert "[g] d: 'installed' must be a version string" in text
    assert "[g] e: 'marker' is not a valid environment marker" in text
    assert "[g] f: expected a specifier string" in text
    assert err.exit_code == 2


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, "[g]\nmeson = >=1\n"))
    assert "is not valid TOML" in str(info.value)
    assert "line 2, column 9" in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        load(tmp_path / "nope.toml")


def test_bad_installed_version(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"'installed' = 'six point two' is not a version"):
        load(write(tmp_path, "[g]\nx = { installed = 'six point two' }\n"))


def test_hashes(tmp_path: Path) -> None:
    good = "sha256:" + "ab" * 32
    shouted = "sha256:" + "AB" * 32
    manifest = load(write(tmp_path, f"[g]\nx = {{ hashes = ['{shouted}'] }}\n"))
    assert manifest.groups["g"][0].hashes == frozenset({good})
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, "[g]\nx = { hashes = ['md5:00', 'sha256:zz'] }\n"
                             "y = { hashes = 'sha256:00' }\n"))
    assert len(info.value.problems) == 3
