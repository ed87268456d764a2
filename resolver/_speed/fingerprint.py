"""Skip work on an unchanged re-run: a fingerprint of everything a fill depends on.

Every configure of every build runs venvfill; most runs find nothing to do.
After a successful fill we record, in ``.venvfill/fingerprint`` (_speed/statefile.py):

* a key: venvfill's version, the manifest's bytes, the selected groups and
  options, the target interpreter's path, and each wheel directory's listing
  (name, size, mtime of every file), kept verbatim rather than digested
  (importing hashlib costs more start-up time than comparing a few kB);
* watched paths with their mtimes: the target interpreter, every site directory
  the target sees, the metadata directory of every distribution the fill relied
  on, and the venv's configuration, site-packages and ``bin/``.

Installing or removing a distribution changes its site directory's mtime;
replacing one in place changes its metadata directory's; editing the venv
changes its site-packages' or ``bin/``'s.  If the key and every mtime are the
same, the venv is as the last fill left it and the probe and resolution are
skipped.  This is the fast path (_speed/quick.py): it imports only os, sys, fcntl
and marshal, never json, pathlib, hashlib, packaging, resolvelib or installer.
"""

from __future__ import annotations

import os

from .. import __version__
from ..inputs import MANIFEST_LIMIT, read_bounded
from ..owned import STATE_DIR
from . import statefile

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path
    from typing import Any

FILE = "fingerprint"
_TAG = b"venvfill fingerprint 1\n"
_LEGACY = "fingerprint.json"
"""Where venvfill 0.1 kept it (JSON); removed when the new record is written."""


def key(manifest: str | Path, groups: Sequence[str], python: str,
        wheels: Sequence[str | Path], options: Sequence[str]) -> str | None:
    """Everything the run's outcome depends on, as one string; None when unreadable."""
    keyed = key_and_newest(manifest, groups, python, wheels, options)
    return None if keyed is None else keyed[0]


def key_and_newest(manifest: str | Path, groups: Sequence[str], python: str,
                   wheels: Sequence[str | Path], options: Sequence[str]
                   ) -> tuple[str, int] | None:
    """``key``, with the newest mtime among the files it lists (0: none); None: unreadable.

    A recipe (_speed/recipes.py) is kept only if that mtime is old enough for a later
    change to show in it: the key is what says the wheels are the same.
    """
    parts = [__version__, os.path.abspath(manifest), *groups, "|", os.path.abspath(python),
             "|", *options, "|"]
    newest = 0
    try:
        # latin-1 maps every byte to one character: the text is the bytes.  Bounded,
        # and never waiting on a FIFO (inputs.py): the full run then says what is wrong.
        parts.append(read_bounded(manifest, MANIFEST_LIMIT).decode("latin-1"))
        for directory in wheels:
            parts.append(os.path.abspath(directory))
            with os.scandir(directory) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    st = entry.stat()
                    parts.append(f"{entry.name}/{st.st_size}/{st.st_mtime_ns}")
                    newest = max(newest, st.st_mtime_ns)
    except OSError:
        return None
    return "\0".join(parts), newest


_IN_VENV = "@venv/"
"""Prefix of paths stored relative to the venv, which records no path of its own."""


def _store(path: str, venv: str | Path) -> str:
    root = os.path.normpath(venv) + os.sep
    return _IN_VENV + path[len(root):] if path.startswith(root) else path


def _load(path: str, venv: str | Path) -> str:
    return os.path.join(venv, path[len(_IN_VENV):]) if path.startswith(_IN_VENV) else path


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def up_to_date(venv: str | Path, run_key: str | None) -> dict[str, Any] | None:
    """The recorded fill if nothing changed since it, with this key; else None.

    The record has ``python`` (the venv's interpreter) and ``packages`` (what the
    fill left: name, version, source, location, requested).
    """
    if run_key is None:
        return None
    state = os.path.join(venv, STATE_DIR)
    data = statefile.load(os.path.join(state, FILE), _TAG)
    if not isinstance(data, dict) or data.get("key") != run_key:
        return None
    if any(os.path.lexists(os.path.join(state, name)) for name in ("journal.json", "stage")):
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


def record(venv: str | Path, run_key: str | None, python: str, watched: Iterable[str],
           packages: list[dict[str, Any]], target: dict[str, str]) -> None:
    """Write the fingerprint after a successful fill."""
    if run_key is None:
        return
    state = os.path.join(venv, STATE_DIR)
    paths = sorted(set(watched))
    stored = [{**p, "location": _store(str(p.get("location", "")), venv)} for p in packages]
    data = {"key": run_key, "python": _store(python, venv), "packages": stored,
            "target": target, "watched": [[_store(p, venv), _mtime(p)] for p in paths]}
    statefile.dump(os.path.join(state, FILE), _TAG, data)
    try:  # noqa: SIM105 - contextlib is an import this module avoids
        os.unlink(os.path.join(state, _LEGACY))
    except FileNotFoundError:
        pass


def kernel() -> list[str]:
    """The kernel as environment markers see it: ``os.uname`` but the host name.

    Containers get a new host name at every start; no marker reports it.
    """
    system, _, release, version, machine = os.uname()
    return [system, release, version, machine]


def forget(venv: Path) -> None:
    """Drop the fingerprint: the venv is about to change."""
    try:  # noqa: SIM105 - contextlib is an import this module avoids
        os.unlink(os.path.join(venv, STATE_DIR, FILE))
    except FileNotFoundError:
        pass
