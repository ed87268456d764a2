"""Wheels checked and unpacked once into the cache, then hard-linked into venvs.

Unpacking *is* verification: every member is decompressed once, hashed
against RECORD as it is written, and a wheel that fails any check leaves no
entry behind.  An entry is ``unpacked/<sha256 of the wheel>/`` in the cache:
``files/`` holds the archive's tree, ``entry.json`` its RECORD rows with the
size and mtime each file had when written.  The directory appears by one
rename, so an entry either is complete or does not exist.

A hard link shares the file with every venv using it, so an edit made through
one venv would show in the cache.  Before an entry is used, every file's size
and mtime are compared with those recorded; a changed entry is thrown away and
unpacked again from the wheel (the venv that was edited keeps its own copy of
the inode).

``check`` reads a wheel the same way without writing anything (dry runs, and
runs without a usable cache).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from installer.sources import WheelSource

from .errors import WheelError
from .wheelhouse import LocalWheel

ENTRY = "entry.json"
FILES = "files"
_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Unpacked:
    """A complete, verified cache entry of one wheel."""

    root: Path
    sha256: str
    dist_info_dir: str
    rows: tuple[tuple[str, str, str, bool], ...]
    """RECORD rows (path, hash, size) of every member, with its executable bit."""
    stamps: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False)
    """Each member's size and mtime as unpacked: a file still so is unedited."""

    def source(self, wheel: LocalWheel, linked: frozenset[str] = frozenset()
               ) -> CachedWheelSource:
        """An ``installer`` source reading from this entry, without the ``linked`` members."""
        return CachedWheelSource(self, wheel, linked)


