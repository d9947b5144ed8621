"""Business calendars: one test per semantic rule, with expectations computed by hand.

Dates used below (2026): Mon Jan 5, Tue Jan 6 (Epiphany in Bavaria, not in Berlin), Mon Mar 9,
Berlin DST starts Sun Mar 29 and ends Sun Oct 25, New York DST starts Sun Mar 8 and ends
Sun Nov 1, Good Friday Apr 3, Easter Monday Apr 6.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaplug.errors import CalendarError, TimeError
from slaplug.sla.calendar import (
    BUILTIN_24X7,
    BusinessCalendar,
    epoch_us,
    from_epoch_us,
    load_calendars,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)

#: Berlin office: 09:00-12:00 and 13:00-17:00 (7 h a day), Berlin public holidays.
BERLIN_OFFICE: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
    "holidays": {"country": "DE", "subdivision": "BE"},
}
NY_OFFICE: dict[str, Any] = {"timezone": "America/New_York", "hours": {"mon-fri": "08:00-20:00"}}


def cal(hours: dict[str, Any], tz: str = "Europe/Berlin", **extra: Any) -> BusinessCalendar:
    return BusinessCalendar.from_config({"timezone": tz, "hours": hours, **extra})


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def problems(exc: pytest.ExceptionInfo[CalendarError]) -> dict[str, str]:
    return {p.where: p.message for p in exc.value.problems}


# -- working windows are laid out in the calendar's own zone ---------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Fri Mar 27 16:00 CET + 2 h: 1 h on Friday, then Mon Mar 30 09:00 CEST (07:00 UTC) + 1 h.
        (utc(2026, 3, 27, 15), utc(2026, 3, 30, 8)),
        # Fri Oct 23 16:00 CEST + 2 h: 1 h on Friday, then Mon Oct 26 09:00 CET (08:00 UTC) + 1 h.
        (utc(2026, 10, 23, 14), utc(2026, 10, 26, 9)),
    ],
    ids=["berlin-spring-forward", "berlin-fall-back"],
)
def test_berlin_windows_keep_local_opening_times_across_dst(
    start: datetime, expected: datetime
) -> None:
    office = cal({"mon-fri": "09:00-17:00"})
    assert office.add(start, 2 * H) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Fri Mar 6 19:00 EST (Sat 00:00 UTC) + 2 h: 1 h Friday, Mon Mar 9 08:00 EDT (12 UTC) + 1 h.
        (utc(2026, 3, 7, 0), utc(2026, 3, 9, 13)),
        # Fri Oct 30 19:00 EDT (23:00 UTC) + 2 h: 1 h Friday, Mon Nov 2 08:00 EST (13 UTC) + 1 h.
        (utc(2026, 10, 30, 23), utc(2026, 11, 2, 14)),
    ],
    ids=["new-york-spring-forward", "new-york-fall-back"],
)
def test_new_york_windows_keep_local_opening_times_across_dst(
    start: datetime, expected: datetime
) -> None:
    assert BusinessCalendar.from_config(NY_OFFICE).add(start, 2 * H) == expected


@pytest.mark.parametrize(
    ("tz", "sunday", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
    ],
)
def test_all_day_window_lasts_as_long_as_the_local_day(tz: str, sunday: date, hours: int) -> None:
    sundays = cal({"sun": "00:00-24:00"}, tz=tz)
    zone = ZoneInfo(tz)
    midnight = datetime(sunday.year, sunday.month, sunday.day, tzinfo=zone)
    next_midnight = datetime.combine(sunday + timedelta(days=1), datetime.min.time(), zone)
    # From Saturday noon to Monday noon only Sunday counts.
    assert sundays.elapsed(midnight - 12 * H, next_midnight + 12 * H) == hours * H
    assert sundays.add(midnight, hours * H) == next_midnight
    assert list(sundays.open_intervals(midnight - H, next_midnight + H)) == [
        (midnight, next_midnight)
    ]


def test_all_week_calendar_has_one_hour_less_in_the_spring_forward_week() -> None:
    always = cal({"mon-sun": "00:00-24:00"})
    # Mon Mar 23 00:00 to Mon Mar 30 00:00, Berlin: 7 * 24 - 1.
    assert always.elapsed(berlin(2026, 3, 23), berlin(2026, 3, 30)) == 167 * H
    # Mon Oct 19 to Mon Oct 26: 7 * 24 + 1.
    assert always.elapsed(berlin(2026, 10, 19), berlin(2026, 10, 26)) == 169 * H


# -- a clock that starts outside working time starts at the next opening ------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(2026, 3, 7, 10), berlin(2026, 3, 9, 10)),  # Saturday -> Monday 09:00 + 1 h
        (berlin(2026, 3, 10, 7), berlin(2026, 3, 10, 10)),  # before opening
        (berlin(2026, 3, 10, 12, 30), berlin(2026, 3, 10, 14)),  # in the lunch break
        (berlin(2026, 3, 10, 17), berlin(2026, 3, 11, 10)),  # at closing -> next morning
        (berlin(2026, 3, 13, 20), berlin(2026, 3, 16, 10)),  # Friday night -> Monday
    ],
)
def test_start_outside_hours_counts_from_next_opening(start: datetime, expected: datetime) -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    assert office.add(start, H) == expected


# -- a duration that runs out exactly at a closing time returns that closing time ---------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (berlin(2026, 3, 9, 9), 3 * H, berlin(2026, 3, 9, 12)),  # lunch, not 13:00
        (berlin(2026, 3, 9, 9), 7 * H, berlin(2026, 3, 9, 17)),  # evening, not Tue 09:00
        (berlin(2026, 3, 13, 16), H, berlin(2026, 3, 13, 17)),  # Friday, not Monday
        (berlin(2026, 3, 7, 12), 7 * H, berlin(2026, 3, 9, 17)),  # closed start, closing end
    ],
)
def test_duration_ending_at_closing_returns_the_closing_time(
    start: datetime, duration: timedelta, expected: datetime
) -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    assert office.add(start, duration) == expected


# -- a zero duration returns the next business instant ------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(2026, 3, 9, 10, 15), berlin(2026, 3, 9, 10, 15)),  # open: start itself
        (berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 9)),  # opening minute is open
        (berlin(2026, 3, 9, 12), berlin(2026, 3, 9, 13)),  # closing minute is closed
        (berlin(2026, 3, 9, 17), berlin(2026, 3, 10, 9)),
        (berlin(2026, 3, 7, 10), berlin(2026, 3, 9, 9)),  # Saturday
    ],
)
def test_zero_duration_returns_next_business_instant(start: datetime, expected: datetime) -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    assert office.add(start, timedelta(0)) == expected
    assert office.next_open(start) == expected


def test_zero_duration_skips_a_pause_covering_the_start() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    pause = (berlin(2026, 3, 9, 10), berlin(2026, 3, 9, 12, 30))
    # The pause ends in the lunch break, so the next business instant is 13:00.
    assert office.add(berlin(2026, 3, 9, 11), timedelta(0), [pause]) == berlin(2026, 3, 9, 13)


# -- holidays close the whole local date ---------------------------------------------------


def test_holidays_follow_the_subdivision() -> None:
    bavaria = cal({"mon-fri": "09:00-17:00"}, holidays={"country": "DE", "subdivision": "BY"})
    berlin_ = cal({"mon-fri": "09:00-17:00"}, holidays={"country": "DE", "subdivision": "BE"})
    epiphany = berlin(2026, 1, 6, 10)
    assert not bavaria.is_open(epiphany)
    assert berlin_.is_open(epiphany)
    # Mon Jan 5 16:00 + 2 h: 1 h on Monday, Tuesday is closed in Bavaria only.
    assert bavaria.add(berlin(2026, 1, 5, 16), 2 * H) == berlin(2026, 1, 7, 10)
    assert berlin_.add(berlin(2026, 1, 5, 16), 2 * H) == berlin(2026, 1, 6, 10)
    assert bavaria.is_holiday(date(2026, 1, 6))
    assert not berlin_.is_holiday(date(2026, 1, 6))


def test_country_holidays_close_whole_days_around_easter() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    # Thu Apr 2 16:00 + 2 h: 1 h Thursday; Good Friday, the weekend and Easter Monday are closed.
    assert office.add(berlin(2026, 4, 2, 16), 2 * H) == berlin(2026, 4, 7, 10)
    assert office.elapsed(berlin(2026, 4, 2, 9), berlin(2026, 4, 7, 17)) == 14 * H


def test_explicit_holiday_closes_the_whole_local_date_not_the_utc_date() -> None:
    # Open around the clock in New York, except on Friday Jul 3 2026 (local date).
    ny_always = cal(
        {"mon-sun": "00:00-24:00"}, tz="America/New_York", holidays={"dates": ["2026-07-03"]}
    )
    assert not ny_always.is_open(utc(2026, 7, 4, 3))  # Jul 3 23:00 EDT, Jul 4 in UTC
    assert ny_always.is_open(utc(2026, 7, 3, 3))  # Jul 2 23:00 EDT, Jul 3 in UTC
    assert ny_always.next_open(ny(2026, 7, 3, 12)) == ny(2026, 7, 4)
    assert ny_always.next_close(ny(2026, 7, 2, 12)) == ny(2026, 7, 3)
    assert ny_always.elapsed(ny(2026, 7, 2), ny(2026, 7, 5)) == 48 * H


def test_explicit_dates_add_to_country_holidays() -> None:
    office = cal(
        {"mon-fri": "09:00-17:00"},
        holidays={"country": "DE", "subdivision": "BE", "dates": ["2026-12-24"]},
    )
    # Wed Dec 23 16:00 + 2 h: Dec 24 (explicit), Dec 25 and 26 (country), weekend -> Mon Dec 28.
    assert office.add(berlin(2026, 12, 23, 16), 2 * H) == berlin(2026, 12, 28, 10)


# -- several windows a day ----------------------------------------------------------------


def test_lunch_break_is_not_working_time() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    assert office.add(berlin(2026, 3, 9, 11), 2 * H) == berlin(2026, 3, 9, 14)
    assert office.elapsed(berlin(2026, 3, 9, 8), berlin(2026, 3, 9, 18)) == 7 * H
    assert not office.is_open(berlin(2026, 3, 9, 12, 30))
    assert office.next_close(berlin(2026, 3, 9, 10)) == berlin(2026, 3, 9, 12)
    assert office.next_close(berlin(2026, 3, 9, 12, 30)) == berlin(2026, 3, 9, 17)
    assert list(office.open_intervals(berlin(2026, 3, 9, 10), berlin(2026, 3, 10, 10))) == [
        (berlin(2026, 3, 9, 10), berlin(2026, 3, 9, 12)),
        (berlin(2026, 3, 9, 13), berlin(2026, 3, 9, 17)),
        (berlin(2026, 3, 10, 9), berlin(2026, 3, 10, 10)),
    ]


# -- pauses: only their overlap with working windows is removed ----------------------------

MON_9 = berlin(2026, 3, 9, 9)
TUE_17 = berlin(2026, 3, 10, 17)  # 14 h of working time after MON_9


@pytest.mark.parametrize(
    ("pauses", "expected"),
    [
        # Straddles the night: Mon 16-17 and Tue 09-10 are removed.
        ([(berlin(2026, 3, 9, 16), berlin(2026, 3, 10, 10))], 12 * H),
        # Straddles lunch: 11:30-12:00 and 13:00-13:30.
        ([(berlin(2026, 3, 9, 11, 30), berlin(2026, 3, 9, 13, 30))], 13 * H),
        # Unsorted and overlapping: Mon 16:00-16:30 and Tue 09:30-11:00 in all.
        (
            [
                (berlin(2026, 3, 10, 9, 30), berlin(2026, 3, 10, 10, 30)),
                (berlin(2026, 3, 9, 16), berlin(2026, 3, 9, 16, 30)),
                (berlin(2026, 3, 10, 10), berlin(2026, 3, 10, 11)),
            ],
            12 * H,
        ),
        # Wholly outside working time: the night, the lunch break, the weekend before.
        (
            [
                (berlin(2026, 3, 9, 17), berlin(2026, 3, 10, 9)),
                (berlin(2026, 3, 9, 12), berlin(2026, 3, 9, 13)),
                (berlin(2026, 3, 7), berlin(2026, 3, 9, 9)),
            ],
            14 * H,
        ),
        # Partly before the start: only Mon 09-10 lies inside [start, end].
        ([(berlin(2026, 3, 8, 12), berlin(2026, 3, 9, 10))], 13 * H),
    ],
    ids=[
        "straddles-night",
        "straddles-lunch",
        "unsorted-overlapping",
        "outside-hours",
        "before-start",
    ],
)
def test_pauses_remove_only_their_overlap_with_working_windows(
    pauses: list[tuple[datetime, datetime]], expected: timedelta
) -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    assert office.elapsed(MON_9, TUE_17) == 14 * H
    assert office.elapsed(MON_9, TUE_17, pauses) == expected


def test_add_skips_the_working_time_inside_pauses() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    pause = (berlin(2026, 3, 9, 16), berlin(2026, 3, 10, 10))
    assert office.add(MON_9, 8 * H) == berlin(2026, 3, 10, 10)
    # 6 h until the pause begins (09-12, 13-16), then 2 h from Tue 10:00: ends at lunch.
    assert office.add(MON_9, 8 * H, [pause]) == berlin(2026, 3, 10, 12)
    # A pause wholly outside working time changes nothing.
    night = (berlin(2026, 3, 9, 17), berlin(2026, 3, 10, 9))
    assert office.add(MON_9, 8 * H, [night]) == berlin(2026, 3, 10, 10)


def test_duration_running_out_as_a_pause_begins_ends_there() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    pause = (berlin(2026, 3, 9, 11), berlin(2026, 3, 9, 11, 30))
    assert office.add(MON_9, 2 * H, [pause]) == berlin(2026, 3, 9, 11)
    assert office.add(MON_9, 2 * H + M, [pause]) == berlin(2026, 3, 9, 11, 31)


# -- bad arguments -----------------------------------------------------------------------


def test_naive_datetime_is_rejected_with_advice() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    naive = datetime(2026, 3, 9, 10)
    for call in (
        lambda: office.add(naive, H),
        lambda: office.elapsed(naive, berlin(2026, 3, 9, 11)),
        lambda: office.elapsed(berlin(2026, 3, 9, 9), naive),
        lambda: office.is_open(naive),
        lambda: office.next_open(naive),
        lambda: office.add(MON_9, H, [(naive, berlin(2026, 3, 9, 11))]),
    ):
        with pytest.raises(TimeError, match=r"2026-03-09T10:00:00 has no time zone; pass an aware"):
            call()


def test_end_before_start_is_rejected() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    with pytest.raises(TimeError, match="is before start"):
        office.elapsed(berlin(2026, 3, 9, 11), berlin(2026, 3, 9, 10))
    with pytest.raises(TimeError, match=r"pause ends .* before it starts"):
        office.elapsed(MON_9, TUE_17, [(berlin(2026, 3, 9, 11), berlin(2026, 3, 9, 10))])


def test_negative_duration_is_rejected() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    with pytest.raises(TimeError, match="is negative"):
        office.add(MON_9, -M)


# -- results come back in the start's time zone ----------------------------------------------


def test_results_are_expressed_in_the_time_zone_of_the_start() -> None:
    office = BusinessCalendar.from_config(BERLIN_OFFICE)
    start = datetime(2026, 3, 9, 17, tzinfo=TOKYO)  # Mon 09:00 in Berlin (CET, +8 h)
    result = office.add(start, 3 * H)
    assert result.tzinfo is TOKYO
    assert result.replace(tzinfo=None) == datetime(2026, 3, 9, 20)  # Berlin 12:00
    assert office.next_open(datetime(2026, 3, 9, 20, 30, tzinfo=TOKYO)).tzinfo is TOKYO
    assert office.next_close(start).replace(tzinfo=None) == datetime(2026, 3, 9, 20)
    first = next(office.open_intervals(utc(2026, 3, 9), utc(2026, 3, 10)))
    assert first == (utc(2026, 3, 9, 8), utc(2026, 3, 9, 11))
    assert first[0].tzinfo is UTC


# -- the built-in 24x7 calendar ---------------------------------------------------------------


def test_builtin_24x7_counts_every_instant() -> None:
    always = load_calendars(None)[BUILTIN_24X7]
    start = berlin(2026, 3, 28, 22, 17)  # across the Berlin DST change: still wall-clock hours
    assert always.add(start, 50 * H) == start.astimezone(UTC) + 50 * H
    assert always.elapsed(start, berlin(2026, 3, 30, 22, 17)) == 47 * H
    assert always.is_open(utc(2026, 12, 31, 23, 59)) and always.is_open(utc(2027, 1, 1))
    assert always.add(start, timedelta(0)) == start


def test_builtin_24x7_has_no_next_closing() -> None:
    always = load_calendars(None)[BUILTIN_24X7]
    with pytest.raises(TimeError, match="does not close"):
        always.next_close(utc(2026, 5, 1))


def test_24x7_name_is_reserved() -> None:
    with pytest.raises(CalendarError) as exc:
        load_calendars({"24x7": NY_OFFICE})
    assert "built in" in problems(exc)["24x7"]


def test_next_close_does_not_stop_at_the_edge_of_the_laid_out_years() -> None:
    # Regression: next_close returned 2028-01-01 00:00, where the first lay-out happened to end.
    always = cal({"mon-sun": "00:00-24:00"}, holidays={"dates": ["2028-01-03"]})
    assert always.next_close(berlin(2026, 5, 1)) == berlin(2028, 1, 3)


# -- configuration errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "where", "message"),
    [
        (
            {"timezone": "UTC", "hours": {"mon": "22:00-02:00"}},
            "office.hours.mon[0]",
            'write it as two windows: "22:00-24:00" on this day and "00:00-02:00" on the next day',
        ),
        ({"timezone": "UTC", "hours": {"mnd": "09:00-17:00"}}, "office.hours.mnd", "not a weekday"),
        (
            {"timezone": "UTC", "hours": {"mon-fri": "9-5"}},
            "office.hours.mon-fri[0]",
            "HH:MM-HH:MM",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}, "hollidays": {}},
            "office.hollidays",
            "not a known key",
        ),
        ({"timezone": "Europe/Berln", "hours": {"mon": "09:00-17:00"}}, "office.timezone", "IANA"),
        ({"hours": {"mon": "09:00-17:00"}}, "office.timezone", "is required"),
        (
            {"timezone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-17:00"]}},
            "office.hours",
            "overlap",
        ),
        (
            {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00", "fri": "09:00-15:00"}},
            "office.hours",
            'fri is given twice, by "mon-fri" and "fri"',
        ),
        (
            {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}, "holidays": {"country": "XY"}},
            "office.holidays.country",
            '"XY" is not a country',
        ),
        (
            {
                "timezone": "UTC",
                "hours": {"mon": "09:00-17:00"},
                "holidays": {"country": "DE", "subdivision": "XX"},
            },
            "office.holidays.subdivision",
            "use one of BB, BE, BW, BY",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}, "holidays": {"subdivision": "BY"}},
            "office.holidays.subdivision",
            "needs a country",
        ),
    ],
    ids=[
        "crosses-midnight",
        "unknown-weekday",
        "bad-window",
        "unknown-key",
        "bad-timezone",
        "missing-timezone",
        "overlapping-windows",
        "duplicate-day",
        "unknown-country",
        "unknown-subdivision",
        "subdivision-without-country",
    ],
)
def test_config_error_names_the_field_and_what_to_write(
    mapping: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(CalendarError) as exc:
        BusinessCalendar.from_config(mapping, name="office")
    assert message in problems(exc)[where]


def test_subdivision_is_checked_when_the_calendar_is_built() -> None:
    # Regression: an unknown or lower-case subdivision used to pass validation and then raise
    # NotImplementedError from the holidays package at the first query.
    bavaria = cal({"mon-fri": "09:00-17:00"}, holidays={"country": "de", "subdivision": "by"})
    assert not bavaria.is_open(berlin(2026, 1, 6, 10))


def test_calendar_without_working_hours_is_rejected() -> None:
    for hours in ({}, {"mon-sun": "closed"}, {"sat": None}):
        with pytest.raises(CalendarError) as exc:
            BusinessCalendar.from_config({"timezone": "UTC", "hours": hours}, name="idle")
        assert "no working hours" in problems(exc)["idle"]


def test_closed_days_and_single_window_strings_are_accepted() -> None:
    office = cal({"mon-fri": "09:00-17:00", "sat": "closed", "sun": None})
    assert office.elapsed(berlin(2026, 3, 9), berlin(2026, 3, 16)) == 40 * H


def test_weekday_range_wraps_around_the_weekend() -> None:
    weekend_shift = cal({"fri-mon": ["10:00-14:00"]})  # fri, sat, sun, mon
    assert weekend_shift.elapsed(berlin(2026, 3, 9), berlin(2026, 3, 16)) == 16 * H


def test_load_calendars_lists_every_problem_of_every_calendar() -> None:
    with pytest.raises(CalendarError) as exc:
        load_calendars(
            {
                "office": BERLIN_OFFICE,  # valid: must not appear
                "night": {"timezone": "Mars/Olympus", "hours": {"mon": ["22:00-02:00", "x"]}},
                "typo": {"timzone": "UTC", "hours": {"fro": "09:00-17:00"}},
                "idle": {"timezone": "UTC", "hours": {"sun": "closed"}},
                "empty": None,
            }
        )
    assert set(problems(exc)) == {
        "night.timezone",
        "night.hours.mon[0]",
        "night.hours.mon[1]",
        "typo.timzone",
        "typo.timezone",
        "typo.hours.fro",
        "idle",
        "empty.timezone",
        "empty.hours",
    }
    assert "night.hours.mon[0]: " in str(exc.value)


def test_load_calendars_builds_each_calendar_by_name() -> None:
    calendars = load_calendars({"berlin": BERLIN_OFFICE, "ny": NY_OFFICE})
    assert set(calendars) == {"berlin", "ny", BUILTIN_24X7}
    assert calendars["ny"].add(ny(2026, 3, 9, 19), 2 * H) == ny(2026, 3, 10, 9)


# -- lazy lay-out and long durations ----------------------------------------------------------


def test_queries_far_in_the_past_then_the_future_agree_with_a_fresh_calendar() -> None:
    lazy = BusinessCalendar.from_config(BERLIN_OFFICE)
    a, b = berlin(2026, 3, 9, 11), berlin(2026, 3, 10, 11)
    assert lazy.elapsed(a, b) == 7 * H  # lays out 2025-2027
    # Wed Jan 3 2001 16:30 + 1 h: 30 min Wednesday, then Thursday 09:30.
    assert lazy.add(berlin(2001, 1, 3, 16, 30), H) == berlin(2001, 1, 4, 9, 30)
    # Mon Dec 31 2085 16:30 + 1 h: New Year's Day 2086 is a Tuesday and a holiday.
    assert lazy.add(berlin(2085, 12, 31, 16, 30), H) == berlin(2086, 1, 2, 9, 30)
    assert lazy.elapsed(a, b) == 7 * H
    fresh = BusinessCalendar.from_config(BERLIN_OFFICE)
    span = (berlin(2001, 1, 1), berlin(2086, 1, 1))
    assert lazy.elapsed(*span) == fresh.elapsed(*span)
    assert lazy.add(span[0], 1000 * H) == fresh.add(span[0], 1000 * H)


def test_five_year_duration_lands_where_the_weeks_say() -> None:
    office = cal({"mon-fri": "09:00-17:00"}, tz="UTC")
    # 261 weeks of 40 h from Mon 2026-01-05 09:00 runs out on the Friday of week 261,
    # 2026-01-09 + 260 weeks = 2031-01-03, at closing.
    five_years = 261 * 40 * H
    end = office.add(utc(2026, 1, 5, 9), five_years)
    assert end == utc(2031, 1, 3, 17)
    assert office.elapsed(utc(2026, 1, 5, 9), end) == five_years
    always = load_calendars(None)[BUILTIN_24X7]
    assert always.add(utc(2026, 1, 5), timedelta(days=1826)) == utc(2031, 1, 5)


# -- properties ------------------------------------------------------------------------------

CALENDARS = {
    "berlin": BusinessCalendar.from_config(BERLIN_OFFICE, name="berlin"),
    "ny": BusinessCalendar.from_config(NY_OFFICE, name="ny"),
    "24x7": load_calendars(None)[BUILTIN_24X7],
}
PROPS = settings(deadline=None, max_examples=150)

calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))
pause_lists = st.lists(
    st.tuples(
        st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=40)),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)),
    ),
    max_size=5,
)


def _pauses(
    start: datetime, spec: list[tuple[timedelta, timedelta]]
) -> list[tuple[datetime, datetime]]:
    return [(start + offset, start + offset + length) for offset, length in spec]


@PROPS
@given(calendars, instants, durations)
def test_property_elapsed_inverts_add_from_open_starts(
    c: BusinessCalendar, raw: datetime, d: timedelta
) -> None:
    start = c.next_open(raw)
    assert c.is_open(start)
    assert c.elapsed(start, c.add(start, d)) == d


@PROPS
@given(calendars, instants, instants, durations, durations)
def test_property_add_is_monotonic_in_start_and_duration(
    c: BusinessCalendar, s1: datetime, s2: datetime, d1: timedelta, d2: timedelta
) -> None:
    s1, s2 = sorted((s1, s2))
    d1, d2 = sorted((d1, d2))
    assert c.add(s1, d1) <= c.add(s1, d2)
    assert c.add(s1, d1) <= c.add(s2, d1)


@PROPS
@given(calendars, instants, instants, instants)
def test_property_elapsed_is_additive(
    c: BusinessCalendar, a: datetime, b: datetime, e: datetime
) -> None:
    a, b, e = sorted((a, b, e))
    assert c.elapsed(a, b) + c.elapsed(b, e) == c.elapsed(a, e)


@PROPS
@given(calendars, instants, durations, pause_lists)
def test_property_pauses_remove_at_most_the_working_time_they_cover(
    c: BusinessCalendar, s: datetime, length: timedelta, spec: list[tuple[timedelta, timedelta]]
) -> None:
    e = s + length
    pauses = _pauses(s, spec)
    full, paused = c.elapsed(s, e), c.elapsed(s, e, pauses)
    covered = sum(
        (c.elapsed(max(ps, s), min(pe, e)) for ps, pe in pauses if ps < e and pe > s),
        timedelta(0),
    )
    assert timedelta(0) <= paused <= full
    assert full - paused <= covered


@PROPS
@given(calendars, instants, durations, pause_lists)
def test_property_elapsed_inverts_add_with_pauses(
    c: BusinessCalendar, raw: datetime, d: timedelta, spec: list[tuple[timedelta, timedelta]]
) -> None:
    start = c.next_open(raw)
    pauses = [(ps, pe) for ps, pe in _pauses(start, spec) if not ps <= start < pe]
    end = c.add(start, d, pauses)
    assert c.elapsed(start, end, pauses) == d
    assert end >= c.add(start, d)


@PROPS
@given(calendars, instants, durations)
def test_property_add_lands_in_open_time_or_exactly_at_a_closing(
    c: BusinessCalendar, s: datetime, d: timedelta
) -> None:
    end = c.add(s, d)
    assert c.is_open(end) or (d > timedelta(0) and c.is_open(end - US))


@settings(deadline=None, max_examples=500)
@given(
    st.integers(min_value=-(2**32) * 10**6 + 1, max_value=2**32 * 10**6 - 1),
    st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]),
)
def test_property_epoch_microseconds_convert_back_exactly(us: int, tz: ZoneInfo) -> None:
    # from_epoch_us takes a float fast path below 2**32 s; it must agree to the microsecond
    # with the exact integer arithmetic, in every zone.
    exact = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).astimezone(tz)
    got = from_epoch_us(us, tz)
    assert got == exact and got.utcoffset() == exact.utcoffset() and epoch_us(got) == us
