"""How an accelerated run's process ends: no cycle collection, no interpreter teardown.

A run's objects live until it ends and form few cycles (a cold fill of the
benchmark's 24 wheels left about 1,300 objects to collect), yet its ~100
collections cost ~35 ms of CPU, and each one in a forked worker writes to pages
it shares with the parent: cli.main turns the collector off for the run, and
``end`` leaves it off (turned back on, the first allocation after the run set
off one collection over everything the run made, 5-7 ms of a synthetic fill
spent freeing nothing).

Once the run is over, the interpreter's teardown is skipped: freeing every
module and object a fill made did nothing for anyone and cost 15-20 ms of a
~350 ms synthetic fill.  What teardown does that matters still happens:
atexit handlers run (logging's, weakref finalizers such as temporary
directories'), then the standard streams are flushed; every file venvfill
writes is closed by then.  The ordinary exit is taken when a thread is still
alive (the interpreter would wait for it) or a stream cannot be flushed (the
interpreter reports that, as it always has).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import NoReturn


def end(code: int) -> NoReturn:
    """End the process with ``code``, skipping the interpreter's teardown if it may."""
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
