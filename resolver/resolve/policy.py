"""Build policy: which packages may come from wheels, and which may be built from sdists.

Building an sdist runs its code, so a sealed machine may forbid it.  The options
have pip's meanings: ``--no-binary NAME`` never uses a wheel of NAME (its sdist
is built), ``--only-binary NAME`` never builds NAME's sdist, ``:all:`` stands
for every package, and ``--no-build`` is ``--only-binary :all:``.  A manifest
entry's ``no-binary = true`` or ``only-binary = true`` says the same for its
package.  A name given explicitly wins over ``:all:``.  What the system has is
kept whatever the policy: it decides only what is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import UsageError

ALL = ":all:"
_NOTHING: Mapping[str, str] = MappingProxyType({})


class BuildPolicy(NamedTuple):
    """Names (or ``:all:``) kept from wheels or from builds, each with who said so."""

    no_binary: Mapping[str, str] = _NOTHING
    only_binary: Mapping[str, str] = _NOTHING

    def why_no_wheels(self, name: NormalizedName) -> str | None:
        """Why wheels of ``name`` are not used, or None when they are."""
        if name in self.no_binary:
            return self.no_binary[name]
        if name in self.only_binary:
            return None
        return self.no_binary.get(ALL)

    def why_no_builds(self, name: NormalizedName) -> str | None:
        """Why sdists of ``name`` are not built, or None when they may be."""
        if name in self.only_binary:
            return self.only_binary[name]
        if name in self.no_binary:
            return None
        return self.only_binary.get(ALL)


DEFAULT = BuildPolicy()
"""Wheels used and sdists built for every package (when no wheel fits)."""


def from_options(no_binary: Iterable[str], only_binary: Iterable[str],
                 no_build: bool) -> BuildPolicy:
    """The policy the command line asks for; a name on both lists is a usage error."""
    never = {n: "--no-binary" for n in _names(no_binary)}
    only = {n: "--only-binary" for n in _names(only_binary)}
    if no_build:
        only[ALL] = "--no-build"
    both = sorted(set(never) & set(only))
    if both:
        raise UsageError(f"{', '.join(both)} given to both --no-binary and --only-binary "
                         "(or --no-build)",
                         hint="Say for each package either that its wheels are not used "
                         "(--no-binary) or that it is never built (--only-binary).")
    return BuildPolicy(MappingProxyType(never), MappingProxyType(only))


def with_entries(policy: BuildPolicy, no_binary: Iterable[NormalizedName],
                 only_binary: Iterable[NormalizedName]) -> BuildPolicy:
    """``policy`` with the manifest entries' own ``no-binary``/``only-binary``.

    The command line's word for a name stands; the manifest adds names it does not
    mention.
    """
    never: dict[str, str] = {n: "the manifest's no-binary" for n in no_binary
                             if n not in policy.only_binary}
    only: dict[str, str] = {n: "the manifest's only-binary" for n in only_binary
                            if n not in policy.no_binary}
    if not never and not only:
        return policy
    return BuildPolicy(MappingProxyType({**never, **policy.no_binary}),
                       MappingProxyType({**only, **policy.only_binary}))


def _names(values: Iterable[str]) -> list[str]:
    # pip's spelling: names separated by commas, ``:all:``, and ``:none:`` to forget
    # the names given before it.
    names: list[str] = []
    for value in values:
        for text in value.split(","):
            text = text.strip()
            if text == ":none:":
                names.clear()
            elif text:
                names.append(ALL if text == ALL else canonicalize_name(text))
    return names
