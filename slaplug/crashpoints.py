"""Named crash points, for tests that kill or interrupt a real process at a chosen step.

The runners (sync, the web worker, notification delivery, connector writers) call
`crashpoint` at the steps whose ordering makes delivery exactly-once; it lives at the top
level, not in `slaplug.testing`, so production code never imports the testing kit.

``SLAPLUG_CRASH_AT=applied`` makes the process kill itself (SIGKILL: no cleanup, no flush,
exactly like ``kill -9`` or a power cut) the first time it reaches ``crashpoint("applied")``;
``applied:3`` the third time. ``SLAPLUG_PAUSE_AT=claimed`` (same ``:N`` form) makes it write
``paused at claimed`` on standard error and wait there: SIGUSR1 lets it go on, Ctrl-C
interrupts it. A test that must act in the middle of a batch waits for that line, then does
(stops the helpdesk, sends Ctrl-C), instead of hoping to land before a fast pass ends. Unset,
a crash point costs two dictionary lookups. Pause points must be reached on the main thread.
"""

from __future__ import annotations

import os
import signal
import sys
import time

__all__ = ["crashpoint"]

_hits: dict[str, int] = {}


def _reached(variable: str, name: str) -> bool:
    target = os.environ.get(variable)
    if not target:
        return False
    point, _, nth = target.partition(":")
    if point != name:
        return False
    key = f"{variable}:{name}"
    _hits[key] = _hits.get(key, 0) + 1
    return _hits[key] == int(nth or 1)


def crashpoint(name: str) -> None:
    """Die here if ``SLAPLUG_CRASH_AT`` names this point (and, with ``:N``, this Nth visit);
    wait here for SIGUSR1 (or Ctrl-C) if ``SLAPLUG_PAUSE_AT`` does."""
    if _reached("SLAPLUG_CRASH_AT", name):
        os.kill(os.getpid(), signal.SIGKILL)
    if _reached("SLAPLUG_PAUSE_AT", name):
        resumed: list[int] = []
        # The handler first, then the line: a SIGUSR1 sent on seeing the line is never lost.
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: resumed.append(signum))
        try:
            sys.stderr.write(f"paused at {name}\n")
            sys.stderr.flush()
            while not resumed:  # a signal cuts the sleep short; Ctrl-C raises from it
                time.sleep(0.05)
        finally:
            signal.signal(signal.SIGUSR1, previous)
