"""Console scripts of distributions outside the venv, bound to the venv's python.

A non-isolated venv can import the distro's Sphinx but has no ``sphinx-build``
of its own; the one on PATH runs the base interpreter.  For every manifest
entry served from the base or a parent venv, its ``console_scripts`` and
``gui_scripts`` are written into the venv's ``bin/`` with ``installer``'s
script generator, whose shebang names the venv's python.

What we wrote is recorded in ``.venvfill/state.json`` inside the venv, so a
later run can tell our scripts from a package's own: we never overwrite a
file we did not write, and we remove our scripts once their distribution is
no longer served from outside the venv (or is gone).  Scripts made for
entries of groups not selected in this run are kept while still valid:
QEMU fills one venv group by group.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from packaging.utils import NormalizedName, canonicalize_name

from ..owned import STATE_DIR
from ..resolve.plan import Plan
from ..target.interpreter import Installed, Target
from . import launcher

STATE_FILE = "state.json"


class ScriptChanges(NamedTuple):
    """What a sync did, for the report."""

    written: tuple[tuple[str, str], ...]  # (script, distribution)
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # reasons


def state_path(venv: Path) -> Path:
    """Where venvfill keeps its record inside the venv."""
    return venv / STATE_DIR / STATE_FILE


def load_state(venv: Path) -> dict[str, dict[str, str]]:
    """Scripts written by earlier runs: name → {"dist", "sha256"}."""
    try:
        data = json.loads(state_path(venv).read_text(encoding="utf-8"))
        scripts = data.get("scripts", {})
        return {k: dict(v) for k, v in scripts.items() if isinstance(v, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


def generate(dist: Installed, interpreter: str, *, relocatable: bool = False
             ) -> dict[str, bytes]:
    """Launchers for ``dist``'s entry points, script name → content."""
    text = dist.entry_points
    if not text:
        return {}
    # Here, not at the top: a fill that writes no scripts does not import installer.
    from installer.scripts import Script
    from installer.utils import parse_entrypoints

    out: dict[str, bytes] = {}
    try:
        entries = list(parse_entrypoints(text))
    except Exception:  # a malformed entry_points.txt of the system's: no scripts from it
        return {}
    for name, module, attr, section in entries:
        script_name, data = Script(name, module, attr, section).generate(
            launcher.PLACEHOLDER if relocatable else interpreter,
            "posix" if os.name != "nt" else "win-amd64")
        out[script_name] = launcher.relocate(data) if relocatable else data
    return out


def owned_by_installs(plan: Plan, target: Target) -> list[Path]:
    """Our scripts whose distribution this run installs into the venv.

    The wheel brings its own scripts; ours must go first, or the install would
    find the file already there.
    """
    installing = {s.name for s in plan.changes if s.wheel is not None}
    bindir = Path(target.venv.scheme["scripts"])
    return [bindir / name for name, rec in load_state(target.venv.path).items()
            if rec.get("dist") in installing]


def sync(plan: Plan, target: Target, *, relocatable: bool = False) -> ScriptChanges:
    """Write, refresh and remove our scripts for the state the plan leaves."""
    venv = target.venv.path
    bindir = Path(target.venv.scheme["scripts"])
    interpreter = str(target.venv.python)
    state = load_state(venv)
    in_venv = {s.name for s in plan.steps if s.source in ("venv", "wheels")}

    wanted: dict[str, tuple[NormalizedName, bytes]] = {}
    sources: list[Installed] = list(plan.script_sources())
    # Distributions of earlier runs' scripts stay served while still outside the venv.
    for rec in state.values():
        name = canonicalize_name(rec.get("dist", ""))
        dist = target.system_copy(name)
        if dist is not None and name not in in_venv and dist not in sources:
            sources.append(dist)
    for dist in sources:
        for script, data in generate(dist, interpreter, relocatable=relocatable).items():
            wanted.setdefault(script, (dist.name, data))

    written: list[tuple[str, str]] = []
    skipped: list[str] = []
    new_state: dict[str, dict[str, str]] = {}
    for script, (dist_name, data) in sorted(wanted.items()):
        path = bindir / script
        digest = hashlib.sha256(data).hexdigest()
        ours = script in state
        if os.path.lexists(path) and not ours:
            skipped.append(f"{script}: {path} exists and is not venvfill's; left alone")
            continue
        if ours and path.exists() and _sha256(path) != state[script].get("sha256"):
            skipped.append(f"{script}: {path} was changed after venvfill wrote it; left alone")
            new_state[script] = state[script]
            continue
        if not path.exists() or _sha256(path) != digest:
            _write_executable(path, data)
            written.append((script, dist_name))
        new_state[script] = {"dist": dist_name, "sha256": digest}

    # Our scripts for distributions this run installed were moved aside before the
    # install (owned_by_installs); the file there now is the wheel's own.
    installed_now = {s.name for s in plan.changes if s.wheel is not None}
    removed: list[str] = []
    for script, rec in state.items():
        if script in new_state or rec.get("dist") in installed_now:
            continue
        path = bindir / script
        if path.exists() and _sha256(path) == rec.get("sha256"):
            path.unlink()
            removed.append(script)
        elif not path.exists():
            removed.append(script)
    _save_state(venv, new_state)
    return ScriptChanges(tuple(written), tuple(sorted(removed)), tuple(skipped))


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _write_executable(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.venvfill-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def _save_state(venv: Path, scripts: Mapping[str, Mapping[str, str]]) -> None:
    path = state_path(venv)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"scripts": scripts}, indent=1, sort_keys=True),
                   encoding="utf-8")
    os.replace(tmp, path)
