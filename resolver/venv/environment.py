"""The venv at ``--venv``: check it may be used, then create or refresh it.

Checks run before resolution so that a run that fails validation creates
nothing.  Creation runs ``target/target_side/builder.py`` with the target interpreter (see there
for why); a venv already in the desired state is left alone, which keeps
re-runs cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from .creation import CREATING, RELOCATABLE, Creation, launch
from ..errors import VenvError
from ..owned import LOCK_NAME, STATE_DIR
from ..owned import PTH_NAME
from ..target.interpreter import Target


class Desired(NamedTuple):
    """What the venv's configuration must say for this target."""

    home: str
    system_site_packages: bool
    parent_dirs: tuple[str, ...]


def desired(target: Target) -> Desired:
    """The configuration the target calls for."""
    return Desired(
        home=os.path.dirname(target.base_executable),
        system_site_packages=target.system_site_packages,
        parent_dirs=target.carried_dirs,
    )


def precheck(venv: Path) -> None:
    """Refuse a ``--venv`` that is not ours to use, before anything is written there."""
    where = f"--venv {venv}"
    odd = sorted({c for c in str(venv) if ord(c) < 32 or ord(c) == 127})
    if odd:
        raise VenvError(
            f"--venv {str(venv)!r} contains {', '.join(repr(c) for c in odd)}: every "
            "script's first line names the venv's python, and no shebang can hold that",
            hint="Choose a path without control characters (tabs, newlines).")
    if os.path.lexists(venv) and not venv.is_dir():
        raise VenvError(f"{where} is a file, not a directory",
                        hint="Choose another --venv path, or remove the file yourself.")
    if (venv.is_dir() and not (venv / "pyvenv.cfg").exists() and not interrupted(venv)
            and set(os.listdir(venv)) - {STATE_DIR}):
        raise VenvError(
            f"{where} is a non-empty directory without pyvenv.cfg: not a virtual environment",
            hint="venvfill never deletes or fills a directory it did not make; choose "
            "another --venv path (--clear does not apply to it).",
        )


def forget_records(venv: Path) -> None:
    """Drop what venvfill recorded of a venv about to be cleared; the lock stays.

    A cleared venv starts clean: the scripts written for the base's distributions
    (``state.json``) would otherwise be written again into the new venv, asked for
    or not (QEMU: ``--enable-docs``, then ``--disable-docs`` in one build tree).
    """
    import shutil

    state = venv / STATE_DIR
    try:
        names = os.listdir(state)
    except OSError:
        return
    for name in names:
        if name != LOCK_NAME:
            path = state / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def interrupted(venv: Path) -> bool:
    """Whether an earlier run died while creating the venv (it must be made again)."""
    return (venv / STATE_DIR / CREATING).exists()


def check(target: Target, *, clear: bool) -> None:
    """Refuse a venv made for another Python version, unless it is to be cleared."""
    state = target.venv
    if state.config is not None and not clear:
        have = state.config.get("version_info") or state.config.get("version") or ""
        want = f"{target.version[0]}.{target.version[1]}"
        if have and ".".join(have.split(".")[:2]) != want:
            raise VenvError(
                f"--venv {state.path} was made for Python {have}; the target is Python "
                f"{target.python_version} ({target.executable})",
                hint="Add --clear to recreate it for the target, or choose another --venv.",
            )


def needs_build(target: Target, *, clear: bool) -> bool:
    """Whether the builder must run: new venv, --clear, or a configuration change."""
    state = target.venv
    if clear or state.config is None or interrupted(state.path):
        return True
    want = desired(target)
    home = state.config.get("home", "")
    system = state.config.get("include-system-site-packages", "").lower() == "true"
    if os.path.normpath(home) != os.path.normpath(want.home):
        return True
    if system != want.system_site_packages:
        return True
    if not state.python.exists():
        return True
    return read_parent_dirs(target) != want.parent_dirs


def read_parent_dirs(target: Target) -> tuple[str, ...]:
    """The parent directories the venv's ``.pth`` names now."""
    pth = Path(target.venv.scheme["purelib"], PTH_NAME)
    try:
        return tuple(line for line in pth.read_text(encoding="utf-8").splitlines() if line)
    except OSError:
        return ()


def build(target: Target, *, clear: bool, relocatable: bool = False) -> None:
    """Create (or refresh, or with ``clear`` recreate) the venv with the target."""
    start(target, clear=clear, relocatable=relocatable).wait()


def builder_spec(target: Target, *, clear: bool, relocatable: bool = False) -> dict[str, Any]:
    """The builder's arguments (see target/target_side/builder.py) for the venv the target calls for."""
    want = desired(target)
    return {
        "dir": str(target.venv.path),
        "system_site_packages": want.system_site_packages,
        "clear": clear,
        "parent_dirs": list(want.parent_dirs),
        "pth_dir": target.venv.scheme["purelib"],
        "pth_name": PTH_NAME,
        "keep": STATE_DIR,
        "relocatable": relocatable,
    }


def start(target: Target, *, clear: bool, relocatable: bool = False) -> Creation:
    """Start the builder (see ``build``); ``wait`` for it or ``cancel`` it."""
    if clear:
        forget_records(target.venv.path)
    try:
        spec = builder_spec(target, clear=clear, relocatable=relocatable)
        return launch(target.executable, spec, relocatable=relocatable)
    except OSError as exc:
        raise VenvError(f"cannot create the venv at {target.venv.path}: {exc}") from None


def is_relocatable(venv: Path) -> bool:
    """Whether the venv was made with --relocatable (the choice sticks until --clear)."""
    return (venv / STATE_DIR / RELOCATABLE).exists()
