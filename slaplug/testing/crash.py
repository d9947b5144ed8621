"""Named crash points, for tests that kill or interrupt a real process at a chosen step.

``SLAPLUG_CRASH_AT=applied`` makes the process kill itself (SIGKILL: no cleanup, no flush,
exactly like ``kill -9`` or a power cut) the first time it reaches ``crashpoint("applied")``;
``applied:3`` the third time. ``SLAPLUG_PAUSE_AT=claimed`` (same ``:N`` form) makes it write
``paused at claimed`` on standard error and wait there until a signal ends the wait: a test
that must interrupt a sync in the middle of a batch waits for that line, then sends Ctrl-C,
instead of hoping its signal lands before a fast pass ends. Unset, a crash point costs two
dictionary lookups.
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
    wait here for a signal if ``SLAPLUG_PAUSE_AT`` does."""
    if _reached("SLAPLUG_CRASH_AT", name):
        os.kill(os.getpid(), signal.SIGKILL)
    if _reached("SLAPLUG_PAUSE_AT", name):
        sys.stderr.write(f"paused at {name}\n")
        sys.stderr.flush()
        while True:  # until a signal's handler raises (Ctrl-C: KeyboardInterrupt)
            time.sleep(3600)
