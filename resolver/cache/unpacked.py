"""Wheels checked and unpacked once into the cache, then hard-linked into venvs.

Unpacking *is* verification: every member is decompressed once, hashed
against RECORD as it is written, and a wheel that fails any check leaves no
entry behind.  An entry is ``unpacked/<sha256 of the wheel>/`` in the cache:
``files/`` holds the archive's tree, ``entry.json`` its RECORD rows with the
size, mtime and inode each file had when written.  The directory appears by one
rename, so an entry either is complete or does not exist.

A hard link shares the file with every venv using it, so the files are
read-only (0444, or 0555 for programs), as in Nix's store: an edit through a
venv fails unless permissions do not apply (root) or the user first changes
the mode.  Before an entry is used, every file's size, mtime, inode and mode are
compared with those recorded; an entry changed in any of them is thrown away
and unpacked again from the wheel (the venv that was edited keeps its own copy
of the inode).  The change time cannot serve: linking a file changes it.

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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from packaging.utils import canonicalize_name

from ..acceleration import PLAIN, Acceleration
from ..errors import InstallError, WheelError
from ..inputs import METADATA_LIMIT, open_regular
from ..sources.wheelhouse import LocalWheel, file_digest

if TYPE_CHECKING:
    import zipfile

ENTRY = "entry.json"
FILES = "files"
_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_METHODS = (0, 8)
"""Stored and deflated: what wheels use (zipfile's numbers)."""
_CHUNK = 1 << 20


Stamp = tuple[int, int, int]
"""A file's size, mtime (ns) and inode number when it was unpacked."""


def read_only(executable: bool) -> int:
    """The mode of an entry's file: read-only, for everyone, as the wheel's mode says."""
    return 0o555 if executable else 0o444


class Unpacked(NamedTuple):
    """A complete, verified cache entry of one wheel."""

    root: Path
    sha256: str
    dist_info_dir: str
    rows: tuple[tuple[str, str, str, bool], ...]
    """RECORD rows (path, hash, size) of every member, with its executable bit."""
    stamps: Mapping[str, Stamp] = MappingProxyType({})
    """Each member's size, mtime and inode as unpacked: a file still so is unedited."""
    purelib: bool | None = None
    """WHEEL's ``Root-Is-Purelib``, read once when unpacked (None: an older entry)."""


_STRONG = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512",
                     "blake2b", "blake2s"})
"""RECORD hashes the wheel spec accepts: sha256 or stronger (never md5 or sha1)."""


def _digest(name: str, data: bytes | None = None) -> hashlib._Hash:
    if name == "sha256" and data is None:
        return hashlib.sha256()  # nearly every member: without hashlib.new's lookup
    if name not in _STRONG:
        raise WheelError(f"RECORD uses the hash algorithm {name!r}, weaker than sha256 or "
                         "unknown; the wheel format requires sha256 or stronger")
    try:
        return hashlib.new(name) if data is None else hashlib.new(name, data)
    except ValueError:
        raise WheelError(f"RECORD uses an unknown hash algorithm {name!r}") from None


def check(wheel: LocalWheel, dest: Path | None = None,
          stamps: dict[str, Stamp] | None = None,
          ) -> tuple[str, list[tuple[str, str, str, bool]]]:
    """Verify ``wheel`` in one pass, writing its members under ``dest`` if given.

    Returns the ``.dist-info`` directory and the RECORD rows; ``stamps`` (with
    ``dest``) receives each written file's size, mtime and inode.  Raises WheelError
    naming the file and the problem: not a zip, unsafe paths or links, a
    Wheel-Version other than 1.x, a member missing from RECORD or not matching
    its hash or size.
    """
    dist_info, rows, issues = _read(wheel, dest, stamps if stamps is not None else {})
    _refuse(wheel, issues)
    return dist_info, [row for _, row in rows]


