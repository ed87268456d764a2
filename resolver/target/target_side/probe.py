"""Describe the interpreter running this script, as JSON on stdout.

venvfill runs this file *with the target interpreter* (``python -I probe.py
VENV``), because the target may be another Python version than venvfill's own
(venvfill on 3.11 can fill a venv for 3.8).  Nothing else in venvfill reads
facts about the target from its own ``sys``.

Constraints: standard library only, and it must run on CPython 3.8 — so no
``str.removeprefix``, no ``list[str]`` at run time, no ``match``.  It reports
facts, not conclusions; the tool decides what they mean (see target/interpreter.py).
"""

import json
import os
import platform
import site
import struct
import sys
import sysconfig
from typing import Any, Dict, List, Optional, Tuple

# Legacy manylinux names and the glibc minor each aliases (PEP 600).
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_LEGACY_ARCHES = {
    17: ("x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"),
    12: ("x86_64", "i686"),
    5: ("x86_64", "i686"),
}


def _full_version(info: Any) -> str:
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def marker_environment() -> Dict[str, str]:
    """PEP 508 environment markers of this interpreter."""
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": _full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def elf_interpreter(path: str) -> Optional[str]:
    """The program interpreter an ELF executable names (PT_INTERP), or None.

    Read as packaging reads it (its ``_elffile``): the ELF header, then the
    program headers, bounded by what they declare.
    """
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) \
                    or ident[5] not in (1, 2):
                return None
            end = "<" if ident[5] == 1 else ">"
            wide = ident[4] == 2
            header = f.read(48 if wide else 36)
            if wide:
                phoff, = struct.unpack(end + "Q", header[16:24])
                phentsize, phnum = struct.unpack(end + "HH", header[38:42])
                entry, kind_off = end + "IIQQQQQQ", (0, 2, 5)
            else:
                phoff, = struct.unpack(end + "I", header[12:16])
                phentsize, phnum = struct.unpack(end + "HH", header[26:30])
                entry, kind_off = end + "IIIIIIII", (0, 1, 4)
            size = struct.calcsize(entry)
            if phentsize < size or phnum > 256:
                return None
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                fields = struct.unpack(entry, f.read(size))
                kind, offset, length = (fields[k] for k in kind_off)
                if kind == 3 and 0 < length <= 4096:  # PT_INTERP
                    f.seek(offset)
                    return f.read(length).rstrip(b"\0").decode("utf-8", "replace")
    except (OSError, struct.error):
        return None
    return None


def musl_version(executable: str) -> Optional[Tuple[int, int]]:
    """The musl libc version ``executable`` runs with, or None (not musl).

    Its loader, run with no arguments, prints ``Version 1.2.4`` among its usage.
    """
    loader = elf_interpreter(executable)
    if not loader or "musl" not in os.path.basename(loader):
        return None
    import subprocess  # musl only

    try:
        out = subprocess.run([loader], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=10, check=False).stderr.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "Version":
            numbers = words[1].split(".")
            if len(numbers) >= 2 and numbers[0].isdigit() and numbers[1].isdigit():
                return int(numbers[0]), int(numbers[1])
    return None


def _linux_platforms(arch: str, executable: str = sys.executable) -> List[str]:
    platforms: List[str] = []
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, OSError, ValueError):
        libc = ""
    if not libc.startswith("glibc"):
        musl = musl_version(executable)
        if musl is not None:
            platforms.extend(f"musllinux_{musl[0]}_{m}_{arch}"
                             for m in range(musl[1], -1, -1))
    parts = libc.split()
    if len(parts) == 2 and parts[0] == "glibc":
        try:
            major, minor = (int(x) for x in parts[1].split(".")[:2])
        except ValueError:
            major, minor = 0, 0
        lowest = 5 if arch in ("x86_64", "i686") else 17
        if major == 2:
            for m in range(minor, lowest - 1, -1):
                platforms.append(f"manylinux_2_{m}_{arch}")
                if m in _LEGACY_MANYLINUX and arch in _LEGACY_ARCHES[m]:
                    platforms.append(f"{_LEGACY_MANYLINUX[m]}_{arch}")
    platforms.append("linux_" + arch)
    return platforms


def tag_facts() -> Dict[str, Any]:
    """What wheel tags depend on; the tool turns these into tags with packaging."""
    name = sys.implementation.name
    short = {"cpython": "cp", "pypy": "pp"}.get(name, name)
    ver = "{}{}".format(*sys.version_info[:2])
    abis: List[str] = []
    if name == "cpython":
        debug = sysconfig.get_config_var("Py_DEBUG") or hasattr(sys, "gettotalrefcount")
        threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        abis.append("cp" + ver + ("d" if debug else "") + ("t" if threaded else ""))
    else:
        soabi = sysconfig.get_config_var("SOABI") or ""
        if soabi:
            abis.append(soabi.replace(".", "_").replace("-", "_"))
    plat = sysconfig.get_platform()
    facts: Dict[str, Any] = {"interpreter": short + ver, "implementation": name, "abis": abis}
    if plat.startswith("linux-"):
        arch = plat[len("linux-"):]
        if struct.calcsize("P") == 4:
            arch = {"x86_64": "i686", "aarch64": "armv7l"}.get(arch, arch)
        facts["platforms"] = _linux_platforms(arch)
    elif sys.platform == "darwin":
        facts["mac_version"] = platform.mac_ver()[0]
        facts["mac_arch"] = platform.machine()
        facts["platforms"] = []
    else:
        facts["platforms"] = [plat.replace("-", "_").replace(".", "_")]
    return facts


