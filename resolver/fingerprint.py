"""Skip work on an unchanged re-run: a fingerprint of everything a fill depends on.

Every configure of every build runs venvfill; most runs find nothing to do.
After a successful fill we record, in ``.venvfill/fingerprint.json``:

* a key: venvfill's version, the manifest's bytes, the selected groups and
  options, the target interpreter's path, and each wheel directory's listing
  (name, size, mtime of every file);
* watched paths with their mtimes: the target interpreter, every site directory
  the target sees, the metadata directory of every distribution the fill relied
  on, and the venv's configuration, site-packages and ``bin/``.

Installing or removing a distribution changes its site directory's mtime;
replacing one in place changes its metadata directory's; editing the venv
changes its site-packages' or ``bin/``'s.  If the key and every mtime are the
same, the venv is as the last fill left it and the probe and resolution are
skipped.  Standard library only: this is the fast path, and must not import
packaging, resolvelib or installer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .lockfile import STATE_DIR

FILE = "fingerprint.json"


def key(manifest: Path, groups: Sequence[str], python: str, wheels: Sequence[Path],
        options: Sequence[str]) -> str | None:
    """The digest of the run's inputs, or None when an input cannot be read."""
    h = hashlib.sha256()
    try:
        h.update(manifest.read_bytes())
        for directory in wheels:
            h.update(os.path.abspath(directory).encode() + b"\0")
            with os.scandir(directory) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    st = entry.stat()
                    h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    except OSError:
        return None
    for part in (__version__, os.path.abspath(manifest), *groups, "|", os.path.abspath(python),
                 "|", *options):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


_IN_VENV = "@venv/"
"""Prefix of paths stored relative to the venv, which records no path of its own."""


def _store(path: str, venv: Path) -> str:
    root = os.path.normpath(venv) + os.sep
    return _IN_VENV + path[len(root):] if path.startswith(root) else path


def _load(path: str, venv: Path) -> str:
    return str(venv / path[len(_IN_VENV):]) if path.startswith(_IN_VENV) else path


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def up_to_date(venv: Path, run_key: str | None) -> dict[str, Any] | None:
    """The recorded fill if nothing changed since it, with this key; else None.

    The record has ``python`` (the venv's interpreter) and ``packages`` (what the
    fill left: name, version, source, location, requested).
    """
    if run_key is None:
        return None
    state = venv / STATE_DIR
    try:
        data = json.loads((state / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != run_key:
        return None
    if (state / "journal.json").exists() or (state / "stage").exists():
        return None
    watched = data.get("watched", [])
    if not all(isinstance(w, list) and len(w) == 2 and isinstance(w[0], str)
               and _mtime(_load(w[0], venv)) == w[1] for w in watched):
        return None
    if not isinstance(data.get("python"), str) or not isinstance(data.get("packages"), list):
        return None
    data["python"] = _load(data["python"], venv)
    for package in data["packages"]:
        if isinstance(package, dict) and isinstance(package.get("location"), str):
            package["location"] = _load(package["location"], venv)
    return data


def record(venv: Path, run_key: str | None, python: str, watched: Iterable[str],
           packages: list[dict[str, Any]], target: dict[str, str]) -> None:
    """Write the fingerprint after a successful fill."""
    if run_key is None:
        return
    state = venv / STATE_DIR
    paths = sorted(set(watched))
    stored = [{**p, "location": _store(str(p.get("location", "")), venv)} for p in packages]
    data = {"key": run_key, "python": _store(python, venv), "packages": stored,
            "target": target, "watched": [[_store(p, venv), _mtime(p)] for p in paths]}
    tmp = state / (FILE + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, state / FILE)


def forget(venv: Path) -> None:
    """Drop the fingerprint: the venv is about to change."""
    with contextlib.suppress(FileNotFoundError):
        (venv / STATE_DIR / FILE).unlink()
