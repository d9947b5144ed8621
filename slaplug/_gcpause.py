"""Pause Python's cyclic garbage collector around work that allocates much and frees no cycles.

Reference counting frees slaplug's records, dicts and tuples as soon as they are dropped; the
cyclic collector only looks for reference cycles, and the engine makes none. But it runs
every 700 container allocations anyway, and now and then it walks every live object: with
50,000 tickets and their histories in memory, that was 40 % of an engine batch's time, for
nothing found (bench/engine.py, measured 2026-12: 12,200 tickets/s with the collector,
21,600 without).

A pause first collects the young generations (what the program allocated since the last
collection, cheap), then switches the collector off for the batch. When it ends the collector
is back as it was, and its first run finds the batch's results in the youngest generation.
Without that first collection, every tenth pause ended in a second-generation collection
that moved the batch's results, still in use, to the oldest generation; they died there,
and every pass or two Python walked the whole heap to find that out (250 ms with 50,000
tickets in memory, a tenth of the time). Cycles made during a pause (by a plugin hook, say)
are collected as usual afterwards.

`paused_gc` nests and is safe across threads: the collector is switched off by the first
pause to begin and back on when the last one ends, and only if it was on to begin with, so
a program that disabled it keeps it disabled. A pause costs a few microseconds: worth it for
batches, not for a single ticket.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


class _Pauses:
    """How many pauses are under way, and whether the collector was on before the first."""

    lock = threading.Lock()
    depth = 0
    reenable = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the ``with`` block with the cyclic collector off; restore it afterwards."""
    if gc.isenabled():
        # Outside the lock: a collection may run finalizers, and they may do anything.
        gc.collect(1)
    with _Pauses.lock:
        if _Pauses.depth == 0:
            _Pauses.reenable = gc.isenabled()
            gc.disable()
        _Pauses.depth += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.depth -= 1
            if _Pauses.depth == 0 and _Pauses.reenable:
                gc.enable()
