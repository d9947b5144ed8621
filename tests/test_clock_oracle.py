"""The optimized clocks (slaplug.sla.clock) against the plain first version (clock_oracle).

slaplug's clocks read a history in one pass and work in epoch microseconds, because they run
for every ticket of every sync. ``tests/clock_oracle.py`` is the first, straightforward
implementation (one generator per metric, datetimes throughout), kept as the specification:
on random histories, policies, stop times and moments both must give the same measures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import clock_oracle
from hypothesis import given, settings
from hypothesis import strategies as st

from slaplug.model import EventKind, Metric, Ticket, TicketEvent
from slaplug.sla.calendar import BusinessCalendar, load_calendars
from slaplug.sla.clock import TicketClocks, measure
from slaplug.sla.policy import SlaPolicy
from slaplug.testing.synthetic import synthetic_tickets

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)
CALENDARS = [
    BusinessCalendar.from_config(
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon-fri": ["09:00-12:30", "13:30-17:00"]},
            "holidays": {"country": "DE", "subdivision": "BE", "dates": ["2026-03-04"]},
        },
        name="office",
    ),
    BusinessCalendar.from_config(
        {"timezone": "America/New_York", "hours": {"mon-sat": "08:00-20:00"}}, name="ny"
    ),
    load_calendars(None)["24x7"],
]
PRIORITIES = ["urgent", "high", "normal", None]
STATUSES = ["new", "open", "pending", "hold", "solved"]

kinds = st.sampled_from(list(EventKind))
offsets = st.integers(min_value=0, max_value=30 * 24 * 60)  # minutes after creation


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    created = START + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    zone = draw(st.sampled_from([BERLIN, UTC, ZoneInfo("Asia/Tokyo")]))
    events = [TicketEvent(EventKind.CREATED, created.astimezone(zone))]
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(kinds)
        at = (created + timedelta(minutes=draw(offsets))).astimezone(zone)
        value = None
        if kind is EventKind.STATUS_CHANGED:
            value = draw(st.sampled_from(STATUSES))
        elif kind is EventKind.PRIORITY_CHANGED:
            value = draw(st.sampled_from(PRIORITIES))
        elif kind is EventKind.FIELD_CHANGED:  # the clocks themselves ignore field changes
            events.append(TicketEvent(kind, at, draw(st.sampled_from(["l1", "l2"])), field="group"))
            continue
        events.append(TicketEvent(kind, at, value))
    return Ticket(
        id="1",
        connector="zendesk",
        created_at=created,
        status=draw(st.sampled_from(STATUSES)),
        priority=draw(st.sampled_from(PRIORITIES)),
        events=tuple(events),
    )


@st.composite
def policies(draw: st.DrawFn) -> SlaPolicy:
    hours = st.integers(0, 60).map(lambda h: timedelta(hours=h, minutes=draw(st.integers(0, 59))))
    targets = {}
    for metric in draw(st.sets(st.sampled_from(list(Metric)), min_size=1)):
        keys = draw(st.sets(st.sampled_from(["urgent", "high", "normal", "*"]), min_size=1))
        targets[metric] = {k: draw(hours) for k in keys}
    return SlaPolicy(
        name="p",
        calendar=draw(st.sampled_from(CALENDARS)),
        targets=targets,
        pause_statuses=frozenset(draw(st.sets(st.sampled_from(STATUSES), max_size=2))),
    )


def _same(fast: list, slow: list) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        # percent divides microseconds once rather than seconds twice: the last digit of a
        # rounding may differ, nothing else may.
        assert abs(a.percent - b.percent) <= 0.011, (a, b)
        assert a == type(a)(**{**{f: getattr(b, f) for f in b.__slots__}, "percent": a.percent})
        for f in ("start", "deadline", "breached_at", "stopped_at"):
            x, y = getattr(a, f), getattr(b, f)
            assert x == y and (x is None or x.utcoffset() == y.utcoffset()), (f, a, b)


@settings(deadline=None, max_examples=400)
@given(
    tickets(), policies(), st.integers(0, 40 * 24 * 60), st.none() | st.integers(0, 40 * 24 * 60)
)
def test_property_clocks_agree_with_the_first_version(
    ticket: Ticket, policy: SlaPolicy, now_min: int, stop_min: int | None
) -> None:
    now = START + timedelta(minutes=now_min)
    stop_at = None if stop_min is None else START + timedelta(minutes=stop_min)
    _same(
        measure(ticket, policy, now, stop_at=stop_at),
        clock_oracle.measure(ticket, policy, now, stop_at=stop_at),
    )


def test_one_history_serves_several_policies_as_separate_calls_would() -> None:
    now = datetime(2026, 3, 20, 12, 0, tzinfo=BERLIN)
    office, ny, _ = CALENDARS
    sla = SlaPolicy(
        "sla", office, {m: {"*": timedelta(hours=6)} for m in Metric}, frozenset({"pending"})
    )
    ola = SlaPolicy("ola", ny, {Metric.RESOLUTION: {"*": timedelta(hours=20)}}, frozenset({"hold"}))
    for ticket in synthetic_tickets(300, now, seed=5):
        clocks = TicketClocks(ticket, now)
        for pol in (sla, ola, sla):  # the pause cache must not leak between policies
            _same(clocks.measure(pol), clock_oracle.measure(ticket, pol, now))
