"""The ``venvfill`` entry point: the up-to-date path first, the full command otherwise.

This module is imported by the ``venvfill`` script on every run, so it
imports nothing beyond _speed/quick.py's few standard modules until it knows there
is work to do (see _speed/quick.py, and cli/commands.py for the command line in full).
With ``VENVFILL_SPEED=plain`` (cli/speed.py) it goes straight to the full command.
"""

from __future__ import annotations

import gc
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn


def command() -> NoReturn:
    """``venvfill`` and ``python -m resolver``: run :func:`main`, then end the process.

    Accelerated, the cycle collector stays off and the interpreter's teardown is
    skipped (_speed/process.py); plainly, the process ends as any Python program does.
    """
    from . import speed

    if not speed.accelerated():
        sys.exit(main())
    gc.disable()
    code = main()
    from .._speed import process

    process.end(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run venvfill; return the exit code."""
    from . import speed

    # Accelerated, no cyclic garbage collection while venvfill runs (_speed/process.py).
    enabled = gc.isenabled()
    if speed.accelerated():
        gc.disable()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        if enabled:
            gc.enable()  # for a caller that runs main() in its own process


def _main(args: list[str]) -> int:
    from .. import output
    from . import speed

    if not speed.accelerated():
        from .commands import run

        return run(args)
    options = None
    try:
        from .._speed import quick

        # The command line as the short cuts read it, once for all of them.
        options = None if args[:1] == ["mkvenv"] else quick.parse(args)
        code = (quick.try_mkvenv_up_to_date(args[1:]) if args[:1] == ["mkvenv"]
                else quick.try_up_to_date(options))
        if code is None and options is not None:
            from .._speed import recipes

            code = recipes.try_replay(options)
    except KeyboardInterrupt:
        print("venvfill: interrupted", file=sys.stderr)
        return 130
    except output.Unwritable as exc:
        return output.failed(exc)
    except Exception:
        code = None
    if code is not None:
        return code
    # A fill: the probe of the target starts now, before the full command line's
    # imports (argparse, the resolver ...), which it then runs beside (_speed/probes.py).
    early = None
    decided = False
    try:
        from .._speed import earlyprobe

        early, decided = earlyprobe.start_for(options)
        if not decided:  # a remembered report may serve: _speed/probes.py reads it
            from .._speed import probes

            early, decided = probes.start_for(options), True
    except Exception:
        pass  # the full command line starts it, or says what is wrong
    from .commands import run

    try:
        return run(args, early=early, probe_decided=decided)
    finally:
        if early is not None:
            early.discard()  # unless the fill used it