def _read(wheel: LocalWheel, dest: Path | None, stamps: dict[str, Stamp],
          part: tuple[int, int] = (0, 1),
          ) -> tuple[str, list[tuple[int, tuple[str, str, str, bool]]], list[tuple[int, str]]]:
    # ``check`` for the members whose index is ``part[0]`` modulo ``part[1]``: the
    # rows (with each member's index) and the problems found (with theirs).
    import zipfile  # here: a fill with every wheel in the cache reads no zip
    import zlib

    from installer.records import InvalidRecordEntry  # imported before workers fork

    try:
        with open(open_regular(wheel.path), "rb") as f, zipfile.ZipFile(f) as zf:
            return _check(wheel, zf, dest, stamps, part)
    except WheelError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise WheelError(f"{wheel.path} is not a valid zip archive (truncated or corrupt)",
                         hint="Replace the file with an intact copy.") from None
    except (KeyError, ValueError, UnicodeDecodeError, InvalidRecordEntry) as exc:
        detail = "; ".join(getattr(exc, "issues", None) or [str(exc)])
        raise _tampered(wheel, detail) from None
    except _Unwritable as exc:
        raise InstallError(
            f"cannot unpack {wheel.path} into the cache {dest}: {exc.strerror or exc}; "
            "nothing in the venv was changed",
            hint="Free space (or inodes) where the cache is, or choose another with "
            "--cache-dir, then run again.") from None
    except OSError as exc:
        raise WheelError(f"{wheel.path} cannot be read: {exc.strerror or exc}") from None


class _Unwritable(OSError):
    """Writing a member into the cache failed (no space, no inodes): not the wheel's fault."""


def _refuse(wheel: LocalWheel, issues: list[tuple[int, str]]) -> None:
    # Raise for a wheel whose members do not match RECORD, naming the first three.
    if issues:
        texts = [text for _, text in sorted(issues)]
        raise _tampered(wheel, "; ".join(texts[:3]) + (
            f" (and {len(texts) - 3} more)" if len(texts) > 3 else ""))


def _tampered(wheel: LocalWheel, detail: str) -> WheelError:
    return WheelError(
        f"{wheel.path} failed verification: {detail}",
        hint="The file is damaged or was tampered with; replace it with the real wheel.",
    )


def _check(wheel: LocalWheel, zf: zipfile.ZipFile, dest: Path | None,
           stamps: dict[str, Stamp], part: tuple[int, int],
           ) -> tuple[str, list[tuple[int, tuple[str, str, str, bool]]], list[tuple[int, str]]]:
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
    project = dist_info[:-len(".dist-info")].rpartition("-")[0]
    if canonicalize_name(project) != wheel.name:
        raise _tampered(wheel, f"its metadata directory {dist_info} is another project's "
                        f"than {wheel.name}")
    for small in (f"{dist_info}/WHEEL", f"{dist_info}/RECORD"):
        if zf.getinfo(small).file_size > METADATA_LIMIT:
            raise _tampered(wheel, f"{small} declares {zf.getinfo(small).file_size} bytes")
    wheel_text = zf.read(f"{dist_info}/WHEEL").decode("utf-8")
    major = next((line.split(":", 1)[1].strip().split(".")[0]
                  for line in wheel_text.splitlines()
                  if line.lower().startswith("wheel-version:")), "")
    if major != "1":
        raise WheelError(f"{wheel.path}: unsupported Wheel-Version {major or '(missing)'}",
                         hint="venvfill installs wheels of format version 1.x.")
    from installer.records import parse_record_file

    record_name = f"{dist_info}/RECORD"
    record_text = zf.read(record_name).decode("utf-8")
    records = {row[0]: row for row in parse_record_file(record_text.splitlines())}
    issues: list[tuple[int, str]] = []
    rows: list[tuple[int, tuple[str, str, str, bool]]] = []
    mine, parts = part
    root = str(dest) if dest is not None else None
    made: set[str] = set()
    umask = os.umask(0o22)  # the only way to read it (no other thread runs here)
    os.umask(umask)

    def write(name: str, info: zipfile.ZipInfo, h: hashlib._Hash | None,
              executable: bool) -> int:
        if root is None:
            return _write(None, zf, info, h, executable, made, umask)[0]
        stamp = _write(os.path.join(root, name), zf, info, h, executable, made, umask)
        stamps[name] = stamp
        return stamp[0]

    for index, info in enumerate(infos):
        if index % parts != mine:
            continue
        name = info.filename
        if info.flag_bits & 0x1 or info.compress_type not in _METHODS:
            issues.append((index, f"{name} is encrypted or compressed in a way wheels "
                           "are not (stored and deflated only)"))
            continue
        row = records.get(name)
        mode = info.external_attr >> 16
        executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
        if name.startswith(dist_info + "/") and name.rsplit("/", 1)[-1] in _SIGNATURES:
            continue  # signatures are not listed in RECORD, and not installed
        if row is None:
            issues.append((index, f"{name} is not mentioned in RECORD"))
            continue
        algorithm, expected, size_text = _fields(row)
        if name == record_name:
            rows.append((index, (name, "", "", False)))
            if dest is not None:
                write(name, info, None, executable)
            continue
        if not algorithm or not size_text:
            issues.append((index, f"hash or size of {name} is missing from RECORD"))
            continue
        if info.file_size != int(size_text):
            # Checked before inflating: what is written is bounded by what RECORD says.
            issues.append((index, f"{name} is {info.file_size} bytes in the archive, "
                           f"RECORD says {size_text}"))
            continue
        try:
            h = _digest(algorithm)
        except WheelError as exc:
            issues.append((index, f"{name}: {exc.message}"))
            continue
        size = write(name, info, h, executable)
        value = base64.urlsafe_b64encode(h.digest()).decode("ascii").rstrip("=")
        if size != int(size_text):
            issues.append((index, f"{name} is {size} bytes, RECORD says {size_text}"))
            continue
        if value != expected:
            issues.append((index, f"{name} does not match its {algorithm} in RECORD"))
            continue
        rows.append((index, (row[0], row[1], row[2], executable)))
    return dist_info, rows, issues


