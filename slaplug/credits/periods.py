"""Credit periods: calendar months or quarters laid out in a contract's time zone, half-open.

A period is ``[start, end)``: October 2026 in Europe/Berlin starts at 2026-10-01 00:00 local
(22:00 UTC the day before) and ends where November starts, 2026-11-01 00:00 local; the hour
won back when summer time ends on 25 October is inside it. A moment belongs to exactly one
period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slaplug.errors import ConfigError

__all__ = [
    "Period",
    "label_kind",
    "labels_of_kind",
    "parse_period",
    "period_containing",
    "periods_between",
]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """One credit period.

    Attributes:
        label: ``"2026-10"`` for a month, ``"2026-Q4"`` for a quarter.
        start: The first instant (inclusive), aware, in the contract's zone.
        end: The first instant of the next period (exclusive).
    """

    label: str
    start: datetime
    end: datetime

    def __contains__(self, when: object) -> bool:
        return isinstance(when, datetime) and self.start <= when < self.end

    def closed(self, now: datetime, grace: timedelta = timedelta(0)) -> bool:
        """Whether the period ended at least ``grace`` before ``now`` (then it may be frozen)."""
        return now >= self.end + grace


def _local(year: int, month: int, zone: ZoneInfo) -> datetime:
    # Local midnight of the 1st; zoneinfo picks the offset in force then (no midnight DST
    # gap exists in the zones that have one at midnight on the 1st of a month).
    return datetime(year, month, 1, tzinfo=zone)


def _after(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def parse_period(label: str, zone: ZoneInfo, kind: str = "month") -> Period:
    """``"2026-10"`` (a month) or ``"2026-Q4"`` (a quarter) as a `Period` in ``zone``.

    Args:
        label: The period as written on the command line.
        zone: The contract's time zone.
        kind: The contract's period, ``month`` or ``quarter``; a month label for a quarterly
            contract names the quarter containing it here, but ``credits`` and ``report``
            refuse a label of the other kind first (`ContractBook.kind_mismatch`).

    Raises:
        ConfigError: The label is neither form.
    """
    text = label.strip()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ConfigError(f"{label!r}: month {month} does not exist; write YYYY-MM")
    elif m := _QUARTER.match(text):
        year, month = int(m[1]), (int(m[2]) - 1) * 3 + 1
        kind = "quarter"
    else:
        raise ConfigError(
            f"{label!r} is not a period; write a month as 2026-10 or a quarter as 2026-Q4"
        )
    if kind == "quarter":
        month = (month - 1) // 3 * 3 + 1
        end = _after(year, month, 3)
        name = f"{year}-Q{(month - 1) // 3 + 1}"
    else:
        end = _after(year, month, 1)
        name = f"{year}-{month:02d}"
    return Period(name, _local(year, month, zone), _local(*end, zone))


def label_kind(label: str) -> str:
    """``month`` for ``2026-10``, ``quarter`` for ``2026-Q4``.

    Raises:
        ConfigError: The label is neither form (as `parse_period` says).
    """
    text = label.strip()
    if _QUARTER.match(text):
        return "quarter"
    if _MONTH.match(text):
        return "month"
    raise ConfigError(
        f"{label!r} is not a period; write a month as 2026-10 or a quarter as 2026-Q4"
    )


def labels_of_kind(label: str, kind: str) -> list[str]:
    """The labels of ``kind`` that cover period ``label``: the three months of a quarter
    (``2026-Q3`` -> ``2026-07, 2026-08, 2026-09``), the quarter of a month (``2026-08`` ->
    ``2026-Q3``), or the label itself, normalised."""
    utc = ZoneInfo("UTC")
    period = parse_period(label, utc, label_kind(label))
    out: list[str] = []
    p = period_containing(period.start, utc, kind)
    while p.start < period.end:
        out.append(p.label)
        p = period_containing(p.end, utc, kind)
    return out


def period_containing(when: datetime, zone: ZoneInfo, kind: str = "month") -> Period:
    """The period ``when`` falls in, for a contract in ``zone``."""
    local = when.astimezone(zone)
    return parse_period(f"{local.year}-{local.month:02d}", zone, kind)


def periods_between(
    start: datetime, end: datetime, zone: ZoneInfo, kind: str = "month"
) -> list[Period]:
    """Every period that overlaps ``[start, end)``, oldest first."""
    out: list[Period] = []
    p = period_containing(start, zone, kind)
    while p.start < end:
        out.append(p)
        p = period_containing(p.end, zone, kind)
    return out
