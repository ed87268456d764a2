"""The ``venvfill`` command in full: parse arguments, run, print, exit.

Reached from cli/__init__.py when the up-to-date path (_speed/quick.py) cannot answer.  No
logic lives here beyond choosing defaults and mapping errors to exit codes
(see errors.py and docs/reference/exit-codes.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from .. import __version__, output
from ..errors import UsageError, VenvfillError
from ..owned import STATE_DIR
from ..venv import lockfile
from . import options, speed

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from .._speed.earlyprobe import Early
    from ..acceleration import Acceleration
    from ..cache.store import Cache
    from ..resolve.policy import BuildPolicy

EPILOG = """\
exit codes: 0 filled; 2 usage, manifest or lock error; 3 target interpreter unusable;
4 cannot be satisfied offline; 5 bad wheel or installation failed (venv rolled back);
6 venv directory unusable; 7 canary program missing after the fill; 8 hash check
failed; 9 network error (--online); 10 sdist build failed; 11 the report could not be
written to standard output (the run itself finished); 1 internal error.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints raised as UsageError (so ``--json`` reports them too)."""

    def error(self, message: str) -> NoReturn:
        """Raise a UsageError for ``message`` (argparse would print and exit 2)."""
        raise UsageError(message, hint=f"{self.format_usage().strip()}\n"
                         f"See '{self.prog} --help'.")


_VALUE_KINDS: dict[str, dict[str, Any]] = {
    "value": {}, "path": {"type": Path}, "values": {"action": "append", "default": []},
    "paths": {"action": "append", "default": None, "type": Path}}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "python": {"default": sys.executable}, "venv": {"default": Path(".venv")}}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the options)."""
    parser = _Parser(
        prog="venvfill",
        description="Fill a non-isolated virtual environment with a manifest's packages, "
        "taken from the base installation where it has them and from local wheels "
        "otherwise. Contacts a package index only with --online.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_mutually_exclusive_group(required=True)
    mode = parser.add_mutually_exclusive_group()
    groups = {**dict.fromkeys(options.REQUIRED_ONE_OF, what),
              **dict.fromkeys(options.AT_MOST_ONE_OF, mode)}
    for row in options.FILL:
        _add(groups.get(row[1], parser).add_argument, row)
    parser.add_argument("--version", action="version", version=f"venvfill {__version__}")
    return parser


def build_inspect_parser() -> argparse.ArgumentParser:
    """``venvfill inspect``: what venvfill sees; changes nothing."""
    parser = _Parser(
        prog="venvfill inspect",
        description="Show what venvfill sees of an interpreter: version, kind (base, venv, "
        "nested venv, venv look-alike, externally managed), isolation, site directories "
        "in order; with --manifest, where each entry would come from and why. "
        "Creates and changes nothing.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    for row in options.FILL:
        if row[1] == "group":  # inspect reads no lock: the fill's text would mention one
            row = (*row[:4], "inspect only this group (repeatable; default: all groups)",
                   *row[5:])
        if row[1] in ("python", "venv", "manifest", "group", "wheels", "json"):
            _add(parser.add_argument, row)
    return parser


def _add(add_argument: Callable[..., object], row: options.Row) -> None:
    # One row of the table as argparse's add_argument (of a parser or of a group).
    spellings, dest, kind, metavar, text, _ = row
    if kind == "flag":
        add_argument(*spellings, dest=dest, action="store_true", help=text)
    elif kind == "count":
        add_argument(*spellings, dest=dest, action="count", default=0, help=text)
    elif kind == "choice":
        add_argument(*spellings, dest=dest, choices=metavar, metavar="MODE", help=text)
    else:
        add_argument(*spellings, dest=dest, metavar=metavar, help=text,
                     **_VALUE_KINDS[kind], **_DEFAULTS.get(dest, {}))


def run(argv: list[str], *, early: Early | None = None, probe_decided: bool = False) -> int:
    """Run venvfill with these arguments; return the exit code.

    ``early``: the target's probe, started by cli/__init__.py from the same arguments
    (``probe_decided``: cli/__init__.py decided whether to start one).
    """
    # One error boundary for every subcommand: a VenvfillError prints its kind,
    # message and hint with its exit code; anything else is a bug, never a traceback.
    args: argparse.Namespace | None = None
    try:
        try:
            os.getcwd()
        except FileNotFoundError:
            raise UsageError("the current directory no longer exists (it was removed "
                             "after this shell entered it)",
                             hint="cd to a directory that exists, then run again.") from None
        subcommand = _SUBCOMMANDS.get(argv[0]) if argv else None
        if subcommand is not None:
            return subcommand(argv[1:])
        inspecting = bool(argv) and argv[0] == "inspect"
        args = (build_inspect_parser().parse_args(argv[1:]) if inspecting
                else build_parser().parse_args(argv))
        return _inspect(args) if inspecting else _run(args, early, probe_decided)
    except output.Unwritable as exc:
        return output.failed(exc)
    except VenvfillError as exc:
        from ..progress import paint

        output.complain(f"{paint(f'venvfill: {exc.kind}:', '1;31', sys.stderr)} {exc}")
        failure: VenvfillError = exc
    except KeyboardInterrupt:
        output.complain("venvfill: interrupted")
        failure = _Interrupted("interrupted")
    except Exception as exc:  # a bug: say so briefly, trace only on request
        if os.environ.get("VENVFILL_DEBUG"):
            import traceback

            traceback.print_exc()
        output.complain(f"venvfill: internal error: {type(exc).__name__}: {exc}\n"
                        "This is a bug in venvfill; set VENVFILL_DEBUG=1 to see the "
                        "traceback and report it.")
        failure = VenvfillError(f"internal error: {type(exc).__name__}: {exc}")
    if getattr(args, "json", False) or (args is None and "--json" in argv):
        # Every failure has its JSON object on stdout when --json was asked for.
        from .report import error_json

        with contextlib.suppress(output.Unwritable):
            output.emit(json.dumps(error_json(failure), indent=2) + "\n")
    return failure.exit_code


class _Interrupted(VenvfillError):
    """The run was interrupted (Ctrl-C); only for the JSON report."""

    exit_code = 130
    kind = "interrupted"


def _wheel_dirs(given: list[Path] | None) -> list[Path]:
    # --wheels as given; otherwise ./wheels when it exists.
    if given is not None:
        return given
    return [Path("wheels")] if Path("wheels").is_dir() else []


def _indexes(args: argparse.Namespace) -> tuple[str, ...]:
    # The indexes of an --online run; none otherwise (and index options need --online).
    if not args.online:
        if args.index_url or args.extra_index_url:
            raise UsageError("--index-url and --extra-index-url need --online",
                             hint="Add --online to let venvfill contact the index.")
        return ()
    return _index_urls(args)


def _index_urls(args: argparse.Namespace) -> tuple[str, ...]:
    # --index-url (else $VENVFILL_INDEX_URL, else PyPI), then every --extra-index-url.
    from ..sources.index import PYPI

    first = args.index_url or os.environ.get("VENVFILL_INDEX_URL") or PYPI
    return (first, *args.extra_index_url)


def _run(args: argparse.Namespace, early: Early | None = None,
         probe_decided: bool = False) -> int:
    indexes = _indexes(args)
    wheels = [] if args.lock is not None else _wheel_dirs(args.wheels)
    groups = tuple(args.group)
    if args.lock is not None and args.wheels is not None:
        raise UsageError("--wheels has no effect with --lock: the lock names its wheels",
                         hint="Drop --wheels; the wheels' paths in the lock are relative "
                         "to the lock file.")
    if args.sbom is not None and args.dry_run:
        raise UsageError("--sbom with --dry-run: a dry run fills nothing to describe",
                         hint="Drop --dry-run, or run 'venvfill sbom' on an existing venv.")
    from ..resolve import policy

    build_policy = policy.from_options(args.no_binary, args.only_binary, args.no_build)
    venv = Path(os.path.abspath(args.venv))
    from ..cache.store import resolve_dir

    cache = resolve_dir(args.cache_dir)
    if not speed.accelerated():
        if early is not None:
            early.discard()
        return _fill(args, wheels, groups, indexes, cache, build_policy, speed.chosen())
    from .._speed import fingerprint, probes, quick

    keyed = quick.run_key_and_newest({
        "manifest": args.manifest, "lock": args.lock, "group": groups, "python": args.python,
        "wheels": wheels, "require_hashes": args.require_hashes, "compile": args.compile,
        "pre": args.pre, "build_policy": _policy_key(build_policy),
        "relocatable": args.relocatable, "indexes": indexes})
    run_key = None if keyed is None else keyed[0]
    if not args.clear and (venv / STATE_DIR / fingerprint.FILE).exists():
        with lockfile.exclusive(venv):
            last = fingerprint.up_to_date(venv, run_key)
        if last is not None:
            quick.report(vars(args), str(venv), last)
            return 0
    if early is not None and (args.dry_run or (early.python, early.venv) != (args.python,
                                                                             str(venv))):
        early.discard()  # not what argparse read from the same arguments (cannot be)
        early, probe_decided = None, False
    if not probe_decided and not args.dry_run:
        early = probes.start(args.python, venv, cache.root)
    fast = speed.chosen(early=early,
                        run_key=None if args.dry_run or keyed is None else keyed[0],
                        listed_newest_ns=0 if keyed is None else keyed[1])
    try:
        return _fill(args, wheels, groups, indexes, cache, build_policy, fast)
    finally:
        fast.ended()


def _fill(args: argparse.Namespace, wheels: list[Path], groups: tuple[str, ...],
          indexes: tuple[str, ...], cache: Cache, build_policy: BuildPolicy,
          fast: Acceleration) -> int:
    # The full fill, with the heavy imports (the early probe, if any, runs meanwhile).
    from .. import progress
    from ..fill import Options, fill
    from .report import render, to_json

    options = Options(
        manifest=args.manifest or args.lock,
        lock=args.lock,
        groups=groups,
        python=args.python,
        venv=args.venv,
        wheels=tuple(wheels),
        clear=args.clear,
        require_hashes=args.require_hashes,
        dry_run=args.dry_run,
        compile=args.compile,
        relocatable=args.relocatable,
        progress=progress.reporter(quiet=bool(args.quiet) or args.json),
        cache=cache,
        indexes=indexes,
        copy=_link_mode(args) == "copy",
        pre=args.pre,
        build_policy=build_policy,
        speed=fast,
    )
    outcome = fill(options)
    venv = Path(os.path.abspath(args.venv))
    if args.sbom is not None:
        _write_sbom(venv, args.sbom)
    if args.json:
        output.emit(json.dumps(to_json(outcome), indent=2) + "\n")
    else:
        output.emit(render(outcome, verbosity=-1 if args.quiet else args.verbose))
    fast.reported(outcome)
    return 0


def _policy_key(build_policy: BuildPolicy) -> str:
    # The fingerprint's word for a build policy: empty for the default (so that runs
    # without these options keep their keys).
    if not build_policy.no_binary and not build_policy.only_binary:
        return ""
    return (f"no_binary={sorted(build_policy.no_binary)} "
            f"only_binary={sorted(build_policy.only_binary)}")


def _link_mode(args: argparse.Namespace) -> str:
    # --link-mode, else $VENVFILL_LINK_MODE, else hard links.
    from ..cache.links import ENV, MODES

    mode = args.link_mode or os.environ.get(ENV) or "hardlink"
    if mode not in MODES:
        raise UsageError(f"{ENV}={mode!r} is not a link mode",
                         hint=f"Set it to one of {', '.join(MODES)}, or unset it.")
    return str(mode)


def _inspect(args: argparse.Namespace) -> int:
    from ..fill import Options, fill
    from ..target.interpreter import probe
    from . import inspection

    venv = Path(os.path.abspath(args.venv))
    if args.manifest is None:
        target = probe(args.python, venv)
        if args.json:
            print(json.dumps(inspection.to_dict(target), indent=2))
        else:
            sys.stdout.write(inspection.render(target))
        return 0
    wheels = _wheel_dirs(args.wheels)
    outcome = fill(Options(manifest=args.manifest, groups=tuple(args.group),
                           python=args.python, venv=args.venv, wheels=tuple(wheels),
                           dry_run=True))
    rows = inspection.reasons(outcome.plan, outcome.target)
    if args.json:
        data = inspection.to_dict(outcome.target)
        data["entries"] = rows
        data["warnings"] = list(outcome.warnings)
        print(json.dumps(data, indent=2))
        return 0
    sys.stdout.write(inspection.render(outcome.target))
    print(f"manifest {args.manifest}:")
    for row in rows:
        what = f"{row['version']} from {row['source']}" if row["source"] else ""
        print(f"  {row['name']} [{row['group']}] {what}: {row['why']}")
    for warning in outcome.warnings:
        print(f"  warning: {warning}")
    return 0


def _zipapp(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="venvfill zipapp",
        description="Write venvfill and its pure-Python dependencies into one file that "
        "runs with any CPython 3.9+ with nothing installed: python3 OUT.pyz --manifest ...")
    parser.add_argument("out", type=Path, metavar="OUT.pyz")
    parser.add_argument("--wheels", "-w", action="append", default=None, type=Path,
                        metavar="DIR", help="bundle a dependency from a wheel here when the "
                        "installed one needs a newer Python than 3.9 (repeatable; default: "
                        "./wheels when it exists)")
    args = parser.parse_args(argv)
    from . import zipapp

    bundled, minimum, why = zipapp.build(args.out, _wheel_dirs(args.wheels))
    print(f"venvfill: wrote {args.out} with {', '.join(bundled)}; it runs on Python "
          f"{minimum[0]}.{minimum[1]}+")
    if minimum > zipapp.FLOOR:
        print(f"venvfill: not on {zipapp.FLOOR[0]}.{zipapp.FLOOR[1]}: {why}; put a wheel of "
              "it that supports that Python into a directory given with --wheels, and "
              "build again", file=sys.stderr)
    return 0


def _cache(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="venvfill cache",
        description="The cache of unpacked wheels that venvs hard-link from. 'dir' prints "
        "where it is; 'gc' removes the entries no existing venv uses (a venv's files are "
        "links, so removing an entry never breaks a venv).")
    parser.add_argument("action", choices=["dir", "gc"])
    parser.add_argument("--cache-dir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    from ..cache.store import resolve_dir

    try:
        cache = resolve_dir(args.cache_dir)
        if args.action == "dir":
            print(cache.root)
            return 0
        report = cache.gc(prune=speed.chosen().prune)
    except OSError as exc:
        print(f"venvfill: cannot clean {args.cache_dir or 'the cache'}: {exc}",
              file=sys.stderr)
        return 6
    print(f"venvfill: removed {report.removed} unused cache entries "
          f"({report.freed / 1e6:.1f} MB freed), kept {report.kept} in use; forgot "
          f"{report.forgotten} venvs that no longer exist")
    return 0


def _vendor(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="venvfill vendor",
        description="Download every wheel needed to fill the manifest offline later, for "
        "each target interpreter, into DIR, and write DIR/pylock.toml (PEP 751). Copy DIR "
        "to the sealed machine and fill with --wheels DIR, or install exactly the lock "
        "with --lock DIR/pylock.toml. "
        "Contacts the index (this command is always online).", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", "-m", required=True, type=Path, metavar="FILE")
    parser.add_argument("--group", "-g", action="append", default=[], metavar="NAME")
    parser.add_argument("--dest", required=True, type=Path, metavar="DIR")
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="a target interpreter on this machine (repeatable; default: "
                        "this one, unless the target is described by the options below)")
    parser.add_argument("--platform", action="append", default=[], metavar="TAG",
                        help="vendor for a machine with this wheel platform tag, e.g. "
                        "manylinux_2_28_aarch64 (repeatable; older manylinux/macOS "
                        "versions are accepted too; default: this machine's)")
    parser.add_argument("--python-version", metavar="X.Y",
                        help="vendor for this CPython version (default: this one's)")
    parser.add_argument("--implementation", metavar="cp",
                        help="vendor for this implementation (only cp, CPython)")
    parser.add_argument("--index", action="store_true",
                        help="also write DIR/simple/, a PEP 503 index that any static "
                        "HTTP server can serve as --index-url")
    parser.add_argument("--index-url", metavar="URL")
    parser.add_argument("--extra-index-url", action="append", default=[], metavar="URL")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    from ..cache.store import resolve_dir
    from .vendor import LOCK_NAME, vendor

    describe = bool(args.platform or args.python_version or args.implementation)
    described = None
    if describe:
        from ..target import foreign

        described = foreign.target(args.platform, args.python_version, args.implementation)
    pythons = args.python or ([] if describe else [sys.executable])
    locked = vendor(args.manifest, args.group, args.dest, pythons, _index_urls(args),
                    resolve_dir(args.cache_dir), described=described, simple=args.index)
    files = sum(len(p.wheels) for p in locked)
    simple = f" and {args.dest / 'simple'}/" if args.index else ""
    print(f"venvfill: {args.dest} holds {files} wheels of {len(locked)} packages; "
          f"wrote {args.dest / LOCK_NAME}{simple}")
    return 0


def _mkvenv(argv: list[str]) -> int:
    # QEMU's mkvenv reports its own errors, in its own words.
    from . import mkvenv

    return mkvenv.main(argv)


def _sbom(argv: list[str]) -> int:
    parser = _Parser(
        prog="venvfill sbom",
        description="Write a CycloneDX 1.6 JSON bill of materials of a venv: every "
        "distribution its interpreter sees (the venv's own, a parent's, the base's), with "
        "package URLs, locations, installers, licences, dependencies, and the wheel and "
        "sha256 of what venvfill installed. The same venv gives the same bytes "
        "(SOURCE_DATE_EPOCH sets the timestamp).")
    parser.add_argument("--venv", default=Path(".venv"), type=Path, metavar="DIR",
                        help="the venv (default: .venv)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write it here (default: standard output)")
    args = parser.parse_args(argv)
    _write_sbom(Path(os.path.abspath(args.venv)), args.output)
    return 0


def _write_sbom(venv: Path, out: Path | None) -> None:
    # Probed with the venv's own interpreter: what it sees is what the SBOM lists.
    from ..target.interpreter import probe
    from . import sbom

    python = _existing_venv(venv) / "bin" / "python"
    try:
        sbom.write(probe(str(python), venv), out)
    except OSError as exc:
        raise UsageError(f"cannot write the SBOM to {out}: {exc.strerror}",
                         hint="Give a path in a directory you can write to.") from None


def _digest(argv: list[str]) -> int:
    parser = _Parser(
        prog="venvfill digest",
        description="Print one sha256 of a venv's tree (every file's path, mode and "
        "contents, the venv's own path replaced), so that two machines can compare the "
        "venvs they filled from the same inputs. venvfill's state (.venvfill/) and "
        "__pycache__ directories are left out.")
    parser.add_argument("--venv", default=Path(".venv"), type=Path, metavar="DIR",
                        help="the venv (default: .venv)")
    args = parser.parse_args(argv)
    from .digest import digest

    venv = _existing_venv(Path(os.path.abspath(args.venv)))
    output.emit(f"{digest(venv)}  {venv}\n")
    return 0


def _existing_venv(venv: Path) -> Path:
    # A venv to read (sbom, digest): refused plainly when there is none.
    if not (venv / "pyvenv.cfg").is_file() or not (venv / "bin" / "python").exists():
        from ..errors import VenvError

        raise VenvError(f"{venv} is not a venv (no pyvenv.cfg or bin/python)",
                        hint="Give the venv with --venv DIR, or fill one first.")
    return venv


_SUBCOMMANDS = {"mkvenv": _mkvenv, "zipapp": _zipapp, "cache": _cache,
                "vendor": _vendor, "sbom": _sbom, "digest": _digest}
