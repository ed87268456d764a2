"""Recipes: a new venv filled again the way the last fill filled it, without deciding.

Clean rebuilds and CI jobs delete a venv and fill a new one at the same path,
from the same manifest and wheels, time after time.  Such a fill decides
nothing new, yet the full path imports the resolver, ``packaging`` and
``installer`` (more, on their own, than uv's whole warm fill takes) to decide it
again.  So after a fill that made a new venv, venvfill keeps in the cache,
under ``recipes/``, one recipe per venv path:

* the run's fingerprint key (venvfill's version, manifest bytes, groups,
  options, interpreter, every wheel directory's listing: fingerprint.py);
* the mtimes of everything outside the venv the fill read (the interpreter,
  every site directory and ``.pth`` file it sees, the metadata of each
  distribution it kept or took scripts from) and ``uname`` (but the host name);
* the builder's arguments (the venv is still made by _builder.py's
  ``venv.EnvBuilder`` subclass, run by the target);
* every file the fill put into the venv: the cache file it is a hard link of,
  with that file's size and mtime, or its bytes and mode (scripts, RECORD ...);
* the venv's own records (scripts, cache use, the fingerprint's inputs) and the
  report.

A run for a venv that does not exist, with the same key and every mtime and
``uname`` as recorded, replays the recipe: the builder makes the venv while the
files are linked into the stage (``.venvfill/stage``), then they are moved in.
It imports os, marshal, zlib and _thread, little else (statefile.py).

* A cache file not as recorded (edited through a venv, or removed by
  ``cache gc``), a builder that fails, anything unexpected: the replay is undone
  before the venv is used and the full fill runs, which says what is wrong.
* The venv keeps the "being made" marker (creation.py) until the last file is
  in place, so a replay killed midway leaves a venv the next run recreates.
* No recipe is kept when something watched changed in the 2 s before the fill
  began (its mtime may not tell a later change apart: git's "racily clean"),
  nor for ``--compile``, ``--lock``, ``--online``, a repaired venv, or a run
  started with environment variables that the fill warned about.
"""

from __future__ import annotations

import os
import sys
import zlib

from . import fingerprint, lockfile, quick, statefile
from .creation import CREATING, launch
from .lockfile import STATE_DIR

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

RECIPES = "recipes"
_TAG = b"venvfill recipe 3\n"
_SETTLED_NS = 2_000_000_000
_STAGE = "stage"
_OWN = frozenset({lockfile.LOCK_NAME, fingerprint.FILE, CREATING, "relocatable",
                  "journal.json", _STAGE, "trash"})
"""Files of the venv's ``.venvfill`` that a replay makes itself, or that are transient."""


