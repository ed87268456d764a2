"""The up-to-date path: answer an unchanged re-run at interpreter start-up speed.

Most runs of ``venvfill`` (every configure of every build) find nothing to do.
This module decides that from the command line and the venv's fingerprint
(_speed/fingerprint.py) before anything else is imported: no argparse, pathlib,
hashlib, packaging, resolvelib or installer, whose imports alone cost several
times an interpreter's start-up.

It understands only the plain spellings of the options that a fill's outcome
depends on; anything else (``--clear``, ``--online``, abbreviations, a
subcommand, ``--help``) returns None and the full command line takes over,
which checks the fingerprint again with the same key.  So this path can only
be skipped, never wrong.
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..cli.options import FILL
from ..output import emit
from ..owned import STATE_DIR
from ..venv import lockfile
from . import fingerprint

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

_FLAGS = {s: dest for spellings, dest, kind, _, _, fast in FILL
          if fast and kind in ("flag", "count") for s in spellings}
_VALUES = {s: dest for spellings, dest, kind, _, _, fast in FILL
           if fast and kind not in ("flag", "count") for s in spellings}
_REPEATED = {dest for _, dest, kind, _, _, _ in FILL if kind in ("values", "paths")}


def parse(argv: Sequence[str]) -> dict[str, Any] | None:
    """The options of a plain fill command line, or None when it is anything else."""
    found: dict[str, Any] = {"group": [], "wheels": None}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _FLAGS and not eq:
            found[_FLAGS[name]] = True
        elif name in _VALUES:
            if not eq:
                value = next(args, "")
                if not value or value.startswith("-"):
                    return None
            dest = _VALUES[name]
            if dest in _REPEATED:
                found[dest] = [*(found[dest] or []), value]
            elif dest in found:
                return None  # given twice: let argparse decide what that means
            else:
                found[dest] = value
        else:
            return None
    return found if ("manifest" in found) != ("lock" in found) else None


def fill_paths(options: dict[str, Any] | None) -> tuple[str, str, str] | None:
    """A fill's target interpreter, venv and cache directory, from ``parse``'s options.

    The directories absolute; None for a dry run, or a line ``parse`` does not read.
    """
    from ..owned import default_cache_dir

    if options is None or options.get("dry_run"):
        return None
    return (options.get("python", sys.executable),
            os.path.abspath(options.get("venv", ".venv")),
            os.path.abspath(options.get("cache_dir") or default_cache_dir(os.environ)))


def run_key(options: dict[str, Any]) -> str | None:
    """The fingerprint key of a fill; cli/__init__.py computes it the same way for a full run."""
    keyed = run_key_and_newest(options)
    return None if keyed is None else keyed[0]


def run_key_and_newest(options: dict[str, Any]) -> tuple[str, int] | None:
    """``run_key``, with the newest mtime among the wheel files it lists (_speed/fingerprint.py)."""
    wheels = options["wheels"]
    lock = options.get("lock")
    if lock:
        wheels = []  # the lock names its wheels
    elif wheels is None:
        wheels = ["wheels"] if os.path.isdir("wheels") else []
    return fingerprint.key_and_newest(lock or options["manifest"], options["group"],
                           options.get("python", sys.executable), wheels,
                           [f"require_hashes={bool(options.get('require_hashes'))}",
                            f"compile={bool(options.get('compile'))}",
                            f"relocatable={bool(options.get('relocatable'))}",
                            f"lock={bool(lock)}",
                            *(["pre=True"] if options.get("pre") else []),
                            *([f"binary={options['build_policy']}"]
                              if options.get("build_policy") else []),
                            *(f"index={url}" for url in options.get("indexes", ()))])


def mkvenv_key(manifest: str, groups: Sequence[str], wheels: str | None,
               online: bool) -> str | None:
    """The fingerprint key of a mkvenv ``ensuregroup``, filling the running venv."""
    keyed = fingerprint.key_and_newest(manifest, groups, sys.executable,
                                       [wheels] if wheels else [],
                                       ["mkvenv", f"online={online}"])
    return None if keyed is None else keyed[0]


def try_mkvenv_up_to_date(argv: Sequence[str]) -> int | None:
    """QEMU's ``ensuregroup`` on an unchanged venv: exit 0 at once; None to run in full.

    ``argv``: what follows ``mkvenv``.  Only ``ensuregroup [--online] [--dir DIR]
    FILE GROUP...`` is read here; anything else runs in full.
    """
    if not argv or argv[0] != "ensuregroup":
        return None
    online, wheels, rest = False, None, []
    args = iter(argv[1:])
    for arg in args:
        if arg == "--online":
            online = True
        elif arg == "--dir":
            wheels = next(args, None)
            if wheels is None:
                return None
        elif arg.startswith("--dir="):
            wheels = arg[len("--dir="):]
        elif arg.startswith("-"):
            return None
        else:
            rest.append(arg)
    venv = sys.prefix
    if len(rest) < 2 or not os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        return None
    if _recorded(venv, lambda: mkvenv_key(rest[0], rest[1:], wheels, online)) is None:
        return None
    sys.stderr.write(f"mkvenv: {venv} is up to date for {', '.join(rest[1:])}\n")
    return 0


def try_up_to_date(options: dict[str, Any] | None) -> int | None:
    """Exit code 0 after reporting an up-to-date venv; None to run in full.

    ``options``: ``parse``'s reading of the command line.
    """
    if options is None:
        return None
    venv = os.path.abspath(options.get("venv", ".venv"))
    last = _recorded(venv, lambda: run_key(options))
    if last is None:
        return None
    report(options, venv, last)
    return 0


def _recorded(venv: str, key: Callable[[], str | None]) -> dict[str, Any] | None:
    # The fill recorded in ``venv``'s fingerprint if nothing changed since, with the
    # key ``key()`` computes (only when there is a fingerprint to compare it with).
    if not os.path.exists(os.path.join(venv, STATE_DIR, fingerprint.FILE)):
        return None
    run = key()
    if run is None:
        return None
    with lockfile.exclusive(venv):
        return fingerprint.up_to_date(venv, run)


def report(options: dict[str, Any], venv: str, last: dict[str, Any]) -> None:
    """Print what an up-to-date run says: the venv's python, or the JSON report."""
    python = last["python"]
    if options.get("json"):
        import json

        data = {
            "venvfill": __version__, "dry_run": bool(options.get("dry_run")),
            "up_to_date": True, "replayed": False, "venv": venv, "python": python,
            "target": last.get("target"), "created": False, "repaired": None,
            "packages": [{**p, "action": "kept", "wheel": None, "replaces": None}
                         for p in last["packages"]],
            "actions": {"kept": [p["name"] for p in last["packages"]], "installed": [],
                        "replaced": [], "removed": []},
            "scripts": {"written": [], "removed": []}, "skipped": [], "warnings": [],
        }
        emit(json.dumps(data, indent=2) + "\n")
        return
    text = "" if options.get("quiet") else (
        f"venvfill: {venv} is up to date (nothing it depends on changed since the last "
        "fill); offline, no index contacted\n")
    emit(text + python + "\n")
