"""Cancelled clocks, custom start / pause / stop / cancel conditions per metric, and their checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from slaplug.credits.compute import CANCELLED, compute
from slaplug.credits.periods import period_containing
from slaplug.credits.source import ContractBook
from slaplug.model import EventKind, MeasureState, Metric, Ticket, TicketEvent
from slaplug.rules.pack import RulePack

T = datetime(2026, 10, 6, 9, tzinfo=UTC)
NOW = datetime(2026, 10, 20, tzinfo=UTC)

CANCEL_PACK = """\
version: 1
policies:
  - name: customer-sla
    stop_when: {tags: no_sla}
    targets:
      resolution: {urgent: 2h}
contracts:
  - name: enterprise
    timezone: UTC
    freeze_after: 0h
    fee: 10000
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {below: 100%, credit: 10%}
"""


def urgent(n: int, solved_after: float | None, tags: tuple[str, ...] = (), **kw) -> Ticket:
    events = [TicketEvent(EventKind.CREATED, T)]
    if solved_after is not None:
        events.append(TicketEvent(EventKind.SOLVED, T + timedelta(hours=solved_after)))
    return Ticket(
        id=str(n),
        connector="zd",
        created_at=T,
        status="solved" if solved_after is not None else "open",
        priority="urgent",
        tags=frozenset(tags),
        events=tuple(events),
        updated_at=kw.pop("updated_at", T + timedelta(hours=solved_after or 1)),
        **kw,
    )


def test_a_cancelled_clock_is_left_out_of_compliance_and_credits(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(CANCEL_PACK, encoding="utf-8")
    tickets = [
        urgent(1, 1.0),  # met
        urgent(2, 3.0),  # breached
        # Tagged no_sla at its last update, 5 hours in: out of SLA, so neither met nor missed.
        urgent(3, None, tags=("no_sla",), updated_at=T + timedelta(hours=5)),
    ]
    with RulePack.load([path], engine="python") as pack:
        (m3,) = pack.assess(tickets[2], NOW).measures
        assert m3.state is MeasureState.CANCELLED and not m3.breached
        assert m3.stopped_at == T + timedelta(hours=5)
        book = ContractBook(pack)
        samples = [s for _, s in book.samples(tickets, NOW)]
        assert [(s.ticket_key, s.cancelled) for s in sorted(samples, key=lambda s: s.ticket_key)] == [
            ("zd:1", False), ("zd:2", False), ("zd:3", True)]
        contract = book.contracts[0]
        r = compute(contract, period_containing(T, contract.zone), samples, computed_at=NOW)
    o = r.objectives[0]
    assert (o.counted, o.met, o.credit) == (2, 1, Decimal(10))  # 1 of 2, not 2 of 3
    assert [(e.ticket_key, e.reason) for e in r.exclusions] == [("zd:3", CANCELLED)]
    assert f"left out: 1 measure(s), {CANCELLED}" in r.why


# -- custom start / pause / stop / cancel conditions per metric ---------------------------------

from zoneinfo import ZoneInfo  # noqa: E402

from slaplug.errors import RuleError  # noqa: E402
from slaplug.rules.compile import compile_files  # noqa: E402
from slaplug.serialize import ticket_from_dict  # noqa: E402

BER = ZoneInfo("Europe/Berlin")
MON = datetime(2026, 3, 2, 9, tzinfo=BER)

CLOCKS_PACK = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: support
    calendar: office
    pause_statuses: [pending]
    clocks:
      first_response:
        pause_statuses: []          # waiting on the customer does not excuse a first reply
        start_when: {tags: triaged}
      resolution:
        pause_when: {fields.waiting_on: vendor}
        stop_when: {tags: handed_to_partner}
      next_reply:
        cancel_when: {type: incident}
    targets:
      first_response: {"*": 8h}
      next_reply: {"*": 8h}
      resolution: {"*": 40h}
"""


def h(hour: int, minute: int = 0, day: int = 0) -> str:
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=BER).isoformat()


def change(at: str, field: str, old, new) -> dict:
    return {"kind": "field_changed", "at": at, "field": field, "old": old, "value": new}


