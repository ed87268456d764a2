"""TOML manifests of minimum versions, in QEMU's ``pythondeps.toml`` format.

A manifest is a set of groups; each group maps package names to either a
specifier string (the shorthand ``meson = ">=1.5"``) or an inline table::

    [docs]
    sphinx = { accepted = ">=3.4.3", installed = "6.2.1", canary = "sphinx-build" }

QEMU writes package names with dots unquoted (``qemu.qmp = { ... }``), which
TOML reads as a nested table ``{"qemu": {"qmp": {...}}}``.  QEMU means the
package ``qemu.qmp``, so a table whose keys are not entry fields is read as
one more component of a dotted name.

Every problem is collected before anything is raised, so a manifest with three
mistakes reports three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import ManifestError
from .model import FIELDS, HASH_ALGORITHMS, Entry, Manifest, did_you_mean

# Characters QEMU's mkvenv accepts at the start of ``accepted``: a bare version
# is a mistake there ("1.0" was meant as "==1.0" or ">=1.0").
_SPECIFIER_START = "!~<>=("


def _plain_name(name: str) -> bool:
    # A program's file name in bin/: no directory part, nothing a shell would hide.
    return (bool(name.strip()) and name == name.strip() and name not in (".", "..")
            and not any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name))


def parse(data: Mapping[str, Any], path: Path) -> Manifest:
    """Validate already-decoded TOML data; ``path`` is used in messages only."""
    problems: list[str] = []
    groups: dict[str, tuple[Entry, ...]] = {}
    for group, table in data.items():
        if not isinstance(table, dict):
            problems.append(
                f"top-level key {group!r} must be a group table like [{group}], "
                f"not {_type_name(table)}"
            )
            continue
        entries: list[Entry] = []
        for dotted, value in _flatten_names(table):
            entry = _parse_entry(group, dotted, value, problems)
            if entry is not None:
                entries.append(entry)
        groups[group] = tuple(entries)
    if problems:
        raise ManifestError(str(path), problems)
    return Manifest(path=path, groups=groups)


def _flatten_names(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    # An inline table is an entry when it is empty or uses an entry field; a
    # table of tables with no entry field is a dotted name split up by TOML.
    for key, value in table.items():
        name = f"{prefix}{key}"
        if (
            isinstance(value, dict)
            and value
            and not any(k in FIELDS or did_you_mean(k, FIELDS) for k in value)
            and all(isinstance(v, (dict, str)) for v in value.values())
        ):
            yield from _flatten_names(value, prefix=f"{name}.")
        else:
            yield name, value


def _parse_entry(group: str, name: str, value: Any, problems: list[str]) -> Entry | None:
    where = f"[{group}] {name}"
    before = len(problems)
    try:
        canonical = canonicalize_name(name, validate=True)
    except Exception:
        problems.append(f"{where}: {name!r} is not a valid package name")
        canonical = canonicalize_name(name)
    if isinstance(value, str):
        value = {"accepted": value}
    elif not isinstance(value, dict):
        problems.append(
            f"{where}: expected a specifier string like \">=1.0\" or an inline table "
            f"{{ accepted = ... }}, not {_type_name(value)}"
        )
        return None

    for key in value:
        if key not in FIELDS:
            problems.append(
                f"{where}: unknown key {key!r}{did_you_mean(key, FIELDS)}; "
                f"valid keys: {', '.join(FIELDS)}"
            )

    accepted = SpecifierSet()
    raw_accepted = value.get("accepted", "")
    if not isinstance(raw_accepted, str):
        problems.append(f"{where}: 'accepted' must be a string, not {_type_name(raw_accepted)}")
    else:
        parsed = _parse_accepted(raw_accepted, f"{where}: 'accepted'", problems)
        if parsed is not None:
            accepted = parsed

    installed: Version | None = None
    raw_installed = value.get("installed")
    if raw_installed is not None:
        if not isinstance(raw_installed, str):
            problems.append(
                f"{where}: 'installed' must be a version string like \"6.2.1\", "
                f"not {_type_name(raw_installed)}"
            )
        else:
            try:
                installed = Version(raw_installed.strip().removeprefix("=="))
            except InvalidVersion:
                problems.append(
                    f"{where}: 'installed' = {raw_installed!r} is not a version; "
                    "write an exact version such as \"6.2.1\""
                )

    canary = value.get("canary")
    if canary is not None and (not isinstance(canary, str) or not _plain_name(canary)):
        problems.append(f"{where}: 'canary' must be a program name like \"sphinx-build\"")
        canary = None

    extras: frozenset[NormalizedName] = frozenset()
    raw_extras = value.get("extras", [])
    if not isinstance(raw_extras, list) or not all(isinstance(x, str) for x in raw_extras):
        problems.append(f"{where}: 'extras' must be a list of strings like [\"socks\"]")
    else:
        extras = frozenset(canonicalize_name(x) for x in raw_extras)

    marker: Marker | None = None
    raw_marker = value.get("marker")
    if raw_marker is not None:
        if not isinstance(raw_marker, str):
            problems.append(f"{where}: 'marker' must be a string, not {_type_name(raw_marker)}")
        else:
            try:
                marker = Marker(raw_marker)
            except InvalidMarker as exc:
                problems.append(f"{where}: 'marker' is not a valid environment marker: {exc}")

    hashes: set[str] = set()
    raw_hashes = value.get("hashes", [])
    if not isinstance(raw_hashes, list) or not all(isinstance(h, str) for h in raw_hashes):
        problems.append(f"{where}: 'hashes' must be a list of strings like \"sha256:<hex>\"")
    else:
        for h in raw_hashes:
            algo, _, digest = h.strip().partition(":")
            if algo.lower() not in HASH_ALGORITHMS or not digest or \
                    any(c not in "0123456789abcdefABCDEF" for c in digest):
                problems.append(
                    f"{where}: 'hashes' entry {h!r} is not \"ALGORITHM:HEXDIGEST\" with "
                    f"ALGORITHM one of {', '.join(HASH_ALGORITHMS)}")
            else:
                hashes.add(f"{algo.lower()}:{digest.lower()}")

    flags = {}
    for field in ("prereleases", "no-binary", "only-binary"):
        flags[field] = value.get(field, False)
        if not isinstance(flags[field], bool):
            problems.append(f"{where}: '{field}' must be true or false, not "
                            f"{_type_name(flags[field])}")
    if flags["no-binary"] is True and flags["only-binary"] is True:
        problems.append(f"{where}: 'no-binary' and 'only-binary' cannot both be true "
                        "(no wheel, and no build, leaves nothing to install)")

    if len(problems) != before:
        return None
    return Entry(
        name=canonical,
        display_name=name,
        group=group,
        accepted=accepted,
        installed=installed,
        canary=canary,
        extras=extras,
        marker=marker,
        hashes=frozenset(hashes),
        prereleases=flags["prereleases"] is True,
        no_binary=flags["no-binary"] is True,
        only_binary=flags["only-binary"] is True,
    )


def _parse_accepted(text: str, where: str, problems: list[str]) -> SpecifierSet | None:
    spec = text.strip()
    if not spec:
        return SpecifierSet()
    if spec[0] not in _SPECIFIER_START:
        problems.append(
            f"{where} = {text!r} is a bare version; write \"=={spec}\" to accept exactly it "
            f"or \">={spec}\" to accept it and newer"
        )
        return None
    # QEMU writes the PEP 508 parenthesised form: "(>=88.1, <93.0)".
    if spec.startswith("(") and spec.endswith(")"):
        spec = spec[1:-1].strip()
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        problems.append(
            f"{where} = {text!r} is not a valid version specifier; "
            "write it like \">=3.4.3\" or \">=1.0, <2.0\""
        )
        return None


def _type_name(value: object) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
