"""Build real wheels on the fly: correct RECORD hashes, entry points, tags, metadata.

Each built package ``name`` has a module ``name_mod`` (dots and dashes become
underscores) whose ``main()`` prints ``<name> <version> <sys.prefix>``, so a
test can run a generated script and see which interpreter ran it.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path


def module_name(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower() + "_mod"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    scripts: Mapping[str, str] | None = None,
    gui_scripts: Mapping[str, str] | None = None,
    tag: str = "py3-none-any",
    requires_python: str | None = None,
    extras: Mapping[str, Iterable[str]] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    record_override: Mapping[str, str] | None = None,
    omit_from_record: Iterable[str] = (),
    metadata_name: str | None = None,
    wheel_version: str = "1.0",
    metadata_lines: Iterable[str] = (),
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``directory`` and return its path.

    ``scripts`` maps script names to ``module:function`` (default: the package's
    own ``main``).  ``record_override`` / ``omit_from_record`` make broken wheels.
    """
    directory.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_").replace(".", "_")
    info = f"{dist}-{version}.dist-info"
    mod = module_name(name)
    files: dict[str, bytes] = {
        f"{mod}/__init__.py": (
            f"import sys\n__version__ = {version!r}\n"
            f"def main():\n    print({name!r}, __version__, sys.prefix)\n    return 0\n"
        ).encode(),
    }
    files.update(extra_files or {})
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {metadata_name or name}",
        f"Version: {version}",
    ]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta.extend(f"Requires-Dist: {r}" for r in requires)
    for extra, reqs in (extras or {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta.extend(f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs)
    meta.extend(metadata_lines)
    files[f"{info}/METADATA"] = ("\n".join(meta) + "\n\n").encode()
    purelib = "true" if tag.endswith("-none-any") else "false"
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: {wheel_version}\nGenerator: venvfill-tests\n"
        f"Root-Is-Purelib: {purelib}\nTag: {tag}\n"
    ).encode()
    entry_lines = []
    if scripts is not None or gui_scripts is not None:
        if scripts:
            entry_lines.append("[console_scripts]")
            entry_lines.extend(f"{k} = {v}" for k, v in scripts.items())
        if gui_scripts:
            entry_lines.append("[gui_scripts]")
            entry_lines.extend(f"{k} = {v}" for k, v in gui_scripts.items())
        files[f"{info}/entry_points.txt"] = ("\n".join(entry_lines) + "\n").encode()
    omit = set(omit_from_record)
    record_lines = []
    for path, data in files.items():
        if path in omit:
            continue
        digest = (record_override or {}).get(path, _record_hash(data))
        record_lines.append(f"{path},{digest},{len(data)}")
    record_lines.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    return path


def default_script(name: str) -> str:
    return f"{module_name(name)}:main"
