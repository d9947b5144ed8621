"""SLA clocks from event histories: each rule of docs/concepts/sla-clock.md, hand-computed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from slaplug.model import EventKind, MeasureState, Metric, Ticket, TicketEvent
from slaplug.sla.calendar import BusinessCalendar, builtin_24x7
from slaplug.sla.clock import measure
from slaplug.sla.policy import SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)

OFFICE = BusinessCalendar.from_config(
    {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}}, name="office"
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in March 2026, Berlin (2026-03-02 is a Monday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def ev(kind: EventKind, t: datetime, value: str | None = None) -> TicketEvent:
    return TicketEvent(kind, t, value)


def ticket(
    *events: TicketEvent,
    priority: str = "high",
    status: str = "open",
    created: datetime | None = None,
) -> Ticket:
    created = created or at(2, 9)
    return Ticket(
        id="1",
        connector="zendesk",
        created_at=created,
        status=status,
        priority=priority,
        events=(ev(EventKind.CREATED, created), *events),
    )


def policy(cal: BusinessCalendar = OFFICE, **targets: dict[str, timedelta]) -> SlaPolicy:
    return SlaPolicy(
        name="sla",
        calendar=cal,
        targets={Metric(k): v for k, v in targets.items()},
        pause_statuses=frozenset({"pending", "hold"}),
    )


def only(measures, metric: Metric, cycle: int = 1):
    found = [m for m in measures if m.metric is metric and m.cycle == cycle]
    assert len(found) == 1, measures
    return found[0]


def test_first_response_achieved_by_first_public_agent_reply() -> None:
    t = ticket(ev(EventKind.AGENT_REPLY, at(2, 11)), ev(EventKind.AGENT_REPLY, at(2, 12)))
    m = only(
        measure(t, policy(first_response={"high": 4 * H}), now=at(3, 9)), Metric.FIRST_RESPONSE
    )
    assert m.state is MeasureState.ACHIEVED
    assert m.elapsed == 2 * H
    assert m.remaining == 2 * H
    assert m.percent == 50.0
    assert m.deadline == at(2, 13)
    assert m.stopped_at == at(2, 11)


def test_running_clock_counts_business_time_only() -> None:
    # Created Monday 16:00, target 4h: 1h on Monday, deadline Tuesday 12:00.
    t = ticket(created=at(2, 16))
    p = policy(first_response={"high": 4 * H})
    m = only(measure(t, p, now=at(3, 10)), Metric.FIRST_RESPONSE)
    assert m.state is MeasureState.RUNNING
    assert m.elapsed == 2 * H
    assert m.deadline == at(3, 12)
    assert m.percent == 50.0


def test_running_clock_breaches_at_its_deadline() -> None:
    t = ticket(created=at(2, 16))
    p = policy(first_response={"high": 4 * H})
    at_deadline = only(measure(t, p, now=at(3, 12)), Metric.FIRST_RESPONSE)
    assert at_deadline.state is MeasureState.BREACHED
    assert at_deadline.breached_at == at(3, 12)
    later = only(measure(t, p, now=at(3, 14)), Metric.FIRST_RESPONSE)
    assert later.remaining == -2 * H
    assert later.percent == 150.0


def test_reply_exactly_at_deadline_is_achieved_and_after_it_breached() -> None:
    p = policy(first_response={"high": 2 * H})
    on_time = ticket(ev(EventKind.AGENT_REPLY, at(2, 11)))
    assert (
        only(measure(on_time, p, now=at(2, 15)), Metric.FIRST_RESPONSE).state
        is MeasureState.ACHIEVED
    )
    late = ticket(ev(EventKind.AGENT_REPLY, at(2, 11, 1)))
    m = only(measure(late, p, now=at(2, 15)), Metric.FIRST_RESPONSE)
    assert m.state is MeasureState.BREACHED
    assert m.breached_at == at(2, 11)


def test_clock_pauses_while_waiting_on_customer() -> None:
    t = ticket(
        ev(EventKind.STATUS_CHANGED, at(2, 10), "pending"),
        ev(EventKind.STATUS_CHANGED, at(2, 14), "open"),
        status="open",
    )
    m = only(measure(t, policy(resolution={"high": 8 * H}), now=at(2, 16)), Metric.RESOLUTION)
    assert m.state is MeasureState.RUNNING
    assert m.elapsed == 3 * H  # 09-10 and 14-16
    assert m.deadline == at(3, 13)  # 5h left at Monday 16:00: 1h Monday, 4h Tuesday from 09:00
    assert m.pauses == ((at(2, 10), at(2, 14)),)


def test_paused_clock_has_no_deadline_and_frozen_elapsed() -> None:
    t = ticket(ev(EventKind.STATUS_CHANGED, at(2, 10), "pending"), status="pending")
    p = policy(resolution={"high": 8 * H})
    m1 = only(measure(t, p, now=at(2, 12)), Metric.RESOLUTION)
    m2 = only(measure(t, p, now=at(4, 12)), Metric.RESOLUTION)
    assert m1.state is m2.state is MeasureState.PAUSED
    assert m1.deadline is None
    assert m1.elapsed == m2.elapsed == H


def test_pause_straddling_a_closure_removes_only_working_time() -> None:
    # Pending from Monday 16:00 to Tuesday 10:00 removes 1h + 1h of working time.
    t = ticket(
        ev(EventKind.STATUS_CHANGED, at(2, 16), "pending"),
        ev(EventKind.STATUS_CHANGED, at(3, 10), "open"),
    )
    m = only(measure(t, policy(resolution={"high": 16 * H}), now=at(3, 12)), Metric.RESOLUTION)
    assert m.elapsed == 7 * H + 2 * H  # Monday 09-16, Tuesday 10-12


def test_reopen_starts_a_new_cycle_and_keeps_the_old_one() -> None:
    t = ticket(
        ev(EventKind.SOLVED, at(2, 12)),
        ev(EventKind.REOPENED, at(3, 9)),
    )
    ms = measure(t, policy(resolution={"high": 4 * H}), now=at(3, 15))
    first, second = only(ms, Metric.RESOLUTION, 1), only(ms, Metric.RESOLUTION, 2)
    assert first.state is MeasureState.ACHIEVED
    assert first.elapsed == 3 * H
    assert second.start == at(3, 9)
    assert second.state is MeasureState.BREACHED
    assert second.breached_at == at(3, 13)


def test_each_requester_message_after_a_reply_starts_a_next_reply_clock() -> None:
    t = ticket(
        ev(EventKind.REQUESTER_MESSAGE, at(2, 9, 30)),  # before any reply: first_response covers it
        ev(EventKind.AGENT_REPLY, at(2, 10)),
        ev(EventKind.REQUESTER_MESSAGE, at(2, 11)),
        ev(EventKind.REQUESTER_MESSAGE, at(2, 11, 30)),  # oldest unanswered is still 11:00
        ev(EventKind.AGENT_REPLY, at(2, 13)),
        ev(EventKind.REQUESTER_MESSAGE, at(2, 15)),
    )
    ms = measure(t, policy(next_reply={"*": H}), now=at(2, 15, 30))
    first = only(ms, Metric.NEXT_REPLY, 1)
    assert (first.start, first.stopped_at, first.state) == (
        at(2, 11),
        at(2, 13),
        MeasureState.BREACHED,
    )
    assert first.breached_at == at(2, 12)
    second = only(ms, Metric.NEXT_REPLY, 2)
    assert (second.start, second.state, second.percent) == (at(2, 15), MeasureState.RUNNING, 50.0)
    assert len([m for m in ms if m.metric is Metric.NEXT_REPLY]) == 2


def test_periodic_update_runs_between_agent_updates_until_solved() -> None:
    t = ticket(
        ev(EventKind.AGENT_REPLY, at(2, 10)),
        ev(EventKind.AGENT_REPLY, at(2, 15)),
        ev(EventKind.SOLVED, at(3, 10)),
    )
    ms = measure(t, policy(periodic_update={"*": 4 * H}), now=at(4, 9))
    one, two = only(ms, Metric.PERIODIC_UPDATE, 1), only(ms, Metric.PERIODIC_UPDATE, 2)
    assert (one.elapsed, one.state) == (5 * H, MeasureState.BREACHED)
    assert (two.elapsed, two.state) == (3 * H, MeasureState.ACHIEVED)
    assert two.stopped_at == at(3, 10)


def test_priority_change_retargets_keeping_elapsed_time() -> None:
    # normal (8h) at 09:00; raised to urgent (4h) at 11:00 with 2h elapsed: deadline 13:00.
    t = ticket(
        ev(EventKind.PRIORITY_CHANGED, at(2, 9), "normal"),
        ev(EventKind.PRIORITY_CHANGED, at(2, 11), "urgent"),
        priority="urgent",
    )
    p = policy(resolution={"normal": 8 * H, "urgent": 4 * H})
    m = only(measure(t, p, now=at(2, 12)), Metric.RESOLUTION)
    assert (m.priority, m.target, m.elapsed, m.deadline) == ("urgent", 4 * H, 3 * H, at(2, 13))
    assert m.state is MeasureState.RUNNING


def test_priority_raised_after_target_used_up_breaches_at_the_change() -> None:
    t = ticket(
        ev(EventKind.PRIORITY_CHANGED, at(2, 9), "normal"),
        ev(EventKind.PRIORITY_CHANGED, at(2, 15), "urgent"),
        priority="urgent",
    )
    p = policy(resolution={"normal": 8 * H, "urgent": 4 * H})
    m = only(measure(t, p, now=at(2, 16)), Metric.RESOLUTION)
    assert m.state is MeasureState.BREACHED
    assert m.breached_at == at(2, 15)  # not 13:00: it was not urgent then


def test_breach_stays_when_priority_is_lowered_afterwards() -> None:
    t = ticket(
        ev(EventKind.PRIORITY_CHANGED, at(2, 9), "urgent"),
        ev(EventKind.PRIORITY_CHANGED, at(2, 14), "normal"),
        priority="normal",
    )
    p = policy(resolution={"normal": 8 * H, "urgent": 4 * H})
    m = only(measure(t, p, now=at(2, 15)), Metric.RESOLUTION)
    assert m.breached_at == at(2, 13)
    assert m.state is MeasureState.BREACHED


def test_metric_without_target_for_priority_is_not_measured() -> None:
    t = ticket(priority="low")
    assert measure(t, policy(first_response={"urgent": H}), now=at(2, 10)) == []


def test_events_after_now_are_ignored() -> None:
    t = ticket(ev(EventKind.AGENT_REPLY, at(2, 11)))
    m = only(measure(t, policy(first_response={"*": 4 * H}), now=at(2, 10)), Metric.FIRST_RESPONSE)
    assert m.state is MeasureState.RUNNING
    assert m.elapsed == H


def test_solving_stops_every_clock() -> None:
    t = ticket(ev(EventKind.SOLVED, at(2, 10)))
    ms = measure(t, policy(first_response={"*": 4 * H}, resolution={"*": 8 * H}), now=at(5, 9))
    assert {m.state for m in ms} == {MeasureState.ACHIEVED}
    assert all(m.stopped_at == at(2, 10) for m in ms)


def test_ticket_without_status_history_uses_current_status_for_pauses() -> None:
    t = ticket(status="hold")
    m = only(
        measure(t, policy(cal=builtin_24x7(), resolution={"*": H}), now=at(2, 12)),
        Metric.RESOLUTION,
    )
    assert m.state is MeasureState.PAUSED
    assert m.elapsed == timedelta(0)


def test_measures_across_dst_use_local_hours() -> None:
    # Friday 27 March 16:00 + 3h in office hours: 1h Friday, 2h Monday after DST (CEST).
    t = ticket(created=datetime(2026, 3, 27, 16, tzinfo=BERLIN))
    m = only(
        measure(t, policy(resolution={"*": 3 * H}), now=datetime(2026, 3, 30, 8, tzinfo=BERLIN)),
        Metric.RESOLUTION,
    )
    assert m.deadline == datetime(2026, 3, 30, 11, tzinfo=BERLIN)
    assert m.deadline.utcoffset() == 2 * H


def test_naive_event_time_is_rejected() -> None:
    from slaplug.errors import TimeError

    with pytest.raises(TimeError, match="no time zone"):
        TicketEvent(EventKind.CREATED, datetime(2026, 3, 2, 9))
