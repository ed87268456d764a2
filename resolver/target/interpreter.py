"""The interpreter we fill a venv for, learnt by running ``target_side/probe.py`` with it.

The running interpreter and the target may differ in version, so every fact
here comes from the probe's JSON.  Wheel tags are computed with
``packaging.tags`` from the facts the probe reports (ABI, platforms), never
from ``sys`` of this process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

from packaging import tags
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import TargetError
from .target_side import script_source

Source = Literal["base", "parent", "venv", "wheels"]
"""Where a distribution comes from, in the order of preference."""

Kind = Literal["base", "venv", "look-alike"]
"""What the target interpreter is: a base installation, a real venv (it has a
``pyvenv.cfg``), or an environment that only looks like one (``sys.prefix !=
sys.base_prefix`` without ``pyvenv.cfg``, as Nix wrappers are)."""

MINIMUM_TARGET = (3, 8)


class Installed(NamedTuple):
    """A distribution the target (or the venv) can import."""

    name: NormalizedName
    display_name: str
    version: Version
    source: Source
    location: str
    metadata_dir: str | None
    entry_points: str | None = None
    """The text of ``entry_points.txt``, as the target's importlib.metadata read it."""

    def read_metadata_file(self, filename: str) -> str | None:
        """Text of a file in the ``.dist-info``/``.egg-info`` directory, or None."""
        if self.metadata_dir is None:
            return None
        try:
            return Path(self.metadata_dir, filename).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


class VenvState(NamedTuple):
    """What is at ``--venv`` now, seen through the target's install scheme."""

    path: Path
    exists: bool
    is_dir: bool
    config: Mapping[str, str] | None
    scheme: Mapping[str, str]
    distributions: tuple[Installed, ...]

    @property
    def is_venv(self) -> bool:
        """Whether a ``pyvenv.cfg`` is there."""
        return self.config is not None

    @property
    def python(self) -> Path:
        """The venv's interpreter, the one scripts are bound to."""
        scripts = Path(self.scheme["scripts"])
        return scripts / ("python.exe" if os.name == "nt" else "python")


@dataclass(frozen=True)
class Target:
    """Everything about the target interpreter that venvfill acts on."""

    executable: str
    base_executable: str
    version: tuple[int, int, int]
    implementation: str
    kind: Kind
    system_site_packages: bool
    externally_managed: bool
    markers: Mapping[str, str]
    tag_facts: Mapping[str, Any]
    site_dirs: tuple[str, ...]
    base_site_dirs: tuple[str, ...]
    distributions: tuple[Installed, ...]
    venv: VenvState
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def python_version(self) -> str:
        """``X.Y.Z`` of the target."""
        return ".".join(map(str, self.version))

    @cached_property
    def tags(self) -> tuple[Tag, ...]:
        """Supported wheel tags, most preferred first."""
        return tuple(compute_tags(self.tag_facts, self.version))

    @cached_property
    def tag_priority(self) -> Mapping[Tag, int]:
        """Tag → rank (0 is best), for choosing among wheels of one version."""
        return {tag: i for i, tag in enumerate(self.tags)}

    @property
    def carried_dirs(self) -> tuple[str, ...]:
        """Site directories a child venv must add itself to see what the target sees.

        A real venv's own site-packages (and whatever its ``.pth`` files add)
        are invisible to a venv made from it; so are the directories a look-alike
        environment adds through its wrapper.  The base installation's own site
        directories the child sees anyway (system site packages).
        """
        if self.kind == "base":
            return ()
        base = set(self.base_site_dirs)
        return tuple(d for d in self.site_dirs if d not in base)

    def visible(self) -> Mapping[NormalizedName, list[Installed]]:
        """Distributions visible from the venv, by name, shadowing order first.

        The venv's own come first, then the target's (parent, then base).  Computed
        once per Target; callers must not change it.
        """
        return self._visible

    def system_copy(self, name: NormalizedName) -> Installed | None:
        """The distribution ``name`` from outside the venv (parent or base), if any."""
        return next((d for d in self._visible.get(name, ()) if d.source != "venv"), None)

    @cached_property
    def _visible(self) -> dict[NormalizedName, list[Installed]]:
        seen: dict[NormalizedName, list[Installed]] = {}
        for dist in (*self.venv.distributions, *self.distributions):
            versions = seen.setdefault(dist.name, [])
            # Keep one per source: a second copy in the same place is unreachable.
            if all(d.source != dist.source for d in versions):
                versions.append(dist)
        return seen


