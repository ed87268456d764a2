"""Local directories of wheels: what they offer, read as lazily as possible.

Scanning only lists directories and parses file names; a wheel's METADATA is
read from the zip the first time the resolver looks at that wheel as a
candidate, and at most once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import UsageError, WheelError
from ..inputs import METADATA_LIMIT, kind, open_regular

if TYPE_CHECKING:
    from ..acceleration import Facts

SDIST_SUFFIXES = (".tar.gz", ".zip")


class WheelMetadata(NamedTuple):
    """The parts of a wheel's METADATA that resolution needs."""

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None


@dataclass(frozen=True)
class LocalWheel:
    """One ``.whl`` file, described by its name alone until its metadata is read."""

    path: Path
    name: NormalizedName
    version: Version
    build: BuildTag
    tags: frozenset[Tag]
    facts: Facts | None = field(default=None, compare=False, repr=False)
    """What is known about the file without reading it again (acceleration.py)."""
    _metadata: list[WheelMetadata] = field(default_factory=list, init=False,
                                           compare=False, repr=False)
    """The metadata once read: resolution asks again every round, and the shared
    cache's key (the path among others) costs more to hash than this lookup."""

    @property
    def filename(self) -> str:
        """The file's name, for messages."""
        return self.path.name

    def metadata(self) -> WheelMetadata:
        """Read (once) and check the wheel's METADATA; raise WheelError if it is unusable."""
        if not self._metadata:
            self._metadata.append(_read_metadata(self.path, self.name, self.version,
                                                 self.facts))
        return self._metadata[0]

    def sha256(self) -> str:
        """The file's hex sha256 (an index wheel knows it before it is downloaded)."""
        known = self.known_sha256()
        if known is None:
            known = file_digest(self.path)
            self.remember_sha256(known)
        return known

    def remember_sha256(self, digest: str) -> None:
        """Note the file's sha256, computed elsewhere (a worker process)."""
        if self.facts is not None:
            self.facts.note(self.path, "sha256", digest)

    def known_sha256(self) -> str | None:
        """The sha256 without reading the file, if it is known; else None."""
        known = self.facts.recall(self.path, "sha256") if self.facts is not None else None
        return known if isinstance(known, str) else None