def _fields(row: tuple[str, str, str]) -> tuple[str, str, str]:
    # A RECORD row's hash algorithm, hash value and size text ("" where it gives
    # none), checked as installer's RecordEntry checks them; a ValueError names
    # what is malformed (reported as the wheel failing verification).
    algorithm, equals, value = row[1].partition("=")
    if row[1] and not equals:
        raise ValueError(f"the hash of {row[0]} in RECORD is not algorithm=value")
    if row[2] and not row[2].strip().isdecimal():
        raise ValueError(f"the size of {row[0]} in RECORD is not a number")
    return algorithm, value, row[2]


def _write(path: str | None, zf: zipfile.ZipFile, info: zipfile.ZipInfo,
           h: hashlib._Hash | None, executable: bool, made: set[str],
           umask: int) -> Stamp:
    # Inflate one member, hashing it, into ``path`` (or nowhere); return its size and
    # the written file's mtime and inode (from the open file: no second lookup).
    # The mode is 444 or 555 whatever the umask (venvs share these inodes): given
    # at creation when the umask keeps it, else set afterwards (a call per file).
    # A new file is written through the descriptor that created it, read-only or not.
    out = None
    mode = read_only(executable)
    if path is not None:
        parent = os.path.dirname(path)
        if parent not in made:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise _Unwritable(exc.errno, exc.strerror) from None
            made.add(parent)
        try:
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                          mode if not mode & umask else 0o600)
        except OSError as exc:
            raise _Unwritable(exc.errno, exc.strerror) from None
    try:
        size = 0
        for chunk in _contents(zf, info, crc=h is None):
            size += len(chunk)
            if h is not None:
                h.update(chunk)
            if out is not None:
                view = memoryview(chunk)
                try:
                    while view:
                        view = view[os.write(out, view):]
                except OSError as exc:
                    raise _Unwritable(exc.errno, exc.strerror) from None
        if out is None:
            return size, 0, 0
        if mode & umask:
            os.fchmod(out, mode)
        st = os.fstat(out)
        return size, st.st_mtime_ns, st.st_ino
    finally:
        if out is not None:
            os.close(out)


