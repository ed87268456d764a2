"""The probe's report, remembered between runs while nothing it describes changed.

Running the probe means starting the target interpreter and importing its
``importlib.metadata`` (which pulls in email, zipfile, inspect...): most of a
warm fill's fixed cost.  What it reports about the interpreter depends only on
the interpreter and on what is installed where it looks, so that part is kept
in the cache, under ``probes/``, one record per interpreter, with the mtimes
of everything it was read from:

* the interpreter as given and as ``sys.executable``, its ``pyvenv.cfg`` and
  standard library directory (an upgrade or an ``EXTERNALLY-MANAGED`` file);
* every site directory (a distribution or ``.pth`` file added or removed),
  each ``.pth`` file (they decide ``sys.path``) and each distribution's
  metadata directory (replaced in place);
* the kernel (``os.uname`` but the host name, which no marker reports: containers
  get a new one each start).

A record is used only if every one of those is as recorded, and only for a
venv that does not exist yet (no ``pyvenv.cfg``, no site-packages): then the
venv's part of the report is known without asking, its install paths being
the recorded ones with the venv's path put in.  An existing venv is probed.

A record is kept only if nothing watched changed shortly before the probe
started: a change racing the probe could otherwise leave a report older than
the mtimes kept with it (the rule git's index uses for "racily clean" files).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import earlyprobe, fingerprint
from .earlyprobe import PROBES, Early
from .ledger import write_quietly

_SETTLED_NS = 2_000_000_000
"""How long before the probe a watched path must have last changed (coarse file
systems keep mtimes in 1-2 s steps)."""
_VENV = "\0venv"
"""Stands for the venv's path in a recorded install scheme."""


def _file(cache_root: Path, python: str) -> Path:
    return Path(earlyprobe.memo_file(str(cache_root), python))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def watched(python: str, data: Mapping[str, Any]) -> list[str] | None:
    """Every path the interpreter's report was read from; None if one cannot be watched."""
    paths = [python, data["executable"], os.path.join(data["prefix"], "pyvenv.cfg")]
    if data.get("stdlib"):
        paths.append(data["stdlib"])
    for site in (*data.get("site_dirs", ()), *data.get("base_site_dirs", ())):
        paths.append(site)
        with contextlib.suppress(OSError):  # a missing directory: its mtime (-1) is watched
            paths.extend(os.path.join(site, n) for n in os.listdir(site) if n.endswith(".pth"))
    for dist in data.get("distributions", ()):
        if not dist.get("metadata") or _mtime(dist["metadata"]) == -1:
            return None  # metadata not on the file system (a zip): always probe
        paths.append(dist["metadata"])
    return sorted(set(paths))


def _unborn(venv: Path, scheme: Mapping[str, str]) -> bool:
    # Nothing of a venv there yet: its report would say so without being asked.
    return not any(os.path.lexists(p) for p in (
        os.path.join(venv, "pyvenv.cfg"), scheme["purelib"], scheme["platlib"]))


def recall(cache_root: Path, python: str, venv: Path) -> dict[str, Any] | None:
    """The report for ``python`` and a venv not made yet at ``venv``, if remembered.

    None when there is no record, it no longer holds, or the venv exists (probe then).
    """
    try:
        with open(_file(cache_root, python), encoding="utf-8") as f:
            record = json.load(f)
        if (record["python"] != os.path.realpath(python) or record["uname"] != fingerprint.kernel()
                or not all(_mtime(p) == m for p, m in record["watched"])):
            return None
        data: dict[str, Any] = record["data"]
        if not isinstance(data, dict):
            return None
        where = os.path.abspath(venv)
        scheme = {k: where + v[len(_VENV):] for k, v in record["scheme"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not _unborn(venv, scheme):
        return None
    data["venv"] = {"path": where, "exists": os.path.exists(venv),
                    "is_dir": os.path.isdir(venv), "pyvenv_cfg": None, "scheme": scheme,
                    "distributions": []}
    return data


def remember(cache_root: Path, python: str, venv: Path, data: Mapping[str, Any],
             started_ns: int) -> None:
    """Keep the interpreter's part of ``data`` for ``recall``.

    ``started_ns``: when the probe that produced ``data`` started (wall clock).
    """
    report = data.get("venv") or {}
    where = os.path.abspath(venv)
    scheme = report.get("scheme") or {}
    if report.get("path") != where or not scheme or not all(
            v == where or v.startswith(where + os.sep) for v in scheme.values()):
        return  # install paths not under the venv: cannot be carried to another one
    paths = watched(python, data)
    if paths is None:
        return
    mtimes = [(p, _mtime(p)) for p in paths]
    if any(m > started_ns - _SETTLED_NS for _, m in mtimes):
        return  # changed just before or during the probe: the report may be older
    record = {"python": os.path.realpath(python), "uname": fingerprint.kernel(),
              "watched": mtimes, "data": {k: v for k, v in data.items() if k != "venv"},
              "scheme": {k: _VENV + v[len(where):] for k, v in scheme.items()}}
    write_quietly(_file(cache_root, python), record)


def prune(cache_root: Path) -> int:
    """Forget records of interpreters that no longer exist; return how many."""
    removed = 0
    directory = cache_root / PROBES
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            python = json.loads(path.read_text(encoding="utf-8"))["python"]
            if os.path.exists(python):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def now_ns() -> int:
    """Wall-clock time, comparable with mtimes."""
    return time.time_ns()


def start_for(options: dict[str, Any] | None) -> Early | None:
    """``start`` for a plain fill (quick.parse's options), else None."""
    from . import quick

    paths = quick.fill_paths(options)
    if paths is None:
        return None
    python, venv, cache_root = paths
    return start(python, Path(venv), Path(cache_root))


def start(python: str, venv: Path, cache_root: Path | None) -> Early | None:
    """Start the probe early if a fill will need it: a new venv, no usable record."""
    if os.path.lexists(venv):
        return None
    if cache_root is not None and recall(cache_root, python, venv) is not None:
        return None
    return earlyprobe.start(python, str(venv))
