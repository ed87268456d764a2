"""``venvfill zipapp OUT.pyz``: venvfill and its dependencies in one file.

For a sealed machine: copy one file and run ``python3 venvfill.pyz --manifest
deps.toml``, with nothing installed.  Every dependency is pure Python; the
archive runs on the oldest CPython all of them support, 3.9 at best.  A dependency
whose installed copy needs a newer one (packaging 26.4, installer 1.x need 3.10) is
bundled instead from a wheel given with ``--wheels`` that supports 3.9, if there is
one.  ``tomli`` (needed below 3.11) is bundled
whatever builds the archive: the installed tomli, or else, on Python 3.11+,
the standard library's ``tomllib`` under that name (it is tomli's code, pure
Python, written for 3.8+; checked to parse as 3.9 before it is taken).  The
target-side scripts are passed to the target with ``-c``
(creation.script_source), so nothing needs extracting.

Bytecode: each module is also stored compiled by the building interpreter
(unchecked-hash ``.pyc`` beside its source, where zipimport looks), so the
archive starts as fast as an installation when run by the same Python version;
other versions compile from the sources, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import UsageError

PACKAGES = ("resolver", "resolvelib", "packaging", "installer", "pyproject_hooks")
OPTIONAL = ("tomli",)
DISTRIBUTIONS = {"resolver": "venvfill", "pyproject_hooks": "pyproject_hooks"}
"""Import name → distribution name, where they differ."""
FLOOR = (3, 9)
"""The oldest Python venvfill runs on: the archive aims for it."""
_MEMBER_LIMIT = 16 << 20

MAIN = '''\
import sys

MINIMUM = {minimum!r}  # the oldest Python every bundled package supports
WHY = {why!r}
if sys.version_info[:2] < MINIMUM:
    sys.exit("this venvfill.pyz needs Python %d.%d or newer (%s); run it with a newer "
             "Python (it still fills venvs for 3.8+ with --python), or build the archive "
             "with an older one" % (MINIMUM[0], MINIMUM[1], WHY))
if sys.version_info < (3, 11):
    try:
        import tomli  # noqa: F401
    except ImportError:
        sys.exit("this venvfill.pyz was built without tomli, which Python < 3.11 needs; "
                 "run it with Python 3.11+ or rebuild it where tomli is installed")
from resolver.cli import main

sys.exit(main())
'''


def minimum_python(declared: list[tuple[str, str, str]]) -> tuple[tuple[int, int], str]:
    """The oldest Python all bundled distributions support, and why.

    ``declared``: each bundled package's import name, version and Requires-Python.
    """
    floors = [(_floor(requires), f"{DISTRIBUTIONS.get(name, name)} {version} requires "
               f"Python {requires}") for name, version, requires in declared]
    minimum = max([FLOOR, *(floor for floor, _ in floors)])
    why = ", ".join(text for floor, text in floors if floor > FLOOR) or "venvfill itself"
    if "tomli" not in [name for name, _, _ in declared] and minimum < (3, 11):
        minimum, why = (3, 11), "tomli is not bundled; Python < 3.11 needs it"
    return minimum, why


def _floor(requires: str) -> tuple[int, int]:
    # The oldest Python a Requires-Python admits, as (major, minor); FLOOR if no bound.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    floor = FLOOR
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        return floor
    for clause in spec:
        if clause.operator in (">=", ">", "~=", "=="):
            release = Version(clause.version.rstrip(".*")).release
            floor = max(floor, (release[0], release[1] if len(release) > 1 else 0))
    return floor


def _installed(name: str) -> tuple[str, str]:
    # The installed distribution's version and Requires-Python ("" when unknown).
    from importlib import metadata

    try:
        meta = metadata.metadata(DISTRIBUTIONS.get(name, name))
    except metadata.PackageNotFoundError:
        return "", ""
    return meta["Version"] or "", (meta.get_all("Requires-Python") or [""])[0]


def _older_wheel(name: str, dirs: Sequence[Path]) -> tuple[Path, str, str] | None:
    # The newest pure-Python wheel of ``name`` in ``dirs`` whose Requires-Python admits
    # the oldest Python venvfill runs on: bundled instead of an installed copy that
    # needs a newer one (packaging 26.4 needs 3.10; 26.3 runs on 3.9).
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from ..errors import WheelError
    from ..sources.wheelhouse import scan

    floor = Version(f"{FLOOR[0]}.{FLOOR[1]}")
    for wheel in sorted(scan(list(dirs)).for_name(canonicalize_name(
            DISTRIBUTIONS.get(name, name))), key=lambda w: w.version, reverse=True):
        if not any(t.interpreter in ("py3", "py2.py3") and t.abi == "none"
                   and t.platform == "any" for t in wheel.tags):
            continue
        try:
            requires = wheel.metadata().requires_python
        except WheelError:
            continue  # a damaged wheel is no candidate
        if requires is None or requires.contains(floor, True):
            return wheel.path, str(wheel.version), str(requires or "")
    return None


def build(out: Path, wheel_dirs: Sequence[Path] = (),
          ) -> tuple[list[str], tuple[int, int], str]:
    """Write the archive; return the packages bundled, the oldest Python it runs on, why.

    A package whose installed copy needs a newer Python than venvfill's oldest is
    bundled from a wheel in ``wheel_dirs`` that does not, when there is one.
    """
    found: list[tuple[str, Path | tuple[Path, str]]] = []
    declared: list[tuple[str, str, str]] = []
    for name in (*PACKAGES, *OPTIONAL):
        try:
            module = importlib.import_module(name)
        except ImportError:
            if name == "tomli":
                stdlib = _stdlib_tomllib()
                if stdlib is not None:
                    found.append((name, stdlib))
                    declared.append((name, "", ""))
                continue
            raise UsageError(f"cannot build a zipapp: {name} is not installed") from None
        origin = Path(module.__file__ or "").parent
        if not origin.is_dir():
            raise UsageError(f"cannot build a zipapp: {name} is not in a directory "
                             f"({origin}); run venvfill from an installation, not a zipapp")
        version, requires = _installed(name)
        if _floor(requires) > FLOOR and name != "resolver":
            older = _older_wheel(name, wheel_dirs)
            if older is not None:
                wheel, version, requires = older
                found.append((name, (wheel, f"{name}/")))
                declared.append((name, version, requires))
                continue
        found.append((name, origin))
        declared.append((name, version, requires))
    minimum, why = minimum_python(declared)
    tmp = out.with_name(out.name + ".tmp")
    try:
        _write(tmp, found, minimum, why)
    except (OSError, zipfile.BadZipFile, zlib.error) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot build a zipapp: {exc}") from None
    os.chmod(tmp, os.stat(tmp).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, out)
    return [name for name, _ in found], minimum, why


def _write(tmp: Path, found: Sequence[tuple[str, Path | tuple[Path, str]]],
           minimum: tuple[int, int], why: str) -> None:
    with open(tmp, "wb") as f:
        f.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("__main__.py", MAIN.format(minimum=minimum, why=why))
            for name, where in found:
                for arcname, source in _members(name, where):
                    zf.writestr(arcname, source)
                    if arcname.endswith(".py"):
                        zf.writestr(arcname + "c", _bytecode(source, arcname))


def _members(name: str, origin: Path | tuple[Path, str]) -> Iterator[tuple[str, bytes]]:
    # A package's files as (name in the archive, bytes): from its directory, or from
    # the members of a wheel under the package's directory.
    if isinstance(origin, Path):
        for path in sorted(origin.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file() \
                    or path.suffix in (".pyc", ".pyo"):
                continue
            yield f"{name}/{path.relative_to(origin).as_posix()}", path.read_bytes()
        return
    from ..inputs import open_regular

    wheel, prefix = origin
    with os.fdopen(open_regular(wheel), "rb") as f, zipfile.ZipFile(f) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            member = info.filename
            if not member.startswith(prefix) or info.is_dir() or "__pycache__/" in member \
                    or ".." in member.split("/") or member.endswith((".pyc", ".pyo")):
                continue
            if info.file_size > _MEMBER_LIMIT:
                raise UsageError(f"cannot build a zipapp: {wheel}: {member} is larger than "
                                 f"{_MEMBER_LIMIT >> 20} MiB")
            yield member, zf.read(info)


def _stdlib_tomllib() -> Path | None:
    # Python 3.11+'s tomllib, to be bundled as tomli: the same code and interface
    # (loads, load, TOMLDecodeError), with relative imports only.  Taken only if
    # every file parses as Python 3.9, the oldest the archive runs on.
    import ast

    try:
        import tomllib
    except ImportError:
        return None
    origin = Path(tomllib.__file__ or "").parent
    try:
        for path in origin.glob("*.py"):
            ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))
    except (OSError, SyntaxError, ValueError):
        return None
    return origin


def _bytecode(source: bytes, arcname: str) -> bytes:
    # An unchecked-hash pyc (PEP 552): zipimport takes it without comparing times,
    # and only if its magic number is the running interpreter's.
    import importlib.util
    import marshal

    code = compile(source, arcname, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")  # hash-based, not checked
    return (importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
            + marshal.dumps(code))
