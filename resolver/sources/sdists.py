"""Build an sdist into a wheel (PEP 517, through ``pyproject-hooks``), offline.

Only reached when no wheel will do: the Finder offers a wheelhouse's sdists
after its wheels.  The build runs with the *target* interpreter (the wheel must
fit it) in a throwaway venv of its own — isolated from the venv being filled —
whose build requirements are filled by venvfill itself from the base and the
wheel directories (and the index with ``--online``), never by building more
sdists.  No ``[build-system]`` table means setuptools' legacy backend with
``setuptools>=40.8.0`` (PEP 517).  Built wheels are kept in the cache under
``built/<sha256 of the sdist>-<target tag>/``, so the next venv reuses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from ..errors import BuildError, UnsatisfiableError, VenvfillError
from ..manifest.model import BUILD_GROUP, Entry, Manifest
from ..progress import Progress, silent
from .wheelhouse import LocalWheel, file_digest, wheel_at

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the 3.9/3.10 tox environments
    import tomli as tomllib

if TYPE_CHECKING:
    from ..cache.store import Cache
    from ..resolve.candidates import RemoteSdist
    from ..target.interpreter import Target

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ("setuptools>=40.8.0",)


@dataclass(frozen=True)
class BuildSystem:
    """What ``[build-system]`` says (or the legacy default when there is none)."""

    requires: tuple[Requirement, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


class FillVenv(Protocol):
    """Fills the venv ``venv`` for ``python`` with ``manifest``; returns the venv's python.

    The build venv is filled as any venv is (fill.py passes its own ``fill``), from
    ``wheels`` and ``indexes``, with ``cache``, building no sdists.
    """

    def __call__(self, python: str, venv: Path, manifest: Manifest, *,
                 wheels: tuple[Path, ...], indexes: tuple[str, ...], cache: Cache) -> str:
        """Fill it; raise a VenvfillError if it cannot be filled."""


@dataclass
class Builder:
    """Builds sdists for one target; each sdist at most once per run."""

    target: Target
    wheel_dirs: tuple[Path, ...]
    cache: Cache | None
    fill_venv: FillVenv
    """How a build venv is filled with the build requirements."""
    indexes: tuple[str, ...] = ()
    progress: Progress = silent
    _built: dict[Path, LocalWheel] = field(default_factory=dict)
    _scratch: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)
    _env_cache: Cache | None = None

    def build(self, source: Path | RemoteSdist, name: NormalizedName,
              version: Version) -> LocalWheel:
        """The wheel built from ``source`` (from the cache when built before).

        An index's sdist is downloaded first: into the cache, or for a dry run
        (no cache) into a scratch directory.
        """
        sdist = source if isinstance(source, Path) else source.fetch(
            None if self.cache is not None else self._scratch_dir())
        if sdist in self._built:
            return self._built[sdist]
        out = self._output_dir(sdist)
        done = sorted(out.glob("*.whl")) if out.is_dir() else []
        if not done:
            self.progress("building", 1, 1, sdist.name)
            done = [self._build(sdist, name, version, out)]
        wheel = wheel_at(done[0])
        self._built[sdist] = wheel
        return wheel

    def _output_dir(self, sdist: Path) -> Path:
        # With a cache: by the sdist's content and the target's best tag (a
        # native build differs per interpreter).  Without (a dry run, or an
        # unwritable cache): a scratch directory living as long as this builder.
        if self.cache is not None:
            return (self.cache.root / "built"
                    / f"{file_digest(sdist)}-{self.target.tags[0]}")
        return self._scratch_dir()

    def _scratch_dir(self) -> Path:
        scratch = tempfile.TemporaryDirectory(prefix="venvfill-scratch-")
        self._scratch.append(scratch)
        return Path(scratch.name)

    def _build(self, sdist: Path, name: NormalizedName, version: Version,
               out: Path) -> Path:
        with tempfile.TemporaryDirectory(prefix="venvfill-build-") as work:
            source = unpack(sdist, Path(work) / "src")
            system = build_system(source, sdist)
            env = Path(work) / "env"
            python = self._environment(env, system.requires, sdist)
            from pyproject_hooks import BuildBackendHookCaller

            log: list[str] = []
            hooks = BuildBackendHookCaller(str(source), system.backend,
                                           backend_path=list(system.backend_path) or None,
                                           runner=_runner(sdist, log),
                                           python_executable=python)
            try:
                extra = [_requirement(r, sdist, "get_requires_for_build_wheel")
                         for r in hooks.get_requires_for_build_wheel()]
                if any(str(r) not in {str(s) for s in system.requires} for r in extra):
                    self._environment(env, (*system.requires, *extra), sdist)
                dist = Path(work) / "dist"
                dist.mkdir()
                filename = hooks.build_wheel(str(dist))
            except VenvfillError:
                raise
            except Exception as exc:  # the backend's own failures, named
                raise BuildError(f"building {sdist} failed: {type(exc).__name__}: {exc}"
                                 + _tail(log), hint=_BUILD_HINT) from None
            built = dist / filename
            _check(built, sdist, name, version)
            out.mkdir(parents=True, exist_ok=True)
            tmp = out / f".{filename}.tmp"
            shutil.copyfile(built, tmp)
            os.replace(tmp, out / filename)
            return out / filename

    def _environment(self, env: Path, requires: Sequence[Requirement], sdist: Path) -> str:
        # Fill the build venv with the build requirements; return its python.
        entries = tuple(Entry(name=canonicalize_name(r.name), display_name=r.name,
                              group=BUILD_GROUP, accepted=r.specifier or SpecifierSet(),
                              extras=frozenset(canonicalize_name(e) for e in r.extras),
                              marker=r.marker) for r in requires)
        manifest = Manifest(path=sdist, groups={BUILD_GROUP: entries})
        cache = self.cache or self._env_cache
        if cache is None:
            # A dry run writes nothing to the real cache, but the build venv's
            # downloads (--online) and unpacked wheels need one: a scratch cache.
            from ..cache.store import Cache

            cache = self._env_cache = Cache(self._scratch_dir())
        try:
            return self.fill_venv(self.target.executable, env, manifest,
                                  wheels=self.wheel_dirs, indexes=self.indexes, cache=cache)
        except UnsatisfiableError as exc:
            needs = " and ".join(exc.needs) or ", ".join(str(r) for r in requires)
            # The inner message's first line speaks of "the manifest": drop it.
            detail = exc.message.split("\n", 1)[-1]
            where = ", ".join(f"{d}/" for d in self.wheel_dirs) or "wheels/"
            raise UnsatisfiableError(
                f"cannot build {sdist.name}: its build requirements cannot be satisfied "
                f"{'from the index' if self.indexes else 'offline'}:\n{detail}",
                hint=f"Put a wheel of {needs} into {where}"
                + ("" if self.indexes else ", or use --online") + "; or put a wheel of "
                f"{sdist.name.split('-')[0]} itself there.") from None


_BUILD_HINT = ("The sdist's build backend failed. Put a wheel of this package into the "
               "wheels directory instead, or fix the build.")


def _runner(sdist: Path, log: list[str]) -> Any:
    # Run a hook quietly; keep its output for the message when it fails.
    def run(cmd: Sequence[str], cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None) -> None:
        env = {**os.environ, **(extra_environ or {})}
        env.pop("PYTHONPATH", None)  # the build sees its venv, not our environment
        proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace",
                              check=False)
        log.extend(proc.stdout.splitlines())
        if proc.returncode != 0:
            raise BuildError(f"building {sdist} failed (the backend exited with "
                             f"{proc.returncode})" + _tail(log), hint=_BUILD_HINT)
    return run


def _tail(log: Sequence[str], lines: int = 15) -> str:
    shown = [line for line in log if line.strip()][-lines:]
    return ("; its last output:\n" + "\n".join(f"  | {line}" for line in shown)
            if shown else "")


def _requirement(text: str, sdist: Path, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BuildError(f"{sdist}: {where} gives an invalid requirement {text!r}: {exc}"
                         ) from None


def build_system(source: Path, sdist: Path) -> BuildSystem:
    """``[build-system]`` of the unpacked tree, or PEP 517's legacy default."""
    pyproject = source / "pyproject.toml"
    table: dict[str, Any] | None = None
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BuildError(f"{sdist}: its pyproject.toml is not valid TOML: {exc}") from None
    if table is None:
        if not (source / "setup.py").is_file() and not (source / "setup.cfg").is_file():
            raise BuildError(f"{sdist} has neither a [build-system] table nor a setup.py: "
                             "it is not a source distribution venvfill can build",
                             hint="Put a wheel of it into the wheels directory instead.")
        return BuildSystem(tuple(Requirement(r) for r in LEGACY_REQUIRES), LEGACY_BACKEND)
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildError(f"{sdist}: [build-system] in its pyproject.toml needs 'requires', "
                         "a list of requirement strings (PEP 518)")
    backend = table.get("build-backend", LEGACY_BACKEND)
    backend_path = table.get("backend-path", [])
    if not isinstance(backend, str) or not isinstance(backend_path, list):
        raise BuildError(f"{sdist}: [build-system] build-backend must be a string and "
                         "backend-path a list of strings")
    return BuildSystem(tuple(_requirement(r, sdist, "[build-system] requires")
                             for r in requires), backend, tuple(backend_path))


