"""Wheel tags of targets that cannot run here: musl (Alpine), Python 3.14/3.15, free-threaded.

No musl Python runs on this machine, so the probe's musl detection is tested on ELF
files made here (the interpreter's PT_INTERP naming a loader that is a script
printing musl's usage), as packaging's own tests do; 3.14, 3.15 and ``cp314t`` are
described targets: the facts their probe would report.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

from resolver.sources.wheelhouse import scan
from resolver.target.interpreter import compute_tags
from resolver.target.target_side import probe as _probe
from wheelfactory import build_wheel

MUSL_USAGE = "musl libc (x86_64)\nVersion 1.2.4\nDynamic Program Loader\nUsage: ...\n"


def elf(path: Path, interpreter: str, *, wide: bool = True, little: bool = True) -> Path:
    """An ELF executable's headers: one PT_LOAD, then PT_INTERP naming ``interpreter``."""
    end = "<" if little else ">"
    name = interpreter.encode() + b"\0"
    if wide:
        header_size, entry_size = 64, 56
        phdr = end + "IIQQQQQQ"
        header = struct.pack(end + "HHIQQQIHHHHHH", 2, 62, 1, 0, header_size, 0, 0,
                             header_size, entry_size, 2, 0, 0, 0)
        where = header_size + 2 * entry_size
        entries = [struct.pack(phdr, 1, 5, 0, 0, 0, 0, 0, 0),
                   struct.pack(phdr, 3, 4, where, 0, 0, len(name), len(name), 1)]
    else:
        header_size, entry_size = 52, 32
        phdr = end + "IIIIIIII"
        header = struct.pack(end + "HHIIIIIHHHHHH", 2, 3, 1, 0, header_size, 0, 0,
                             header_size, entry_size, 2, 0, 0, 0)
        where = header_size + 2 * entry_size
        entries = [struct.pack(phdr, 1, 0, 0, 0, 0, 0, 5, 0),
                   struct.pack(phdr, 3, where, 0, 0, len(name), len(name), 4, 1)]
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1]) + bytes(9)
    path.write_bytes(ident + header + b"".join(entries) + name)
    return path


def musl_loader(directory: Path, usage: str = MUSL_USAGE) -> Path:
    loader = directory / "ld-musl-x86_64.so.1"
    loader.write_text(f"#!/bin/sh\nprintf '%s' '{usage}' >&2\nexit 1\n")
    loader.chmod(0o755)
    return loader


@pytest.mark.parametrize(("wide", "little"), [(True, True), (False, True), (True, False),
                                              (False, False)])
def test_the_probe_reads_the_program_interpreter_of_an_elf(
        tmp_path: Path, wide: bool, little: bool) -> None:
    exe = elf(tmp_path / "python3", "/lib/ld-musl-x86_64.so.1", wide=wide, little=little)
    assert _probe.elf_interpreter(str(exe)) == "/lib/ld-musl-x86_64.so.1"


def test_the_probe_reads_this_machine_s_python() -> None:
    found = _probe.elf_interpreter(os.path.realpath(sys.executable))
    assert found is not None and "ld-linux" in found  # glibc here


@pytest.mark.parametrize("content", [b"", b"#!/bin/sh\n", b"\x7fELF\x02\x01\x01" + bytes(9),
                                     b"\x7fELF\x09\x09" + bytes(100)])
def test_what_is_not_an_elf_has_no_interpreter(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "python3"
    path.write_bytes(content)
    assert _probe.elf_interpreter(str(path)) is None


def test_musl_is_found_through_its_loader(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    loader = musl_loader(tmp_path)
    exe = elf(tmp_path / "python3", str(loader))
    assert _probe.musl_version(str(exe)) == (1, 2)
    # Where glibc is absent (confstr knows no glibc on musl), musllinux platforms first.
    monkeypatch.setattr(_probe.os, "confstr", lambda name: None)
    assert _probe._linux_platforms("x86_64", str(exe)) == [
        "musllinux_1_2_x86_64", "musllinux_1_1_x86_64", "musllinux_1_0_x86_64",
        "linux_x86_64"]
    # A glibc interpreter, or a loader that says no version: no musllinux platforms.
    glibc = elf(tmp_path / "python-glibc", "/lib64/ld-linux-x86-64.so.2")
    assert _probe.musl_version(str(glibc)) is None
    (tmp_path / "mute").mkdir()
    mute = musl_loader(tmp_path / "mute", usage="musl libc\n")
    assert _probe.musl_version(str(elf(tmp_path / "python-mute", str(mute)))) is None


ALPINE = {"interpreter": "cp312", "implementation": "cpython", "abis": ["cp312"],
          "platforms": ["musllinux_1_2_x86_64", "musllinux_1_1_x86_64",
                        "musllinux_1_0_x86_64", "linux_x86_64"]}


def test_an_alpine_target_takes_musllinux_wheels_and_passes_over_manylinux(
        tmp_path: Path) -> None:
    tags = {str(t) for t in compute_tags(ALPINE, (3, 12, 8))}
    assert "cp312-cp312-musllinux_1_2_x86_64" in tags
    assert "cp312-abi3-musllinux_1_1_x86_64" in tags
    assert not any("manylinux" in t for t in tags)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "fast", "1.0", tag="cp312-cp312-musllinux_1_1_x86_64")
    build_wheel(wheels, "slow", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    house = scan([wheels])
    supported = set(compute_tags(ALPINE, (3, 12, 8)))
    (fast,) = house.for_name("fast")  # type: ignore[arg-type]
    (slow,) = house.for_name("slow")  # type: ignore[arg-type]
    assert fast.tags & supported and not slow.tags & supported


@pytest.mark.parametrize(("version", "abi", "abi3"), [
    ((3, 14, 0), "cp314", True), ((3, 15, 0), "cp315", True), ((3, 14, 0), "cp314t", False),
])
def test_described_targets_of_pythons_not_here(version: tuple[int, int, int], abi: str,
                                               abi3: bool) -> None:
    short = f"cp{version[0]}{version[1]}"
    facts = {"interpreter": short, "implementation": "cpython", "abis": [abi],
             "platforms": ["manylinux_2_39_x86_64", "manylinux_2_17_x86_64", "linux_x86_64"]}
    tags = [str(t) for t in compute_tags(facts, version)]
    assert tags[0] == f"{short}-{abi}-manylinux_2_39_x86_64"
    # A free-threaded build cannot load abi3 extensions (packaging knows: PEP 703).
    assert (f"{short}-abi3-manylinux_2_17_x86_64" in tags) == abi3
    assert "py3-none-any" in tags and f"{short}-none-any" in tags
