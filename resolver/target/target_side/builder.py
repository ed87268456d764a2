"""Create or refresh a venv; run by the *target* interpreter.

``venv.EnvBuilder`` builds a venv for the interpreter running it, so venvfill
runs this file with the target: ``python -I -c SOURCE SPEC``, SPEC being a
dict in ``marshal`` format (version 4, which 3.8 reads), as hex: json's import
would cost a tenth of the builder's start-up.  Standard library only, and it
must run on CPython 3.8.

SPEC keys: ``dir``, ``system_site_packages``, ``clear``, ``parent_dirs`` (site
directories of a parent venv or look-alike environment, written into a
``.pth`` so the new venv sees what the target sees), ``pth_dir`` and
``pth_name`` (where), ``keep`` (venvfill's own directory, which clearing spares:
it holds the lock of the run that is clearing), ``relocatable`` (make activation
scripts and pyvenv.cfg independent of the venv's own path).
"""

from __future__ import annotations

import marshal
import os
import sys
from types import ModuleType, SimpleNamespace

TYPE_CHECKING = False  # not typing's: the builder's start-up is part of every new venv
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List


# The builder starts for every new venv, and imports were most of its time:
# venv imports logging and subprocess (3.8 to 3.13 alike), shutil imports
# fnmatch (and with it re), bz2 and lzma, yet creating a venv without pip uses
# none of them: logging only warns of a failed symlink or copy, subprocess runs
# pip, the rest serves shutil's archives and ignore patterns.  So stand-ins take
# their places, and any use of one imports the real module (but a logger's debug
# and info, dropped as logging's defaults drop them).  Measured with 3.12 on
# tmpfs: 53 ms per venv without them, 28 ms with them and a marshal SPEC; a bare
# start takes 15 ms.


def _real(name: str) -> Any:
    if isinstance(sys.modules.get(name), _StandIn):
        del sys.modules[name]
    return __import__(name)


class _StandIn(ModuleType):
    def __getattr__(self, attr: str) -> Any:
        return getattr(_real(self.__name__), attr)


class _QuietLogger:
    """venv's module logger until a message would be shown.

    ``debug`` and ``info`` are dropped, as they are by logging's defaults (nothing in
    this process configures logging); anything else is the real logger's.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = debug

    def __getattr__(self, attr: str) -> Any:
        return getattr(_real("logging").getLogger(self.name), attr)


def _stand_in(name: str, **early: Callable[..., Any]) -> None:
    if name not in sys.modules:  # a sitecustomize may have imported it: keep that
        module = _StandIn(name)
        module.__dict__.update(early)
        sys.modules[name] = module


for _name in ("subprocess", "fnmatch", "bz2", "lzma"):
    _stand_in(_name)
_stand_in("logging", getLogger=_QuietLogger)
import shutil  # noqa: E402 - after the stand-ins
import venv  # noqa: E402

# Prepended to bin/activate of a relocatable venv: the venv is where this file is.
FIND_SELF_SH = """\
# venvfill --relocatable: find the venv from the location of this file.
if [ -n "${BASH_SOURCE-}" ]; then _venvfill_self="${BASH_SOURCE}"
elif [ -n "${ZSH_VERSION-}" ]; then eval '_venvfill_self="${(%):-%x}"'
else _venvfill_self="$0"; fi
_VENVFILL_VENV="$(cd "$(dirname "$_venvfill_self")/.." && pwd)"
unset _venvfill_self

"""


class FillBuilder(venv.EnvBuilder):
    """A non-isolated venv without pip that can see its parent's packages."""

    def __init__(self, parent_dirs: List[str], pth_dir: str, pth_name: str, keep: str,
                 relocatable: bool, **kwargs: Any) -> None:
        super().__init__(with_pip=False, **kwargs)
        self.relocatable = relocatable
        self.parent_dirs = parent_dirs
        self.pth_dir = pth_dir
        self.pth_name = pth_name
        self.keep = keep

    def clear_directory(self, path: Any) -> None:
        for name in os.listdir(path):
            if name == self.keep:
                continue
            full = os.path.join(path, name)
            if os.path.islink(full) or not os.path.isdir(full):
                os.remove(full)
            else:
                shutil.rmtree(full)

    def ensure_directories(self, env_dir: Any) -> SimpleNamespace:
        context = super().ensure_directories(env_dir)
        # Point the new venv at the real interpreter, not at a parent venv's link:
        # before 3.11, sys._base_executable inside a venv is the venv's own python,
        # and a chain of homes breaks start-up (prefix search from a venv's bin/).
        if os.path.exists(os.path.join(sys.prefix, "pyvenv.cfg")) and sys.version_info < (3, 11):
            real = os.path.realpath(sys.executable)
            context.executable = real
            context.python_dir, context.python_exe = os.path.split(real)
        return context

    def create_configuration(self, context: SimpleNamespace) -> None:
        # create() may write pyvenv.cfg twice (the second time after post_setup, to
        # turn system site packages on), so the 'command' line is dropped here.
        super().create_configuration(context)
        if self.relocatable:
            cfg = os.path.join(context.env_dir, "pyvenv.cfg")
            with open(cfg, encoding="utf-8") as f:
                lines = [line for line in f if not line.startswith("command")]
            with open(cfg, "w", encoding="utf-8") as f:
                f.writelines(lines)

    def make_relocatable(self, context: SimpleNamespace) -> None:
        """Remove every record of the venv's own absolute path from what venv wrote."""
        here = context.env_dir
        bindir = context.bin_path
        activate = os.path.join(bindir, "activate")
        if os.path.exists(activate):
            with open(activate, encoding="utf-8") as f:
                text = f.read()
            text = text.replace('"' + here + '"', '"$_VENVFILL_VENV"')
            with open(activate, "w", encoding="utf-8") as f:
                f.write(FIND_SELF_SH + text)
        fish = os.path.join(bindir, "activate.fish")
        if os.path.exists(fish):
            with open(fish, encoding="utf-8") as f:
                text = f.read()
            with open(fish, "w", encoding="utf-8") as f:
                f.write(text.replace('"' + here + '"',
                                     "(builtin realpath (dirname (status -f))/..)"))
        csh = os.path.join(bindir, "activate.csh")
        if os.path.exists(csh):
            os.remove(csh)  # csh cannot find the path of a sourced file

    def post_setup(self, context: SimpleNamespace) -> None:
        path = os.path.join(self.pth_dir, self.pth_name)
        if self.parent_dirs:
            os.makedirs(self.pth_dir, exist_ok=True)
            # Plain lines: site.py appends each to sys.path after the venv's own
            # site-packages and before the base's, the order the parent sees them in.
            with open(path, "w", encoding="utf-8") as f:
                f.write("".join(d + "\n" for d in self.parent_dirs))
        elif os.path.exists(path):
            os.remove(path)
        if self.relocatable:
            self.make_relocatable(context)


def main(spec: Dict[str, Any]) -> None:
    """Build the venv described by ``spec``."""
    builder = FillBuilder(
        parent_dirs=spec["parent_dirs"],
        pth_dir=spec["pth_dir"],
        pth_name=spec["pth_name"],
        keep=spec["keep"],
        relocatable=spec["relocatable"],
        system_site_packages=spec["system_site_packages"],
        clear=spec["clear"],
        symlinks=os.name != "nt",
    )
    builder.create(spec["dir"])


if __name__ == "__main__":
    main(marshal.loads(bytes.fromhex(sys.argv[1])))
