"""Wheels offered by indexes (``--online``), downloaded into the cache only when chosen.

An ``IndexWheel`` is a LocalWheel whose file is, or will be, at
``<cache>/downloads/<sha256>/<filename>``: once downloaded (and its sha256
checked) it is an ordinary local wheel, and a later fill finds it there with no
network.  Resolution reads its METADATA from the index's ``.metadata`` file
when one is served (PEP 658/714), so only the wheels finally chosen are fetched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from ..errors import NetworkError
from .index import Index, IndexFile, fetch
from .wheelhouse import SDIST_SUFFIXES, LocalWheel, WheelMetadata, parse_metadata, scan


@dataclass(frozen=True)
class IndexWheel(LocalWheel):
    """A wheel an index offers; ``path`` is where the cache keeps it once fetched."""

    file: IndexFile = field(default=IndexFile("", "", None), compare=False)
    metadata_dir: Path = field(default=Path(), compare=False)

    @property
    def yanked(self) -> bool:
        """Yanked on the index (PEP 592): taken only when pinned with ``==``."""
        return self.file.yanked is not None

    def sha256(self) -> str:
        """The index's sha256, which the download is checked against."""
        return self.file.sha256 or super().sha256()

    def known_sha256(self) -> str | None:
        """The index's sha256, else what is already known of the file."""
        return self.file.sha256 or super().known_sha256()

    def metadata(self) -> WheelMetadata:
        """From the cached wheel, else the index's ``.metadata`` file, else the wheel."""
        if self.path.exists() or not self.file.has_metadata:
            self.fetch()
            return super().metadata()
        cached = self.metadata_dir / f"{self.file.sha256}.METADATA"
        if not cached.exists():
            body, _, _ = fetch(self.file.url + ".metadata")
            expected = self.file.metadata_sha256
            if expected and hashlib.sha256(body).hexdigest() != expected:
                raise NetworkError(f"{self.file.url}.metadata does not match the sha256 "
                                   "the index gives for it",
                                   hint="The index or a proxy served a damaged file; "
                                   "try again or use another --index-url.")
            _atomic_write(cached, body)
        text = cached.read_bytes().decode("utf-8", errors="replace")
        return parse_metadata(text, self.file.url + ".metadata", self.name, self.version)

    def fetch(self) -> Path:
        """Download the wheel into the cache (once), checking its sha256."""
        return download(self.file, self.path)


@dataclass(frozen=True)
class IndexSdist:
    """An sdist an index offers (built only when no wheel will do: sources/sdists.py)."""

    name: NormalizedName
    version: Version
    file: IndexFile
    path: Path
    """Where the cache keeps it once fetched."""

    def fetch(self, into: Path | None = None) -> Path:
        """Download the sdist into the cache (once), or into ``into``; check its sha256."""
        return download(self.file, self.path if into is None else into / self.file.filename)


YANKED = "yanked"
"""Beside a download the index had yanked (PEP 592)."""


def download(file: IndexFile, path: Path) -> Path:
    """``file`` at ``path`` (fetched once, by sha256 into the cache)."""
    if path.exists():
        return path
    body, _, _ = fetch(file.url)
    if hashlib.sha256(body).hexdigest() != file.sha256:
        raise NetworkError(
            f"{file.url} does not match the sha256 the index gives for it ({file.sha256})",
            hint="The download was damaged or tampered with; nothing was installed. "
            "Try again, or use another --index-url.")
    if file.yanked is not None:
        # Written first: a yanked download is never offered as an earlier download,
        # only through the index again, where its pin is what admits it.
        _atomic_write(path.parent / YANKED, b"")
    _atomic_write(path, body)
    return path


def _fits(requires_python: str | None, python: Version) -> bool:
    # The index's Requires-Python; an invalid one is left to the METADATA to decide.
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@dataclass
class Remote:
    """The indexes of an ``--online`` run, in order: the first is ``--index-url``."""

    indexes: Sequence[Index]
    cache_root: Path
    python_version: str
    skipped: dict[NormalizedName, list[str]] = field(default_factory=dict)
    _downloaded: Mapping[NormalizedName, tuple[LocalWheel, ...]] | None = None

    def for_name(self, name: NormalizedName) -> tuple[IndexWheel, ...]:
        """Wheels of ``name`` on every index, newest first, unusable files left out."""
        python = Version(self.python_version)
        found: list[IndexWheel] = []
        seen: set[str] = set()
        for index in self.indexes:
            for f in index.files(name):
                if not f.filename.endswith(".whl") or f.filename in seen:
                    continue
                try:
                    wname, version, build, tags = parse_wheel_filename(f.filename)
                except (InvalidWheelFilename, ValueError):
                    continue
                if canonicalize_name(wname) != name:
                    continue
                if not f.sha256:
                    self._skip(name, f"{f.url} (the index gives no sha256 to check it with)")
                    continue
                if not _fits(f.requires_python, python):
                    continue
                seen.add(f.filename)
                found.append(IndexWheel(
                    path=self.cache_root / "downloads" / f.sha256 / f.filename,
                    name=name, version=version, build=build, tags=tags, file=f,
                    metadata_dir=self.cache_root / "metadata"))
        return tuple(sorted(found, key=lambda w: (w.version, w.build), reverse=True))

    def sdists(self, name: NormalizedName) -> tuple[IndexSdist, ...]:
        """The sdists of ``name`` on every index (not yanked, with a sha256), newest first."""
        python = Version(self.python_version)
        found: dict[str, IndexSdist] = {}
        for index in self.indexes:
            for f in index.files(name):
                if not f.filename.endswith(SDIST_SUFFIXES) or f.filename in found:
                    continue
                try:
                    sname, version = parse_sdist_filename(f.filename)
                except (InvalidSdistFilename, ValueError):
                    continue
                if canonicalize_name(sname) != name or not f.sha256 or f.yanked is not None:
                    continue
                if not _fits(f.requires_python, python):
                    continue
                found[f.filename] = IndexSdist(
                    name, version, f, self.cache_root / "downloads" / f.sha256 / f.filename)
        return tuple(sorted(found.values(), key=lambda s: s.version, reverse=True))

    def cached(self, name: NormalizedName) -> tuple[LocalWheel, ...]:
        """Wheels of ``name`` downloaded by earlier --online runs: no network needed."""
        if self._downloaded is None:
            # Each download sits alone in its sha256 directory: scan them as a wheelhouse.
            self._downloaded = scan(sorted(
                d for d in (self.cache_root / "downloads").glob("*/")
                if not (d / YANKED).exists())).wheels
        return self._downloaded.get(name, ())

    def _skip(self, name: NormalizedName, reason: str) -> None:
        self.skipped.setdefault(name, []).append(reason)
