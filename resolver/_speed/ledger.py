"""What was learnt about local wheel files, remembered by the files' identity.

A warm fill would otherwise spend most of its time re-learning two facts about
wheels that have not changed: each file's sha256 (which names its cache
entry) and the METADATA fields resolution needs (read by opening the zip).
Both depend only on the file's bytes, so they are kept in the cache, in
``ledger.json``, under the file's path together with its identity: device,
inode, size, mtime and ctime.  Writing to a file or putting another file in
its place changes its ctime, which no program can set back, so a matching
identity means the same bytes.

A file whose ctime is within a few seconds of the run's start is not recorded
(it may still be being written, and coarse file systems keep times in 1-2 s
steps).  ``cache gc`` drops entries of files that are gone or changed.
"""

from __future__ import annotations

import _thread
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILE = "ledger.json"
_SETTLED_NS = 3_000_000_000


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class Memoryless:
    """Facts for a run without a cache: nothing is remembered; archives are read fast."""

    def recall(self, path: Path, fact: str) -> Any:
        """Nothing is known."""
        return None

    def note(self, path: Path, fact: str, value: Any) -> None:
        """Nothing is kept."""

    def members(self, path: Path, suffix: str, wanted: Callable[[str], bool],
                limit: int) -> dict[str, bytes] | None:
        """Through the central directory alone (centraldir.py)."""
        from . import centraldir

        return centraldir.read(str(path), suffix, wanted, limit=limit)

    def save(self) -> None:
        """Nothing to keep."""


class Ledger(Memoryless):
    """The cache's ledger, read on first use and written back by ``save``.

    Safe to use from the threads that unpack wheels.  Concurrent runs may each
    write the file; the last one wins, which only costs the other's facts.
    """

    def __init__(self, cache_root: Path) -> None:
        self.root = cache_root
        self.path = cache_root / FILE
        self.started = time.time_ns()
        self._entries: dict[str, dict[str, Any]] | None = None
        self._new: dict[str, dict[str, Any]] = {}
        self._lock = _thread.allocate_lock()  # not threading: start-up time

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            try:
                with open(self.path, encoding="utf-8") as f:
                    data = json.load(f)
                self._entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def recall(self, path: Path, fact: str) -> Any:
        """A fact recorded for the file as it is now; None if unknown or changed."""
        key = os.path.abspath(path)
        with self._lock:
            entry = self._new.get(key) or self._load().get(key)
        if not isinstance(entry, dict) or fact not in entry:
            return None
        try:
            if entry.get("id") != _identity(os.stat(key)):
                return None
        except OSError:
            return None
        return entry[fact]

    def note(self, path: Path, fact: str, value: Any) -> None:
        """Record a fact learnt from the file's bytes (if the file has settled)."""
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError:
            return
        if st.st_ctime_ns > self.started - _SETTLED_NS:
            return
        ident = _identity(st)
        with self._lock:
            entry = self._new.get(key) or dict(self._load().get(key) or {})
            if entry.get("id") != ident:
                entry = {"id": ident}
            entry[fact] = value
            self._new[key] = entry

    def save(self) -> None:
        """Write what this run learnt, merged over the file as it is now."""
        if not self._new:
            return
        self._entries = None  # another run may have saved meanwhile
        merged = {**self._load(), **self._new}
        write_quietly(self.path, merged)
        self._new.clear()

    def prune(self) -> int:
        """Drop entries of files that are gone or changed; return how many."""
        entries = self._load()
        kept = {}
        for key, entry in entries.items():
            try:
                if isinstance(entry, dict) and entry.get("id") == _identity(os.stat(key)):
                    kept[key] = entry
            except OSError:
                pass
        if len(kept) != len(entries):
            write_quietly(self.path, kept)
            self._entries = kept
        return len(entries) - len(kept)


def write_quietly(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically, if the cache can be written.

    What the cache remembers is only a speed-up, so a failure is not an error.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
