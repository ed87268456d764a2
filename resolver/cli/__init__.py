"""The ``venvfill`` entry point: the up-to-date path first, the full command otherwise.

This module is imported by the ``venvfill`` script on every run, so it
imports nothing beyond _speed/quick.py's few standard modules until it knows there
is work to do (see _speed/quick.py, and cli/commands.py for the command line in full).
With ``VENVFILL_SPEED=plain`` (cli/speed.py) it goes straight to the full command.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn


def command() -> NoReturn:
    """``venvfill`` and ``python -m resolver``: run :func:`main`, then end the process.

    Once the run is over, the interpreter's teardown is skipped: freeing every
    module and object a fill made did nothing for anyone and cost 15-20 ms of a
    ~350 ms synthetic fill.  What teardown does that matters still happens:
    atexit handlers run (logging's, weakref finalizers such as temporary
    directories'), then the standard streams are flushed; every file venvfill
    writes is closed by then.  The ordinary exit is taken when a thread is still
    alive (the interpreter would wait for it) or a stream cannot be flushed (the
    interpreter reports that, as it always has).

    The cycle collector stays off to the end (``main`` turns it off for the run):
    turned back on, the first allocation after the run set off one collection over
    everything the run made, 5-7 ms of a synthetic fill spent freeing nothing.
    """
    gc.disable()
    code = main()
    threads = sys.modules.get("threading")
    if threads is not None and threads.active_count() > 1:
        sys.exit(code)
    try:
        import atexit

        atexit._run_exitfuncs()  # and forgets them: sys.exit below would not rerun them
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(code)
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run venvfill; return the exit code."""
    # No cyclic garbage collection while venvfill runs: a run's objects live until
    # it ends and form few cycles (a cold fill of the benchmark's 24 wheels left
    # about 1,300 objects to collect), yet its ~100 collections cost ~35 ms of CPU,
    # and each one in a forked worker writes to pages it shares with the parent.
    enabled = gc.isenabled()
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