def compute_tags(facts: Mapping[str, Any], version: tuple[int, int, int]) -> list[Tag]:
    """Turn the probe's tag facts into the ordered list of supported tags."""
    py = (version[0], version[1])
    platforms: list[str] = list(facts.get("platforms", []))
    if facts.get("mac_version"):
        major, minor = (int(x) for x in [*facts["mac_version"].split("."), "0"][:2])
        platforms = list(tags.mac_platforms((major, minor), facts.get("mac_arch")))
    interpreter = facts["interpreter"]
    abis: list[str] = list(facts.get("abis", []))
    if facts.get("implementation") == "cpython":
        found = list(tags.cpython_tags(py, abis, platforms))
    else:
        found = list(tags.generic_tags(interpreter, abis, platforms))
    found.extend(tags.compatible_tags(py, interpreter, platforms))
    return found


def check_python(python: str) -> None:
    """Refuse a ``--python`` that is missing or not executable (no probe needed)."""
    path = Path(python)
    if not path.exists():
        raise TargetError(
            f"--python {python}: no such file",
            hint="Give the path of a Python 3.8+ interpreter, e.g. --python /usr/bin/python3.",
        )
    if path.is_dir() or not os.access(path, os.X_OK):
        raise TargetError(
            f"--python {python}: not an executable file",
            hint="Give the path of a Python interpreter, not of a directory or a script.",
        )


def probe(python: str, venv: Path,
          answer: Callable[[], tuple[int, str, str]] | None = None) -> Target:
    """Run the probe with ``python`` and describe it and the venv at ``venv``.

    ``answer``: the probe's exit code, output and error output, from a probe
    already started for this interpreter and venv; by default it is run here.
    """
    import subprocess  # a probe is not run on every fill: start-up time

    check_python(python)
    try:
        if answer is not None:
            returncode, stdout, stderr = answer()
        else:
            proc = subprocess.run(
                [python, "-I", "-c", script_source("probe.py"), str(venv)],
                capture_output=True, text=True, timeout=120, check=False,
            )
            returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except (subprocess.TimeoutExpired, TimeoutError):  # TimeoutError is an OSError: first
        raise TargetError(
            f"--python {python}: the probe did not finish in 120 s (the interpreter "
            "started but never answered)",
            hint="Run it by hand with -c 'print(1)': a wrapper waiting for input, a "
            "hung network file system or a stopped process are the usual causes.") from None
    except OSError as exc:
        raise TargetError(f"--python {python}: cannot run it: "
                          f"{exc.strerror or exc}") from None
    if returncode != 0:
        last = (stderr.strip().splitlines() or ["(no output)"])[-1]
        raise TargetError(
            f"--python {python} did not run venvfill's probe (exit {returncode}): {last}",
            hint="Is it a CPython 3.8+ interpreter? Try running it with --version.",
        )
    try:
        data = json.loads(stdout)
    except ValueError:
        raise TargetError(
            f"--python {python} printed something other than the probe's report",
            hint="Is it a Python interpreter? A wrapper script that prints to stdout "
            "cannot be probed.",
        ) from None
    return from_probe(data, venv)


