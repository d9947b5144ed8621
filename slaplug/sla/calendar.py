"""Business calendars: working time arithmetic in a calendar's own time zone.

How it stays fast: the working windows of whole local years are laid out once, converted to UTC
instants (so DST shifts land where they belong) and merged where they touch. Beside them sits a
running total of working time. ``elapsed`` is then the difference of two look-ups and ``add`` a
look-up and an inverse look-up, each a binary search: the cost does not depend on how long the
duration is. Years are laid out lazily, the first time a query reaches them.

All instants are handled internally as integer microseconds since the Unix epoch, so that
``elapsed(start, add(start, d)) == d`` holds exactly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from slaplug.errors import CalendarError, Problem, TimeError
from slaplug.sla.calendar_spec import CalendarSpec

__all__ = ["BUILTIN_24X7", "BusinessCalendar", "Pause", "load_calendars"]

Pause = tuple[datetime, datetime]
#: ``provider(calendar_name, country, subdivision, years)`` -> closed dates, or None to use the
#: `holidays` package's tables (plugins answer through the ``holidays`` hook).
HolidayProvider = Callable[[str, str | None, str | None, range], Iterable[date] | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_US_PER_MINUTE = 60 * _US
# How far lazily laid-out time may reach past the last working instant before we give up:
# a calendar with no working time at all in this span cannot finish any duration.
_MAX_EMPTY_YEARS = 8
#: Name of the built-in calendar that is always open (UTC, every day, all day).
BUILTIN_24X7 = "24x7"


def _to_us(t: datetime) -> int:
    if t.tzinfo is None:
        raise TimeError(
            f"{t.isoformat()} has no time zone; pass an aware datetime, "
            "e.g. datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo('Europe/Berlin'))"
        )
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * _US + d.microseconds


#: Public aliases for callers inside slaplug that work on epoch microseconds.
def epoch_us(t: datetime) -> int:
    """``t`` as integer microseconds since the Unix epoch (``t`` must be aware)."""
    return _to_us(t)


def _td_us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * _US + d.microseconds


# Below 2**32 seconds (the year 2106) a float holds epoch seconds to within 0.24 µs, so
# ``fromtimestamp`` (which rounds to the nearest microsecond) gives the exact instant, four
# times faster than adding a timedelta and converting; tests/test_calendar.py checks this.
_FLOAT_EXACT_US = 2**32 * _US


def _from_us(us: int, tz: tzinfo | None) -> datetime:
    """The instant ``us`` (epoch microseconds) as a datetime in ``tz``."""
    if tz is not None and -_FLOAT_EXACT_US < us < _FLOAT_EXACT_US:
        return datetime.fromtimestamp(us / _US, tz)
    t = _EPOCH + timedelta(microseconds=us)
    return t if tz is UTC else t.astimezone(tz)


#: Public alias for callers inside slaplug that work on epoch microseconds (the same
#: function: the clocks call it twice per measure, and a wrapper's call was a tenth of that).
from_epoch_us = _from_us


class BusinessCalendar:
    """Working hours in one time zone, with holidays, and the arithmetic over them.

    Build one with `BusinessCalendar.from_config` from the YAML mapping of one calendar.
    Every public method takes and returns timezone-aware datetimes; a result is expressed in the
    time zone of the argument it derives from.
    """

    __slots__ = (
        "_cum",
        "_cum_end",
        "_ends",
        "_explicit_holidays",
        "_hi",
        "_hi_year",
        "_holiday_country",
        "_holiday_subdivision",
        "_lo",
        "_lo_year",
        "_provider",
        "_starts",
        "_week",
        "name",
        "spec",
        "zone",
    )

    def __init__(
        self,
        spec: CalendarSpec,
        name: str = "calendar",
        holiday_provider: HolidayProvider | None = None,
    ) -> None:
        """Use `from_config`; this takes an already validated `CalendarSpec`."""
        self.name = name
        self._provider = holiday_provider
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self._week = spec.week()
        if not any(self._week):
            raise CalendarError(
                [Problem("has no working hours on any day; add windows under hours", name)]
            )
        hol = spec.holidays
        self._explicit_holidays: frozenset[date] = frozenset(hol.dates) if hol else frozenset()
        self._holiday_country = hol.country if hol else None
        self._holiday_subdivision = hol.subdivision if hol else None
        # Laid-out open intervals [starts[i], ends[i]) in epoch microseconds, sorted, disjoint,
        # never touching; cum[i] is the working time before interval i, cum_end[i] after it.
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum: list[int] = []
        self._cum_end: list[int] = []
        self._lo = self._hi = 0  # covered span [lo, hi) in epoch microseconds
        self._lo_year = self._hi_year = 0  # covered local years [lo_year, hi_year)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        mapping: Mapping[str, Any],
        name: str = "calendar",
        holiday_provider: HolidayProvider | None = None,
    ) -> BusinessCalendar:
        """Build a calendar from the YAML mapping of one calendar.

        Args:
            mapping: ``{"timezone": ..., "hours": {...}, "holidays": {...}}`` as in the YAML.
            name: The calendar's name, used in error messages and explanations.
            holiday_provider: Asked for the closed dates of each year first; its answer
                replaces the `holidays` package's tables (explicit ``dates`` still apply).

        Raises:
            CalendarError: Every problem in the mapping, each with its field path.
        """
        try:
            spec = CalendarSpec.model_validate(mapping)
        except ValidationError as exc:
            raise CalendarError(problems_from_validation(exc, prefix=name)) from None
        return cls(spec, name=name, holiday_provider=holiday_provider)

    def __repr__(self) -> str:
        return f"<BusinessCalendar {self.name!r} {self.spec.timezone}>"

    # -- public arithmetic -------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta, pauses: Iterable[Pause] = ()) -> datetime:
        """The instant at which ``duration`` of working time has passed since ``start``.

        Working time before ``start`` does not count; a start outside working hours counts from
        the next opening. A duration that runs out exactly at a closing time returns that
        closing time. A zero duration returns the next business instant (``start`` itself when
        the calendar is open then). Working time inside ``pauses`` does not count.

        Raises:
            TimeError: ``start`` or a pause is naive, or ``duration`` is negative.
        """
        s = _to_us(start)
        d = _td_us(duration)
        if d < 0:
            raise TimeError(f"duration {duration} is negative; add takes durations of zero or more")
        merged = self._merge_pauses(pauses, s, None) if pauses else ()
        return _from_us(self.add_us(s, d, merged), start.tzinfo)

    def elapsed(self, start: datetime, end: datetime, pauses: Iterable[Pause] = ()) -> timedelta:
        """Working time between ``start`` and ``end``, less the working time inside ``pauses``.

        Raises:
            TimeError: A time is naive, or ``end`` is before ``start``.
        """
        s, e = _to_us(start), _to_us(end)
        if e < s:
            raise TimeError(f"end {end.isoformat()} is before start {start.isoformat()}")
        merged = self._merge_pauses(pauses, s, e) if pauses else ()
        return timedelta(microseconds=self.elapsed_us(s, e, merged))

    # -- the same in epoch microseconds, for callers that convert once (the SLA clocks) --------

    def add_us(self, s: int, d: int, merged: Sequence[tuple[int, int]] = ()) -> int:
        """`add` on epoch microseconds; ``merged`` pauses sorted, disjoint, none before ``s``."""
        if d == 0:
            return self._next_business_us(s, merged)
        self._cover(s)
        target = self._cum_at(s) + d
        for ps, pe in merged:
            self._cover(ps)
            if self._cum_at(ps) >= target:
                break  # the duration runs out before this pause begins
            self._cover(pe)
            target += self._cum_at(pe) - self._cum_at(ps)
        return self._inverse(target)

    def elapsed_us(self, s: int, e: int, merged: Sequence[tuple[int, int]] = ()) -> int:
        """`elapsed` on epoch microseconds; ``merged`` pauses sorted, disjoint, within ``[s, e]``."""
        self._cover(s)
        self._cover(e)
        total = self._cum_at(e) - self._cum_at(s)
        for ps, pe in merged:
            total -= self._cum_at(pe) - self._cum_at(ps)
        return total

    def is_open(self, t: datetime) -> bool:
        """Whether ``t`` falls inside a working window (windows include their opening minute
        and exclude their closing minute)."""
        u = _to_us(t)
        self._cover(u)
        i = bisect_right(self._starts, u) - 1
        return i >= 0 and u < self._ends[i]

    def next_open(self, t: datetime) -> datetime:
        """``t`` itself when the calendar is open then, otherwise the next opening."""
        return _from_us(self._next_business_us(_to_us(t), ()), t.tzinfo)

    def next_close(self, t: datetime) -> datetime:
        """The end of the working window that contains ``t``, or of the next one."""
        u = self._next_business_us(_to_us(t), ())
        i = bisect_right(self._starts, u) - 1
        # An interval that reaches the end of the laid-out years may go on into the next ones
        # (e.g. open all day on Dec 31 and Jan 1): lay out more before naming its end.
        while self._ends[i] >= self._hi:
            if self._ends[i] - u > _MAX_EMPTY_YEARS * 366 * 86_400 * _US:
                raise TimeError(
                    f"calendar {self.name!r} does not close for years after {t.isoformat()}; "
                    "it has no next closing time"
                )
            self._grow()
        return _from_us(self._ends[i], t.tzinfo)

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals between ``start`` and ``end``, clipped to them, in ``start``'s
        time zone. Adjacent windows (e.g. ``23:00-24:00`` and ``00:00-01:00``) come as one."""
        s, e = _to_us(start), _to_us(end)
        self._cover(s)
        self._cover(e)
        tz = start.tzinfo
        i = max(bisect_right(self._starts, s) - 1, 0)
        while i < len(self._starts) and self._starts[i] < e:
            a, b = max(self._starts[i], s), min(self._ends[i], e)
            if a < b:
                yield _from_us(a, tz), _from_us(b, tz)
            i += 1

    def is_holiday(self, day: date) -> bool:
        """Whether the local date ``day`` is closed as a holiday."""
        return day in self._holidays_for(day.year, day.year + 1)

    # -- internals -------------------------------------------------------------------------------

    def _cum_at(self, u: int) -> int:
        """Working time from the start of coverage to ``u`` (which must be covered)."""
        i = bisect_right(self._starts, u) - 1
        if i < 0:
            return 0
        end = self._ends[i]
        return self._cum[i] + (u if u < end else end) - self._starts[i]

    def _inverse(self, target: int) -> int:
        """The earliest instant at which the running total reaches ``target``."""
        while not self._cum_end or self._cum_end[-1] < target:
            self._grow()
        i = bisect_left(self._cum_end, target)
        return self._starts[i] + target - self._cum[i]

    def _next_business_us(self, u: int, merged: Iterable[tuple[int, int]]) -> int:
        """The first instant at or after ``u`` that is open and outside every pause."""
        u = self._next_open_us(u)
        for ps, pe in merged:  # sorted and disjoint, so one pass suffices
            if ps <= u < pe:
                u = self._next_open_us(pe)
        return u

    def _next_open_us(self, u: int) -> int:
        self._cover(u)
        i = bisect_right(self._starts, u) - 1
        if i >= 0 and u < self._ends[i]:
            return u
        while i + 1 >= len(self._starts):
            self._grow()
        return self._starts[i + 1]

    def _merge_pauses(
        self, pauses: Iterable[Pause], lo: int, hi: int | None
    ) -> list[tuple[int, int]]:
        """Pauses as sorted, disjoint microsecond spans clipped to ``[lo, hi]``; covered."""
        spans: list[tuple[int, int]] = []
        for ps_dt, pe_dt in pauses:
            ps, pe = _to_us(ps_dt), _to_us(pe_dt)
            if pe < ps:
                raise TimeError(
                    f"pause ends ({pe_dt.isoformat()}) before it starts ({ps_dt.isoformat()})"
                )
            ps = max(ps, lo)
            if hi is not None:
                pe = min(pe, hi)
            if pe > ps:
                spans.append((ps, pe))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for ps, pe in spans:
            if merged and ps <= merged[-1][1]:
                if pe > merged[-1][1]:
                    merged[-1] = (merged[-1][0], pe)
            else:
                merged.append((ps, pe))
        if merged and hi is not None:
            self._cover(merged[-1][1])
        return merged

    # -- laying out working time ---------------------------------------------------------------

    def _cover(self, u: int) -> None:
        """Make sure the laid-out span includes ``u``."""
        if self._lo <= u < self._hi:
            return
        year = _from_us(u, self.zone).year
        if not self._starts and self._hi == self._lo:
            self._layout(year - 1, year + 2)
        elif u >= self._hi:
            self._extend_forward(year + 1)
        else:
            self._layout(year, self._hi_year)

    def _grow(self) -> None:
        """Lay out two more years; give up when there has been no working time for years."""
        last_end = self._ends[-1] if self._ends else self._lo
        if self._hi - last_end > _MAX_EMPTY_YEARS * 366 * 86_400 * _US:
            raise TimeError(
                f"calendar {self.name!r} has no working time after "
                f"{_from_us(last_end, self.zone).isoformat()}; check its hours and holidays"
            )
        self._extend_forward(self._hi_year + 2)

    def _extend_forward(self, to_year: int) -> None:
        self._append(*self._windows(self._hi_year, to_year))
        self._hi_year = to_year
        self._hi = self._year_start_us(to_year)

    def _layout(self, from_year: int, to_year: int) -> None:
        """Lay out ``[from_year, to_year)`` from scratch (used when reaching backwards)."""
        self._starts, self._ends, self._cum, self._cum_end = [], [], [], []
        self._append(*self._windows(from_year, to_year))
        self._lo_year, self._hi_year = from_year, to_year
        self._lo, self._hi = self._year_start_us(from_year), self._year_start_us(to_year)

    def _append(self, starts: list[int], ends: list[int]) -> None:
        for a, b in zip(starts, ends, strict=True):
            if self._ends and a <= self._ends[-1]:  # touches the previous interval: merge
                self._cum_end[-1] += b - self._ends[-1]
                self._ends[-1] = b
                continue
            total = self._cum_end[-1] if self._cum_end else 0
            self._starts.append(a)
            self._ends.append(b)
            self._cum.append(total)
            self._cum_end.append(total + b - a)

    def _year_start_us(self, year: int) -> int:
        return _to_us(datetime(year, 1, 1, tzinfo=self.zone))

    def _windows(self, from_year: int, to_year: int) -> tuple[list[int], list[int]]:
        """Working windows of the local years ``[from_year, to_year)`` in epoch microseconds."""
        zone, week = self.zone, self._week
        closed = self._holidays_for(from_year, to_year)
        starts: list[int] = []
        ends: list[int] = []
        day = date(from_year, 1, 1)
        last = date(to_year, 1, 1)
        one_day = timedelta(days=1)
        while day < last:  # one pass per local day when laying out a year, never per query
            windows = week[day.weekday()]
            if windows and day not in closed:
                midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
                for a, b in windows:
                    # Wall-clock arithmetic in the zone, then to UTC: DST days keep their
                    # local opening and closing times.
                    sa = _to_us(_wall(midnight, a))
                    sb = _to_us(_wall(midnight, b))
                    if sb > sa:
                        starts.append(sa)
                        ends.append(sb)
            day += one_day
        return starts, ends

    def _holidays_for(self, from_year: int, to_year: int) -> frozenset[date]:
        days = set(self._explicit_holidays)
        years = range(from_year, to_year)
        provided = (
            self._provider(self.name, self._holiday_country, self._holiday_subdivision, years)
            if self._provider is not None
            else None
        )
        if provided is not None:
            days.update(provided)
        elif self._holiday_country:
            import holidays  # noqa: PLC0415  (slow to import; only calendars with holidays need it)

            days.update(
                holidays.country_holidays(
                    self._holiday_country,
                    subdiv=self._holiday_subdivision,
                    years=range(from_year, to_year),
                ).keys()
            )
        return frozenset(days)


