"""The probe's report, remembered between runs while nothing it describes changed.

Running the probe means starting the target interpreter and importing its
``importlib.metadata`` (which pulls in email, zipfile, inspect...): most of a
warm fill's fixed cost.  Its report depends only on the interpreter and on
what is installed where it looks, so it is kept in the cache, under
``probes/``, with the mtimes of everything it was read from:

* the interpreter as given and as ``sys.executable``, its ``pyvenv.cfg`` and
  standard library directory (an upgrade or an ``EXTERNALLY-MANAGED`` file);
* every site directory (a distribution or ``.pth`` file added or removed),
  each ``.pth`` file (they decide ``sys.path``) and each distribution's
  metadata directory (replaced in place);
* the venv's ``pyvenv.cfg``, its site-packages and their distributions;
* the kernel (``os.uname``, which some markers report).

A report is used only if every one of those is as recorded.  One is recorded
only if none of them changed shortly before the probe started: a change racing
the probe could otherwise leave a report older than the mtimes kept with it
(the rule git's index uses for "racily clean" files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROBES = "probes"
_SETTLED_NS = 2_000_000_000
"""How long before the probe a watched path must have last changed (coarse file
systems keep mtimes in 1-2 s steps)."""


def _file(cache_root: Path, python: str, venv: Path) -> Path:
    key = f"{os.path.abspath(python)}\0{os.path.abspath(venv)}".encode()
    return cache_root / PROBES / (hashlib.sha256(key).hexdigest()[:32] + ".json")


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def watched(python: str, data: Mapping[str, Any]) -> list[str] | None:
    """Every path the report was read from; None if it cannot be watched."""
    paths = [python, data["executable"], os.path.join(data["prefix"], "pyvenv.cfg")]
    if data.get("stdlib"):
        paths.append(data["stdlib"])
    for site in (*data.get("site_dirs", ()), *data.get("base_site_dirs", ())):
        paths.append(site)
        with contextlib.suppress(OSError):  # a missing directory: its mtime (-1) is watched
            paths.extend(os.path.join(site, n) for n in os.listdir(site) if n.endswith(".pth"))
    venv = data.get("venv") or {}
    if venv:
        scheme = venv["scheme"]
        paths += [os.path.join(venv["path"], "pyvenv.cfg"), scheme["purelib"],
                  scheme["platlib"]]
        if venv.get("pyvenv_cfg") is not None:
            paths.append(venv["path"])  # a file removed beside pyvenv.cfg
    for dist in (*data.get("distributions", ()), *venv.get("distributions", ())):
        if not dist.get("metadata") or _mtime(dist["metadata"]) == -1:
            return None  # metadata not on the file system (a zip): always probe
        paths.append(dist["metadata"])
    return sorted(set(paths))


def recall(cache_root: Path, python: str, venv: Path) -> dict[str, Any] | None:
    """The remembered report for ``python`` and ``venv`` if still true; else None."""
    try:
        with open(_file(cache_root, python, venv), encoding="utf-8") as f:
            record = json.load(f)
        if (record["python"] != os.path.realpath(python) or record["uname"] != list(os.uname())
                or not all(_mtime(p) == m for p, m in record["watched"])):
            return None
        data: dict[str, Any] = record["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("venv"):
        # Facts that the venv lock itself changes (it creates the directory).
        data["venv"]["exists"] = os.path.exists(venv)
        data["venv"]["is_dir"] = os.path.isdir(venv)
    return data


def remember(cache_root: Path, python: str, venv: Path, data: Mapping[str, Any],
             started_ns: int) -> None:
    """Keep ``data`` (the probe started at ``started_ns``, wall clock) for ``recall``."""
    paths = watched(python, data)
    if paths is None:
        return
    mtimes = [(p, _mtime(p)) for p in paths]
    if any(m > started_ns - _SETTLED_NS for _, m in mtimes):
        return  # changed just before or during the probe: the report may be older
    record = {"python": os.path.realpath(python), "uname": list(os.uname()),
              "watched": mtimes, "data": data}
    path = _file(cache_root, python, venv)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache we cannot write only costs the next run a probe


def prune(cache_root: Path) -> int:
    """Forget reports of interpreters that no longer exist; return how many."""
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
