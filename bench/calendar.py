"""Benchmark the business calendar: calls per second, and whether cost grows with duration.

Run ``python bench/calendar.py [n]``; it prints one JSON line::

    {"add_per_s": ..., "elapsed_per_s": ..., "year_to_hour_ratio": ..., "python": ..., "n": ...}

- ``add_per_s`` / ``elapsed_per_s``: calls per second on one core over ``n`` random starts
  (2026-2027) and durations up to 30 business days of 8 h, spread over three calendars
  (Berlin office hours with holidays and a lunch break, New York 08:00-20:00, 24x7). The
  calendars are warm: the years the calls reach are laid out before timing.
- ``year_to_hour_ratio``: time for ``n`` adds of 365 days of working time over the time for
  ``n`` adds of one hour, same starts, same process. Near 1 means the cost does not grow with
  the duration.

Each figure is the best of three timed rounds; the random seed is fixed.

Goals (from the issue): ``add_per_s`` >= 200,000 on one core, ``year_to_hour_ratio`` <= 3.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # Run as a script, this directory is sys.path[0], and this file would then shadow the
    # standard library's ``calendar`` module for every import below.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import json
import platform
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slaplug.sla.calendar import BUILTIN_24X7, BusinessCalendar, load_calendars

SEED = 20260309
ROUNDS = 3
BUSINESS_DAY = timedelta(hours=8)
MAX_DURATION_MINUTES = 30 * BUSINESS_DAY // timedelta(minutes=1)
ONE_HOUR = timedelta(hours=1)
ONE_YEAR = timedelta(days=365)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 86_400

CALENDARS: dict[str, Any] = {
    "berlin": {
        "timezone": "Europe/Berlin",
        "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        "holidays": {"country": "DE", "subdivision": "BE"},
    },
    "new_york": {"timezone": "America/New_York", "hours": {"mon-fri": "08:00-20:00"}},
}


def _best(fn: Callable[[], None]) -> float:
    """The fastest of ``ROUNDS`` runs of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(n: int = 100_000, seed: int = SEED) -> dict[str, Any]:
    """Time ``add`` and ``elapsed`` over ``n`` random calls; return the figures.

    Args:
        n: Number of calls per measurement.
        seed: Seed for the random starts and durations.

    Returns:
        ``add_per_s``, ``elapsed_per_s``, ``year_to_hour_ratio``, ``python``, ``n``, ``seed``.
    """
    calendars = load_calendars(CALENDARS)
    cals: list[BusinessCalendar] = [calendars["berlin"], calendars["new_york"]]
    cals.append(calendars[BUILTIN_24X7])
    rng = random.Random(seed)
    cases = [
        (
            cals[i % len(cals)],
            FIRST + timedelta(seconds=rng.randrange(SPAN_SECONDS)),
            timedelta(minutes=rng.randrange(MAX_DURATION_MINUTES + 1)),
        )
        for i in range(n)
    ]
    # Warm up: lay out every year the calls below reach, from the first start to the
    # farthest one-year add.
    last = FIRST + timedelta(seconds=SPAN_SECONDS)
    for cal in cals:
        cal.elapsed(FIRST, cal.add(last, ONE_YEAR))
    ends = [cal.add(start, d) for cal, start, d in cases]
    pairs = [(cal, start, end) for (cal, start, _), end in zip(cases, ends, strict=True)]

    def adds() -> None:
        for cal, start, d in cases:
            cal.add(start, d)

    def elapseds() -> None:
        for cal, start, end in pairs:
            cal.elapsed(start, end)

    def fixed_adds(d: timedelta) -> Callable[[], None]:
        def go() -> None:
            for cal, start, _ in cases:
                cal.add(start, d)

        return go

    t_add = _best(adds)
    t_elapsed = _best(elapseds)
    t_hour = _best(fixed_adds(ONE_HOUR))
    t_year = _best(fixed_adds(ONE_YEAR))
    return {
        "add_per_s": round(n / t_add),
        "elapsed_per_s": round(n / t_elapsed),
        "year_to_hour_ratio": round(t_year / t_hour, 3),
        "python": platform.python_version(),
        "n": n,
        "seed": seed,
    }


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 100_000
    print(json.dumps(run(n)))


if __name__ == "__main__":
    main(sys.argv)
