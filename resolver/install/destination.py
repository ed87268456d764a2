"""Where ``installer`` writes a wheel: the stage, every file remembered.

Most wheels never get here: a wheel unpacked in the cache whose members are
all linked and which has no entry points is finished by install/transaction.py alone.
This module is imported for the others (scripts to bind to the venv's python,
files ``installer`` must rewrite or refuse, wheels without a cache entry), so a
fill of plain wheels does not import ``installer`` and the ``email`` package
under it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, BinaryIO, cast

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import Hash, RecordEntry
from installer.sources import WheelFile, WheelSource
from installer.utils import Scheme

from ..cache import unpacked
from . import launcher

if TYPE_CHECKING:
    from ..sources.wheelhouse import LocalWheel
    from .transaction import Staging


def install_into(staging: Staging, wheel: LocalWheel, entry: unpacked.Unpacked | None,
                 linked: frozenset[str], metadata: Mapping[str, bytes], *,
                 interpreter: str) -> None:
    """Let installer install what ``staging`` has not linked of ``wheel``."""
    destination = RecordingDestination(
        scheme_dict=staging.scheme_dict,
        interpreter=interpreter,
        script_kind="posix" if os.name != "nt" else "win-amd64",
        bytecode_optimization_levels=(),
    )
    destination.staging = staging
    if entry is not None:
        install(CachedWheelSource(entry, wheel, linked), destination, dict(metadata))
    else:
        with WheelFile.open(wheel.path) as source:
            install(source, destination, dict(metadata))


class RecordingDestination(SchemeDictionaryDestination):
    """A destination that records every file it writes in its ``Staging``."""

    staging: Staging

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO,
                    is_executable: bool) -> RecordEntry:
        """Write one file into the stage through installer, never outside the stage.

        What is added to installer's own: the path is confined to the stage (older
        installer releases, 0.7 the newest for Python 3.9, do not refuse paths that
        climb out of the scheme), nothing already staged is written over (another
        wheel's file), everything in ``bin/`` is a program (as pip has it), scripts
        of a relocatable venv start with the launcher, and each file is remembered
        for the commit's journal.
        """
        staging = self.staging
        target = os.path.abspath(os.path.join(self.scheme_dict[scheme], path))
        self._make_parent(target, path)
        if os.path.lexists(target):
            raise FileExistsError(f"File already exists: {target}")
        if scheme == "scripts":
            is_executable = True
            if staging.relocatable:
                stream = io.BytesIO(launcher.relocate(stream.read()))
        staging.written.append(target)
        entry = super().write_to_fs(scheme, path, stream, is_executable)
        staging.sizes[target] = cast(int, entry.size)
        if is_executable:  # as the venv's other programs, whatever installer chose
            os.chmod(target, 0o777 & ~staging.umask | 0o111)
        return entry

    def _make_parent(self, target: str, path: str) -> None:
        # Nothing in the stage is a symlink, so a directory found inside once stays
        # inside: one realpath per directory, not per file.
        inside, root = self.staging.inside, self.staging.root
        parent = os.path.dirname(target)
        if parent not in inside:
            if os.path.commonpath([root, os.path.realpath(parent)]) != root:
                raise ValueError(f"{path!r} would be written outside the venv ({target})")
            os.makedirs(parent, exist_ok=True)
            inside.add(parent)

    def finalize_installation(self, scheme: Scheme, record_file_path: str,
                              records: Iterable[tuple[Scheme, RecordEntry]]) -> None:
        """Let installer write RECORD, with the linked files' rows among its own.

        Sorted by path, as installer sorts them since 1.0: the same RECORD then
        comes out of older installers too, and of _speed/plainwheel.py.
        """
        linked = [(scheme, RecordEntry(path, Hash.parse(hash_), int(size)))
                  for path, hash_, size in self.staging.linked]
        super().finalize_installation(scheme, record_file_path,
                                      sorted([*linked, *records], key=lambda r: r[1].path))


class CachedWheelSource(WheelSource):
    """``installer``'s view of a cache entry: the wheel's contents, already verified.

    Members the caller has hard-linked itself (``linked``, see install/transaction.py) are left
    out; installer then handles only what it must rewrite or check (scripts, odd
    ``.data`` paths) and the entry points.
    """

    def __init__(self, entry: unpacked.Unpacked, wheel: LocalWheel,
                 linked: frozenset[str] = frozenset()) -> None:
        self.stem = entry.dist_info_dir[:-len(".dist-info")]
        super().__init__(distribution=self.stem.rsplit("-", 1)[0], version=str(wheel.version))
        self.entry = entry
        self.files = entry.root / unpacked.FILES
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