def _wall(midnight: datetime, minutes: int) -> datetime:
    """The local wall-clock time ``minutes`` after ``midnight`` (24:00 is the next midnight)."""
    if minutes >= 24 * 60:
        nxt = midnight.date() + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=midnight.tzinfo)
    return midnight.replace(hour=minutes // 60, minute=minutes % 60)


def problems_from_validation(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into `Problem`s whose ``where`` is a dotted field path."""
    problems = []
    for err in exc.errors():
        parts = [prefix] if prefix else []
        for loc in err["loc"]:
            if loc == "[key]":  # pydantic's marker for an error in a mapping's key, not value
                continue
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
            else:
                parts.append(str(loc))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "is not a known key; check its spelling"
        elif err["type"] == "missing":
            msg = "is required"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(Problem(msg, ".".join(parts)))
    return problems


def builtin_24x7() -> BusinessCalendar:
    """The always-open calendar, available everywhere as ``24x7``."""
    return BusinessCalendar(
        CalendarSpec(timezone="UTC", hours={"mon-sun": ["00:00-24:00"]}), name=BUILTIN_24X7
    )


def load_calendars(mapping: Mapping[str, Any] | None) -> dict[str, BusinessCalendar]:
    """Build every calendar of a ``calendars:`` section, plus the built-in ``24x7``.

    Raises:
        CalendarError: Every problem of every calendar, each with its field path.
    """
    calendars = {BUILTIN_24X7: builtin_24x7()}
    problems: list[Problem] = []
    for name, body in (mapping or {}).items():
        if name == BUILTIN_24X7:
            problems.append(
                Problem(f"{BUILTIN_24X7} is built in; give your calendar another name", name)
            )
            continue
        try:
            mapping_ = body if body is not None else {}
            calendars[name] = BusinessCalendar.from_config(mapping_, name=name)
        except CalendarError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CalendarError(problems)
    return calendars