def _contents(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, crc: bool) -> Iterator[bytes]:
    # A member's bytes, read straight from the archive: zipfile's reader costs more
    # Python per member than inflating an average member does (a file object per
    # member, a lock, 4 kB reads), and wheels are thousands of small members.
    # Stored or deflated members, as wheels have; anything else goes through
    # zipfile.  The local header must name the member, as zipfile checks, and the
    # size must match.  ``crc``: check the CRC-32 too, for a member that RECORD
    # gives no hash (RECORD itself); the others' hashes are checked against RECORD,
    # which finds what the CRC would (computing both cost a tenth of the unpacking).
    import zipfile
    import zlib

    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                          zipfile.ZIP_DEFLATED):
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
        return
    assert zf.fp is not None, "read from an open archive"
    fd = zf.fp.fileno()  # pread: the archive's own file position stays as it is
    text = info.orig_filename
    # ASCII first: the same bytes in both encodings, without cp437's Python codec.
    name = (text.encode("ascii") if text.isascii() else
            text.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))
    header = os.pread(fd, 30 + len(name), info.header_offset)
    if header[:4] != b"PK\x03\x04" or header[30:] != name or int.from_bytes(
            header[26:28], "little") != len(name):
        raise zipfile.BadZipFile(f"the local header of {info.filename} does not match")
    offset = info.header_offset + 30 + len(name) + int.from_bytes(header[28:30], "little")
    left, size, value = info.compress_size, 0, 0
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while left:
        raw = os.pread(fd, min(left, _CHUNK), offset)
        if not raw:
            raise zipfile.BadZipFile(f"{info.filename} is cut short")
        offset += len(raw)
        left -= len(raw)
        while raw:
            # Never more than _CHUNK at once, however well the input compresses.
            chunk, raw = ((raw, b"") if inflate is None else
                          (inflate.decompress(raw, _CHUNK), inflate.unconsumed_tail))
            size += len(chunk)
            if size > info.file_size:
                raise zipfile.BadZipFile(f"{info.filename} is larger than its header says")
            if crc:
                value = zlib.crc32(chunk, value)
            yield chunk
    if inflate is not None:
        rest = inflate.flush()
        size += len(rest)
        if crc:
            value = zlib.crc32(rest, value)
        if rest:
            yield rest
        if not inflate.eof:
            raise zipfile.BadZipFile(f"{info.filename} is cut short")
    if size != info.file_size or (crc and value != info.CRC):
        raise zipfile.BadZipFile(f"{info.filename} does not match its CRC-32 or size")


def cached(wheel: LocalWheel, cache_root: Path) -> Unpacked | None:
    """The complete, unedited entry of ``wheel`` if its digest is known; else None."""
    sha = wheel.known_sha256()
    return _load(cache_root / sha, sha) if sha is not None else None


def unpack(wheel: LocalWheel, cache_root: Path) -> Unpacked:
    """The cache entry of ``wheel``, unpacking (and so verifying) it if needed."""
    return unpack_all([wheel], cache_root)[0]


_SLICE_BYTES = 1 << 20
"""A wheel is unpacked by up to one worker per this many compressed bytes."""


