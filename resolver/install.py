"""Write a plan's changes into the venv with ``installer``, all or nothing.

1. Every wheel is verified before anything is written: RECORD (hash and size
   of every file, no unlisted files), ``Wheel-Version``; every distribution to
   uninstall must have a RECORD.
2. Uninstalls move files into a trash directory inside the venv; installs
   record each file they write.  If anything fails, written files are deleted
   and trashed files moved back, so the venv is as it was.

Nothing outside the venv is touched: an uninstall skips RECORD paths that
resolve outside it.  No bytecode is compiled (the running interpreter may not
be the target's version; see README).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from installer import install as installer_install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import Scheme

from .errors import InstallError, WheelError
from .resolve import Step
from .target import Installed, Target
from .wheelhouse import LocalWheel

INSTALLER_NAME = b"venvfill"


class _RecordingDestination(SchemeDictionaryDestination):
    """A destination that remembers every file it writes, for rollback."""

    written: list[Path]
    root: str

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO,
                    is_executable: bool) -> RecordEntry:
        # Checked here, not left to installer: older installer releases (0.7, the
        # newest for Python 3.9) do not refuse paths that climb out of the scheme.
        target = Path(os.path.abspath(os.path.join(self.scheme_dict[scheme], path)))
        if os.path.commonpath([self.root, os.path.realpath(target.parent)]) != self.root:
            raise ValueError(f"{path!r} would be written outside the venv ({target})")
        self.written.append(target)
        return super().write_to_fs(scheme, path, stream, is_executable)


def verify_wheel(wheel: LocalWheel) -> None:
    """Check a wheel's integrity; raise WheelError naming the file and the problem."""
    try:
        with zipfile.ZipFile(wheel.path) as zf:
            unsafe = [n for n in zf.namelist()
                      if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/").split("/")
                      or ":" in n.split("/")[0]]
            if unsafe:
                raise WheelError(
                    f"{wheel.path} contains paths that would land outside the venv: "
                    f"{', '.join(sorted(unsafe)[:3])}",
                    hint="This wheel is malformed or malicious; do not use it.",
                )
            source = WheelFile(zf)
            version = source.read_dist_info("WHEEL")
            major = next((line.split(":", 1)[1].strip().split(".")[0]
                          for line in version.splitlines()
                          if line.lower().startswith("wheel-version:")), "")
            if major != "1":
                raise WheelError(
                    f"{wheel.path}: unsupported Wheel-Version {major or '(missing)'}",
                    hint="venvfill installs wheels of format version 1.x.",
                )
            source.validate_record(validate_contents=True)
    except WheelError:
        raise
    except zipfile.BadZipFile:
        raise WheelError(f"{wheel.path} is not a valid zip archive (truncated or corrupt)",
                         hint="Replace the file with an intact copy.") from None
    except (InstallerError, ValueError, KeyError) as exc:
        detail = "; ".join(getattr(exc, "issues", None) or [str(exc)])
        raise WheelError(
            f"{wheel.path} failed verification: {detail}",
            hint="The file is damaged or was tampered with; replace it with the real wheel.",
        ) from None
    except OSError as exc:
        raise WheelError(f"{wheel.path} cannot be read: {exc.strerror}") from None


def record_paths(dist: Installed, venv: Path) -> list[Path]:
    """Files an installed distribution owns, from its RECORD, limited to the venv."""
    text = dist.read_metadata_file("RECORD")
    if text is None:
        raise InstallError(
            f"{dist.display_name} {dist.version} in {dist.location} has no RECORD, so it "
            "cannot be uninstalled safely",
            hint=f"Recreate the venv with --clear, or remove {dist.display_name} by hand.",
        )
    root = os.path.realpath(venv)
    paths: list[Path] = []
    for entry in parse_record_file(text.splitlines()):
        full = os.path.normpath(os.path.join(dist.location, entry[0]))
        real = os.path.realpath(os.path.dirname(full))
        if os.path.commonpath([root, real]) != root:
            continue  # never outside the venv, whatever RECORD says
        paths.append(Path(full))
    return paths


