"""A target described instead of probed: ``vendor --platform/--python-version/--implementation``.

A CI machine vendoring for a sealed aarch64 machine running 3.9 cannot run
that interpreter.  What resolution needs of a target is its wheel tags and its
marker environment; both follow from a platform tag, a Python version and an
implementation.  Nothing is installed on it as far as vendoring is concerned.

A platform tag stands for the tags such a machine accepts: ``manylinux_2_28_x86_64``
for every manylinux down to glibc 2.17 (with the legacy ``manylinux2014`` /
``manylinux2010`` / ``manylinux1`` spellings of 2.17, 2.12 and 2.5), a
``musllinux_1_2`` tag for every older musllinux 1.x, a macOS tag for every
older macOS (and ``universal2``), as installers do for their own machine.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging import tags

from ..errors import UsageError
from .interpreter import Target, VenvState

_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010",
                     (2, 5): "manylinux1"}
_WINDOWS_MACHINES = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}


def expand(platform: str) -> list[str]:
    """The platform tags a machine with ``platform`` accepts, best first."""
    legacy = {v: k for k, v in _LEGACY_MANYLINUX.items()}
    m = re.fullmatch(r"(manylinux2014|manylinux2010|manylinux1)_(\w+)", platform)
    if m:
        glibc = legacy[m.group(1)]
        platform = f"manylinux_{glibc[0]}_{glibc[1]}_{m.group(2)}"
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
    if m:
        major, minor, arch = int(m.group(1)), int(m.group(2)), m.group(3)
        found: list[str] = []
        for glibc_minor in range(minor, -1, -1):
            found.append(f"manylinux_{major}_{glibc_minor}_{arch}")
            alias = _LEGACY_MANYLINUX.get((major, glibc_minor))
            if alias:
                found.append(f"{alias}_{arch}")
        return found
    m = re.fullmatch(r"musllinux_(\d+)_(\d+)_(\w+)", platform)
    if m:
        major, minor, arch = int(m.group(1)), int(m.group(2)), m.group(3)
        return [f"musllinux_{major}_{x}_{arch}" for x in range(minor, -1, -1)]
    m = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", platform)
    if m:
        return list(tags.mac_platforms((int(m.group(1)), int(m.group(2))), m.group(3)))
    if re.fullmatch(r"(linux|win)_\w+|win32|any", platform):
        return [platform]
    raise UsageError(f"--platform {platform}: not a platform tag venvfill knows",
                     hint="Give a wheel platform tag such as manylinux_2_28_aarch64, "
                     "musllinux_1_2_x86_64, macosx_11_0_arm64 or win_amd64.")


def _markers(platform: str, version: tuple[int, int]) -> dict[str, str]:
    # The marker environment of a CPython on ``platform``.  The patch level is
    # unknown: X.Y.0 stands for the whole X.Y series.
    m = re.fullmatch(r"(?:(?:many|musl)linux_\d+_\d+|linux|macosx_\d+_\d+)_(\w+)", platform)
    if platform.startswith("macosx"):
        os_name, sys_platform, system = "posix", "darwin", "Darwin"
        machine = m.group(1) if m else ""
    elif platform.startswith("win"):
        os_name, sys_platform, system = "nt", "win32", "Windows"
        machine = _WINDOWS_MACHINES.get(platform, "")
    else:
        os_name, sys_platform, system = "posix", "linux", "Linux"
        machine = m.group(1) if m else ""
    full = f"{version[0]}.{version[1]}.0"
    return {"implementation_name": "cpython", "implementation_version": full,
            "os_name": os_name, "platform_machine": machine, "platform_release": "",
            "platform_system": system, "platform_version": "",
            "platform_python_implementation": "CPython",
            "python_full_version": full, "python_version": f"{version[0]}.{version[1]}",
            "sys_platform": sys_platform}


def target(platforms: Sequence[str], python_version: str | None,
           implementation: str | None) -> Target:
    """A bare CPython target on ``platforms`` (default: this machine's) at ``X.Y``."""
    if implementation not in (None, "cp"):
        raise UsageError(f"--implementation {implementation}: venvfill vendors for "
                         "CPython only", hint="Use --implementation cp (the default).")
    if python_version is None:
        version = sys.version_info[:2]
    else:
        m = re.fullmatch(r"3\.(\d+)", python_version)
        if not m or int(m.group(1)) < 8:
            raise UsageError(f"--python-version {python_version}: give X.Y, 3.8 or newer",
                             hint="For example --python-version 3.9.")
        version = (3, int(m.group(1)))
    expanded: list[str] = []
    for platform in platforms:
        expanded.extend(p for p in expand(platform) if p not in expanded)
    if not expanded:
        expanded = list(tags.platform_tags())
    markers = _markers(platforms[0] if platforms else expanded[0], version)
    interpreter = f"cp{version[0]}{version[1]}"
    label = f"CPython {version[0]}.{version[1]} on {', '.join(platforms) or 'this platform'}"
    return Target(
        executable=label, base_executable=label, version=(version[0], version[1], 0),
        implementation="cpython", kind="base", system_site_packages=True,
        externally_managed=False, markers=markers,
        tag_facts={"interpreter": interpreter, "abis": [interpreter],
                   "platforms": expanded, "implementation": "cpython"},
        site_dirs=(), base_site_dirs=(), distributions=(),
        venv=VenvState(path=Path(), exists=False, is_dir=False, config=None, scheme={},
                       distributions=()))
