"""The builder (``_builder.py``) at work on a venv: started, waited for, or undone.

Kept apart from environment.py, which decides *whether* and *how* a venv is
built, because the replay of a recipe (recipes.py) starts the builder too and
must not import what deciding needs (the target, and with it ``packaging``).
Standard library only, and little of it.
"""

from __future__ import annotations

import json
import os
import subprocess

from .lockfile import STATE_DIR

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CREATING = "creating"
"""Marker present while a venv is being made: a venv left with it is half-made."""
RELOCATABLE = "relocatable"
"""Marker of a venv made with --relocatable (the choice sticks until --clear)."""


def script_source(name: str) -> str:
    """Source of one of our target-side scripts, to pass with ``-c``.

    Read beside this file when it is one; through importlib.resources from inside
    a zipapp, where no file path exists for the target to open.
    """
    try:
        with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        from importlib import resources

        return (resources.files(__package__) / name).read_text(encoding="utf-8")


def launch(executable: str, spec: Mapping[str, Any]) -> Creation:
    """Mark the venv ``spec["dir"]`` as being made and start the builder with ``executable``.

    ``spec``: the builder's JSON arguments (see _builder.py).  Raises OSError if
    the interpreter cannot be started.
    """
    venv = str(spec["dir"])
    state = os.path.join(venv, STATE_DIR)
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, CREATING), "wb"):
        pass
    proc = subprocess.Popen(
        [executable, "-I", "-c", script_source("_builder.py"), json.dumps(spec)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    return Creation(venv, executable, proc, bool(spec.get("relocatable")))


class Creation:
    """A builder at work on the venv."""

    def __init__(self, venv: str, executable: str, proc: subprocess.Popen[str],
                 relocatable: bool) -> None:
        self.venv = venv
        self.executable = executable
        self.proc = proc
        self.relocatable = relocatable

    def wait(self, *, finish: bool = True) -> None:
        """Wait for the venv; raise VenvError if it could not be made.

        ``finish``: drop the "being made" marker now; the replay of a recipe keeps it
        until the venv's packages are in place too.
        """
        try:
            _, stderr = self.proc.communicate(timeout=300)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.communicate()
            from .errors import VenvError  # errors.py imports typing: only when failing

            raise VenvError(f"cannot create the venv at {self.venv}: {exc}") from None
        if self.proc.returncode != 0:
            from .errors import VenvError

            last = (stderr.strip().splitlines() or ["(no output)"])[-1]
            raise VenvError(
                f"creating the venv at {self.venv} with {self.executable} failed: {last}",
                hint="Check that the directory is writable and that there is free space.",
            )
        state = os.path.join(self.venv, STATE_DIR)
        if finish:
            os.unlink(os.path.join(state, CREATING))
        flag = os.path.join(state, RELOCATABLE)
        if self.relocatable:
            with open(flag, "wb"):
                pass
        elif os.path.lexists(flag):
            os.unlink(flag)

    def cancel(self) -> None:
        """Stop the builder and remove what it made.

        Only for a new venv: nothing was there but venvfill's own directory.
        """
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()
        undo_new(self.venv)


def undo_new(venv: str) -> None:
    """Empty a venv that was being made: all but venvfill's directory, and the markers."""
    import shutil

    for name in os.listdir(venv):
        if name != STATE_DIR:
            path = os.path.join(venv, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:  # noqa: SIM105 - contextlib is an import this module avoids
                    os.unlink(path)
                except FileNotFoundError:
                    pass
    for marker in (CREATING, RELOCATABLE):
        try:  # noqa: SIM105
            os.unlink(os.path.join(venv, STATE_DIR, marker))
        except FileNotFoundError:
            pass
