"""The files of a venv that belong to the venv itself or to venvfill, never to a wheel.

A wheel may write into the venv's root (``NAME.data/data/``), its ``bin/`` and
its site-packages.  None of it may land on what makes the venv work or records
what venvfill did: the state directory (lock, journal, stage), ``pyvenv.cfg``,
the interpreter links, the activation scripts, the ``.pth`` naming a parent
venv.  A wheel that tries is refused before the venv is touched (install/transaction.py),
and an uninstall never removes such a file, whatever a RECORD lists.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: the up-to-date path imports this module
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

STATE_DIR = ".venvfill"
"""venvfill's own directory inside a venv: lock, journal, stage, state, fingerprint."""
LOCK_NAME = "lock"
UMASK = 0o022
"""The umask a venv's contents are made under, whatever the user's: the same inputs
give the same modes (0644 files, 0755 programs and directories).  The venv's own
directory, made before, keeps the user's umask, and with it any privacy it asks for."""

def default_cache_dir(environ: Mapping[str, str]) -> str:
    """Where venvfill's cache lives when ``--cache-dir`` is not given (see cache/store.py)."""
    if environ.get("VENVFILL_CACHE_DIR"):
        return environ["VENVFILL_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "venvfill")


PTH_NAME = "_venvfill_parent.pth"
"""The ``.pth`` in site-packages that names a parent venv's site directories."""

_ROOT_FILES = frozenset({"pyvenv.cfg", ".gitignore"})
"""Files ``venv`` writes at the venv's root (``.gitignore`` since Python 3.13)."""
_BIN_PREFIXES = ("python", "pythonw", "\N{GREEK SMALL LETTER PI}thon", "activate")
"""Names in ``bin/`` venv writes: ``python*``, ``𝜋thon`` (3.13), ``activate*``."""


def why_owned(rel: str, bin_rel: str, site_rels: Collection[str]) -> str | None:
    """Why the venv-relative path ``rel`` is not a wheel's to write, or None.

    ``bin_rel`` and ``site_rels``: the venv's scripts and site-packages
    directories, relative to the venv and normalised (``os.path.relpath`` gives
    them so).  Called once per installed file.
    """
    rel = os.path.normpath(rel)
    top = rel.split(os.sep, 1)[0]
    if top == STATE_DIR:
        return "venvfill's state directory"
    if rel in _ROOT_FILES:
        return "the venv's own configuration"
    parent, name = os.path.split(rel)
    if parent == bin_rel and name.lower().startswith(_BIN_PREFIXES):
        return "the venv's interpreter or activation script"
    if name == PTH_NAME and parent in site_rels:
        return "venvfill's link to the parent venv"
    return None
