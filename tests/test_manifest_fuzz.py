"""Arbitrary input to the manifest loader: a Manifest or our own error, nothing else."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.errors import ManifestError
from resolver.manifest import load
from resolver.manifest.model import FIELDS
from resolver.manifest.pythondeps import parse

names = st.sampled_from(["sphinx", "qemu", "qmp", "a.b", "x_y", "", "bad name", "-x"]) | \
    st.text(max_size=8)
scalars = st.booleans() | st.integers() | st.floats() | \
    st.text(max_size=12) | st.sampled_from([">=1", "(>=1, <2)", "1.0", "==1.*", ">=x"])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from([*FIELDS, "acepted", "qmp"]) | st.text(max_size=6),
                      inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(names, st.dictionaries(names, values, max_size=4) | scalars,
                            max_size=4)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_parse_gives_manifest_or_manifest_error(data: dict[str, object]) -> None:
    try:
        manifest = parse(data, Path("fuzz.toml"))
    except ManifestError as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems)
        return
    for entries in manifest.groups.values():
        for entry in entries:
            assert entry.name == entry.name.lower()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_load_of_arbitrary_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.toml"
        path.write_bytes(raw)
        with contextlib.suppress(ManifestError):
            load(path)
