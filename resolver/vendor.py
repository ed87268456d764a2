"""``venvfill vendor``: gather, on a connected machine, every wheel a sealed one needs.

For each target interpreter the manifest is resolved as if nothing were
installed (the sealed machine's base is not this machine's), from the
destination's own wheels first and then the index.  Every chosen wheel is
copied into the destination, and ``pylock.toml`` (PEP 751) lists them with
their sizes and sha256, so the destination can be copied to a machine with no
network and filled from by manifest (``--wheels DIR``) or by lock
(``--lock DIR/pylock.toml``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .cache import Cache
from .errors import UsageError
from .index import Index
from .manifest import load
from .remote import IndexWheel, Remote
from .resolve import resolve
from .target import Target, check_python, probe
from .wheelhouse import LocalWheel, scan

LOCK_NAME = "pylock.toml"


@dataclass(frozen=True)
class Locked:
    """One package of the lock: the wheels chosen for it and the targets needing it."""

    name: str
    version: str
    wheels: tuple[Path, ...]
    targets: tuple[str, ...]


def vendor(manifest: Path, groups: Sequence[str], dest: Path, pythons: Sequence[str],
           indexes: Sequence[str], cache: Cache) -> list[Locked]:
    """Fill ``dest`` with the wheels of every target and write its pylock.toml."""
    if not cache.usable():
        raise UsageError(f"vendor needs a writable cache directory; {cache.root} is not",
                         hint="Name one with --cache-dir DIR.")
    entries = load(manifest).select(tuple(groups))
    dest.mkdir(parents=True, exist_ok=True)
    found: dict[tuple[str, str], dict[str, object]] = {}
    all_targets: list[str] = []
    for python in pythons:
        check_python(python)
        with tempfile.TemporaryDirectory() as scratch:
            target = _bare(probe(python, Path(scratch) / "venv"))
        label = _marker(target)
        all_targets.append(label)
        remote = Remote([Index(u) for u in indexes], cache.root, target.python_version)
        plan = resolve(entries, target, scan([dest]), remote)
        for step in plan.steps:
            if step.wheel is None:
                continue
            path = _place(step.wheel, dest)
            item = found.setdefault((step.name, str(step.version)),
                                    {"wheels": [], "targets": []})
            wheels = item["wheels"]
            targets = item["targets"]
            assert isinstance(wheels, list) and isinstance(targets, list)
            if path not in wheels:
                wheels.append(path)
            targets.append(label)
    locked = [Locked(name, version, tuple(item["wheels"]),  # type: ignore[arg-type]
                     tuple(dict.fromkeys(item["targets"])))  # type: ignore[call-overload]
              for (name, version), item in sorted(found.items())]
    write_lock(dest / LOCK_NAME, locked, all_targets)
    return locked


def _bare(target: Target) -> Target:
    # The target as a sealed machine would have it: nothing installed anywhere.
    return dataclasses.replace(target, distributions=(),
                               venv=dataclasses.replace(target.venv, distributions=()))


def _marker(target: Target) -> str:
    m = target.markers
    return (f"python_full_version == '{m['python_full_version']}' and "
            f"implementation_name == '{m['implementation_name']}' and "
            f"sys_platform == '{m['sys_platform']}' and "
            f"platform_machine == '{m['platform_machine']}'")


def _place(wheel: LocalWheel, dest: Path) -> Path:
    # The wheel's file in ``dest`` (downloaded first when it comes from the index).
    source = wheel.fetch() if isinstance(wheel, IndexWheel) else wheel.path
    final = dest / source.name
    if os.path.abspath(source) != os.path.abspath(final) and not final.exists():
        tmp = dest / f".{source.name}.tmp"
        shutil.copyfile(source, tmp)
        os.replace(tmp, final)
    return final


def _toml_str(value: str) -> str:
    # A TOML basic string: JSON's escapes are valid TOML escapes.
    return json.dumps(value, ensure_ascii=False)


def write_lock(path: Path, packages: Sequence[Locked], targets: Sequence[str]) -> None:
    """Write a PEP 751 lock of ``packages``; markers only where not every target needs one."""
    lines = ['lock-version = "1.0"', f"created-by = {_toml_str('venvfill ' + __version__)}"]
    if len(targets) > 1:
        lines.append("environments = [" + ", ".join(_toml_str(t) for t in targets) + "]")
    for package in packages:
        lines += ["", "[[packages]]", f"name = {_toml_str(package.name)}",
                  f"version = {_toml_str(package.version)}"]
        if set(package.targets) != set(targets):
            marker = " or ".join(f"({t})" for t in package.targets)
            lines.append(f"marker = {_toml_str(marker)}")
        for wheel in package.wheels:
            data = wheel.read_bytes()
            rel = os.path.relpath(wheel, path.parent).replace(os.sep, "/")
            lines += ["[[packages.wheels]]", f"name = {_toml_str(wheel.name)}",
                      f"path = {_toml_str(rel)}", f"size = {len(data)}",
                      f"hashes = {{ sha256 = {_toml_str(hashlib.sha256(data).hexdigest())} }}"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
