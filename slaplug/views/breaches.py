"""Breaches today and in the current period, counted from the clocks `measure_clocks` made.

A breach is counted once per clock (ticket, policy, metric, cycle) at the instant its target
ran out (`SlaMeasure.breached_at`), whether the clock still runs or has stopped since.
Cancelled clocks (the target did not apply) are never counted, as in credits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slaplug.credits.periods import Period, period_containing
from slaplug.views.clocks import ClockRow, ClockState

__all__ = ["BreachSummary", "breach_summary", "breaches_between"]


@dataclass(frozen=True)
class BreachSummary:
    """The breaches of one day and one period, both up to ``at``.

    Attributes:
        at: When they were counted.
        day_start: Midnight starting ``at``'s day, in the summary's time zone.
        period: The period (month or quarter) containing ``at``, in that zone.
        today: The clocks breached since ``day_start``, earliest breach first.
        this_period: The clocks breached since the period started, earliest first.
    """

    at: datetime
    day_start: datetime
    period: Period
    today: tuple[ClockRow, ...]
    this_period: tuple[ClockRow, ...]


def breaches_between(rows: Iterable[ClockRow], start: datetime, end: datetime) -> list[ClockRow]:
    """The rows whose clock breached in ``[start, end)``, earliest breach first."""
    found = [
        r
        for r in rows
        if r.state is ClockState.BREACHED
        and r.measure.breached_at is not None
        and start <= r.measure.breached_at < end
    ]
    return sorted(found, key=lambda r: (r.measure.breached_at, r.sort_key()))


def breach_summary(
    rows: Iterable[ClockRow],
    at: datetime,
    *,
    zone: ZoneInfo | None = None,
    period: str = "month",
) -> BreachSummary:
    """Breaches today and this period, as of ``at``.

    Args:
        rows: Clocks from `measure_clocks` (closed ones included: a clock breached this
            morning and solved since is still a breach today).
        at: The moment counted up to (inclusive).
        zone: Where days and periods begin (a contract's or the team's time zone); UTC by
            default.
        period: ``month`` or ``quarter``, as contracts declare it.
    """
    tz = zone or ZoneInfo("UTC")
    local = at.astimezone(tz)
    day_start = datetime(local.year, local.month, local.day, tzinfo=tz)
    p = period_containing(at, tz, period)
    # Up to and including ``at``: a clock measured at ``at`` cannot have breached later.
    end = at + timedelta(microseconds=1)
    rows = list(rows)
    return BreachSummary(
        at=at,
        day_start=day_start,
        period=p,
        today=tuple(breaches_between(rows, day_start.astimezone(UTC), end)),
        this_period=tuple(breaches_between(rows, p.start.astimezone(UTC), end)),
    )
