"""Named crash points, for tests that kill a real process at a chosen step.

The runners (sync, the web worker, notification delivery, connector writers) call
`crashpoint` at the steps whose ordering makes delivery exactly-once; it lives at the top
level, not in `slaplug.testing`, so production code never imports the testing kit.

``SLAPLUG_CRASH_AT=applied`` makes the process kill itself (SIGKILL: no cleanup, no flush,
exactly like ``kill -9`` or a power cut) the first time it reaches ``crashpoint("applied")``;
``applied:3`` the third time. Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["crashpoint"]

_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Die here if ``SLAPLUG_CRASH_AT`` names this point (and, with ``:N``, this Nth visit)."""
    target = os.environ.get("SLAPLUG_CRASH_AT")
    if not target:
        return
    point, _, nth = target.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
