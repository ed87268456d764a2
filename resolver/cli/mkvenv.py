"""A drop-in for QEMU's ``python/scripts/mkvenv.py``.

QEMU's configure runs, with the build's Python::

    python="$($python mkvenv.py create pyvenv)"          # prints the venv's python
    $python mkvenv.py ensuregroup --dir python/wheels pythondeps.toml meson
    $python mkvenv.py ensure --diagnose sphinx-build 'sphinx>=3.4.3'

so the same lines with ``-m resolver mkvenv`` in place of ``mkvenv.py`` work:
``create`` makes (afresh, as QEMU does) a non-isolated venv that mirrors a
parent venv, and prints its python on stdout; ``ensuregroup`` and ``ensure``,
run with the venv's python, fill that venv with QEMU's semantics of
``accepted``/``installed``/``canary``.  Exit statuses are QEMU's: 0, 1 when a
dependency cannot be satisfied (or any other reported problem), 2 for a bug.
Messages go to stderr, so stdout stays what configure captures.  ``--online``
lets ``ensure``/``ensuregroup`` fetch what is missing from the index pip would
use (``VENVFILL_INDEX_URL``, else pip's own configuration: sources/pipconfig.py), as
mkvenv.py's pip does.  What is installed is byte-compiled with the venv's
python, as pip leaves it.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from ..cache.store import resolve_dir
from ..errors import UsageError, VenvfillError


def build_parser() -> argparse.ArgumentParser:
    """QEMU's mkvenv command line."""
    parser = argparse.ArgumentParser(prog="venvfill mkvenv",
                                     description="QEMU pyvenv bootstrapping (venvfill)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    create = sub.add_parser("create", help="create a venv")
    create.add_argument("target", help="directory of the virtual environment")
    sub.add_parser("post_init", help="post-venv initialization")
    for name in ("ensure", "ensuregroup"):
        p = sub.add_parser(name, help="ensure packages are installed")
        p.add_argument("--online", action="store_true",
                       help="fetch what is missing from the index pip is configured with")
        p.add_argument("--dir", help="directory of vendored wheels to install from")
        if name == "ensure":
            p.add_argument("--diagnose", help="program whose presence diagnoses failures")
            p.add_argument("dep_specs", nargs="+", help="PEP 508 specs, e.g. 'meson>=0.61.5'")
        else:
            p.add_argument("file", help="TOML file of package groups")
            p.add_argument("group", nargs="+", help="one or more group names")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run a mkvenv command; return QEMU's exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "create":
            print(_create(Path(args.target)))
        elif args.command == "post_init":
            _post_init()
        else:
            _ensure(args)
    except VenvfillError as exc:
        print(f"\n*** Ouch! ***\n\n{exc}\n", file=sys.stderr)
        return 1
    except Exception:  # a bug, as QEMU's mkvenv reports it
        traceback.print_exc()
        return 2
    return 0


def _create(venv: Path) -> str:
    from ..fill import create
    from . import speed

    return create(sys.executable, venv, speed.chosen())


def _own_venv() -> Path:
    # ensuregroup fills the venv whose python runs it, as QEMU's mkvenv does.
    prefix = Path(sys.prefix)
    if not (prefix / "pyvenv.cfg").exists():
        raise UsageError(
            f"mkvenv ensure/ensuregroup must run with the venv's python; {sys.executable} "
            "is not in a venv",
            hint="Run it as: pyvenv/bin/python -m resolver mkvenv ensuregroup ...")
    return prefix


def _ensure(args: argparse.Namespace) -> None:
    from .. import fill as filling
    from ..manifest import load
    from ..manifest.model import Manifest
    from ..manifest.pythondeps import parse

    venv = _own_venv()
    if args.command == "ensuregroup":
        manifest: Manifest = load(Path(args.file))
        groups = tuple(args.group)
        path = Path(args.file)
    else:
        table: dict[str, dict[str, str]] = {}
        for i, spec in enumerate(args.dep_specs):
            name, accepted = _split_spec(spec)
            table[name] = {"accepted": accepted} if accepted else {}
            if i == 0 and args.diagnose:
                table[name]["canary"] = args.diagnose
        path = Path("<command line>")
        manifest = parse({"ensure": table}, path)
        groups = ("ensure",)
    from . import speed

    key = None
    if args.command == "ensuregroup" and speed.accelerated():
        from .._speed import quick

        key = quick.mkvenv_key(args.file, groups, args.dir, args.online)
    fast = speed.chosen(run_key=key)
    options = filling.Options(manifest=path, groups=groups, python=sys.executable,
                              venv=venv, wheels=(Path(args.dir),) if args.dir else (),
                              cache=resolve_dir(None), compile=True, dropin=True,
                              indexes=_indexes() if args.online else (), speed=fast)
    try:
        outcome = filling.fill(options, manifest=manifest)
    finally:
        fast.ended()
    from .report import render

    sys.stderr.write(render(outcome))


def _indexes() -> tuple[str, ...]:
    # The index pip would ask (mkvenv.py runs pip): VENVFILL_INDEX_URL, else pip's
    # configuration, else PyPI; then pip's extra indexes.
    from ..sources.index import PYPI
    from ..sources.pipconfig import indexes

    configured = indexes(os.environ, sys.prefix)
    first, extra = configured if configured is not None else ("", ())
    return (os.environ.get("VENVFILL_INDEX_URL") or first or PYPI, *extra)


def _split_spec(spec: str) -> tuple[str, str]:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise UsageError(f"invalid dependency specification {spec!r}: {exc}") from None
    return req.name, str(req.specifier)


def _post_init() -> None:
    # QEMU's post_init writes a venv-bound pip script when pip comes from outside.
    from .. import fill as filling
    from ..manifest.pythondeps import parse

    venv = _own_venv()
    manifest = parse({"post_init": {"pip": {}}}, Path("<post_init>"))
    options = filling.Options(manifest=Path("<post_init>"), groups=("post_init",),
                              python=sys.executable, venv=venv, wheels=(),
                              cache=resolve_dir(None))
    try:
        filling.fill(options, manifest=manifest)
    except VenvfillError as exc:
        if os.environ.get("V"):
            print(f"mkvenv: post_init: {exc}", file=sys.stderr)
