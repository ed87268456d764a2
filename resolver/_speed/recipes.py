"""Recipes: a new venv filled again the way the last fill filled it, without deciding.

Clean rebuilds and CI jobs delete a venv and fill a new one at the same path,
from the same manifest and wheels, time after time.  Such a fill decides
nothing new, yet the full path imports the resolver, ``packaging`` and
``installer`` (more, on their own, than uv's whole warm fill takes) to decide it
again.  So after a fill that made a new venv, venvfill keeps in the cache,
under ``recipes/``, one recipe per venv path:

* the run's fingerprint key (venvfill's version, manifest bytes, groups,
  options, interpreter, every wheel directory's listing: _speed/fingerprint.py);
* the mtimes of everything outside the venv the fill read (the interpreter,
  every site directory and ``.pth`` file it sees, the metadata of each
  distribution it kept or took scripts from) and ``uname`` (but the host name);
* what the builder (target/target_side/builder.py's ``venv.EnvBuilder`` subclass, run by the
  target) made: directories, symbolic links, files with their bytes and modes,
  and the umask they were made under;
* every file the fill put into the venv: the cache file it is a hard link of,
  with that file's size and mtime, or its bytes and mode (scripts, RECORD ...);
* the venv's own records (scripts, cache use, the fingerprint's inputs) and the
  report.

A run for a venv that does not exist, with the same key, umask, ``uname`` and
every mtime as recorded, replays the recipe: what the builder made and every
file are put into the stage (``.venvfill/stage``), then moved in.  It imports
os, marshal and zlib, little else (_speed/statefile.py), and starts no interpreter.

Why the builder's output is replayed rather than the builder run again: for
the same interpreter (its mtime, and those of the standard library and its
``venv`` package, are watched), path, options and umask, ``EnvBuilder`` makes
the same files, byte for byte; running it took the target's start-up plus
``import venv``, as much CPU time as the rest of the replay, on the core that
linking the files could use (the real wheelhouse's warm fill on tmpfs, A/B
interleaved: 86 ms with the builder, 65 ms without).  Every first venv at a
path, and every fill that decides, is made by the builder.

* A cache file not as recorded (edited through a venv, or removed by
  ``cache gc``), anything unexpected: the replay is undone before the venv is
  used and the full fill runs, which says what is wrong.
* The venv keeps the "being made" marker (venv/creation.py) until the last file is
  in place, so a replay killed midway leaves a venv the next run recreates.
* No recipe is kept when something watched changed in the 2 s before the fill
  began (its mtime may not tell a later change apart: git's "racily clean"),
  nor for ``--compile``, ``--lock``, ``--online``, a repaired venv, or a run
  started with environment variables that the fill warned about.
"""

from __future__ import annotations

import os
import zlib

from ..output import emit
from ..owned import LOCK_NAME, STATE_DIR, UMASK, default_cache_dir
from ..venv import lockfile
from ..venv.creation import CREATING, RELOCATABLE, begin, undo_new
from . import fingerprint, forked, quick, statefile

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

RECIPES = "recipes"
_TAG = b"venvfill recipe 5\n"
_SETTLED_NS = 2_000_000_000
_STAGE = "stage"
_OWN = frozenset({LOCK_NAME, fingerprint.FILE, CREATING, "relocatable",
                  "journal.json", _STAGE, "trash"})
"""Files of the venv's ``.venvfill`` that a replay makes itself, or that are transient."""


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


