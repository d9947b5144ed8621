"""The YAML shape of one business calendar, validated with pydantic.

A calendar is declared under ``calendars:`` by name::

    calendars:
      berlin_office:
        timezone: Europe/Berlin
        hours:
          mon-thu: ["09:00-12:00", "13:00-17:30"]
          fri: "09:00-15:00"
        holidays:
          country: DE
          subdivision: BE
          dates: [2026-12-24, 2026-12-31]

This module only checks and normalizes that shape; `slaplug.sla.calendar` does the arithmetic.
"""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

#: Weekday keys in ``hours``, Monday first (``date.weekday()`` order).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTES_PER_DAY = 24 * 60


def parse_window(text: str) -> tuple[int, int]:
    """Parse ``"09:00-17:30"`` into minutes after local midnight, ``(540, 1050)``.

    ``"24:00"`` is allowed as an end. A window that crosses midnight is rejected with the
    two-window form that means the same thing.

    Raises:
        ValueError: The text is not a window; the message says what to write instead.
    """
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f'"{text}" is not a window; write it as "HH:MM-HH:MM", e.g. "09:00-17:30"')
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    for h, mm in ((h1, m1), (h2, m2)):
        if mm > 59 or h > 24 or (h == 24 and mm != 0):
            raise ValueError(f'"{text}" has a time that does not exist; hours run 00:00 to 24:00')
    if start == _MINUTES_PER_DAY:
        raise ValueError(f'"{text}" starts at 24:00; start the window at 00:00 of the next day')
    if end == start:
        raise ValueError(f'"{text}" is empty; remove it or give it a length')
    if end < start:
        first, second = text.split("-", 1)
        raise ValueError(
            f'"{text}" crosses midnight, which a window cannot do; write it as two windows: '
            f'"{first.strip()}-24:00" on this day and "00:00-{second.strip()}" on the next day'
        )
    return start, end


def _expand_day_key(key: str) -> list[int]:
    """``"mon"`` -> [0]; ``"mon-fri"`` -> [0..4]; ``"fri-mon"`` wraps the week end."""
    parts = [p.strip().lower() for p in key.split("-")]
    for p in parts:
        if p not in WEEKDAYS:
            raise ValueError(
                f'"{key}" is not a weekday; use one of {", ".join(WEEKDAYS)} '
                'or a range like "mon-fri"'
            )
    if len(parts) == 1:
        return [WEEKDAYS.index(parts[0])]
    if len(parts) != 2:
        raise ValueError(f'"{key}" is not a weekday range; write it like "mon-fri"')
    a, b = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[1])
    return [(a + i) % 7 for i in range(((b - a) % 7) + 1)]


def _as_window_list(value: object) -> object:
    if value is None or value == "closed":
        return []
    if isinstance(value, str):
        return [value]
    return value


def _check_window(text: str) -> str:
    parse_window(text)
    return text


def _check_day_key(key: str) -> str:
    _expand_day_key(key)
    return key


# Each window and each day key is checked on its own, so that every bad one is reported with
# its own path (``hours.mon[1]``), not just the first one found.
WindowList = Annotated[
    list[Annotated[str, AfterValidator(_check_window)]], BeforeValidator(_as_window_list)
]
DayKey = Annotated[str, AfterValidator(_check_day_key)]


class HolidaySpec(BaseModel):
    """Days on which the whole local date is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str | None = Field(
        default=None, description="ISO 3166 country code for the `holidays` package, e.g. DE, US."
    )
    subdivision: str | None = Field(
        default=None, description="State or province code within the country, e.g. BY, NY."
    )
    dates: list[date] = Field(default_factory=list, description="Extra closed dates, YYYY-MM-DD.")

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import holidays  # noqa: PLC0415  (slow to import; only calendars with holidays need it)

        if value.upper() not in holidays.list_supported_countries():
            raise ValueError(
                f'"{value}" is not a country the holidays package knows; '
                "use ISO codes like DE, US, GB"
            )
        return value.upper()

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Checked here because the holidays package is only asked lazily, when a year is laid
        # out: an unknown subdivision would otherwise surface as NotImplementedError mid-query.
        if value is None:
            return value
        if "country" not in info.data:
            return value  # the country itself is wrong; that problem is reported already
        country = info.data["country"]
        if country is None:
            raise ValueError("needs a country; add country, e.g. country: DE with subdivision: BY")
        import holidays  # noqa: PLC0415  (slow to import; only calendars with holidays need it)

        known: list[str] = holidays.list_supported_countries()[country]
        for code in known:
            if code.upper() == value.upper():
                return code
        raise ValueError(
            f'"{value}" is not a subdivision of {country} the holidays package knows; '
            f"use one of {', '.join(known)}"
        )


class CalendarSpec(BaseModel):
    """One calendar: a time zone, weekly working windows, and holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(
        description="IANA time zone the windows are laid out in, e.g. Europe/Berlin."
    )
    hours: dict[DayKey, WindowList] = Field(
        description='Working windows per weekday (mon..sun) or range ("mon-fri"); '
        "a day not named is closed."
    )
    holidays: HolidaySpec | None = Field(
        default=None, description="Dates closed for the whole local day."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'"{value}" is not an IANA time zone; use a name like "Europe/Berlin" or "UTC"'
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[int, str] = {}
        for key, windows in value.items():
            for day in _expand_day_key(key):
                if day in seen:
                    raise ValueError(
                        f'{WEEKDAYS[day]} is given twice, by "{seen[day]}" and "{key}"'
                    )
                seen[day] = key
            spans = sorted(parse_window(w) for w in windows)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f'the windows of "{key}" overlap; merge them into one window')
        return value

    def week(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Working windows per weekday, Monday first, as minutes after local midnight."""
        days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for key, windows in self.hours.items():
            for day in _expand_day_key(key):
                days[day].extend(parse_window(w) for w in windows)
        return tuple(tuple(sorted(d)) for d in days)
