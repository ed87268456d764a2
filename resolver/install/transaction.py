"""Write a plan's changes into the venv, all or nothing.

1. Every wheel is verified before anything is written: RECORD (hash and size
   of every file, no unlisted files), ``Wheel-Version``; every distribution to
   uninstall must have a RECORD.
2. Wheels are installed into a stage inside the venv; a failure there leaves
   the venv untouched.  The commit is journaled (see Transaction), so even a
   crash or power loss mid-commit is completed by the next run.

Nothing outside the venv is touched: an uninstall skips RECORD paths that
resolve outside it.  No bytecode is compiled (the running interpreter may not
be the target's version; see docs/reference/command-line.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import owned
from ..acceleration import PLAIN, Acceleration
from ..cache import links, unpacked
from ..errors import InstallError, WheelError
from ..owned import STATE_DIR
from ..progress import Progress, silent
from ..resolve.plan import Step
from ..sources.wheelhouse import LocalWheel
from ..target.interpreter import Installed, Target
from . import launcher

INSTALLER_NAME = b"venvfill"
JOURNAL = "journal.json"

Staged = tuple[list[str], dict[str, str], dict[str, int]]
"""What ``Transaction.stage_wheel`` returns: the files written, the cache file of
each one linked, and the size of each one whose size is known (both by staged path)."""


class Staging:
    """One wheel's files placed in the stage: what was written, linked and recorded."""

    def __init__(self, scheme_dict: dict[str, str], root: str, inside: set[str],
                 relocatable: bool, umask: int, copy: bool = False) -> None:
        self.scheme_dict = scheme_dict
        self.root = root
        self.copy = copy
        """Copy the cache's files instead of linking them (``--link-mode copy``)."""
        self.inside = inside
        """Directories already found inside ``root`` (shared by the wheels staged)."""
        self.relocatable = relocatable
        self.umask = umask
        self.written: list[str] = []
        self.linked: list[tuple[str, str, str]] = []
        """RECORD rows (relative to the root scheme) of the files ``link`` placed."""
        self.sources: dict[str, str] = {}
        """The cache file each staged link shares its inode with, by staged path."""
        self.sizes: dict[str, int] = {}
        """The size of each file placed here (linked, or written here or by installer:
        install/destination.py), by staged path: what the commit's journal records without
        asking the file system."""

    def link(self, entry: unpacked.Unpacked, root_scheme: str) -> frozenset[str]:
        """Hard-link the entry's plain files into place; return the members linked.

        The bulk of every wheel (modules, data, ``.dist-info``) needs no rewriting,
        so it skips installer's per-file machinery: one link and one RECORD row
        each, the row being the wheel's own (already verified) hash and size.
        Scripts, files in unknown ``.data`` directories and ``__pycache__`` members
        are left to installer, which rewrites, refuses or skips them as usual.
        No per-file containment check is needed: the entry holds no links and no
        ``..`` or absolute paths (refused when it was unpacked), and every parent
        directory is created here inside the stage.
        """
        # Paths joined by hand (thousands of files): members are relative, never
        # absolute nor climbing out (refused when the entry was unpacked).
        files = os.path.join(str(entry.root), unpacked.FILES, "")
        data = entry.dist_info_dir[:-len(".dist-info")] + ".data/"
        record = entry.dist_info_dir + "/RECORD"
        base = self.scheme_dict[root_scheme]
        prefix = {root_scheme: ""}  # RECORD paths of other schemes: relative to the root's
        linked: set[str] = set()
        stamps = entry.stamps
        for path, hash_, size, _ in entry.rows:
            where = linkable(path, hash_, record, data)
            if where is None:
                continue
            scheme, rest = where if where[0] else (root_scheme, path)
            target = os.path.join(self.scheme_dict[scheme], "") + rest
            self._make_parent(target)
            source = files + path
            links.link_or_copy(source, target, copy=self.copy)
            self.written.append(target)
            self.sources[target] = source
            known = stamps.get(path)  # the entry's file as loaded (so unedited)
            if known is not None:
                self.sizes[target] = known[0]
            linked.add(path)
            if scheme not in prefix:
                prefix[scheme] = os.path.relpath(self.scheme_dict[scheme], base) + "/"
            self.linked.append((prefix[scheme] + rest, hash_, size))
        return frozenset(linked)

    def _make_parent(self, target: str) -> None:
        # As os.makedirs(exist_ok=True) on the parent, without its stat of the
        # grandparent first: nearly always one mkdir (600 for 300 small wheels).
        parent = os.path.dirname(target)
        if parent in self.inside:
            return
        try:
            os.mkdir(parent)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
        except FileExistsError:
            if not os.path.isdir(parent):
                raise
        self.inside.add(parent)

    def place(self, contents: bytes, target: str) -> None:
        """Write a file of this venv's own (a metadata file) at ``target``, in the stage.

        Never a link: an edit of RECORD through one venv must not change what an
        upgrade in another removes.
        """
        self._make_parent(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(contents)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        self.written.append(target)
        self.sizes[target] = len(contents)


_LINKED_SCHEMES = frozenset({"purelib", "platlib", "headers", "data"})


def linkable(path: str, hash_: str, record: str, data: str) -> tuple[str, str] | None:
    """Whether ``Staging.link`` places the member ``path`` itself, and where.

    ("", "") for the root scheme, else (scheme, path inside it); None: it is left
    to installer.  ``record`` and ``data``: the wheel's RECORD and ``.data/`` paths.
    """
    if not hash_ or path == record or "__pycache__/" in path:
        return None
    if not path.startswith(data):
        return ("", "")
    scheme, _, rest = path[len(data):].partition("/")
    return (scheme, rest) if scheme in _LINKED_SCHEMES and rest else None


def _root_scheme(entry: unpacked.Unpacked) -> str:
    # Where the archive's root goes, as installer decides it from WHEEL.
    purelib = entry.purelib
    if purelib is None:  # an entry unpacked by an older venvfill
        with open(os.path.join(entry.root, unpacked.FILES, entry.dist_info_dir, "WHEEL"),
                  encoding="utf-8") as f:
            purelib = unpacked.root_is_purelib(f.read())
    return "purelib" if purelib else "platlib"


def verify_wheel(wheel: LocalWheel) -> None:
    """Check a wheel's integrity; raise WheelError naming the file and the problem.

    Reads and hashes every member, so it is done once per file per run: the fill
    verifies before creating anything, and ``apply`` (which must not trust its
    caller) finds the same file already verified unless it changed meanwhile.
    """
    try:
        st = wheel.path.stat()
    except OSError as exc:
        raise WheelError(f"{wheel.path} cannot be read: {exc.strerror}") from None
    _verify_once(wheel, str(wheel.path), st.st_size, st.st_mtime_ns)


@functools.cache
def _verify_once(wheel: LocalWheel, path: str, size: int, mtime_ns: int) -> None:
    # The cache key is the file's identity; a WheelError is not cached (it propagates).
    del path, size, mtime_ns
    unpacked.check(wheel)


def record_paths(dist: Installed, venv: Path) -> list[Path]:
    """Files an installed distribution owns, from its RECORD, limited to the venv."""
    text = dist.read_metadata_file("RECORD")
    if text is None:
        raise InstallError(
            f"{dist.display_name} {dist.version} in {dist.location} has no RECORD, so it "
            "cannot be uninstalled safely",
            hint=f"Recreate the venv with --clear, or remove {dist.display_name} by hand.",
        )
    from installer.records import parse_record_file  # uninstalls only

    root = os.path.realpath(venv)
    site_rel = {os.path.relpath(os.path.realpath(dist.location), root)}
    paths: list[Path] = []
    for entry in parse_record_file(text.splitlines()):
        full = os.path.normpath(os.path.join(dist.location, entry[0]))
        real = os.path.realpath(os.path.dirname(full))
        if os.path.commonpath([root, real]) != root:
            continue  # never outside the venv, whatever RECORD says
        inside = os.path.relpath(os.path.join(real, os.path.basename(full)), root)
        if owned.why_owned(inside, "bin", site_rel) is not None:
            continue  # nor the venv's own files (a RECORD may list anything)
        paths.append(Path(full))
    return paths


class Transaction:
    """One run's uninstalls and installs, committed all at once or not at all.

    Wheels are installed into ``.venvfill/stage/``, a tree that mirrors the venv
    (so the RECORD paths installer writes are already right).  ``commit`` writes
    a journal of every move — old files into ``.venvfill/trash/``, staged files
    into place — syncs it, and carries the moves out.  After a crash, ``recover``
    completes a commit whose journal exists, or throws away a stage that never
    got one; either way the venv is whole.  (A plain class: an object with a
    state, made once per run.)
    """

    def __init__(self, venv: Path, scheme: dict[str, str], interpreter: str,
                 relocatable: bool = False, copy: bool = False,
                 speed: Acceleration = PLAIN) -> None:
        self.venv = venv
        self.speed = speed
        self.scheme = scheme
        self.interpreter = interpreter
        self.relocatable = relocatable
        self.copy = copy
        self.removals: list[Path] = []
        self.staged: list[str] = []
        self.installs: list[list[int]] = []
        """Per installed wheel, the indices of its files in ``staged``."""
        self.sources: dict[str, str] = {}
        """The cache file of each staged file that was linked, by staged path."""
        self.sizes: dict[str, int] = {}
        """Staged files' sizes known when they were placed, by staged path (Staging.sizes)."""
        self.state = self.venv / STATE_DIR
        self.stage = self.state / "stage"
        shutil.rmtree(self.stage, ignore_errors=True)
        self.stage.mkdir(parents=True)
        self.real_stage = os.path.realpath(self.stage)
        self.staged_scheme = {k: str(self.stage / os.path.relpath(v, self.venv))
                              for k, v in self.scheme.items()}
        self.inside: set[str] = set()
        """Staged directories known to exist inside the stage (see Staging)."""
        self.warnings: list[str] = []
        """What the commit replaced that belonged to no distribution being replaced."""
        self.bin_rel = os.path.relpath(self.scheme["scripts"], self.venv)
        self.site_rels = {os.path.relpath(self.scheme[k], self.venv)
                          for k in ("purelib", "platlib")}
        self.umask = os.umask(0)
        os.umask(self.umask)

    def uninstall(self, dist: Installed) -> None:
        """Schedule every file of ``dist`` (and stray bytecode of its modules) for removal."""
        for path in record_paths(dist, self.venv):
            self.removals.append(path)
            if path.suffix == ".py":
                cache = path.parent / "__pycache__"
                if cache.is_dir():
                    self.removals.extend(cache.glob(f"{path.stem}.*.pyc"))

    def discard(self, path: Path) -> None:
        """Schedule one file (a script we wrote earlier) for removal."""
        self.removals.append(path)

    def stage_wheel(self, wheel: LocalWheel, requested: bool,
                    entry: unpacked.Unpacked | None = None,
                    ) -> Staged:
        """Install ``wheel`` into the stage; return the files written (and linked).

        The second value names the cache file of each file linked, the third the
        size of each file placed (``Staging.sizes``).  Scripts are
        bound to the venv's python.  ``entry``: the wheel unpacked in the cache,
        whose files are hard-linked instead of extracted from the zip again.
        Safe to run for several wheels at once, in forked processes (``apply``)
        or threads: directories are made with ``exist_ok``; ``add`` then
        records each wheel's files, in the plan's order.
        """
        scheme = dict(self.staged_scheme)
        scheme["headers"] = os.path.join(scheme["headers"], wheel.name)
        staging = Staging(scheme, self.real_stage, self.inside, self.relocatable, self.umask,
                          self.copy)
        metadata = {"INSTALLER": INSTALLER_NAME + b"\n"}
        if requested:
            metadata["REQUESTED"] = b""
        linked: frozenset[str] = frozenset()
        if entry is not None:
            root_scheme = _root_scheme(entry)
            linked = staging.link(entry, root_scheme)
            if self.speed.finish_linked(staging, root_scheme, entry, metadata):
                return staging.written, staging.sources, staging.sizes
        from . import destination  # installer: only for what it must do itself

        destination.install_into(
            staging, wheel, entry, linked, metadata,
            interpreter=launcher.PLACEHOLDER if self.relocatable else self.interpreter)
        return staging.written, staging.sources, staging.sizes

    def add(self, staged: Staged, wheel: LocalWheel | None = None) -> None:
        """Record one staged wheel's files (see ``stage_wheel``).

        Raises WheelError, naming ``wheel``, for a file that would land on one the
        venv or venvfill owns (owned.py): its state, ``pyvenv.cfg``, interpreter.
        """
        written, sources, sizes = staged
        prefix = len(str(self.stage)) + 1
        for path in written:
            why = owned.why_owned(path[prefix:], self.bin_rel, self.site_rels)
            if why is not None:
                name = wheel.path if wheel is not None else "a wheel"
                raise WheelError(
                    f"{name} would install {path[prefix:]}, which is {why}; refused, "
                    "nothing in the venv was changed",
                    hint="This wheel is malformed or malicious; do not use it.")
        first = len(self.staged)
        self.staged.extend(written)
        self.sources.update(sources)
        self.sizes.update(sizes)
        self.installs.append(list(range(first, len(self.staged))))

    def placed(self) -> list[tuple[str, str | None]]:
        """Every staged file's final path in the venv, with the cache file it links."""
        prefix = len(str(self.stage))
        venv = str(self.venv)
        return [(venv + p[prefix:], self.sources.get(p)) for p in self.staged]

    def install(self, wheel: LocalWheel, requested: bool,
                entry: unpacked.Unpacked | None = None) -> None:
        """Stage ``wheel`` and record its files."""
        self.add(self.stage_wheel(wheel, requested, entry), wheel)

    def compile(self, python: str) -> None:
        """Byte-compile the staged modules with the venv's own interpreter.

        ``installer`` would compile with the interpreter running venvfill, which may
        be another version than the target; the target compiles its own.  Each
        ``.pyc`` is added to its distribution's RECORD, so uninstalls remove it.
        Modules that do not compile (Python 2 leftovers in some wheels) are skipped,
        as pip does.
        """
        roots = {os.path.normpath(self.scheme[k]) for k in ("purelib", "platlib")}
        for root in sorted(roots):
            staged_root = self.stage / os.path.relpath(root, self.venv)
            if staged_root.is_dir():
                import subprocess  # --compile only: start-up time

                # The name compiled in is the venv-relative one: the same bytecode
                # wherever the venv is (the import system puts the real path back
                # into every code object it loads), and with SOURCE_DATE_EPOCH set
                # compileall writes hash-checked pycs, which hold no mtime.
                subprocess.run([python, "-I", "-m", "compileall", "-q", "-d",
                                os.path.relpath(root, self.venv), str(staged_root)],
                               capture_output=True, check=False)
        records = [Path(p) for p in self.staged if os.path.basename(p) == "RECORD"
                   and os.path.dirname(p).endswith(".dist-info")]
        for record in records:
            base = record.parent.parent
            lines = record.read_text(encoding="utf-8").splitlines()
            added = []
            for line in lines:
                path = line.rsplit(",", 2)[0]
                if not path.endswith(".py"):
                    continue
                source = Path(os.path.normpath(base / path))
                for pyc in sorted((source.parent / "__pycache__").glob(f"{source.stem}.*.pyc")):
                    data = pyc.read_bytes()
                    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                    added.append(f"{os.path.relpath(pyc, base)},sha256="
                                 f"{digest.rstrip(b'=').decode()},{len(data)}")
                    self.staged.append(str(pyc))
            if added:
                record.unlink()  # a new file, as every file venvfill installs
                record.write_text("\n".join([*lines, *added]) + "\n", encoding="utf-8")

    def commit(self) -> None:
        """Move everything into place, surviving a crash at any point.

        The journal is synced; the files are not (a global ``sync`` waits for every
        other program's writes too, and syncing each file costs more than the
        install).  Instead the journal records every file's size (known as it was
        placed: no stat of thousands of files here), and recovery after a crash
        checks them: a distribution with a file cut short by a power loss is
        removed again, and the same run installs it afresh.
        """
        removing = {os.path.normpath(p) for p in self.removals}
        sizes = self.sizes
        stage, venv = str(self.stage), str(self.venv)
        prefix = len(stage) + 1
        highest: dict[str, str | None] = {"": None}

        def new_root(rel_dir: str) -> str | None:
            # The highest directory containing ``rel_dir`` (itself included) that the
            # venv lacks or has empty, e.g. site-packages/sphinx, or a new venv's empty
            # site-packages itself; None if the venv has them all, filled.  Memoised
            # per directory: thousands of files share a few hundred.
            if rel_dir not in highest:
                above = new_root(os.path.dirname(rel_dir))
                highest[rel_dir] = above if above is not None else (
                    rel_dir if _vacant(os.path.join(venv, rel_dir)) else None)
            return highest[rel_dir]

        moves: list[tuple[str, str]] = []
        checks: list[tuple[str, int]] = []
        new_dirs: set[str] = set()
        emptied: list[str] = []
        clobbered: list[Path] = []
        bindir = os.path.normpath(self.scheme["scripts"])
        for staged in self.staged:
            if staged[prefix - 1:prefix] != os.sep or not staged.startswith(stage):
                raise ValueError(f"{staged} is not in the stage {self.stage}")
            rel = staged[prefix:]
            final = os.path.join(venv, rel)
            size = sizes.get(staged)
            checks.append((final, size if size is not None else os.lstat(staged).st_size))
            root = new_root(os.path.dirname(rel))
            if root is not None:
                new_dirs.add(root)  # moves with its directory
                continue
            if os.path.lexists(final) and os.path.normpath(final) not in removing:
                if _emptied_by(final, removing):
                    emptied.append(final)  # a directory the old version had, now a file
                elif os.path.dirname(final) == bindir and not os.path.isdir(final):
                    # Another distribution's program of the same name: replaced, as
                    # pip replaces it, and said.
                    clobbered.append(Path(final))
                    self.warnings.append(
                        f"{rel} belonged to no distribution being replaced (another "
                        "distribution's program, or a file put there by hand); replaced")
                else:
                    raise FileExistsError(f"{final} already exists and belongs to no "
                                          "distribution being replaced")
            moves.append((staged, final))
        trash = self.state / "trash"
        trashed = [(str(p), str(trash / str(i)))
                   for i, p in enumerate([*self.removals, *clobbered])
                   if os.path.lexists(p)]
        roots = sorted({os.path.normpath(v) for v in self.scheme.values()})
        dirs = [(os.path.join(stage, d), os.path.join(venv, d)) for d in sorted(new_dirs)]
        _write_journal(self.state, {"trash": trashed, "emptied": emptied, "dirs": dirs,
                                    "moves": moves, "checks": checks, "keep": roots,
                                    "installs": self.installs})
        roll_forward(self.venv)

    def abort(self) -> None:
        """Forget the stage; the venv was never touched."""
        shutil.rmtree(self.stage, ignore_errors=True)


def _write_journal(state: Path, data: dict[str, Any]) -> None:
    tmp = state / (JOURNAL + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(data))  # dumps: C-accelerated; dump encodes chunk by chunk in Python
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state / JOURNAL)
    dir_fd = os.open(state, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _emptied_by(path: str, removing: set[str]) -> bool:
    # Whether ``path`` is a directory (not a link) whose every file is being removed:
    # a package whose new version has a file where the old one had a directory.
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    return all(os.path.normpath(os.path.join(where, name)) in removing
               for where, _, names in os.walk(path) for name in names)


def _remove_emptied(path: str) -> None:
    # The directories left under ``path`` once its files went to the trash; gone
    # already when a crash came after this (roll_forward runs again).
    for where, _, _ in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
        os.rmdir(where)


def _vacant(path: str) -> bool:
    """Nothing at ``path``, or an empty directory, which a rename can replace.

    A new venv's site-packages is empty: the staged one takes its place in one
    rename instead of one per installed directory (300 for the synthetic benchmark).
    """
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
    except FileNotFoundError:
        return True
    except OSError:
        return False  # e.g. a file where a parent directory should be: moves say why
    with os.scandir(path) as entries:
        return next(entries, None) is None


def _move(src: str, dst: str, present: set[str]) -> None:
    # ``present``: directories known to exist.  A fill moves hundreds of new
    # directories into a few parents (site-packages above all); without it, each
    # move would cost a failed mkdir and two stats of a parent that is there.
    parent = os.path.dirname(dst)
    if parent not in present:
        os.makedirs(parent, exist_ok=True)
        present.add(parent)
    os.replace(src, dst)


def roll_forward(venv: Path, *, check: bool = False) -> list[str]:
    """Carry out (or finish) the journal's moves, then clean up; idempotent.

    ``check``: after a crash, also compare every moved file's size with the
    journal's; remove each installed distribution with a damaged file, and
    return their ``.dist-info`` names (the run then installs them again).
    """
    state = venv / STATE_DIR
    # A journal this process has just written needs no checking; one found on
    # recovery is obeyed only if it could be venvfill's (``_load_journal``).
    data = (_load_journal(venv) if check
            else json.loads((state / JOURNAL).read_text(encoding="utf-8")))
    present: set[str] = set()
    for original, trashed in data["trash"]:
        # Once trashed, a file stays in the trash until the journal is gone, so an
        # existing trash entry means "done" (the original path may hold the new file).
        if not os.path.lexists(trashed) and os.path.lexists(original):
            _move(original, trashed, present)
    for directory in data.get("emptied", []):
        if os.path.isdir(directory) and not os.path.islink(directory):
            _remove_emptied(directory)
    for staged_dir, final_dir in data.get("dirs", []):
        # A directory new to the venv moves in one rename; its files are not
        # among the single moves below.
        if not os.path.lexists(staged_dir):
            continue  # moved already
        if _vacant(final_dir):
            try:
                _move(staged_dir, final_dir, present)  # rename(2) replaces an empty directory
                continue
            except OSError:
                if not os.path.isdir(final_dir):
                    raise  # not the empty directory a rename may refuse to replace (Windows)
        # It appeared or was filled meanwhile (or a crash interrupted this very merge):
        # move the files one by one into it.
        for where, _, names in os.walk(staged_dir):
            for name in names:
                src = os.path.join(where, name)
                _move(src, os.path.join(final_dir, os.path.relpath(src, staged_dir)),
                      present)
    for move in data["moves"]:
        staged, final = move[0], move[1]
        if os.path.lexists(staged):
            _move(staged, final, present)
    # Every installed file with its size; older journals listed sizes with the moves.
    checks = data.get("checks") or [(m[1], m[2]) for m in data["moves"]]
    damaged: list[str] = []
    touched = {Path(o).parent for o, _ in data["trash"]}
    if check:
        for group in data.get("installs", []):
            files = [checks[i] for i in group]
            if all(_size(final) == size for final, size in files):
                continue
            damaged.extend(sorted({Path(f).parent.name for f, _ in files
                                   if Path(f).parent.name.endswith(".dist-info")}))
            for final, _ in files:
                if os.path.lexists(final):
                    os.unlink(final)
                touched.add(Path(final).parent)
    _prune_empty(touched, venv, set(data["keep"]))
    (state / JOURNAL).unlink()
    shutil.rmtree(state / "trash", ignore_errors=True)
    shutil.rmtree(state / "stage", ignore_errors=True)
    return damaged


def _load_journal(venv: Path) -> dict[str, Any]:
    """The journal, if every path it names is where venvfill's own journals put them.

    Recovery moves and deletes what the journal says, so a journal that was not
    written by ``commit`` (planted by hand or by another program) must not be
    obeyed: every file it moves or removes must lie inside the venv, outside
    venvfill's own directory, and come from or go to its stage and trash.
    Raises VenvError naming the journal, having done nothing.
    """
    path = venv / STATE_DIR / JOURNAL
    root = os.path.realpath(venv)
    state = os.path.join(root, STATE_DIR)
    stage, trash = os.path.join(state, "stage"), os.path.join(state, "trash")

    real_dirs: dict[str, str] = {}

    def inside(where: str, top: str, mine: bool = False) -> bool:
        if not isinstance(where, str) or "\0" in where or not os.path.isabs(where):
            return False
        parent = os.path.dirname(where)
        if parent not in real_dirs:  # thousands of files share a few hundred
            real_dirs[parent] = os.path.realpath(parent)
        real = os.path.join(real_dirs[parent], os.path.basename(where))
        if os.path.commonpath([top, real]) != top or real == top:
            return False
        return mine or os.path.commonpath([state, real]) != state

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pairs = [(o, root, False) for o, _ in data["trash"]]
        pairs += [(t, trash, True) for _, t in data["trash"]]
        for staged_dir, final_dir in data.get("dirs", []):
            pairs += [(staged_dir, stage, True), (final_dir, root, False)]
        for move in data["moves"]:
            pairs += [(move[0], stage, True), (move[1], root, False)]
        pairs += [(c[0], root, False) for c in data.get("checks") or []]
        pairs += [(d, root, False) for d in data.get("emptied", [])]
        bad = next((p for p, top, mine in pairs if not inside(p, top, mine)), None)
        if bad is None and not all(isinstance(k, str) for k in data["keep"]):
            bad = "keep"  # only where pruning stops: no check of place needed
        if bad is None and not all(isinstance(i, int) for g in data.get("installs", [])
                                   for i in g):
            bad = "installs"
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        bad = "(unreadable)"
    if bad is not None:
        from ..errors import VenvError

        raise VenvError(
            f"{path} was not written by venvfill (it names {bad!r}, which is not in its "
            "place inside the venv); nothing was moved or removed",
            hint=f"Remove {path} if you trust the venv's contents, or recreate the "
            "venv with --clear after removing it.")
    return dict(data)


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return -1


def recover(venv: Path) -> str | None:
    """Repair the venv after an interrupted run; say what was done, or None."""
    state = venv / STATE_DIR
    if (state / JOURNAL).exists():
        damaged = roll_forward(venv, check=True)
        if damaged:
            return ("completed a fill that was interrupted while committing, and removed "
                    f"{', '.join(damaged)}, whose files were cut short, to install afresh")
        return "completed a fill that was interrupted while committing"
    if (state / "stage").exists() or (state / "trash").exists():
        shutil.rmtree(state / "stage", ignore_errors=True)
        shutil.rmtree(state / "trash", ignore_errors=True)
        return "discarded a fill that was interrupted before committing; the venv was untouched"
    return None


def _prune_empty(dirs: set[Path], venv: Path, keep: set[str]) -> None:
    # Remove directories left empty, deepest first; never the venv's scheme roots.
    root = os.path.normpath(venv)
    stop = {root, *keep}
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        current = os.path.normpath(d)
        while current not in stop and current.startswith(root + os.sep):
            try:
                os.rmdir(current)
            except OSError:
                break
            current = os.path.dirname(current)



_FORK_FILES = 256
"""Fewer files than this are staged in this process alone (a fork costs ~5 ms)."""


def _weight(wheel: LocalWheel | None, entries: Mapping[Path, unpacked.Unpacked]) -> float:
    # How much staging ``wheel`` costs, in files: its members if unpacked, else a
    # guess from its size (one file per 4 kB compressed; read from the zip anyway).
    assert wheel is not None
    entry = entries.get(wheel.path)
    if entry is not None:
        return float(len(entry.rows))
    return wheel.path.stat().st_size / 4096


def new_transaction(target: Target, relocatable: bool, copy: bool = False,
                    speed: Acceleration = PLAIN) -> Transaction:
    """The Transaction of a run that installs into ``target``'s venv (an empty stage)."""
    return Transaction(venv=target.venv.path, scheme=dict(target.venv.scheme),
                       interpreter=str(target.venv.python), relocatable=relocatable,
                       copy=copy, speed=speed)


def apply(steps: Sequence[Step], target: Target, discard: Sequence[Path] = (),
          *, compile_bytecode: bool = False, relocatable: bool = False, copy: bool = False,
          progress: Progress = silent,
          entries: Mapping[Path, unpacked.Unpacked] | None = None,
          prestaged: tuple[Transaction, Mapping[Path, Staged]] | None = None,
          notes: list[str] | None = None, speed: Acceleration = PLAIN,
          ) -> list[tuple[str, str | None]]:
    """Carry out ``steps`` in the venv; on failure leave it as it was.

    Returns every file installed, with the cache file it is a link of (None: a
    file written, such as a script or RECORD).

    ``discard``: files to remove first (our scripts that the wheels replace).
    ``compile_bytecode``: compile the new modules with the venv's interpreter.
    ``copy``: copy the cache's files instead of linking them (cache/links.py).
    ``entries``: wheels already unpacked (and so verified) in the cache, by path;
    their files are hard-linked.  Other wheels are verified and read from the zip.
    ``prestaged``: the Transaction (made by ``new_transaction`` for this target) and
    the wheels already staged into it, by path (the ``prestage`` point of acceleration.py);
    the rest are staged here, through ``speed.parallel``.
    ``notes``: receives a warning for each program of another distribution replaced.
    """
    entries = entries or {}
    changes = [s for s in steps if s.action != "keep"]
    try:
        for step in changes:
            if step.wheel is not None and step.wheel.path not in entries:
                verify_wheel(step.wheel)
            if step.old is not None:
                record_paths(step.old, target.venv.path)  # fail before writing, not halfway
    except BaseException:
        if prestaged is not None:
            prestaged[0].abort()
        raise
    if not changes:
        return []
    txn, already = prestaged if prestaged is not None else (
        new_transaction(target, relocatable, copy, speed), {})
    current: Step | None = None  # the step whose changes are being recorded
    installing = [s for s in changes if s.wheel is not None and s.wheel.path not in already]
    try:
        for path in discard:
            txn.discard(path)
        if any(s.wheel is not None and (entries.get(s.wheel.path) is None
                                        or not speed.alone(entries[s.wheel.path]))
               for s in installing):
            from . import destination  # noqa: F401 - imported once, before any fork

        def stage(step: Step) -> Staged | str:
            # A wheel's staged files, or why it could not be staged.
            assert step.wheel is not None
            try:
                return txn.stage_wheel(step.wheel, step.requested,
                                       entries.get(step.wheel.path))
            except Exception as exc:  # reported below, naming the wheel
                return str(exc) or type(exc).__name__

        # A few small wheels are not worth another process.
        weights = [_weight(s.wheel, entries) for s in installing]
        workers = speed.workers() if sum(weights) >= _FORK_FILES else 1
        staged = iter(speed.parallel(stage, installing, weights, workers))
        done = 0
        for step in changes:
            current = step
            if step.old is not None:
                txn.uninstall(step.old)
            if step.wheel is not None:
                done += 1
                result = (already[step.wheel.path] if step.wheel.path in already
                          else next(staged))
                if isinstance(result, str):
                    raise RuntimeError(result)
                txn.add(result, step.wheel)
                if progress is not silent:
                    size = step.wheel.path.stat().st_size
                    shown = (f"{size / 1e6:.1f} MB" if size >= 1e6
                             else f"{size / 1e3:.0f} kB")
                    progress("installing", done, len(installing) + len(already),
                             f"{step.wheel.filename} ({shown})")
        if compile_bytecode:
            txn.compile(str(target.venv.python))
    except (Exception, KeyboardInterrupt) as exc:
        txn.abort()
        if isinstance(exc, (KeyboardInterrupt, WheelError)):
            raise
        what = ("wheels" if current is None else current.wheel.filename if current.wheel
                else f"{current.name} {current.version}")
        raise InstallError(
            f"installing {what} into {target.venv.path} failed: {exc}; nothing in the "
            "venv was changed",
            hint="Check free space and permissions, then run again.",
        ) from None
    try:
        txn.commit()
    except FileExistsError as exc:
        txn.abort()
        raise InstallError(f"cannot install into {target.venv.path}: {exc}; nothing in "
                           "the venv was changed",
                           hint="Remove the file, or recreate the venv with --clear.") from None
    if notes is not None:
        notes.extend(txn.warnings)
    return txn.placed()