def builder_output(venv: str) -> list[list[Any]] | None:
    """What the builder made in the new venv ``venv``, parents first; None if not plain.

    Taken when the builder has finished and nothing else is in the venv but its
    own directory (``.venvfill``, not the builder's).  Rows: ``["d", path]``,
    ``["l", path, link target]``, ``["f", path, mode, bytes]``; paths relative.
    """
    import stat

    made: list[list[Any]] = []
    for where, dirs, files in os.walk(venv):
        rel = os.path.relpath(where, venv)
        if rel == os.curdir:
            rel = ""
            dirs[:] = [d for d in dirs if d != STATE_DIR]
        for name in sorted([*dirs, *files]):
            path = os.path.join(where, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                made.append(["l", os.path.join(rel, name), os.readlink(path)])
            elif stat.S_ISDIR(st.st_mode):
                made.append(["d", os.path.join(rel, name)])
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    made.append(["f", os.path.join(rel, name), stat.S_IMODE(st.st_mode),
                                 f.read()])
            else:
                return None
    return made


def builder_inputs(stdlib: str) -> list[str]:
    """What the builder's output depends on besides its arguments: the ``venv`` package."""
    package = os.path.join(stdlib, "venv")
    return [package, os.path.join(package, "__init__.py"),
            *(os.path.join(package, "scripts", d) for d in ("common", "posix"))]


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it
    os.umask(mask)
    return mask


def capture(*, venv: str, key: str, started_ns: int, cache_root: str,
            built: Sequence[Sequence[Any]], relocatable: bool,
            placed: Sequence[tuple[str, str | None]],
            stamps: Mapping[str, Mapping[str, tuple[int, int, int]]], scripts: Iterable[str],
            watched: Iterable[str], listed_newest_ns: int,
            record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a fill that made the new venv ``venv`` did, as a recipe; None if it cannot be.

    ``built``: what the builder made (``builder_output``); ``placed``: every file
    installed, with the cache file it links (install.apply); ``stamps``: by cache
    entry (its root), the size, mtime and inode of each member as unpacked
    (``Unpacked.stamps``); ``scripts``: files written into bin/
    for the base's distributions; ``watched``: paths outside the venv the outcome
    depends on (``builder_inputs`` among them); ``listed_newest_ns``: the newest
    mtime among the wheel files ``key`` lists (their sizes and mtimes are in the
    key, so they are not watched again); ``record``: the fingerprint's arguments.
    """
    venv = os.path.normpath(venv)
    outside = sorted({p for p in watched
                      if not (p == venv or p.startswith(venv + os.sep))})
    mtimes = [(p, _mtime(p)) for p in outside]
    if any(m > started_ns - _SETTLED_NS for m in (listed_newest_ns, *(m for _, m in mtimes))):
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
    files_dir = os.sep + "files" + os.sep
    last_entry, members = "", None  # a wheel's files come one after another
    for final, source in placed:
        if source is None:
            continue
        if not source.startswith(root):
            return None
        entry, _, member = source[len(root):].partition(files_dir)
        if entry != last_entry:
            last_entry, members = entry, stamps.get(root + entry)
        stamp = members.get(member) if members is not None else None
        if stamp is None:
            return None  # not a wheel's member as unpacked
        group = entry + os.sep + "files"
        groups.setdefault(group, []).append([member, final[inside:], *stamp])
    files = []
    for path in written:
        st = os.lstat(path)
        with open(path, "rb") as f:
            files.append([path[inside:], st.st_mode & 0o7777, f.read()])
    # Each directory is made once: by the builder's rows, by the one group that
    # needs it, or up front.
    made = {row[1] for row in built if row[0] == "d"}
    owners: dict[str, set[int]] = {}
    for i, (_, rows) in enumerate([*sorted(groups.items()), ("", [["", f[0]] for f in files])]):
        last = None
        for row in rows:
            parent = os.path.dirname(row[1])
            if parent == last:
                continue  # a wheel's files come directory by directory
            last = parent
            while parent and parent not in made:
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
                      [[member, size, mtime, ino] if dest == prefix + member
                       else [member, size, mtime, ino, dest]
                       for member, dest, size, mtime, ino in rows]])
    return {"key": key, "venv": venv, "uname": fingerprint.kernel(), "umask": _umask(),
            "watched": mtimes, "built": [list(row) for row in built],
            "relocatable": relocatable,
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


def try_replay(options: dict[str, Any] | None) -> int | None:
    """Exit code 0 after making the venv from its recipe; None to run in full.

    ``options``: quick.parse's reading of the command line.
    """
    if options is None or any(options.get(o) for o in ("dry_run", "lock", "compile")):
        return None
    if (options.get("link_mode") or os.environ.get("VENVFILL_LINK_MODE")) not in (
            None, "", "hardlink"):
        return None  # a recipe links; copies are made by the full fill
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
            and recipe["umask"] == UMASK and all(_mtime(p) == m for p, m in recipe["watched"]))


class _Stale(Exception):
    """A cache file the recipe links is not as it was recorded."""


def _replay(recipe: Mapping[str, Any], venv: str, cache_root: str) -> bool:
    # Make the venv from the recipe; False (and nothing left) if that cannot be done.
    import fcntl

    lock = os.open(os.path.join(cache_root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    users = os.umask(UMASK)  # as the fill that kept the recipe made the venv
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)  # ``cache gc`` waits until the files are linked
        stage = os.path.join(venv, STATE_DIR, _STAGE)
        try:
            begin(venv)
            _stage(recipe, cache_root, stage)
            _move_in(stage, venv)
            _remove_empty(stage)
            if recipe["relocatable"]:
                _write(os.path.join(venv, STATE_DIR, RELOCATABLE), b"",
                       0o666 & ~recipe["umask"])
            path, text = recipe["use_record"]
            _write(os.path.join(cache_root, path), text.encode("utf-8"), 0o644)
        except BaseException as exc:
            _remove_tree(stage)
            undo_new(venv)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return False
        os.unlink(os.path.join(venv, STATE_DIR, CREATING))
    finally:
        os.umask(users)
        os.close(lock)
    last = recipe["fingerprint"]
    fingerprint.record(venv, recipe["key"], last["python"], last["watched"],
                       last["packages"], last["target"])
    return True


def _stage(recipe: Mapping[str, Any], cache_root: str, stage: str) -> None:
    # Link and write into the stage.  With two cores, a forked child links about
    # half of the files: threads would hand the GIL over at every link and stat
    # (3,480 files on tmpfs: one thread 53 ms, two threads 68 ms, parent and child
    # 30 ms).  Nothing in this process has started a thread, so forking is safe.
    os.mkdir(stage)
    for row in recipe["built"]:  # what the builder made, parents first
        path = os.path.join(stage, row[1])
        if row[0] == "d":
            os.mkdir(path)
        elif row[0] == "l":
            os.symlink(row[2], path)
        else:
            _write(path, row[3], row[2])
    for directory in recipe["dirs"]:
        os.mkdir(os.path.join(stage, directory))
    two = (os.cpu_count() or 1) > 1
    shares: list[list[Any]] = [[], []] if two else [[]]
    for group in sorted(recipe["links"], key=lambda g: -len(g[3])):
        # Largest first, each to the lighter share.
        min(shares, key=lambda s: sum(len(g[3]) for g in s)).append(group)
    child = forked.child(_link, shares[1], cache_root, stage) if two else None
    try:
        _link(shares[0], cache_root, stage)
        for dest, mode, data in recipe["files"]:
            _write(os.path.join(stage, dest), data, mode)
    finally:
        if child is not None and os.waitpid(child, 0)[1] != 0:
            raise _Stale("the forked share of the links failed")  # the full fill says why


def _link(share: Sequence[Sequence[Any]], cache_root: str, stage: str) -> None:
    from ..cache.links import link_or_copy

    for entry, prefix, directories, rows in share:
        for directory in directories:
            os.mkdir(os.path.join(stage, directory))
        base = os.path.join(cache_root, entry, "")
        into = os.path.join(stage, prefix)
        for row in rows:
            source = base + row[0]
            st = os.stat(source)
            if (st.st_size != row[1] or st.st_mtime_ns != row[2] or st.st_ino != row[3]
                    or st.st_mode & 0o222):
                raise _Stale(source)  # edited, replaced or made writable (cache/unpacked.py)
            target = into + row[0] if len(row) == 4 else os.path.join(stage, row[4])
            try:
                os.link(source, target)
            except OSError:
                link_or_copy(source, target)  # across file systems: a copy


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

        emit(json.dumps({**recipe["report"], "replayed": True}, indent=2) + "\n")
        return
    python = recipe["fingerprint"]["python"]
    if options.get("quiet"):
        emit(python + "\n")
        return
    lines = recipe["text"].splitlines()
    lines.insert(-1, "  (made as the last fill made it: nothing it depends on changed; "
                 "resolution skipped)")
    emit("\n".join(lines) + "\n")