@dataclass
class Transaction:
    """Uninstalls and installs that can be undone until ``commit``."""

    venv: Path
    scheme: dict[str, str]
    interpreter: str
    trash: Path = field(init=False)
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.trash = Path(tempfile.mkdtemp(prefix=".venvfill-trash-", dir=self.venv))

    def uninstall(self, dist: Installed) -> None:
        """Move every file of ``dist`` into the trash."""
        dirs: set[Path] = set()
        for path in record_paths(dist, self.venv):
            candidates = [path]
            if path.suffix == ".py":
                cache = path.parent / "__pycache__"
                if cache.is_dir():
                    candidates.extend(cache.glob(f"{path.stem}.*.pyc"))
            for p in candidates:
                if not os.path.lexists(p):
                    continue
                dest = self.trash / str(len(self.moved))
                os.replace(p, dest)
                self.moved.append((p, dest))
                dirs.add(p.parent)
        _prune_empty(dirs, Path(dist.location), self.venv)

    def discard(self, path: Path) -> None:
        """Move one file (a script we wrote earlier) into the trash."""
        if os.path.lexists(path):
            dest = self.trash / str(len(self.moved))
            os.replace(path, dest)
            self.moved.append((path, dest))

    def install(self, wheel: LocalWheel, requested: bool) -> None:
        """Install ``wheel`` into the venv's scheme; scripts bound to the venv's python."""
        scheme = dict(self.scheme)
        scheme["headers"] = os.path.join(scheme["headers"], wheel.name)
        destination = _RecordingDestination(
            scheme_dict=scheme,
            interpreter=self.interpreter,
            script_kind="posix" if os.name != "nt" else "win-amd64",
            bytecode_optimization_levels=(),
        )
        destination.written = self.written
        destination.root = os.path.realpath(self.venv)
        metadata = {"INSTALLER": INSTALLER_NAME + b"\n"}
        if requested:
            metadata["REQUESTED"] = b""
        with WheelFile.open(wheel.path) as source:
            installer_install(source, destination, metadata)

    def rollback(self) -> None:
        """Delete what was written and put back what was moved."""
        for path in reversed(self.written):
            if os.path.lexists(path) and not path.is_dir():
                path.unlink()
        _prune_empty({p.parent for p in self.written}, self.venv, self.venv)
        for original, dest in reversed(self.moved):
            original.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dest, original)
        shutil.rmtree(self.trash, ignore_errors=True)

    def commit(self) -> None:
        """Forget the undo information."""
        shutil.rmtree(self.trash, ignore_errors=True)


def _prune_empty(dirs: set[Path], stop: Path, venv: Path) -> None:
    # Remove directories left empty, deepest first, never the site dir or above.
    stops = {os.path.normpath(stop), os.path.normpath(venv)}
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        current = d
        while os.path.normpath(current) not in stops and str(current).startswith(str(venv)):
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent


def apply(steps: Sequence[Step], target: Target, discard: Sequence[Path] = ()) -> None:
    """Carry out ``steps`` in the venv; on failure leave it as it was.

    ``discard``: files to remove first (our scripts that the wheels replace).
    """
    changes = [s for s in steps if s.action != "keep"]
    if not changes:
        return
    for step in changes:
        if step.wheel is not None:
            verify_wheel(step.wheel)
        if step.old is not None:
            record_paths(step.old, target.venv.path)  # fail before writing, not halfway
    txn = Transaction(venv=target.venv.path, scheme=dict(target.venv.scheme),
                      interpreter=str(target.venv.python))
    step = changes[0]
    try:
        for path in discard:
            txn.discard(path)
        for step in changes:
            if step.old is not None:
                txn.uninstall(step.old)
            if step.wheel is not None:
                txn.install(step.wheel, step.requested)
    except BaseException as exc:
        txn.rollback()
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        what = step.wheel.filename if step.wheel else f"{step.name} {step.version}"
        raise InstallError(
            f"installing {what} into {target.venv.path} failed: {exc}; the venv was "
            "rolled back to its state before this run",
            hint="Check free space and permissions, then run again.",
        ) from None
    txn.commit()

