"""What a manifest says, whatever file it came from: groups of entries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from ..errors import ManifestError

BUILD_GROUP = "build-system"
"""The group of an sdist's build requirements (sources/sdists.py), for messages."""

FIELDS = ("accepted", "installed", "canary", "extras", "marker", "hashes", "prereleases",
          "no-binary", "only-binary")
HASH_ALGORITHMS = ("sha256", "sha384", "sha512")

class Entry(NamedTuple):
    """One package of one group: what the system may provide, and what to install.

    ``accepted`` is the range taken from the system as is; ``installed`` the
    exact version to install when the system has nothing acceptable (``None``:
    the best version within ``accepted``).
    """

    name: NormalizedName
    display_name: str
    group: str
    accepted: SpecifierSet
    installed: Version | None = None
    canary: str | None = None
    extras: frozenset[NormalizedName] = frozenset()
    marker: Marker | None = None
    hashes: frozenset[str] = frozenset()
    """Acceptable digests of the wheel to install, as ``"sha256:<hex>"``."""
    prereleases: bool = False
    """Rank pre-releases with final releases (PEP 440), as ``--pre`` does for all."""
    no_binary: bool = False
    """Never install a wheel of this package: build its sdist (pip's ``--no-binary``)."""
    only_binary: bool = False
    """Never build this package's sdist (pip's ``--only-binary``)."""

    def describe(self) -> str:
        """Return the entry as a PEP 508-like string, for messages."""
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        text = f"{self.display_name}{extras}{self.accepted}"
        if self.installed is not None:
            text += f" (installs =={self.installed})"
        return text


class Manifest(NamedTuple):
    """A parsed manifest: groups in file order, each a tuple of entries."""

    path: Path
    groups: Mapping[str, tuple[Entry, ...]] = MappingProxyType({})
    always: tuple[str, ...] = ()
    """Groups selected whatever --group says (pyproject.toml's ``project``); when set,
    naming no group selects only these, not every group."""

    def select(self, names: Sequence[str] = ()) -> tuple[Entry, ...]:
        """Return the entries of the named groups (by default all, or ``always``).

        The same package may appear in several selected groups; every entry is
        returned, so that all of their constraints apply.
        """
        if not names and not self.always:
            return tuple(e for entries in self.groups.values() for e in entries)
        names = [*self.always, *(n for n in names if n not in self.always)]
        unknown = [n for n in names if n not in self.groups]
        if unknown:
            known = ", ".join(self.groups) or "(none)"
            raise ManifestError(
                str(self.path),
                [f"group {n!r} is not defined{did_you_mean(n, self.groups)}; "
                 f"groups in this manifest: {known}" for n in unknown],
            )
        seen: dict[str, None] = dict.fromkeys(names)
        return tuple(e for n in seen for e in self.groups[n])


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a misspelt name, or nothing."""
    import difflib  # only for a mistake: start-up time

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