def unpack_all(wheels: Sequence[LocalWheel], cache_root: Path,
               speed: Acceleration = PLAIN, *, workers: int | None = None) -> list[Unpacked]:
    """The cache entries of ``wheels``, unpacking those not cached.

    ``speed.parallel`` runs the work, in ``workers`` parts at most (by default
    ``speed.workers()``).  Large wheels are split between workers member by member (every ``n``-th
    member to each), so one big wheel does not keep a core busy alone.  Raises
    the WheelError of the first bad wheel in the given order (and leaves no
    entry of it).
    """
    # A digest already known (acceleration.Facts) names the entry at once.  The others are
    # computed by the workers, each for the wheel it is given, before unpacking:
    # one read of the file on every core instead of a round of hashing before the
    # workers start; a worker that finds the entry already there unpacks nothing.
    workers = speed.workers() if workers is None else workers
    entries: dict[int, Unpacked] = {}
    todo: list[tuple[int, Path]] = []
    tasks: list[_Task] = []
    weights: list[float] = []
    try:
        for i, wheel in enumerate(wheels):
            sha = wheel.known_sha256()
            entry = _load(cache_root / sha, sha) if sha is not None else None
            if entry is not None:
                entries[i] = entry
                continue
            cache_root.mkdir(parents=True, exist_ok=True)
            import tempfile  # only when something is unpacked: start-up time

            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_root))
            todo.append((i, tmp))
            try:
                size = os.stat(wheel.path).st_size
            except OSError as exc:  # removed since it was listed
                raise _unreadable(wheel, exc) from None
            parts = max(1, min(workers, size // _SLICE_BYTES))
            for k in range(parts):
                tasks.append((wheel, sha, str(cache_root), str(tmp / FILES), k, parts))
                weights.append(size / parts)
        if tasks:
            import zipfile  # noqa: F401 - once, not in every worker

            import installer.records  # noqa: F401

        try:
            results = speed.parallel(_unpack_part, tasks, weights, workers)
        except OSError as exc:  # a worker died: killed, or out of memory
            raise InstallError(f"unpacking wheels into {cache_root} failed: {exc}; nothing "
                               "in the venv was changed",
                               hint="Check free memory and space, then run again.") from None
        by_tmp: dict[str, list[tuple[_Task, _Part]]] = {}
        for task, result in zip(tasks, results):
            by_tmp.setdefault(task[3], []).append((task, result))
        for i, tmp in todo:
            entries[i] = _settle(wheels[i], cache_root, tmp, by_tmp[str(tmp / FILES)])
    finally:
        for _, tmp in todo:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already if finished
    return [entries[i] for i in range(len(wheels))]


_Task = tuple[LocalWheel, "str | None", str, str, int, int]
"""A wheel, its digest if known, the cache root, where to unpack, which part of how many."""
_Part = tuple["str | None", bool, str, list[tuple[int, tuple[str, str, str, bool]]],
              list[tuple[int, str]], dict[str, Stamp], tuple[int, int, int]]
"""The wheel's digest (found by the first part only), whether its entry was found,
the .dist-info directory, the rows and problems found (with each member's index),
the files' stamps, and the wheel file's identity (inode, size, mtime)."""


def _unpack_part(task: _Task) -> _Part:
    # One worker's share of one wheel (perhaps in another process: speed.parallel).
    # Only the first part hashes the whole wheel: the others' digests would be the
    # same bytes hashed again (16 MB of the real-world benchmark's 20), and the
    # file's identity shows as well whether it changed between the parts.
    wheel, sha, cache_root, files, k, parts = task
    try:
        st = os.stat(wheel.path)
        if sha is None and k == 0:
            sha = file_digest(wheel.path)
    except OSError as exc:  # not a dead worker: say which file
        raise _unreadable(wheel, exc) from None
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    if sha is not None and task[1] is None and os.path.isdir(os.path.join(cache_root, sha)):
        return sha, True, "", [], [], {}, identity
    stamps: dict[str, Stamp] = {}
    dist_info, rows, issues = _read(wheel, Path(files), stamps, (k, parts))
    return sha, False, dist_info, rows, issues, stamps, identity


def _unreadable(wheel: LocalWheel, exc: OSError) -> WheelError:
    return WheelError(f"{wheel.path} cannot be read: {exc.strerror or exc}",
                      hint="Check that the wheel directory is complete and readable.")


def _settle(wheel: LocalWheel, cache_root: Path, tmp: Path,
            parts: list[tuple[_Task, _Part]]) -> Unpacked:
    # The entry for one wheel from its workers' parts: the one found in the cache,
    # else the one they unpacked.  Refuses a wheel with problems, naming them.
    shas = {part[0] for _, part in parts if part[0] is not None}
    if len(shas) != 1 or len({part[6] for _, part in parts}) != 1:
        raise WheelError(f"{wheel.path} changed while it was being read",
                         hint="Run again once nothing is writing to the wheel directory.")
    sha = shas.pop()
    if parts[0][0][1] is None:
        wheel.remember_sha256(sha)
    if any(found for _, (_, found, *_) in parts):
        entry = _load(cache_root / sha, sha)
        if entry is not None:
            return entry
        # Found but not usable (damaged, or half there while another run made it):
        # unpacked again here, every part, with the digest now known.
        shutil.rmtree(tmp / FILES, ignore_errors=True)
        parts = [(task, _unpack_part((wheel, sha, *task[2:])))
                 for task, _ in parts]
    issues = [issue for _, part in parts for issue in part[4]]
    _refuse(wheel, issues)
    rows = [row for _, part in parts for row in part[3]]
    stamps = {k: v for _, part in parts for k, v in part[5].items()}
    return _finish(wheel, sha, cache_root, tmp, parts[0][1][2],
                   [row for _, row in sorted(rows)], stamps)


def _finish(wheel: LocalWheel, sha: str, cache_root: Path, tmp: Path, dist_info: str,
            rows: list[tuple[str, str, str, bool]],
            stamps: dict[str, Stamp]) -> Unpacked:
    # Record the verified files of ``tmp`` and make it the entry, by one rename.
    root = cache_root / sha
    last = os.stat(tmp / FILES / rows[-1][0])
    if stamps[rows[-1][0]] != (last.st_size, last.st_mtime_ns, last.st_ino):
        # A file system that settles mtimes on close (NFS): ask it for each file.
        for path, *_ in rows:
            st = os.stat(tmp / FILES / path)
            stamps[path] = (st.st_size, st.st_mtime_ns, st.st_ino)
    with open(tmp / FILES / dist_info / "WHEEL", encoding="utf-8") as f:
        purelib = root_is_purelib(f.read())
    data = {"wheel": wheel.filename, "dist_info": dist_info, "purelib": purelib,
            "rows": [[*r, *stamps[r[0]]] for r in rows]}
    (tmp / ENTRY).write_text(json.dumps(data), encoding="utf-8")
    if root.exists():
        entry = _load(root, sha)
        if entry is not None:
            return entry  # another run made it meanwhile; ours is removed with tmp
        shutil.rmtree(root)  # damaged (see _load); another run may race us here
    try:
        os.rename(tmp, root)
    except OSError:
        # Another run finished the same entry first; theirs is as good as ours.
        entry = _load(root, sha)
        if entry is None:
            raise
        return entry
    return Unpacked(root=root, sha256=sha, dist_info_dir=dist_info,
                    rows=tuple((r[0], r[1], r[2], r[3]) for r in rows), stamps=stamps,
                    purelib=purelib)


def root_is_purelib(wheel_text: str) -> bool:
    """Whether a WHEEL file says ``Root-Is-Purelib: true`` (as installer reads it)."""
    return any(line.partition(":")[0].strip().lower() == "root-is-purelib"
               and line.partition(":")[2].strip() == "true"
               for line in wheel_text.splitlines())


def _read_all(path: str) -> bytes:
    # A file's bytes in three system calls for a small one (``open`` and ``read``
    # add two fstats, an ioctl, two lseeks and a read that finds the end).  A read
    # shorter than asked is taken as the end, as it is for local files; were it
    # not, the text would not parse and the entry would count as incomplete
    # (unpacked again).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            chunks.append(chunk)
            if len(chunk) < 1 << 16:
                return b"".join(chunks)
    finally:
        os.close(fd)


def _load(root: Path, sha: str) -> Unpacked | None:
    # A complete entry whose files are all as they were written; else None.
    # Called for every cached wheel of a fill (300 in the synthetic benchmark):
    # string paths and one binary read, not pathlib and a text wrapper per entry.
    top = os.fspath(root)
    try:
        data = json.loads(_read_all(os.path.join(top, ENTRY)))
        files = os.path.join(top, FILES, "")
        rows = []
        stamps = {}
        for path, hash_, size, executable, real_size, mtime, ino in data["rows"]:
            st = os.stat(files + path)
            if (st.st_size != real_size or st.st_mtime_ns != mtime or st.st_ino != ino
                    or st.st_mode & 0o7777 != (0o555 if executable else 0o444)):
                return None  # edited, truncated, replaced or made writable
            rows.append((path, hash_, size, bool(executable)))
            stamps[path] = (real_size, mtime, ino)
        purelib = data.get("purelib")
        return Unpacked(root=root, sha256=sha, dist_info_dir=data["dist_info"],
                        rows=tuple(rows), stamps=stamps,
                        purelib=purelib if isinstance(purelib, bool) else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