def doc(*events: dict, **kw) -> dict:
    return {"id": "9", "connector": "zd", "created_at": MON.isoformat(), "status": "open",
            "priority": "normal", "events": [{"kind": "created", "at": MON.isoformat()}, *events],
            **kw}


@pytest.fixture(scope="module", params=["durable", "python"])
def clocks_pack(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("clocks") / "p.yaml"
    path.write_text(CLOCKS_PACK, encoding="utf-8")
    with RulePack.load([path], engine=request.param) as p:
        yield p


def measure_of(pack: RulePack, ticket: dict, metric: Metric, now: str):
    found = [m for m in pack.assess(ticket_from_dict(ticket), datetime.fromisoformat(now)).measures
             if m.metric is metric]
    return found


def test_resolution_pauses_on_a_custom_field_first_response_does_not(clocks_pack) -> None:
    # Waiting on the vendor from 11:00 to 14:00 and pending (a pause status) from 14:00 to 15:00.
    t = doc(change(h(11), "fields.waiting_on", None, "vendor"),
            change(h(14), "fields.waiting_on", "vendor", None),
            {"kind": "status_changed", "at": h(14), "value": "pending"},
            {"kind": "status_changed", "at": h(15), "value": "open"},
            change(h(9), "tags", [], ["triaged"]), tags=["triaged"])
    (res,) = measure_of(clocks_pack, t, Metric.RESOLUTION, h(16))
    assert res.elapsed == timedelta(hours=3)  # 09-11 and 15-16: vendor, then pending, paused
    assert [(a.hour, b.hour) for a, b in res.pauses] == [(11, 15)]
    (first,) = measure_of(clocks_pack, t, Metric.FIRST_RESPONSE, h(16))
    assert first.elapsed == timedelta(hours=7) and not first.pauses  # neither pauses it
    # While still waiting on the vendor, the clock shows as paused, with no deadline.
    (res,) = measure_of(clocks_pack, t, Metric.RESOLUTION, h(12))
    assert res.state is MeasureState.PAUSED and res.deadline is None


def test_first_response_starts_when_the_ticket_is_triaged(clocks_pack) -> None:
    t = doc(change(h(13), "tags", [], ["triaged"]), tags=["triaged"])
    (first,) = measure_of(clocks_pack, t, Metric.FIRST_RESPONSE, h(16))
    assert first.start == datetime.fromisoformat(h(13)) and first.elapsed == timedelta(hours=3)
    # Never triaged: no first-response clock at all.
    assert measure_of(clocks_pack, doc(), Metric.FIRST_RESPONSE, h(16)) == []


def test_stop_when_counts_met_and_cancel_when_counts_nothing(clocks_pack) -> None:
    t = doc({"kind": "agent_reply", "at": h(9, 30)},
            {"kind": "requester_message", "at": h(10)},
            change(h(12), "tags", [], ["handed_to_partner"]),
            change(h(13), "type", "question", "incident"),
            tags=["handed_to_partner"], type="incident")
    (res,) = measure_of(clocks_pack, t, Metric.RESOLUTION, h(12, day=3))
    assert (res.state, res.stopped_at) == (MeasureState.ACHIEVED, datetime.fromisoformat(h(12)))
    (nxt,) = measure_of(clocks_pack, t, Metric.NEXT_REPLY, h(12, day=3))
    assert nxt.state is MeasureState.CANCELLED and nxt.breached_at is None
    assert nxt.stopped_at == datetime.fromisoformat(h(13))


def test_a_condition_without_history_takes_effect_at_the_last_update(clocks_pack) -> None:
    # Waiting on the vendor, but no recorded change: known to hold since the last update.
    t = doc(fields={"waiting_on": "vendor"}, updated_at=h(15))
    (res,) = measure_of(clocks_pack, t, Metric.RESOLUTION, h(16))
    assert res.elapsed == timedelta(hours=6) and res.state is MeasureState.PAUSED


@pytest.mark.parametrize(
    ("clock", "where", "message"),
    [
        ("resolution: {pause_when: {waiting_on: vendor}}", "p.yaml:8:33",
         'unknown field "waiting_on"'),
        ("resolution: {stop_when: {tags: {gt: 3}}}", "p.yaml:8:43", "tags is a list"),
        ("resolution: {cancel_when: {state: running}}", "p.yaml:8:34",
         '"state" is a measure field'),
        ("periodic_update: {pause_when: {type: x}}", "p.yaml:8:7", "periodic_update has no target"),
        ("resolution: {pause_whenn: {type: x}}", "p.yaml:8:20", 'unknown key "pause_whenn"'),
    ],
)
def test_rules_check_points_at_bad_clock_conditions(
    tmp_path: Path, clock: str, where: str, message: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\npolicies:\n  - name: p\n    targets:\n      resolution: {'*': 4h}\n"
        "      first_response: {'*': 1h}\n    clocks:\n      " + clock + "\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        compile_files([path])
    text = str(err.value)
    assert where in text and message in text, text


def test_a_policy_stop_when_cancels_at_the_instant_it_started_to_hold(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(CANCEL_PACK, encoding="utf-8")
    t = ticket_from_dict(doc(change(h(11), "tags", ["billing"], ["billing", "no_sla"]),
                             tags=["billing", "no_sla"], priority="urgent",
                             updated_at=h(15)))
    with RulePack.load([path], engine="durable") as pack:
        (m,) = pack.assess(t, datetime.fromisoformat(h(16))).measures
    # Two hours in (09:00-11:00 of a 2h target): cancelled at 11:00, not breached at 11:00.
    assert (m.state, m.stopped_at, m.breached_at) == (
        MeasureState.CANCELLED, datetime.fromisoformat(h(11)), None)


def test_a_pause_on_a_status_follows_the_status_history(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(CLOCKS_PACK.replace("pause_when: {fields.waiting_on: vendor}",
                                        "pause_when: {status: [on_hold, vendor]}"),
                    encoding="utf-8")
    t = ticket_from_dict(doc({"kind": "status_changed", "at": h(9), "value": "open"},
                             {"kind": "status_changed", "at": h(10), "value": "vendor"},
                             {"kind": "status_changed", "at": h(13), "value": "open"}))
    with RulePack.load([path], engine="python") as pack:
        (res,) = [m for m in pack.assess(t, datetime.fromisoformat(h(16))).measures
                  if m.metric is Metric.RESOLUTION]
    assert res.elapsed == timedelta(hours=4)  # 09-10 and 13-16


EVENT_PACK = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: support
    calendar: office
    clocks:
      resolution:
        stop_when: {event: field_changed, group: partner}   # handed over: done on our side
      first_response:
        start_when: {event: requester_message}               # a reply is owed once asked
    targets:
      first_response: {"*": 2h}
      resolution: {"*": 40h}
"""


@pytest.mark.parametrize("engine", ["durable", "python"])
def test_conditions_on_events_hold_at_their_instant(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(EVENT_PACK, encoding="utf-8")
    t = ticket_from_dict(doc({"kind": "requester_message", "at": h(10)},
                             change(h(11), "group", "l1", "l2"),
                             change(h(13), "group", "l2", "partner"),
                             group="partner"))
    with RulePack.load([path], engine=engine) as pack:
        first, res = pack.assess(t, datetime.fromisoformat(h(16))).measures
    assert (first.start, first.elapsed) == (datetime.fromisoformat(h(10)), timedelta(hours=6))
    # Moved to l2 at 11:00 (not the partner): still running; to the partner at 13:00: stopped.
    assert (res.state, res.stopped_at) == (MeasureState.ACHIEVED, datetime.fromisoformat(h(13)))


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("    clocks:\n      resolution: {pause_when: {event: agent_reply}}\n",
         '"event" holds only at an instant; use it in a metric\'s start_when, stop_when'),
        ("    match: {event: agent_reply}\n", '"event" holds only at an instant'),
        ("    clocks:\n      resolution: {stop_when: {event: agent_replied}}\n",
         '"agent_replied" is not an event; did you mean "agent_reply"?'),
    ],
)
def test_event_conditions_are_checked(tmp_path: Path, snippet: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npolicies:\n  - name: p\n    targets:\n      resolution: {'*': 4h}\n"
                    + snippet, encoding="utf-8")
    with pytest.raises(RuleError) as err:
        compile_files([path])
    assert "p.yaml:" in str(err.value) and message in str(err.value), str(err.value)
