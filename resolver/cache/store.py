"""The per-user cache: unpacked wheels shared by venvs, and who uses them.

Layout under the cache directory (``--cache-dir``, ``$VENVFILL_CACHE_DIR``,
else ``$XDG_CACHE_HOME/venvfill``, else ``~/.cache/venvfill``)::

    lock              fills hold it shared, ``cache gc`` exclusive
    unpacked/<sha256>/  one verified, unpacked wheel, read-only (cache/unpacked.py)
    venvs/<key>.json  one venv's record: its path and the entries it uses
    ledger.json       wheel files' sha256 and metadata by file identity (_speed/ledger.py)
    probes/<key>.json  remembered probe reports (_speed/probes.py)
    recipes/<key>.json  how the last new venv at a path was filled (_speed/recipes.py)

A venv's files are hard links to the entries, so deleting an entry never
breaks a venv; it only stops the space being shared.  ``gc`` removes the
entries no existing venv records as used, ledger entries of files that are
gone or changed, probe reports of interpreters that are gone, and recipes
that link removed entries.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ..errors import UsageError
from ..owned import default_cache_dir

UNPACKED = "unpacked"
VENVS = "venvs"


def default_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the cache lives when ``--cache-dir`` is not given."""
    return Path(default_cache_dir(environ))


class Cache(NamedTuple):
    """A cache directory (which may not exist yet)."""

    root: Path

    @property
    def unpacked(self) -> Path:
        """Where unpacked wheels live."""
        return self.root / UNPACKED

    def usable(self) -> bool:
        """Whether the cache can be created and written (not in a read-only home)."""
        try:
            self.unpacked.mkdir(parents=True, exist_ok=True)
            (self.root / VENVS).mkdir(exist_ok=True)
        except OSError:
            return False
        return os.access(self.unpacked, os.W_OK)

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the cache's lock shared: ``gc`` waits until we are done."""
        with self._lock(fcntl.LOCK_SH):
            yield

    @contextmanager
    def _lock(self, how: int) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, how | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                print(f"venvfill: waiting for other venvfill runs using {self.root} ...",
                      file=sys.stderr, flush=True)
                fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)

    def record_use(self, venv: Path, used: Mapping[str, str]) -> None:
        """Record that ``venv`` now uses these entries (distribution name → sha256)."""
        path = self.record_path(venv)
        data = {"venv": str(venv), "uses": dict(sorted(used.items()))}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def uses(self, venv: Path) -> dict[str, str]:
        """What ``venv`` recorded last (empty when nothing)."""
        try:
            data = json.loads(self.record_path(venv).read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in data["uses"].items()}
        except (OSError, ValueError, KeyError, AttributeError):
            return {}

    def record_path(self, venv: Path) -> Path:
        """The file recording which entries ``venv`` uses."""
        key = hashlib.sha256(os.fsencode(os.path.realpath(venv))).hexdigest()[:32]
        return self.root / VENVS / f"{key}.json"

    def gc(self, prune: Callable[[Path], None] | None = None) -> GcReport:
        """Remove entries no existing venv uses; forget venvs that are gone.

        ``prune``: then drops what else the cache holds that no longer holds
        (``Acceleration.prune``).
        """
        if not self.root.is_dir():
            return GcReport(0, 0, 0, 0)
        with self._lock(fcntl.LOCK_EX):
            live: set[str] = set()
            forgotten = 0
            records = self.root / VENVS
            for record in sorted(records.glob("*.json")) if records.is_dir() else []:
                try:
                    data = json.loads(record.read_text(encoding="utf-8"))
                    venv = Path(data["venv"])
                    uses = set(data["uses"].values())
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    venv, uses = Path(), set()
                if (venv / "pyvenv.cfg").is_file() and (
                        venv / ".venvfill").is_dir() and record == self.record_path(venv):
                    live |= uses
                else:
                    record.unlink()
                    forgotten += 1
            removed = kept = freed = 0
            for entry, sha256 in self._entries():
                if sha256 in live:
                    kept += 1
                    continue
                freed += _unshared_bytes(entry)
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
                removed += 1
            if prune is not None:
                prune(self.root)
            return GcReport(removed=removed, kept=kept, forgotten=forgotten, freed=freed)

    def _entries(self) -> Iterator[tuple[Path, str]]:
        # Every entry with the sha256 of the wheel it holds: unpacked wheels,
        # downloads (wheels and sdists by their sha256), index metadata files (by
        # their wheel's sha256) and wheels built from sdists (hashed here).
        def listing(directory: Path) -> list[Path]:
            return sorted(directory.iterdir()) if directory.is_dir() else []

        for entry in listing(self.unpacked):
            yield entry, entry.name
        for entry in listing(self.root / "downloads"):
            yield entry, entry.name
        for entry in listing(self.root / "metadata"):
            yield entry, entry.name.split(".", 1)[0]
        from ..sources.wheelhouse import file_digest  # gc only: keep fills' imports light

        for entry in listing(self.root / "built"):
            wheels = sorted(entry.glob("*.whl"))
            yield entry, file_digest(wheels[0]) if wheels else ""


class GcReport(NamedTuple):
    """What ``gc`` did."""

    removed: int
    kept: int
    forgotten: int
    """Venv records dropped because their venv no longer exists."""
    freed: int
    """Bytes actually released (files not hard-linked from anywhere else)."""


def _unshared_bytes(directory: Path) -> int:
    if directory.is_file():
        return directory.stat().st_size
    total = 0
    for dirpath, _, files in os.walk(directory):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_nlink == 1:
                total += st.st_size
    return total


def resolve_dir(given: Path | None) -> Cache:
    """The cache for ``--cache-dir`` (or the default); refuse a path that is a file."""
    root = given if given is not None else default_dir()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--cache-dir {root} is a file, not a directory",
                         hint="Name a directory (it is created when missing).")
    return Cache(root)