def from_probe(data: Mapping[str, Any], venv: Path) -> Target:
    """Build a Target from the probe's JSON (also used by tests, with made-up data)."""
    version = tuple(data["version"])
    if version[:2] < MINIMUM_TARGET:
        raise TargetError(
            f"--python {data['executable']} is Python {'.'.join(map(str, version))}; "
            f"venvfill fills venvs for Python {'.'.join(map(str, MINIMUM_TARGET))} and newer",
        )
    kind: Kind
    if data.get("pyvenv_cfg") is not None:
        kind = "venv"
    elif os.path.normpath(data["prefix"]) != os.path.normpath(data["base_prefix"]):
        kind = "look-alike"
    else:
        kind = "base"
    base_site = tuple(data.get("base_site_dirs", ()))
    target_dists = tuple(
        d for d in (_installed(raw, _classify(raw["location"], kind, base_site))
                    for raw in data.get("distributions", ())) if d is not None
    )
    raw_venv = data.get("venv") or {}
    venv_dists = tuple(
        d for d in (_installed(raw, "venv") for raw in raw_venv.get("distributions", ()))
        if d is not None
    )
    state = VenvState(
        path=venv,
        exists=bool(raw_venv.get("exists")),
        is_dir=bool(raw_venv.get("is_dir")),
        config=raw_venv.get("pyvenv_cfg"),
        scheme=raw_venv.get("scheme") or {},
        distributions=venv_dists,
    )
    # A target that is our own venv (``--python .venv/bin/python``) must not count its
    # own packages twice, as "parent" and as "venv".
    venv_libs = {os.path.normpath(p) for k, p in state.scheme.items() if k.endswith("lib")}
    if os.path.normpath(data["prefix"]) == os.path.normpath(venv):
        # Nor take what its own .pth files add (pip's editable installs: QEMU's
        # in-tree package) for a parent's: those distributions are the venv's.
        # Only what venvfill's parent .pth names is a parent's.
        parents = _parent_dirs(state.scheme)
        own = {d for d in data.get("site_dirs", ())
               if d not in base_site and d not in parents and d not in venv_libs}
        state = state._replace(distributions=(*state.distributions, *(
            d._replace(source="venv") for d in target_dists
            if os.path.normpath(d.location) in own)))
        venv_libs |= own
    target_dists = tuple(d for d in target_dists
                         if os.path.normpath(d.location) not in venv_libs)
    return Target(
        executable=data["executable"],
        base_executable=data["base_executable"],
        version=(version[0], version[1], version[2]),
        implementation=data["implementation"],
        kind=kind,
        # A base installation's venv gets the system site packages; a venv's child
        # copies its parent's choice (an isolated parent gives an isolated child).
        system_site_packages=bool(data["system_site_packages"]) if kind == "venv" else True,
        externally_managed=bool(data.get("externally_managed")),
        markers=dict(data["markers"]),
        tag_facts=dict(data["tags"]),
        site_dirs=tuple(d for d in data.get("site_dirs", ()) if d not in venv_libs),
        base_site_dirs=base_site,
        distributions=target_dists,
        venv=state,
        raw=data,
    )


def _parent_dirs(scheme: Mapping[str, str]) -> set[str]:
    # The directories venvfill's parent .pth in the venv names (venv/environment.py).
    from ..owned import PTH_NAME

    try:
        with open(os.path.join(scheme.get("purelib", ""), PTH_NAME), encoding="utf-8") as f:
            return {os.path.normpath(line) for line in f.read().splitlines() if line}
    except OSError:
        return set()


def _classify(location: str, kind: Kind, base_site: tuple[str, ...]) -> Source:
    if kind == "venv" and os.path.normpath(location) not in base_site:
        return "parent"
    # A look-alike's extra directories count as the base's: it is not a venv.
    return "base"


def _installed(raw: Mapping[str, Any], source: Source) -> Installed | None:
    try:
        version = Version(raw["version"])
    except InvalidVersion:
        return None  # not PEP 440; no specifier can match it, so it cannot be used
    return Installed(
        name=canonicalize_name(raw["name"]),
        display_name=raw["name"],
        version=version,
        source=source,
        location=raw["location"],
        metadata_dir=raw.get("metadata"),
        entry_points=raw.get("entry_points"),
    )


def environment_notes(env: Mapping[str, str]) -> list[str]:
    """What the current shell's variables mean for what counts as installed."""
    notes = []
    if env.get("PYTHONPATH"):
        notes.append(f"PYTHONPATH={env['PYTHONPATH']} is ignored: venvfill probes with -I, "
                     "so packages visible only through it do not count as installed")
    home = env.get("PYTHONHOME")
    if home:
        if (Path(home) / "pyvenv.cfg").exists():
            notes.append(
                f"PYTHONHOME={home} points into a venv: Python started with it fails "
                "('No module named encodings'). Unset it; to use a venv, run its "
                "bin/python (or its scripts) directly")
        else:
            notes.append(f"PYTHONHOME={home} is ignored by venvfill's probe (-I); programs "
                         "run with it may see another standard library")
    if env.get("PYTHONNOUSERSITE") is None:
        notes.append("user site-packages do not count as installed (venvfill probes with -I)")
    return notes
