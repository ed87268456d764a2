"""``venvfill zipapp OUT.pyz``: venvfill and its dependencies in one file.

For a sealed machine: copy one file and run ``python3 venvfill.pyz --manifest
deps.toml``, with nothing installed.  Every dependency is pure Python, so the
archive runs on any CPython 3.9+.  ``tomli`` (needed below 3.11) is bundled
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

import importlib
import os
import stat
import zipfile
from pathlib import Path

from ..errors import UsageError

PACKAGES = ("resolver", "resolvelib", "packaging", "installer", "pyproject_hooks")
OPTIONAL = ("tomli",)
DISTRIBUTIONS = {"resolver": "venvfill", "pyproject_hooks": "pyproject_hooks"}
"""Import name → distribution name, where they differ."""

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


def minimum_python(names: list[str]) -> tuple[tuple[int, int], str]:
    """The oldest Python all bundled distributions declare support for, and why."""
    from importlib import metadata

    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    minimum, why = (3, 9), "venvfill itself"
    for name in names:
        dist = DISTRIBUTIONS.get(name, name)
        try:
            meta = metadata.metadata(dist)
        except metadata.PackageNotFoundError:
            continue
        try:
            spec = SpecifierSet((meta.get_all("Requires-Python") or [""])[0])
        except InvalidSpecifier:
            continue
        for clause in spec:
            if clause.operator in (">=", ">", "~=", "=="):
                release = Version(clause.version.rstrip(".*")).release
                floor = (release[0], release[1] if len(release) > 1 else 0)
                if floor > minimum:
                    minimum = floor
                    why = f"{dist} {meta['Version']} requires Python {spec}"
    if "tomli" not in names and minimum < (3, 11):
        minimum, why = (3, 11), "tomli is not bundled; Python < 3.11 needs it"
    return minimum, why


def build(out: Path) -> tuple[list[str], tuple[int, int]]:
    """Write the archive; return the packages bundled and the oldest Python it runs on."""
    found: list[tuple[str, Path]] = []
    for name in (*PACKAGES, *OPTIONAL):
        try:
            module = importlib.import_module(name)
        except ImportError:
            if name == "tomli":
                stdlib = _stdlib_tomllib()
                if stdlib is not None:
                    found.append((name, stdlib))
                continue
            raise UsageError(f"cannot build a zipapp: {name} is not installed") from None
        origin = Path(module.__file__ or "").parent
        if not origin.is_dir():
            raise UsageError(f"cannot build a zipapp: {name} is not in a directory "
                             f"({origin}); run venvfill from an installation, not a zipapp")
        found.append((name, origin))
    names = [name for name, _ in found]
    minimum, why = minimum_python(names)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("__main__.py", MAIN.format(minimum=minimum, why=why))
            for name, origin in found:
                for path in sorted(origin.rglob("*")):
                    if "__pycache__" in path.parts or not path.is_file() \
                            or path.suffix in (".pyc", ".pyo"):
                        continue
                    arcname = f"{name}/{path.relative_to(origin).as_posix()}"
                    zf.write(path, arcname)
                    if path.suffix == ".py":
                        zf.writestr(arcname + "c", _bytecode(path, arcname))
    os.chmod(tmp, os.stat(tmp).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, out)
    return names, minimum


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


def _bytecode(path: Path, arcname: str) -> bytes:
    # An unchecked-hash pyc (PEP 552): zipimport takes it without comparing times,
    # and only if its magic number is the running interpreter's.
    import importlib.util
    import marshal

    source = path.read_bytes()
    code = compile(source, arcname, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")  # hash-based, not checked
    return (importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
            + marshal.dumps(code))