def wheel_at(path: Path) -> LocalWheel:
    """The wheel at ``path``, described by its file name (raises InvalidWheelFilename)."""
    name, version, build, wheel_tags = parse_wheel_filename(path.name)
    return LocalWheel(path=path, name=name, version=version, build=build, tags=wheel_tags)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (the one implementation: pins, locks, cache)."""
    h = hashlib.new(algorithm)
    with open(open_regular(path), "rb") as f:  # a FIFO or /dev/zero: Unfit
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Wheelhouse(NamedTuple):
    """The wheels (and, for diagnostics, the sdists) in the given directories."""

    dirs: tuple[Path, ...]
    wheels: Mapping[NormalizedName, tuple[LocalWheel, ...]]
    sdists: Mapping[NormalizedName, tuple[Path, ...]]
    ignored: tuple[str, ...] = ()

    def for_name(self, name: NormalizedName) -> tuple[LocalWheel, ...]:
        """Wheels of ``name``, newest version first."""
        return self.wheels.get(name, ())

    def describe(self) -> str:
        """The directories, for messages."""
        return ", ".join(f"{d}/" for d in self.dirs) or "(no wheel directory)"


def scan(dirs: Sequence[Path], facts: Facts | None = None) -> Wheelhouse:
    """List the wheel directories; a missing or unreadable directory is an error.

    ``facts``: what is known about the wheels' digests and metadata (acceleration.py).
    """
    wheels: dict[NormalizedName, list[LocalWheel]] = {}
    sdists: dict[NormalizedName, list[Path]] = {}
    ignored: list[str] = []
    for directory in dirs:
        try:
            with os.scandir(directory) as listing:
                # Whether each entry is a regular file (a link followed) comes with
                # the listing: no stat for the ordinary case.
                found = [(e.name, e.is_file()) for e in listing]
            names = sorted(name for name, _ in found)
            regular = {name for name, is_file in found if is_file}
        except FileNotFoundError:
            raise UsageError(
                f"--wheels {directory}: no such directory",
                hint="Create it and put wheels into it, or drop the option.",
            ) from None
        except NotADirectoryError:
            raise UsageError(f"--wheels {directory}: not a directory") from None
        except OSError as exc:
            raise UsageError(f"--wheels {directory}: cannot be read: {exc.strerror}") from None
        for filename in names:
            path = directory / filename
            if filename.endswith(".whl"):
                if filename not in regular:
                    _refuse_irregular(path)
                try:
                    name, version, build, wheel_tags = parse_wheel_filename(filename)
                except (InvalidWheelFilename, ValueError):
                    ignored.append(f"{path} (not a valid wheel file name)")
                    continue
                wheels.setdefault(name, []).append(
                    LocalWheel(path=path, name=name, version=version, build=build,
                               tags=wheel_tags, facts=facts))
            elif filename.endswith(SDIST_SUFFIXES):
                try:
                    name, _ = parse_sdist_filename(filename)
                except (InvalidSdistFilename, ValueError):
                    continue
                sdists.setdefault(name, []).append(path)
    return Wheelhouse(
        dirs=tuple(dirs),
        wheels={n: tuple(sorted(ws, key=lambda w: (w.version, w.build), reverse=True))
                for n, ws in wheels.items()},
        sdists={n: tuple(ps) for n, ps in sdists.items()},
        ignored=tuple(ignored),
    )


def _refuse_irregular(path: Path) -> None:
    # A .whl name on something that is not a file (a FIFO would block every read,
    # /dev/zero never end); a directory named *.whl is left alone, as before.
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # a dangling link: reading it reports it, if it is chosen
    if not stat.S_ISDIR(mode):
        raise WheelError(f"{path} is {kind(mode)}, not a wheel file",
                         hint="Remove it from the wheel directory, or replace it with "
                         "the wheel itself.")


@functools.cache
def _read_metadata(path: Path, name: NormalizedName, version: Version,
                   facts: Facts | None) -> WheelMetadata:
    fields = facts.recall(path, "metadata") if facts is not None else None
    if not _well_formed(fields):
        try:
            members = (facts.members(path, "/METADATA", _is_metadata, METADATA_LIMIT)
                       if facts is not None else None)
            if members is None:  # zipfile reads it (or says why not)
                members = _zipfile_members(path)
        except OSError as exc:
            raise WheelError(f"{path} cannot be read: {exc.strerror or exc}") from None
        text = _metadata_text(members, path)
        fields = metadata_fields(text)
        if facts is not None:
            facts.note(path, "metadata", fields)
    return _from_fields(cast("dict[str, Any]", fields), str(path), name, version)


def metadata_fields(text: str) -> dict[str, Any]:
    """The METADATA fields resolution uses, as plain data (what acceleration.Facts keeps).

    METADATA's header block read as the email package's header parser reads it
    (its ``compat32`` policy: what pip, installer and importlib.metadata use),
    without importing the email package, which costs a cold fill more than
    parsing every wheel's headers: field names in any case, values continued on
    lines that start with white space, the block ending at the first line that
    is neither (a blank line, or a line that is no header).
    """
    headers: list[list[str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t"):
            if headers:
                headers[-1][1] += "\n" + line
            continue
        field_name, colon, value = line.partition(":")
        if not colon or not all("!" <= c <= "~" for c in field_name):
            break
        headers.append([field_name.lower(), value.lstrip(" \t")])

    def all_of(field_name: str) -> list[str]:
        return [value for name, value in headers if name == field_name]

    def first(field_name: str) -> str:
        return next(iter(all_of(field_name)), "")

    return {"name": first("name"), "version": first("version"),
            "requires_dist": all_of("requires-dist"),
            "requires_python": first("requires-python")}


def _well_formed(fields: Any) -> bool:
    # Remembered facts are our own output, but the cache is a file anyone can edit.
    return (isinstance(fields, dict) and isinstance(fields.get("name"), str)
            and isinstance(fields.get("version"), str)
            and isinstance(fields.get("requires_python"), str)
            and isinstance(fields.get("requires_dist"), list)
            and all(isinstance(r, str) for r in fields["requires_dist"]))


def parse_metadata(text: str, where: str, name: NormalizedName,
                   version: Version) -> WheelMetadata:
    """Check and parse a wheel's METADATA text; ``where`` names it in errors."""
    return _from_fields(metadata_fields(text), where, name, version)


