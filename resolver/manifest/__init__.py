"""Manifests: QEMU's ``pythondeps.toml`` format, ``pyproject.toml``, requirements files.

``load`` reads any of them into a ``model.Manifest``: ``pyproject.toml`` and
``*.txt`` (requirements files) as the standards define them (standards.py), any
other file in QEMU's format (pythondeps.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ManifestError
from ..inputs import MANIFEST_LIMIT, Unfit, read_bounded
from .model import Manifest
from .pythondeps import parse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the 3.9/3.10 tox environments
    import tomli as tomllib


def load(path: Path) -> Manifest:
    """Read and validate a manifest file; raise ManifestError listing every problem.

    ``pyproject.toml`` and ``*.txt`` (requirements files) are read as the standards
    define them (standards.py); any other file is a manifest in QEMU's format.
    """
    try:
        raw = read_bounded(path, MANIFEST_LIMIT)
    except Unfit as exc:
        raise ManifestError(str(path), [str(exc.strerror)]) from None
    except FileNotFoundError:
        raise ManifestError(str(path), ["the file does not exist"]) from None
    except OSError as exc:
        raise ManifestError(str(path), [f"cannot be read: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(str(path), [f"is not UTF-8 text (byte {exc.start})"]) from None
    if path.suffix == ".txt":
        from .standards import from_requirements

        return from_requirements(text, path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(path), [f"is not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ManifestError(str(path), ["nests tables or arrays too deeply to read (a "
                                        "manifest is two or three levels deep)"]) from None
    if path.name == "pyproject.toml":
        from .standards import from_pyproject

        return from_pyproject(data, path)
    return parse(data, path)