class CachedWheelSource(WheelSource):
    """``installer``'s view of a cache entry: the wheel's contents, already verified.

    Members the caller has hard-linked itself (``linked``, see install.py) are left
    out; installer then handles only what it must rewrite or check (scripts, odd
    ``.data`` paths) and the entry points.
    """

    def __init__(self, entry: Unpacked, wheel: LocalWheel,
                 linked: frozenset[str] = frozenset()) -> None:
        self.stem = entry.dist_info_dir[:-len(".dist-info")]
        super().__init__(distribution=self.stem.rsplit("-", 1)[0], version=str(wheel.version))
        self.entry = entry
        self.files = entry.root / FILES
        self.linked = linked

    @property
    def data_dir(self) -> str:
        """The ``.data`` directory beside the archive's ``.dist-info``."""
        return self.stem + ".data"

    @property
    def dist_info_dir(self) -> str:
        """The archive's own ``.dist-info`` directory name."""
        return self.entry.dist_info_dir

    @property
    def dist_info_filenames(self) -> list[str]:
        """Files directly in the ``.dist-info`` directory."""
        prefix = self.entry.dist_info_dir + "/"
        return [p[len(prefix):] for p, *_ in self.entry.rows
                if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def read_dist_info(self, filename: str) -> str:
        """A ``.dist-info`` file's text."""
        path = self.files / self.entry.dist_info_dir / filename
        return path.read_text(encoding="utf-8")

    def get_contents(self) -> Iterator[tuple[tuple[str, str, str], BinaryIO, bool]]:
        """Every member not linked already, as an open file."""
        for path, hash_, size, executable in self.entry.rows:
            if path in self.linked:
                continue
            with open(os.path.join(self.files, path), "rb") as f:
                yield (path, hash_, size), cast(BinaryIO, f), executable


def _digest(name: str, data: bytes | None = None) -> hashlib._Hash:
    try:
        return hashlib.new(name) if data is None else hashlib.new(name, data)
    except ValueError:
        raise WheelError(f"RECORD uses an unknown hash algorithm {name!r}") from None


def check(wheel: LocalWheel, dest: Path | None = None,
          stamps: dict[str, tuple[int, int]] | None = None,
          ) -> tuple[str, list[tuple[str, str, str, bool]]]:
    """Verify ``wheel`` in one pass, writing its members under ``dest`` if given.

    Returns the ``.dist-info`` directory and the RECORD rows; ``stamps`` (with
    ``dest``) receives each written file's size and mtime.  Raises WheelError
    naming the file and the problem: not a zip, unsafe paths or links, a
    Wheel-Version other than 1.x, a member missing from RECORD or not matching
    its hash or size.
    """
    try:
        with zipfile.ZipFile(wheel.path) as zf:
            return _check(wheel, zf, dest, stamps if stamps is not None else {})
    except WheelError:
        raise
    except zipfile.BadZipFile:
        raise WheelError(f"{wheel.path} is not a valid zip archive (truncated or corrupt)",
                         hint="Replace the file with an intact copy.") from None
    except (KeyError, ValueError, UnicodeDecodeError, InvalidRecordEntry) as exc:
        detail = "; ".join(getattr(exc, "issues", None) or [str(exc)])
        raise _tampered(wheel, detail) from None
    except OSError as exc:
        raise WheelError(f"{wheel.path} cannot be read: {exc.strerror or exc}") from None


def _tampered(wheel: LocalWheel, detail: str) -> WheelError:
    return WheelError(
        f"{wheel.path} failed verification: {detail}",
        hint="The file is damaged or was tampered with; replace it with the real wheel.",
    )


def _check(wheel: LocalWheel, zf: zipfile.ZipFile, dest: Path | None,
           stamps: dict[str, tuple[int, int]]) -> tuple[str, list[tuple[str, str, str, bool]]]:
    infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
    unsafe = [i.filename for i in zf.infolist()
              if i.filename.startswith(("/", "\\"))
              or ".." in i.filename.replace("\\", "/").split("/")
              or ":" in i.filename.split("/")[0]
              or stat.S_ISLNK(i.external_attr >> 16)]
    if unsafe:
        raise WheelError(
            f"{wheel.path} contains links or paths that would land outside the venv: "
            f"{', '.join(sorted(unsafe)[:3])}",
            hint="This wheel is malformed or malicious; do not use it.",
        )
    tops = {i.filename.split("/", 1)[0] for i in infos if "/" in i.filename}
    dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
    if len(dist_infos) != 1:
        raise _tampered(wheel, f"expected one .dist-info directory, found "
                        f"{len(dist_infos)}")
    dist_info = dist_infos[0]
    wheel_text = zf.read(f"{dist_info}/WHEEL").decode("utf-8")
    major = next((line.split(":", 1)[1].strip().split(".")[0]
                  for line in wheel_text.splitlines()
                  if line.lower().startswith("wheel-version:")), "")
    if major != "1":
        raise WheelError(f"{wheel.path}: unsupported Wheel-Version {major or '(missing)'}",
                         hint="venvfill installs wheels of format version 1.x.")
    record_name = f"{dist_info}/RECORD"
    record_text = zf.read(record_name).decode("utf-8")
    records = {row[0]: row for row in parse_record_file(record_text.splitlines())}
    issues: list[str] = []
    rows: list[tuple[str, str, str, bool]] = []
    root = str(dest) if dest is not None else None
    made: set[str] = set()

    def write(name: str, info: zipfile.ZipInfo, h: hashlib._Hash | None,
              executable: bool) -> int:
        if root is None:
            return _write(None, zf, info, h, executable, made)[0]
        size, mtime = _write(os.path.join(root, name), zf, info, h, executable, made)
        stamps[name] = (size, mtime)
        return size

    for info in infos:
        name = info.filename
        row = records.get(name)
        mode = info.external_attr >> 16
        executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
        if name.startswith(dist_info + "/") and name.rsplit("/", 1)[-1] in _SIGNATURES:
            continue  # signatures are not listed in RECORD, and not installed
        if row is None:
            issues.append(f"{name} is not mentioned in RECORD")
            continue
        entry = RecordEntry.from_elements(*row)
        if name == record_name:
            rows.append((name, "", "", False))
            if dest is not None:
                write(name, info, None, executable)
            continue
        if entry.hash_ is None or entry.size is None:
            issues.append(f"hash or size of {name} is missing from RECORD")
            continue
        h = _digest(entry.hash_.name)
        size = write(name, info, h, executable)
        value = base64.urlsafe_b64encode(h.digest()).decode("ascii").rstrip("=")
        if size != entry.size:
            issues.append(f"{name} is {size} bytes, RECORD says {entry.size}")
            continue
        if value != entry.hash_.value:
            issues.append(f"{name} does not match its {entry.hash_.name} in RECORD")
            continue
        rows.append((row[0], row[1], row[2], executable))
    if issues:
        raise _tampered(wheel, "; ".join(issues[:3]) + (
            f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""))
    return dist_info, rows


def _write(path: str | None, zf: zipfile.ZipFile, info: zipfile.ZipInfo,
           h: hashlib._Hash | None, executable: bool, made: set[str]) -> tuple[int, int]:
    # Stream one member, hashing it, into ``path`` (or nowhere); return its size and
    # the written file's mtime (from the open file: no second lookup by path).
    size = 0
    out = None
    if path is not None:
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        out = open(path, "xb")  # noqa: SIM115 - closed below, also on error
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if h is not None:
                    h.update(chunk)
                if out is not None:
                    out.write(chunk)
        if out is None:
            return size, 0
        out.flush()
        os.fchmod(out.fileno(), 0o755 if executable else 0o644)
        return size, os.fstat(out.fileno()).st_mtime_ns
    finally:
        if out is not None:
            out.close()


def unpack(wheel: LocalWheel, cache_root: Path) -> Unpacked:
    """The cache entry of ``wheel``, unpacking (and so verifying) it if needed."""
    sha = wheel.sha256()
    root = cache_root / sha
    entry = _load(root, sha)
    if entry is not None:
        return entry
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_root))
    try:
        stamps: dict[str, tuple[int, int]] = {}
        dist_info, rows = check(wheel, tmp / FILES, stamps)
        last = os.stat(tmp / FILES / rows[-1][0])
        if stamps[rows[-1][0]] != (last.st_size, last.st_mtime_ns):
            # A file system that settles mtimes on close (NFS): ask it for each file.
            for path, *_ in rows:
                st = os.stat(tmp / FILES / path)
                stamps[path] = (st.st_size, st.st_mtime_ns)
        data = {"wheel": wheel.filename, "dist_info": dist_info,
                "rows": [[*r, *stamps[r[0]]] for r in rows]}
        (tmp / ENTRY).write_text(json.dumps(data), encoding="utf-8")
        if root.exists():
            shutil.rmtree(root)  # damaged (see _load); another run may race us here
        try:
            os.rename(tmp, root)
        except OSError:
            # Another run finished the same entry first; theirs is as good as ours.
            shutil.rmtree(tmp, ignore_errors=True)
            entry = _load(root, sha)
            if entry is None:
                raise
            return entry
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Unpacked(root=root, sha256=sha, dist_info_dir=dist_info,
                    rows=tuple((r[0], r[1], r[2], r[3]) for r in rows), stamps=stamps)


def _load(root: Path, sha: str) -> Unpacked | None:
    # A complete entry whose files are all as they were written; else None.
    try:
        data = json.loads((root / ENTRY).read_text(encoding="utf-8"))
        files = root / FILES
        rows = []
        stamps = {}
        for path, hash_, size, executable, real_size, mtime in data["rows"]:
            st = os.stat(os.path.join(files, path))
            if st.st_size != real_size or st.st_mtime_ns != mtime:
                return None
            rows.append((path, hash_, size, bool(executable)))
            stamps[path] = (real_size, mtime)
        return Unpacked(root=root, sha256=sha, dist_info_dir=data["dist_info"],
                        rows=tuple(rows), stamps=stamps)
    except (OSError, ValueError, KeyError, TypeError):
        return None
