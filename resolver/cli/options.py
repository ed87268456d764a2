"""The options of a fill, defined once.

argparse (cli/commands.py) and the up-to-date path (_speed/quick.py) both read
this table.
Standard library only, and nothing imported: the up-to-date path reads the table
before anything else is loaded.

Each row: the spellings, the attribute it sets, its kind, a metavar (or the
choices of a ``choice``), the help text, and whether the up-to-date path reads it.
That path reads only options whose meaning it can take exactly; a command line
with any other option (``--clear``, ``--online``, ``-v`` ...) runs in full.

Kinds: ``flag`` (store_true), ``count`` (``-q -q``), ``value``, ``path``,
``paths`` (repeatable, a list), ``values`` (repeatable), ``choice``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Final

    Row = tuple[tuple[str, ...], str, str, "str | tuple[str, ...]", str, bool]

REQUIRED_ONE_OF: Final = ("manifest", "lock")
"""Exactly one of these is given."""
AT_MOST_ONE_OF: Final = ("offline", "online")

FILL: Final[tuple[Row, ...]] = (
    (("--manifest", "-m"), "manifest", "path", "FILE",
     "TOML manifest of package groups (QEMU pythondeps.toml format)", True),
    (("--lock",), "lock", "path", "PYLOCK",
     "install exactly the packages of this PEP 751 lock file (pylock.toml) instead of "
     "resolving a manifest; sizes and hashes are checked, and what the system has at the "
     "locked version is kept", True),
    (("--group", "-g"), "group", "values", "NAME",
     "fill only this group (repeatable; default: all groups); with --lock: the lock's "
     "dependency groups (default: its default-groups)", True),
    (("--python",), "python", "value", "PATH",
     "target interpreter the venv is made from (default: the one running venvfill)", True),
    (("--venv",), "venv", "path", "DIR", "venv to create or refresh (default: .venv)", True),
    (("--wheels", "-w"), "wheels", "paths", "DIR",
     "directory of wheels to fill gaps from (repeatable; default: ./wheels when it "
     "exists)", True),
    (("--clear",), "clear", "flag", "", "delete the venv's contents and recreate it", False),
    (("--compile",), "compile", "flag", "",
     "byte-compile installed modules, with the target interpreter (default: no bytecode; "
     "Python compiles on first import)", True),
    (("--relocatable",), "relocatable", "flag", "",
     "a venv that keeps working when moved or copied: scripts and activation find it "
     "relative to themselves (sticky until --clear)", True),
    (("--cache-dir",), "cache_dir", "path", "DIR",
     "where wheels are unpacked once and hard-linked from (default: $VENVFILL_CACHE_DIR, "
     "else ~/.cache/venvfill)", True),
    (("--link-mode",), "link_mode", "choice", ("hardlink", "copy"),
     "how files come from the cache: 'hardlink' (read-only files shared with the cache; "
     "the default) or 'copy' (writable files of the venv's own, for venvs edited in "
     "place); default $VENVFILL_LINK_MODE, else hardlink", True),
    (("--pre",), "pre", "flag", "",
     "rank pre-releases with final releases for every package (by default a pre-release "
     "is chosen only when its specifier names one, the entry says prereleases = true, or "
     "nothing else fits)", True),
    (("--require-hashes",), "require_hashes", "flag", "",
     "every wheel to install needs a hash pin in the manifest", True),
    (("--no-build",), "no_build", "flag", "",
     "never build an sdist (building runs its code): a package found only as an sdist is "
     "an error naming it; the same as --only-binary :all:", False),
    (("--no-binary",), "no_binary", "values", "NAME",
     "never install a wheel of NAME, build its sdist instead (repeatable; :all: for every "
     "package), as pip's --no-binary", False),
    (("--only-binary",), "only_binary", "values", "NAME",
     "never build an sdist of NAME (repeatable; :all: for every package), as pip's "
     "--only-binary", False),
    (("--offline",), "offline", "flag", "",
     "never contact a package index (the default; accepted for build scripts that want "
     "to say so)", True),
    (("--online",), "online", "flag", "",
     "fetch what the system and the wheels cannot provide from the index (downloads are "
     "kept in the cache)", False),
    (("--index-url",), "index_url", "value", "URL",
     "simple-API index for --online (default: $VENVFILL_INDEX_URL, else "
     "https://pypi.org/simple/)", False),
    (("--extra-index-url",), "extra_index_url", "values", "URL",
     "another index for --online, asked after --index-url (repeatable)", False),
    (("--dry-run", "-n"), "dry_run", "flag", "",
     "resolve and report what would happen; create and change nothing (exit 0: the "
     "manifest can be satisfied offline)", True),
    (("--sbom",), "sbom", "path", "FILE",
     "also write a CycloneDX 1.6 JSON bill of materials of the filled venv to FILE "
     "(see venvfill sbom)", False),
    (("--json",), "json", "flag", "", "print the report (or the error) as JSON on stdout",
     True),
    (("-q", "--quiet"), "quiet", "count", "", "print only the venv's python", True),
    (("-v", "--verbose"), "verbose", "count", "",
     "also list kept dependencies, locations and ignored files", False),
)