def default_cache_dir(environ: Mapping[str, str]) -> str:
    """Where the cache lives when ``--cache-dir`` is not given (see cache.py)."""
    if environ.get("VENVFILL_CACHE_DIR"):
        return environ["VENVFILL_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "venvfill")


def _file(cache_root: str, venv: str) -> str:
    # zlib, not hashlib: cheaper to import; the recipe names its venv and is checked.
    raw = os.fsencode(venv)
    return os.path.join(cache_root, RECIPES, f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}")


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


# -- keeping a recipe (the full fill; imports are no concern there) ---------------------


def capture(*, venv: str, key: str, started_ns: int, cache_root: str, executable: str,
            spec: Mapping[str, Any], placed: Sequence[tuple[str, str | None]],
            stamps: Mapping[str, tuple[int, int]], scripts: Iterable[str],
            watched: Iterable[str], wheel_dirs: Iterable[str],
            record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a fill that made the new venv ``venv`` did, as a recipe; None if it cannot be.

    ``placed``: every file installed, with the cache file it links (install.apply);
    ``stamps``: size and mtime of those cache files as unpacked; ``scripts``: files
    written into bin/ for the base's distributions; ``watched``: paths outside the
    venv the outcome depends on; ``record``: the fingerprint's arguments.
    """
    venv = os.path.normpath(venv)
    outside = sorted({p for p in watched
                      if not (p == venv or p.startswith(venv + os.sep))})
    mtimes = [(p, _mtime(p)) for p in outside]
    for directory in wheel_dirs:
        try:
            with os.scandir(directory) as entries:
                mtimes.extend((e.path, e.stat().st_mtime_ns) for e in entries)
        except OSError:
            return None
    if any(m > started_ns - _SETTLED_NS for _, m in mtimes):
        return None  # racily clean: a change within the mtimes' resolution would not show
    root = os.path.join(cache_root, "")
    groups: dict[str, list[list[Any]]] = {}
    written = [f for f, source in placed if source is None]
    written.extend(scripts)
    state = os.path.join(venv, STATE_DIR)
    written.extend(os.path.join(state, n) for n in sorted(os.listdir(state)) if n not in _OWN)
    inside = len(venv) + 1  # paths below the venv, relative (strings: thousands of files)
    below = venv + os.sep
    if not all(p.startswith(below) for p in (*(f for f, _ in placed), *written)):
        return None  # a file outside the venv's tree: nothing a replay could reproduce
    from .metafiles import MADE  # here: a replay imports little (hashlib, in metafiles)

    files_dir, made_dir = os.sep + "files" + os.sep, os.sep + MADE + os.sep
    for final, source in placed:
        if source is None:
            continue
        if not source.startswith(root):
            return None
        if source in stamps:  # a wheel's member, as unpacked
            entry, _, member = source[len(root):].partition(files_dir)
            group, stamp = entry + os.sep + "files", stamps[source]
        elif made_dir in source:  # a metadata file kept in the entry (metafiles.py)
            group, _, member = source[len(root):].rpartition(os.sep)
            st = os.stat(source)
            stamp = (st.st_size, st.st_mtime_ns)
        else:
            return None
        groups.setdefault(group, []).append([member, final[inside:], *stamp])
    files = []
    for path in written:
        st = os.lstat(path)
        with open(path, "rb") as f:
            files.append([path[inside:], st.st_mode & 0o7777, f.read()])
    # Each directory is made once: by the one group that needs it, or up front.
    owners: dict[str, set[int]] = {}
    for i, (_, rows) in enumerate([*sorted(groups.items()), ("", [["", f[0]] for f in files])]):
        last = None
        for row in rows:
            parent = os.path.dirname(row[1])
            if parent == last:
                continue  # a wheel's files come directory by directory
            last = parent
            while parent:
                users = owners.get(parent)
                if users is None:
                    owners[parent] = {i}
                elif i in users:
                    break  # and so are its parents
                else:
                    users.add(i)
                parent = os.path.dirname(parent)
    alone: dict[int, list[str]] = {}
    for directory, users in owners.items():
        if len(users) == 1:
            alone.setdefault(next(iter(users)), []).append(directory)
    links = []
    for i, (entry, rows) in enumerate(sorted(groups.items())):
        # Most files go to <scheme root>/<member>: keep that prefix once.
        prefixes: dict[str, int] = {}
        for member, dest, *_ in rows:
            if dest.endswith(member):
                where = dest[:len(dest) - len(member)]
                prefixes[where] = prefixes.get(where, 0) + 1
        prefix = max(prefixes, key=lambda p: prefixes[p]) if prefixes else ""
        links.append([entry, prefix, sorted(alone.get(i, ())),
                      [[member, size, mtime] if dest == prefix + member
                       else [member, size, mtime, dest] for member, dest, size, mtime in rows]])
    return {"key": key, "venv": venv, "uname": fingerprint.kernel(),
            "watched": mtimes, "executable": executable,
            "builder": {**spec, "dir": venv},
            "relocatable": bool(spec.get("relocatable")),
            "dirs": sorted(d for d, o in owners.items() if len(o) > 1 or len(groups) in o),
            "links": links, "files": files, "fingerprint": dict(record)}


def save(cache_root: str, recipe: Mapping[str, Any], *, use_record: tuple[str, str],
         text: str, report: Mapping[str, Any]) -> None:
    """Keep ``recipe`` (from ``capture``) with the venv's cache-use record and the report."""
    data = {**recipe, "use_record": list(use_record), "text": text, "report": dict(report)}
    path = _file(cache_root, str(recipe["venv"]))
    try:  # what the cache remembers is only a speed-up: a failure is not an error
        os.makedirs(os.path.dirname(path), exist_ok=True)
        statefile.dump(path, _TAG, data)
    except OSError:
        pass


def prune(cache_root: str) -> int:
    """Forget recipes that link cache files no longer there; return how many."""
    directory = os.path.join(cache_root, RECIPES)
    removed = 0
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        path = os.path.join(directory, name)
        recipe = statefile.load(path, _TAG)
        try:
            if all(os.path.isdir(os.path.join(cache_root, link[0])) for link in recipe["links"]):
                continue
        except (KeyError, TypeError, IndexError):
            pass  # not a recipe of this venvfill's (or damaged): of no use
        os.unlink(path)
        removed += 1
    return removed


# -- replaying one (before anything heavy is imported) ----------------------------------


def try_replay(argv: Sequence[str]) -> int | None:
    """Exit code 0 after making the venv from its recipe; None to run in full."""
    options = quick.parse(argv)
    if options is None or any(options.get(o) for o in ("dry_run", "lock", "compile")):
        return None
    venv = os.path.abspath(options.get("venv", ".venv"))
    if os.path.lexists(venv):
        return None
    cache_root = os.path.abspath(options.get("cache_dir") or default_cache_dir(os.environ))
    recipe = statefile.load(_file(cache_root, venv), _TAG)
    try:
        if recipe is None or not _holds(recipe, venv, quick.run_key(options)):
            return None
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    with lockfile.exclusive(venv) as created:
        if not created or not _replay(recipe, venv, cache_root):
            return None  # made meanwhile, or the recipe did not hold: the full fill
    report(options, recipe)
    return 0


def _holds(recipe: Mapping[str, Any], venv: str, key: str | None) -> bool:
    # Same inputs, nothing watched changed (cheapest checks first).
    return (key is not None and recipe["key"] == key
            and recipe["venv"] == venv and recipe["uname"] == fingerprint.kernel()
            and all(_mtime(p) == m for p, m in recipe["watched"]))


class _Stale(Exception):
    """A cache file the recipe links is not as it was recorded."""


def _replay(recipe: Mapping[str, Any], venv: str, cache_root: str) -> bool:
    # Make the venv from the recipe; False (and nothing left) if that cannot be done.
    import fcntl

    lock = os.open(os.path.join(cache_root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)  # ``cache gc`` waits until the files are linked
        try:
            creation = launch(recipe["executable"], recipe["builder"],
                              relocatable=recipe["relocatable"])
        except OSError:
            return False
        stage = os.path.join(venv, STATE_DIR, _STAGE)
        try:
            _stage(recipe, cache_root, stage)
            creation.wait(finish=False)
            _move_in(stage, venv)
            _remove_empty(stage)
            path, text = recipe["use_record"]
            _write(os.path.join(cache_root, path), text.encode("utf-8"), 0o644)
        except BaseException as exc:
            creation.cancel()
            _remove_tree(stage)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return False
        os.unlink(os.path.join(venv, STATE_DIR, CREATING))
    finally:
        os.close(lock)
    last = recipe["fingerprint"]
    fingerprint.record(venv, recipe["key"], last["python"], last["watched"],
                       last["packages"], last["target"])
    return True


def _stage(recipe: Mapping[str, Any], cache_root: str, stage: str) -> None:
    # Link (two threads: links and stats release the GIL) and write into the stage.
    # _thread, not threading: documented, and threading's import costs start-up time.
    import _thread

    from .links import link_or_copy

    os.mkdir(stage)
    for directory in recipe["dirs"]:
        os.mkdir(os.path.join(stage, directory))
    shares: list[list[Any]] = [[], []]
    for group in sorted(recipe["links"], key=lambda g: -len(g[3])):
        # Largest first, each to the lighter share.
        min(shares, key=lambda s: sum(len(g[3]) for g in s)).append(group)
    failures: list[BaseException] = []

    def link(share: list[Any]) -> None:
        try:
            for entry, prefix, directories, rows in share:
                for directory in directories:
                    os.mkdir(os.path.join(stage, directory))
                base = os.path.join(cache_root, entry, "")
                into = os.path.join(stage, prefix)
                for row in rows:
                    source = base + row[0]
                    st = os.stat(source)
                    if st.st_size != row[1] or st.st_mtime_ns != row[2]:
                        raise _Stale(source)
                    target = into + row[0] if len(row) == 3 else os.path.join(stage, row[3])
                    try:
                        os.link(source, target)
                    except OSError:
                        link_or_copy(source, target)  # across file systems: a copy
        except BaseException as exc:
            failures.append(exc)

    helper_done = _thread.allocate_lock()
    helper_done.acquire()

    def helper() -> None:
        try:
            link(shares[1])
        finally:
            helper_done.release()

    _thread.start_new_thread(helper, ())
    try:
        link(shares[0])
        for dest, mode, data in recipe["files"]:
            _write(os.path.join(stage, dest), data, mode)
    finally:
        helper_done.acquire()  # the helper's end
    if failures:
        raise failures[0]


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _move_in(source: str, target: str) -> None:
    # Each staged name the venv lacks moves in one rename; directories both have merge.
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if not os.path.lexists(dst):
            os.rename(src, dst)
        elif os.path.isdir(src) and os.path.isdir(dst) and not os.path.islink(dst):
            _move_in(src, dst)
        else:
            raise FileExistsError(dst)


def _remove_empty(stage: str) -> None:
    for where, _, _ in os.walk(stage, topdown=False):
        os.rmdir(where)


def _remove_tree(stage: str) -> None:
    import shutil

    shutil.rmtree(stage, ignore_errors=True)


def report(options: Mapping[str, Any], recipe: Mapping[str, Any]) -> None:
    """Print what the fill that kept the recipe printed, marked as replayed."""
    if options.get("json"):
        import json

        sys.stdout.write(json.dumps({**recipe["report"], "replayed": True}, indent=2) + "\n")
        return
    python = recipe["fingerprint"]["python"]
    if options.get("quiet"):
        sys.stdout.write(python + "\n")
        return
    lines = recipe["text"].splitlines()
    lines.insert(-1, "  (made as the last fill made it: nothing it depends on changed; "
                 "resolution skipped)")
    sys.stdout.write("\n".join(lines) + "\n")
