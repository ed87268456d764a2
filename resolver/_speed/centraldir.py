"""A few members of a zip archive, read without building zipfile's listing of all.

Resolution needs one file of each wheel it considers, METADATA.  Opening a
``zipfile.ZipFile`` first builds a ZipInfo object for every member: for the
real-world benchmark's 24 wheels (3,500 members) that was 50 of the 65 ms a
cold fill spent resolving, and resolution waits on nothing else.  Here the
central directory is read as bytes and walked with ``struct``; only the
members asked for are read and inflated (their CRC-32 and size checked, as
zipfile checks them).

Only the plain case is handled, which is every wheel seen so far: no archive
comment, nothing before the archive, no ZIP64, no encryption, stored or
deflated members, names without NUL bytes or Info-ZIP Unicode path fields.
For anything else, or anything that does not add up, ``read`` returns None and
the caller opens the archive with zipfile, so every archive is read as zipfile
reads it, errors included.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable

from ..inputs import Unfit, open_regular

_END = struct.Struct("<4s4H2LH")
"""The end of central directory record (as zipfile's ``structEndArchive``)."""
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
"""A central directory header (as zipfile's ``structCentralDir``)."""
_LOCAL = struct.Struct("<4s2B4HL2L2H")
"""A local file header (as zipfile's ``structFileHeader``)."""
_LENGTHS = struct.Struct("<3H")
"""A central directory header's name, extra field and comment lengths (at 28)."""
_ZIP64_LOCATOR = 20
_SATURATED = 0xFFFFFFFF


def read(path: str, suffix: str, wanted: Callable[[str], bool], *, limit: int,
         ) -> dict[str, bytes] | None:
    """The contents of the members named ``...suffix`` that ``wanted`` accepts, by name.

    None: the archive is not the plain case (see above); read it with zipfile.
    OSError: the file cannot be read, is not a regular file, or a wanted member
    declares more than ``limit`` bytes (inputs.Unfit; nothing of it is inflated).
    """
    fd = open_regular(path)
    try:
        members = _listing(fd, suffix.encode("ascii"), wanted)
        if members is None:
            return None
        found: dict[str, bytes] = {}
        for name, raw_name, fields in members:
            if limit < fields[11] != _SATURATED:  # ZIP64 sizes: zipfile reads them
                raise Unfit(f"{name} declares {fields[11]} bytes, more than the "
                            f"{limit >> 20} MiB venvfill reads of it")
            data = _member(fd, raw_name, fields)
            if data is None:
                return None
            found[name] = data
        return found
    finally:
        os.close(fd)


_Fields = tuple[int, ...]


def _listing(fd: int, suffix: bytes, wanted: Callable[[str], bool],
             ) -> list[tuple[str, bytes, _Fields]] | None:
    # The wanted members' names and central directory fields, or None.
    size = os.fstat(fd).st_size
    if size < _END.size + _ZIP64_LOCATOR:
        return None
    tail = os.pread(fd, _END.size + _ZIP64_LOCATOR, size - _END.size - _ZIP64_LOCATOR)
    (signature, disk, cd_disk, _, count, cd_size, cd_offset,
     comment) = _END.unpack_from(tail, _ZIP64_LOCATOR)
    if (signature != b"PK\x05\x06" or comment or disk or cd_disk
            or tail[:4] == b"PK\x06\x07" or count == 0xFFFF
            or cd_offset + cd_size != size - _END.size):
        return None  # a comment, ZIP64, or bytes before or inside the archive
    directory = os.pread(fd, cd_size, cd_offset)
    if len(directory) != cd_size:
        return None
    try:
        return _walk(directory, count, suffix, wanted)
    except (struct.error, UnicodeDecodeError):  # cut short, or a name zipfile judges
        return None


def _walk(directory: bytes, count: int, suffix: bytes, wanted: Callable[[str], bool],
          ) -> list[tuple[str, bytes, _Fields]] | None:
    members = []
    pos = 0
    lengths = _LENGTHS.unpack_from
    for _ in range(count):
        # Per member only what finding the wanted ones needs: a thousand members
        # decoded and unpacked in full cost as much as zipfile's listing.
        name_length, extra_length, comment_length = lengths(directory, pos + 28)
        start = pos + _CENTRAL.size
        end = start + name_length
        if (not directory.startswith(b"PK\x01\x02", pos)
                or directory.find(b"\x00", start, end) >= 0
                or directory.find(b"\x75\x70", end, end + extra_length) >= 0):
            return None  # zipfile would cut the name, or take it from the extra field
        if directory.endswith(suffix, start, end):
            fields = _CENTRAL.unpack_from(directory, pos)
            raw_name = directory[start:end]
            name = raw_name.decode("utf-8" if fields[5] & 0x800 else "cp437")
            if wanted(name):
                members.append((name, raw_name, fields))
        pos = end + extra_length + comment_length
    if pos != len(directory):
        return None
    return members


def _member(fd: int, raw_name: bytes, fields: _Fields) -> bytes | None:
    # One member's bytes, checked against its CRC-32 and size; None if not plain
    # (flags: encrypted, patch data, strong encryption).
    flags, method, crc, compressed, size = fields[5], fields[6], *fields[9:12]
    offset = fields[18]
    if flags & 0x61 or method not in (0, 8) or _SATURATED in (compressed, size, offset):
        return None
    header = os.pread(fd, _LOCAL.size + len(raw_name), offset)
    if len(header) != _LOCAL.size + len(raw_name) or header[_LOCAL.size:] != raw_name:
        return None
    local = _LOCAL.unpack_from(header)
    if local[0] != b"PK\x03\x04" or local[10] != len(raw_name):
        return None
    raw = os.pread(fd, compressed, offset + _LOCAL.size + local[10] + local[11])
    if len(raw) != compressed:
        return None
    if method == 8:
        inflate = zlib.decompressobj(-15)
        try:
            data = inflate.decompress(raw, size + 1) + inflate.flush()
        except zlib.error:
            return None
        if not inflate.eof:
            return None
    else:
        data = raw
    if len(data) != size or zlib.crc32(data) != crc:
        return None
    return data
