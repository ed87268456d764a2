"""``--lock pylock.toml``: install exactly a PEP 751 lock's packages, no resolution.

``packaging.pylock`` validates the file and applies the spec's selection rules
(lock-version, ``requires-python``, ``environments``, package markers with
``extras`` and ``dependency-groups``, one wheel chosen by its file name for the
target's tags); we evaluate them for the *target* interpreter, not the one
running venvfill.  What remains ours: finding each chosen wheel (``path``
relative to the lock, else ``url`` with ``--online``), checking its size and
hashes before anything is written, and turning the selection into the same
Plan a resolution produces — so installing, scripts, the fingerprint and the
report work unchanged.

A package the system (or the venv) already has *at the locked version* is
kept, not reinstalled; at any other version the locked wheel goes into the
venv.  Packages in the venv that the lock does not name are left alone.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from packaging.markers import Environment
from packaging.pylock import (
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockUnsupportedVersionError,
    PylockValidationError,
    is_valid_pylock_path,
)
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from ..errors import HashError, LockError, UnsatisfiableError
from ..inputs import MANIFEST_LIMIT, read_bounded
from ..manifest.model import Entry
from ..sources.wheelhouse import LocalWheel, file_digest
from ..target.interpreter import Target
from .plan import Action, Plan, Step

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the 3.9/3.10 tox environments
    import tomli as tomllib

GROUP = "pylock"
"""The group name locked packages are reported under."""


def read(path: Path) -> Pylock:
    """Parse and validate a lock file; every problem is a LockError naming the file."""
    if not is_valid_pylock_path(path):
        raise LockError(f"{path}: a lock file must be named pylock.toml or "
                        "pylock.<name>.toml (PEP 751)", hint="Rename the file.")
    try:
        data: dict[str, Any] = tomllib.loads(
            read_bounded(path, MANIFEST_LIMIT).decode("utf-8"))
    except RecursionError:
        raise LockError(f"{path} nests tables or arrays too deeply to read",
                        hint="A lock file is a few levels deep; write it again.") from None
    except FileNotFoundError:
        raise LockError(f"{path}: no such file",
                        hint="Write one with 'venvfill vendor --dest DIR'.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path} is not valid TOML: {exc}",
                        hint="Fix the file or write it again with 'venvfill vendor'.") from None
    version = data.get("lock-version")
    if isinstance(version, str) and version.split(".")[0] != "1":
        raise LockError(f"{path} has lock-version {version}; venvfill reads lock-version 1.x",
                        hint="Write the lock with a tool that produces lock-version 1.0.")
    try:
        return Pylock.from_dict(data)
    except PylockUnsupportedVersionError as exc:
        raise LockError(f"{path}: {exc}",
                        hint="Write the lock with a tool that produces lock-version 1.0.") from None
    except PylockValidationError as exc:
        raise LockError(f"{path} is not a valid PEP 751 lock file: {exc}",
                        hint="Fix the file or write it again with 'venvfill vendor'.") from None


def plan(path: Path, target: Target, groups: Sequence[str] = (), *,
         online: bool = False, cache_root: Path | None = None) -> Plan:
    """What installing the lock at ``path`` into ``target``'s venv means; writes nothing.

    ``groups``: the dependency groups to install (default: the lock's
    ``default-groups``).  Every chosen wheel is found and its size and hashes
    checked here, so a bad lock refuses the run before the venv is touched.
    """
    lock = read(path)
    if lock.lock_version > Version("1.0"):
        print(f"venvfill: warning: {path} has lock-version {lock.lock_version}; read as "
              "1.0 (newer fields are ignored)", file=sys.stderr)
    # The target's marker values (a TypedDict to packaging; ours is a plain mapping).
    environment = cast("Environment", dict(target.markers))
    try:
        selected = list(lock.select(environment=environment, tags=target.tags,
                                    dependency_groups=tuple(groups) or None))
    except PylockSelectError as exc:
        raise LockError(f"{path} does not apply to {target.executable} (Python "
                        f"{target.python_version}, {target.tags[0]}): {exc}",
                        hint="Write a lock for this interpreter: venvfill vendor "
                        "--python PATH (repeatable) locks for several.") from None
    visible = target.visible()
    steps: list[Step] = []
    entries: list[Entry] = []
    for package, source in selected:
        name = canonicalize_name(package.name)
        if not isinstance(source, PackageWheel):
            kind = type(source).__name__.replace("Package", "").lower()
            raise LockError(f"{path}: package {package.name} is locked as an {kind}, "
                            "not a wheel; venvfill installs wheels only",
                            hint="Lock it with a wheel for this target (venvfill vendor "
                            "does), or build one and lock that.")
        wheel = _wheel(path, package.name, source, online=online, cache_root=cache_root)
        version = package.version or wheel.version
        entries.append(Entry(name=name, display_name=package.name, group=GROUP,
                             accepted=SpecifierSet(f"=={version}")))
        venv_copy = next((d for d in visible.get(name, ()) if d.source == "venv"), None)
        system = target.system_copy(name)
        action: Action
        if venv_copy is not None and venv_copy.version == version:
            action, installed, old, chosen = "keep", venv_copy, None, None
        elif system is not None and system.version == version:
            action = "remove" if venv_copy is not None else "keep"
            installed, old, chosen = system, venv_copy, None
        else:
            action = "replace" if venv_copy is not None else "install"
            installed, old, chosen = None, venv_copy, wheel
        steps.append(Step(action=action, name=name, version=version,
                          source=installed.source if installed else "wheels", requested=True,
                          installed=installed, wheel=chosen, old=old))
    _verify([s for s in steps if s.wheel is not None], path, selected)
    steps.sort(key=lambda s: s.name)
    return Plan(entries=tuple(entries), skipped=(), steps=tuple(steps))


def _wheel(lock_path: Path, package: str, entry: PackageWheel, *, online: bool,
           cache_root: Path | None) -> LocalWheel:
    # The chosen wheel as a local file (a path relative to the lock), or as a
    # download (a url, --online only); its expected digests are checked later.
    filename = entry.filename
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, ValueError):
        raise LockError(f"{lock_path}: package {package} names the wheel {filename!r}, "
                        "which is not a valid wheel file name") from None
    if entry.path is not None:
        local = Path(entry.path)
        if not local.is_absolute():
            local = lock_path.parent / local
        if local.exists() or entry.url is None:
            if not local.is_file():
                raise LockError(f"{lock_path}: package {package}: {local} does not exist",
                                hint="Copy the whole directory the lock was written into "
                                "(the wheels sit next to pylock.toml).")
            return LocalWheel(path=local, name=name, version=version, build=build,
                              tags=tags)
    assert entry.url is not None  # packaging requires path or url
    if not online or cache_root is None:
        raise UnsatisfiableError(
            f"{lock_path}: package {package} is locked to {entry.url}, which is not on "
            "this machine",
            hint="Run with --online to download it (its hash is checked), or vendor the "
            "wheels on a connected machine with 'venvfill vendor' and copy them here.")
    from ..sources.index import IndexFile
    from ..sources.remote import IndexWheel

    sha256 = entry.hashes.get("sha256")
    if sha256 is None:
        raise LockError(f"{lock_path}: package {package}: {entry.url} has no sha256 hash; "
                        "venvfill checks every download by sha256",
                        hint="Lock it with a sha256 hash.")
    return IndexWheel(path=cache_root / "downloads" / sha256 / filename, name=name,
                      version=version, build=build, tags=tags,
                      file=IndexFile(filename, entry.url, sha256))


def _verify(steps: Sequence[Step], lock_path: Path,
            selected: Sequence[tuple[Any, Any]]) -> None:
    # Size and every known hash of each local wheel to install (PEP 751: MUST).
    # A download is checked by sha256 as it arrives (remote.IndexWheel.fetch).
    from ..sources.remote import IndexWheel

    expected = {canonicalize_name(p.name): w for p, w in selected}
    problems: list[str] = []
    for step in steps:
        wheel = step.wheel
        assert wheel is not None
        if isinstance(wheel, IndexWheel):
            continue
        entry = expected[step.name]
        size = os.stat(wheel.path).st_size
        if entry.size is not None and size != entry.size:
            problems.append(f"{wheel.path} ({step.name} {step.version}) is {size} bytes; "
                            f"the lock says {entry.size}")
            continue
        known = {a: d for a, d in entry.hashes.items() if a in hashlib.algorithms_guaranteed}
        if not known:
            problems.append(f"{wheel.path} ({step.name}): the lock gives no hash venvfill "
                            f"can check ({', '.join(entry.hashes)})")
            continue
        for algorithm, want in sorted(known.items()):
            got = file_digest(wheel.path, algorithm)
            if got != want.lower():
                problems.append(f"{wheel.path} ({step.name} {step.version}): {algorithm} "
                                f"is {got}; the lock says {want}")
                break
    if problems:
        raise HashError(f"wheels do not match {lock_path}:\n"
                        + "\n".join(f"  - {p}" for p in problems),
                        hint="The files were changed or damaged after locking; copy them "
                        "again from where the lock was written. Nothing was installed.")