def unpack(sdist: Path, dest: Path) -> Path:
    """Extract ``sdist`` (.tar.gz or .zip) safely; return its top-level source directory."""
    dest.mkdir(parents=True)
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as zf:
                for member in zf.namelist():
                    _safe(member, sdist)
                zf.extractall(dest)
        else:
            with tarfile.open(sdist, "r:*") as tf:
                for info in tf.getmembers():
                    _safe(info.name, sdist)
                    if not (info.isfile() or info.isdir()):
                        raise BuildError(f"{sdist}: member {info.name!r} is a link or a "
                                         "device; venvfill builds only plain source trees")
                tf.extractall(dest, **({"filter": "data"}  # type: ignore[arg-type]
                                       if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BuildError(f"{sdist} cannot be unpacked: {exc}",
                         hint="The file is damaged; fetch it again.") from None
    tops = [p for p in dest.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise BuildError(f"{sdist} does not hold one top-level directory, as an sdist must")
    return tops[0]


def _safe(name: str, sdist: Path) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\"):
        raise BuildError(f"{sdist}: member {name!r} would be written outside the build "
                         "directory; refusing to unpack it",
                         hint="Do not use this file; it is damaged or malicious.")


def _check(built: Path, sdist: Path, name: NormalizedName, version: Version) -> None:
    try:
        got_name, got_version, _, _ = parse_wheel_filename(built.name)
    except (InvalidWheelFilename, ValueError):
        raise BuildError(f"building {sdist} produced {built.name!r}, not a wheel") from None
    if got_name != name or got_version != version:
        raise BuildError(f"building {sdist} produced {built.name} ({got_name} "
                         f"{got_version}), not {name} {version} as the file name says",
                         hint="Rename the sdist to match what it builds.")
