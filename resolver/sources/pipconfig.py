"""The package indexes pip is configured with, for the mkvenv drop-in's ``--online``.

QEMU's mkvenv.py runs pip, so a build farm with a mirror has configured pip:
``PIP_INDEX_URL`` and ``PIP_EXTRA_INDEX_URL``, or ``index-url`` and
``extra-index-url`` in pip's configuration files.  The drop-in asks the same
indexes.  Files are read as pip reads them on POSIX: ``$PIP_CONFIG_FILE``
first (``os.devnull`` turns every file off), then the global files
(``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``), the user's
(``~/.pip/pip.conf``, then ``$XDG_CONFIG_HOME/pip/pip.conf``; not when
``$PIP_CONFIG_FILE`` exists) and the environment's (``sys.prefix/pip.conf``),
each overriding the ones before;
in a file, ``[install]`` overrides ``[global]``; the environment variables
override every file.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping


def files(environ: Mapping[str, str], prefix: str) -> list[str]:
    """The configuration files pip reads, lowest precedence first (existing or not)."""
    given = environ.get("PIP_CONFIG_FILE")
    if given == os.devnull:
        return []
    home = environ.get("HOME") or os.path.expanduser("~")
    xdg_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    xdg_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    # A PIP_CONFIG_FILE that exists stands for the user's files (pip skips them).
    user = [] if given and os.path.exists(given) else [
        os.path.join(home, ".pip", "pip.conf"), os.path.join(xdg_home, "pip", "pip.conf")]
    return [*([given] if given else []),
            *(os.path.join(d, "pip", "pip.conf") for d in xdg_dirs if d),
            "/etc/pip.conf", *user, os.path.join(prefix, "pip.conf")]


def indexes(environ: Mapping[str, str], prefix: str) -> tuple[str, tuple[str, ...]] | None:
    """The index URL and extra index URLs pip is configured with; None when none.

    ``prefix``: the environment pip would run in (its ``sys.prefix``).
    """
    settings: dict[str, str] = {}
    for path in files(environ, prefix):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue  # pip stops on a broken file; the drop-in does not guess from it
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    settings[key.replace("_", "-")] = value
    for key in ("index-url", "extra-index-url"):
        given = environ.get("PIP_" + key.upper().replace("-", "_"))
        if given:
            settings[key] = given
    first = settings.get("index-url", "").strip()
    extra = tuple(settings.get("extra-index-url", "").split())
    if not first and not extra:
        return None
    return first, extra
