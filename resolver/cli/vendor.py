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
import html
import json
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from .. import __version__
from ..cache.store import Cache
from ..errors import UsageError
from ..manifest import load
from ..resolve.plan import resolve
from ..sources.index import Index
from ..sources.remote import IndexWheel, Remote
from ..sources.wheelhouse import LocalWheel, scan, wheel_at
from ..target.interpreter import Target, check_python, probe

LOCK_NAME = "pylock.toml"


@dataclass(frozen=True)
class Locked:
    """One package of the lock: the wheels chosen for it and the targets needing it."""

    name: str
    version: str
    wheels: tuple[Path, ...]
    targets: tuple[str, ...]


def vendor(manifest: Path, groups: Sequence[str], dest: Path, pythons: Sequence[str],
           indexes: Sequence[str], cache: Cache, *, described: Target | None = None,
           simple: bool = False) -> list[Locked]:
    """Fill ``dest`` with the wheels of every target and write its pylock.toml.

    ``pythons`` are probed; ``described`` is a target named by its tags
    (target/foreign.py).  ``simple``: also write a PEP 503 ``simple/`` tree.
    """
    if not cache.usable():
        raise UsageError(f"vendor needs a writable cache directory; {cache.root} is not",
                         hint="Name one with --cache-dir DIR.")
    entries = load(manifest).select(tuple(groups))
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[tuple[str, str], list[Path]] = {}
    needed_by: dict[tuple[str, str], list[str]] = {}
    all_targets: list[str] = []
    targets = [_probed(python) for python in pythons]
    if described is not None:
        targets.append(described)
    for target in targets:
        label = _marker(target)
        all_targets.append(label)
        remote = Remote([Index(u) for u in indexes], cache.root, target.python_version)
        plan = resolve(entries, target, scan([dest]), remote)
        for step in plan.steps:
            if step.wheel is None:
                continue
            path = _place(step.wheel, dest)
            key = (step.name, str(step.version))
            if path not in files.setdefault(key, []):
                files[key].append(path)
            if label not in needed_by.setdefault(key, []):
                needed_by[key].append(label)
    locked = [Locked(name, version, tuple(files[(name, version)]),
                     tuple(needed_by[(name, version)]))
              for name, version in sorted(files)]
    write_lock(dest / LOCK_NAME, locked, all_targets)
    if simple:
        write_simple(dest, [w for p in locked for w in p.wheels])
    return locked


def _probed(python: str) -> Target:
    check_python(python)
    with tempfile.TemporaryDirectory() as scratch:
        return _bare(probe(python, Path(scratch) / "venv"))


def _bare(target: Target) -> Target:
    # The target as a sealed machine would have it: nothing installed anywhere.
    return dataclasses.replace(target, distributions=(),
                               venv=target.venv._replace(distributions=()))


def _marker(target: Target) -> str:
    m = target.markers
    # X.Y, not X.Y.Z: a lock written for 3.11.9 serves a sealed 3.11.2 too.
    return (f"python_version == '{m['python_version']}' and "
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


def write_simple(dest: Path, wheels: Sequence[Path]) -> None:
    """Write ``dest/simple/``: a PEP 503 index of ``wheels`` that a static server serves.

    Pages are HTML (a static server cannot negotiate JSON), links relative with
    ``#sha256=`` and ``data-requires-python``; written to a temporary tree and
    swapped in, so a server never shows a half-written index.
    """
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        by_project.setdefault(canonicalize_name(parse_wheel_filename(wheel.name)[0]),
                              []).append(wheel)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".simple-"))
    projects = []
    for project, files in sorted(by_project.items()):
        links = []
        for wheel in sorted(set(files)):
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            href = f"../../{urllib.parse.quote(wheel.name)}#sha256={digest}"
            requires = _requires_python(wheel)
            attrs = f' data-requires-python="{html.escape(requires)}"' if requires else ""
            links.append(f'<a href="{href}"{attrs}>{html.escape(wheel.name)}</a><br>')
        (tmp / project).mkdir()
        (tmp / project / "index.html").write_text(_page(f"Links for {project}", links),
                                                  encoding="utf-8")
        projects.append(f'<a href="{project}/">{project}</a><br>')
    (tmp / "index.html").write_text(_page("Simple index", projects), encoding="utf-8")
    final = dest / "simple"
    old = dest / ".simple-old"
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _page(title: str, rows: Sequence[str]) -> str:
    return ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" '
            f'content="1.0"><title>{html.escape(title)}</title></head><body>\n'
            + "\n".join(rows) + "\n</body></html>\n")


def _requires_python(wheel: Path) -> str | None:
    spec = wheel_at(wheel).metadata().requires_python
    return str(spec) if spec else None
