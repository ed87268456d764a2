"""``venvfill digest``: one sha256 of a venv's tree, to compare venvs made apart.

Every file, directory and link under the venv but venvfill's own state
(``.venvfill/``) and the bytecode Python writes on import (``__pycache__`` entries
no RECORD lists; ``--compile``'s are listed), in sorted order, with its kind, its
permission bits and its contents (a link: its target), and the venv's own path
replaced by a placeholder wherever it occurs: two fills from the same inputs give
the same digest wherever they are made (the activation scripts' prompt, the venv's
name, is replaced too).  ``--relocatable`` venvs hold no path of
their own, so theirs are byte-identical as they are.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..owned import STATE_DIR

PLACEHOLDER = b"<venv>"


def entries(venv: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(relative path, kind, permission bits, normalised contents), sorted by path."""
    root = os.path.abspath(venv)
    own = os.fsencode(root)
    # The activation scripts' prompt is the venv's name: part of where it is.
    prompt = b"(" + os.fsencode(os.path.basename(root)) + b") "
    found: list[tuple[str, str, int, bytes]] = []
    recorded = _recorded(root)
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not (top == root and d == STATE_DIR)]
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            if "__pycache__" in path.split(os.sep) and path not in recorded:
                continue  # written on import, not by the fill (--compile's are recorded)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                found.append((rel, "link", 0, os.fsencode(os.readlink(path)).replace(
                    own, PLACEHOLDER)))
            elif stat.S_ISDIR(info.st_mode):
                found.append((rel, "dir", mode, b""))
            else:
                with open(path, "rb") as f:
                    data = f.read()
                if name == "RECORD" and top.endswith(".dist-info"):
                    data = _record(data, os.path.dirname(top), own)
                data = data.replace(own, PLACEHOLDER)
                if rel.startswith(os.path.join("bin", "activate")):
                    data = data.replace(prompt, b"(" + PLACEHOLDER + b") ")
                found.append((rel, "file", mode, data))
    yield from sorted(found)


def _record(data: bytes, base: str, own: bytes) -> bytes:
    # A RECORD row's hash and size of a file that holds the venv's path (a script's
    # first line) depend on that path: the file's contents, normalised, stand in.
    rows = []
    for line in data.splitlines(keepends=True):
        path = line.rsplit(b",", 2)[0]
        try:
            with open(os.path.join(os.fsencode(base), path), "rb") as f:
                holds_path = own in f.read()
        except OSError:
            holds_path = False
        rows.append(path + b"," + PLACEHOLDER + b"\n" if holds_path else line)
    return b"".join(rows)


def _recorded(root: str) -> set[str]:
    # Every file some distribution's RECORD lists, and the directories above them.
    paths: set[str] = set()
    for top, _, files in os.walk(root):
        if top.endswith(".dist-info") and "RECORD" in files:
            base = os.path.dirname(top)
            with open(os.path.join(top, "RECORD"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    path = os.path.normpath(os.path.join(base, line.rsplit(",", 2)[0]))
                    while path.startswith(root + os.sep) and path not in paths:
                        paths.add(path)
                        path = os.path.dirname(path)
    return paths


def digest(venv: Path) -> str:
    """The sha256 of ``entries``: equal for venvs that differ only in where they are."""
    h = hashlib.sha256()
    for rel, kind, mode, data in entries(venv):
        h.update(f"{rel}\0{kind}\0{mode:o}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        h.update(data)
    return h.hexdigest()
