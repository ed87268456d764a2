"""Made-up targets: the probe's JSON for an interpreter that need not exist."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from resolver.target.interpreter import Target, from_probe

LINUX_TAGS = {
    "interpreter": "cp311",
    "implementation": "cpython",
    "abis": ["cp311"],
    "platforms": ["manylinux_2_36_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                  "linux_x86_64"],
}


def dist_info(site: Path, name: str, version: str, requires: Iterable[str] = (),
              entry_points: str = "") -> dict[str, Any]:
    """Write a minimal installed distribution into ``site``; return its probe record."""
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True, exist_ok=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta.extend(f"Requires-Dist: {r}" for r in requires)
    (d / "METADATA").write_text("\n".join(meta) + "\n\n")
    (d / "RECORD").write_text(f"{d.name}/METADATA,,\n{d.name}/RECORD,,\n")
    if entry_points:
        (d / "entry_points.txt").write_text(entry_points)
    return {"name": name, "version": version, "metadata": str(d), "location": str(site),
            "entry_points": entry_points or None}


def fake_target(
    tmp: Path,
    *,
    base: Mapping[str, str] | None = None,
    parent: Mapping[str, str] | None = None,
    venv: Mapping[str, str] | None = None,
    venv_requires: Mapping[str, Iterable[str]] | None = None,
    version: tuple[int, int, int] = (3, 11, 7),
) -> Target:
    base_site = tmp / "base" / "site-packages"
    parent_site = tmp / "parent" / "site-packages"
    venv_dir = tmp / "venv"
    venv_site = venv_dir / "lib" / "site-packages"
    if venv is not None:
        venv_dir.mkdir(parents=True, exist_ok=True)
    dists = [dist_info(base_site, n, v) for n, v in (base or {}).items()]
    parent_dists = [dist_info(parent_site, n, v) for n, v in (parent or {}).items()]
    venv_dists = [dist_info(venv_site, n, v, (venv_requires or {}).get(n, ()))
                  for n, v in (venv or {}).items()]
    short = f"{version[0]}.{version[1]}"
    data = {
        "executable": "/fake/bin/python",
        "base_executable": "/fake/bin/python",
        "version": list(version),
        "implementation": "cpython",
        "prefix": str(tmp / "parent") if parent else "/fake",
        "base_prefix": "/fake",
        "pyvenv_cfg": {"home": "/fake/bin"} if parent else None,
        "system_site_packages": True,
        "externally_managed": False,
        "markers": {
            "implementation_name": "cpython", "implementation_version": short + ".0",
            "os_name": "posix", "platform_machine": "x86_64", "platform_release": "6",
            "platform_system": "Linux", "platform_version": "#1",
            "python_full_version": ".".join(map(str, version)),
            "platform_python_implementation": "CPython", "python_version": short,
            "sys_platform": "linux",
        },
        "tags": {**LINUX_TAGS, "interpreter": f"cp{version[0]}{version[1]}",
                 "abis": [f"cp{version[0]}{version[1]}"]},
        "site_dirs": ([str(parent_site)] if parent else []) + [str(base_site)],
        "base_site_dirs": [str(base_site)],
        "distributions": parent_dists + dists,
        "venv": {
            "path": str(venv_dir), "exists": bool(venv), "is_dir": bool(venv),
            "pyvenv_cfg": {"home": "/fake/bin"} if venv else None,
            "scheme": {"purelib": str(venv_site), "platlib": str(venv_site),
                       "scripts": str(venv_dir / "bin"), "data": str(venv_dir),
                       "headers": str(venv_dir / "include")},
            "distributions": venv_dists,
        },
    }
    return from_probe(data, venv_dir)