_parsed: dict[str, Requirement] = {}
"""Requires-Dist lines parsed so far: versions of a project repeat most of theirs, and
packaging's parser is slow.  The objects are shared, so nothing may change them."""


def _from_fields(fields: dict[str, Any], where: str, name: NormalizedName,
                 version: Version) -> WheelMetadata:
    path = where
    meta_name = canonicalize_name(str(fields["name"]))
    meta_version = str(fields["version"])
    try:
        same_version = Version(meta_version) == version
    except InvalidVersion:
        same_version = False
    if meta_name != name or not same_version:
        raise WheelError(
            f"{path}: the file name says {name} {version}, its METADATA says "
            f"{fields['name']} {meta_version}",
            hint="The file was renamed or is damaged; replace it with the real wheel.",
        )
    requires: list[Requirement] = []
    for line in fields["requires_dist"]:
        parsed = _parsed.get(line)
        if parsed is None:
            try:
                parsed = _parsed[line] = Requirement(line)
            except InvalidRequirement as exc:
                raise WheelError(f"{path}: invalid Requires-Dist {line!r}: {exc}") from None
        requires.append(parsed)
    requires_python = None
    raw_rp = fields["requires_python"]
    if raw_rp:
        try:
            requires_python = SpecifierSet(raw_rp)
        except InvalidSpecifier:
            raise WheelError(f"{path}: invalid Requires-Python {raw_rp!r}") from None
    return WheelMetadata(name=name, version=version, requires_dist=tuple(requires),
                         requires_python=requires_python)


def _is_metadata(name: str) -> bool:
    return name.count("/") == 1 and name.endswith(".dist-info/METADATA")


def _zipfile_members(path: Path) -> dict[str, bytes]:
    import zipfile  # only when the archive is not read faster (acceleration.py)
    import zlib

    try:
        with open(open_regular(path), "rb") as f, zipfile.ZipFile(f) as zf:
            infos = [i for i in zf.infolist() if _is_metadata(i.filename)]
            for info in infos:
                if info.file_size > METADATA_LIMIT:
                    raise WheelError(
                        f"{path}: {info.filename} declares {info.file_size} bytes, more "
                        f"than the {METADATA_LIMIT >> 20} MiB venvfill reads of a METADATA",
                        hint="This wheel is malformed or malicious; do not use it.")
            return {i.filename: zf.read(i) for i in infos}
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise WheelError(
            f"{path} is not a valid zip archive (truncated or corrupt)",
            hint="Replace the file with an intact copy of the wheel.",
        ) from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, or an odd compression
        why = ("a member is compressed with a method venvfill does not read"
               if isinstance(exc, NotImplementedError) else "a member is encrypted")
        raise WheelError(f"{path} cannot be read as a wheel: {why}",
                         hint="A wheel is a plain zip archive, stored or deflated; "
                         "replace the file with one built by a standard tool.") from None


def _metadata_text(members: dict[str, bytes], path: Path) -> str:
    if len(members) != 1:
        raise WheelError(
            f"{path} has {len(members) or 'no'} .dist-info/METADATA files; "
            "a wheel has exactly one",
            hint="Replace the file with a wheel built by a standard tool.",
        )
    (data,) = members.values()
    return data.decode("utf-8", errors="replace")
