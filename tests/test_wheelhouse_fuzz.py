"""Arbitrary wheel file names and METADATA: a usable wheel or our own error, nothing else."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.errors import VenvfillError
from resolver.sources.wheelhouse import scan

filenames = st.text(alphabet=st.characters(blacklist_characters="/\x00",
                                           blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(filenames.map(lambda n: n + ".whl") | filenames, max_size=5))
def test_scan_of_arbitrary_names(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            try:
                (Path(d) / name).write_bytes(b"")
            except OSError:
                continue
        house = scan([Path(d)])
        for wheels in house.wheels.values():
            for wheel in wheels:
                assert wheel.filename.endswith(".whl")


headers = st.lists(st.tuples(st.sampled_from(["Name", "Version", "Requires-Dist",
                                              "Requires-Python", "X"]),
                             st.text(max_size=30).filter(lambda t: "\n" not in t
                                                         and "\r" not in t)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(headers, st.booleans())
def test_metadata_of_arbitrary_content(lines: list[tuple[str, str]], two_infos: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "demo-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            text = "".join(f"{k}: {v}\n" for k, v in lines) + "\n"
            zf.writestr("demo-1.0.dist-info/METADATA", text)
            if two_infos:
                zf.writestr("other-1.0.dist-info/METADATA", text)
        (wheel,) = scan([Path(d)]).for_name("demo")  # type: ignore[arg-type]
        try:
            meta = wheel.metadata()
        except VenvfillError:
            return
        assert meta.name == "demo"
        assert str(meta.version) == "1.0"


_FIELD = st.sampled_from(["Name", "Version", "Requires-Dist", "requires-dist",
                          "Requires-Python", "REQUIRES-PYTHON", "Summary", "Bad Name",
                          "X\u00e9", ""])
_VALUE = st.text(st.sampled_from(list("abc =<>;'\":\t.-1")), max_size=12)
_LINE = st.one_of(
    st.builds(lambda f, v: f"{f}:{v}", _FIELD, _VALUE),  # a header (or not, if f is bad)
    st.builds(lambda w, v: w + v, st.sampled_from([" ", "\t"]), _VALUE),  # continuation
    st.just(""),  # the end of the headers
    _VALUE,  # a line that is no header
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_LINE, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_metadata_headers_read_as_the_email_package_reads_them(
        lines: list[str], newline: str) -> None:
    # wheelhouse.metadata_fields parses METADATA itself (importing email costs a
    # cold fill more than the parsing): the same four fields as email's parser.
    import email.parser

    from resolver.sources.wheelhouse import metadata_fields

    text = newline.join(lines) + newline
    headers = email.parser.HeaderParser().parsestr(text)
    expected = {"name": headers.get("Name", ""), "version": headers.get("Version", ""),
                "requires_dist": list(headers.get_all("Requires-Dist") or ()),
                "requires_python": headers.get("Requires-Python") or ""}
    assert metadata_fields(text) == {k: v.replace("\r\n", "\n").replace("\r", "\n")
                                     if isinstance(v, str) else
                                     [x.replace("\r\n", "\n").replace("\r", "\n")
                                      for x in v] for k, v in expected.items()}