def _read_cfg(path: str) -> Optional[Dict[str, str]]:
    values: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip().lower()] = value.strip()
    except OSError:
        return None
    return values


def _dists(path: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    from importlib import metadata as importlib_metadata  # 3.8+; older ones stop earlier

    found: List[Dict[str, Any]] = []
    dists = importlib_metadata.distributions(path=path) if path else \
        importlib_metadata.distributions()
    for dist in dists:
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken metadata directory: skip it, as pip does
            continue
        if not name or not version:
            continue
        meta = getattr(dist, "_path", None)
        try:
            entry_points = dist.read_text("entry_points.txt")
        except (OSError, UnicodeDecodeError):
            entry_points = None
        found.append({
            "name": name,
            "version": version,
            "metadata": str(meta) if meta is not None else None,
            "location": str(dist.locate_file("")),
            "entry_points": entry_points,
        })
    return found


def venv_scheme(venv: str) -> Dict[str, str]:
    """Install paths a venv at ``venv`` made from this interpreter would have."""
    names = sysconfig.get_scheme_names()
    if "venv" in names:
        scheme = "venv"
    elif os.name == "nt":
        scheme = "nt"
    else:
        scheme = "posix_prefix"
    keys = {"base": venv, "platbase": venv, "installed_base": venv,
            "installed_platbase": venv}
    paths = sysconfig.get_paths(scheme, vars=keys)
    short = "{}.{}".format(*sys.version_info[:2])
    return {
        "purelib": paths["purelib"],
        "platlib": paths["platlib"],
        "scripts": paths["scripts"],
        "data": paths["data"],
        "headers": os.path.join(venv, "include", "site", "python" + short),
    }


def base_executable() -> str:
    """The real interpreter a new venv should point at.

    Inside a venv, Python 3.11+ knows it (``sys._base_executable``); older
    versions report the venv's own link there on POSIX, so follow the links.
    """
    in_venv = os.path.exists(os.path.join(sys.prefix, "pyvenv.cfg"))
    if in_venv and sys.version_info < (3, 11):
        return os.path.realpath(sys.executable)
    return getattr(sys, "_base_executable", None) or sys.executable


def describe(venv: Optional[str]) -> Dict[str, Any]:
    """Everything venvfill needs to know about this interpreter and ``venv``."""
    cfg_path = os.path.join(sys.prefix, "pyvenv.cfg")
    stdlib = sysconfig.get_paths()
    stdlib_dirs = {os.path.normpath(p) for p in (stdlib["stdlib"], stdlib["platstdlib"])}
    site_dirs: List[str] = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        norm = os.path.normpath(entry)
        if norm in stdlib_dirs or os.path.basename(norm) == "lib-dynload":
            continue  # the standard library
        if norm not in site_dirs:
            site_dirs.append(norm)
    result: Dict[str, Any] = {
        "executable": sys.executable,
        "base_executable": base_executable(),
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "pyvenv_cfg": _read_cfg(cfg_path) if os.path.exists(cfg_path) else None,
        "system_site_packages": sys.base_prefix in site.PREFIXES,
        "stdlib": stdlib["stdlib"],
        "externally_managed": os.path.exists(
            os.path.join(stdlib["stdlib"], "EXTERNALLY-MANAGED")),
        "markers": marker_environment(),
        "tags": tag_facts(),
        "site_dirs": site_dirs,
        "base_site_dirs": [os.path.normpath(p)
                           for p in site.getsitepackages([sys.base_prefix])],
        "distributions": _dists(),
        "venv": None,
    }
    if venv:
        scheme = venv_scheme(venv)
        venv_cfg = os.path.join(venv, "pyvenv.cfg")
        libs = [scheme["purelib"]]
        if scheme["platlib"] != scheme["purelib"]:
            libs.append(scheme["platlib"])
        libs = [p for p in libs if os.path.isdir(p)]
        result["venv"] = {
            "path": venv,
            "exists": os.path.exists(venv),
            "is_dir": os.path.isdir(venv),
            "pyvenv_cfg": _read_cfg(venv_cfg) if os.path.exists(venv_cfg) else None,
            "scheme": scheme,
            "distributions": _dists(libs) if libs else [],
        }
    return result


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        # Too old to describe fully; enough for the tool to say so plainly.
        json.dump({"executable": sys.executable, "version": list(sys.version_info[:3])},
                  sys.stdout)
    else:
        sys.stdout.write(json.dumps(describe(sys.argv[1] if len(sys.argv) > 1 else None)))
