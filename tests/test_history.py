"""Field history in the model: field_changed events, their JSON form, and old snapshots."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from slaplug.model import EventKind, TicketEvent
from slaplug.serialize import TicketFormatError, ticket_from_dict, ticket_to_dict
from slaplug.store.codec import snapshot_hash, ticket_from_json, ticket_to_json

BER = ZoneInfo("Europe/Berlin")

HANDOFF = {
    "id": "77",
    "connector": "zendesk",
    "created_at": "2026-03-02T09:00:00+01:00",
    "status": "open",
    "priority": "normal",
    "group": "l2",
    "tags": ["billing", "vip"],
    "fields": {"waiting_on": "vendor"},
    "events": [
        {"kind": "created", "at": "2026-03-02T09:00:00+01:00"},
        {"kind": "field_changed", "at": "2026-03-03T10:00:00+01:00", "field": "group",
         "old": "l1", "value": "l2", "actor": "agent-7"},
        {"kind": "field_changed", "at": "2026-03-03T10:00:00+01:00", "field": "tags",
         "old": ["billing"], "value": ["vip", "billing"], "actor": "agent-7"},
        {"kind": "field_changed", "at": "2026-03-03T10:00:00+01:00",
         "field": "fields.waiting_on", "old": None, "value": "vendor"},
    ],
}

# A snapshot exactly as `ticket_to_json` wrote it before events carried field changes.
OLD_SNAPSHOT = (
    '{"connector":"zendesk","created_at":"2026-03-02T09:00:00+01:00","events":['
    '{"at":"2026-03-02T09:00:00+01:00","kind":"created"},'
    '{"at":"2026-03-02T09:30:00+01:00","kind":"priority_changed","value":"high"},'
    '{"actor":"42","at":"2026-03-02T10:00:00+01:00","kind":"agent_reply"},'
    '{"at":"2026-03-02T11:00:00+01:00","kind":"status_changed","value":"pending"}],'
    '"group":"l1","id":"5","platform":"zendesk","priority":"high","status":"pending",'
    '"tags":["vip"]}'
)


def test_field_changes_round_trip_through_json_and_snapshots() -> None:
    t = ticket_from_dict(HANDOFF)
    changes = [e for e in t.events if e.kind is EventKind.FIELD_CHANGED]
    assert [(e.field, e.old, e.value, e.actor) for e in changes] == [
        ("group", "l1", "l2", "agent-7"),
        ("tags", ("billing",), ("billing", "vip"), "agent-7"),
        ("fields.waiting_on", None, "vendor", None),
    ]
    again = ticket_from_dict(ticket_to_dict(t))
    assert again == t
    # The store's canonical text sorts same-instant events: lists and text side by side.
    text = ticket_to_json(t)
    back = ticket_from_json(text)
    assert set(back.events) == set(t.events) and ticket_to_json(back) == text
    assert snapshot_hash(ticket_from_json(text)) == snapshot_hash(text)
    doc = json.loads(text)
    tags = next(e for e in doc["events"] if e.get("field") == "tags")
    assert tags["old"] == ["billing"] and tags["value"] == ["billing", "vip"]


def test_an_old_snapshot_loads_and_writes_back_unchanged() -> None:
    t = ticket_from_json(OLD_SNAPSHOT)
    assert [e.kind for e in t.events][-1] is EventKind.STATUS_CHANGED
    assert all(e.field is None and e.old is None for e in t.events)
    assert ticket_to_json(t) == OLD_SNAPSHOT


def test_a_field_change_must_name_its_field() -> None:
    doc = {**HANDOFF, "events": [{"kind": "field_changed", "at": "2026-03-03T10:00:00+01:00",
                                  "old": "l1", "value": "l2"}]}
    with pytest.raises(TicketFormatError, match=r"events\[0\]\.field: a field_changed event names"):
        ticket_from_dict(doc)
    with pytest.raises(ValueError, match="names no field"):
        TicketEvent(EventKind.FIELD_CHANGED, datetime(2026, 3, 3, 10, tzinfo=BER), "l2")


# -- evaluation over time: the ticket as it was -------------------------------------------------

from pathlib import Path  # noqa: E402

from slaplug.explain import explain, render_text  # noqa: E402
from slaplug.model import MeasureState, Metric  # noqa: E402
from slaplug.rules.pack import RulePack  # noqa: E402

PACK = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: gold-sla
    match: {organization: gold}
    calendar: office
    targets:
      resolution: {"*": 4h}
  - name: standard-sla
    calendar: office
    targets:
      first_response: {"*": 8h}
      resolution: {"*": 40h}
  - name: l2-ola
    kind: ola
    match: {group: l2}
    calendar: office
    targets:
      resolution: {"*": 4h}
"""

MON = datetime(2026, 3, 2, 9, tzinfo=BER)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """``day`` days after Monday 2026-03-02, at ``hour``:``minute`` in Berlin."""
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=BER)


def moved(when: datetime, old: str | None, new: str | None, field: str = "group") -> TicketEvent:
    return TicketEvent(EventKind.FIELD_CHANGED, when, new, "agent-7", field, old)


def handoff_ticket(*events: TicketEvent, group: str = "l2", **kw: object) -> dict:
    evs = [{"kind": "created", "at": MON.isoformat()}]
    for e in events:
        d = {"kind": e.kind.value, "at": e.at.isoformat()}
        for k in ("field", "old", "value", "actor"):
            if getattr(e, k) is not None:
                d[k] = getattr(e, k)
        evs.append(d)
    return {"id": "42", "connector": "zendesk", "created_at": MON.isoformat(), "status": "open",
            "priority": "normal", "group": group, "events": evs, **kw}


@pytest.fixture(scope="module", params=["durable", "python"])
def pack(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("pack") / "p.yaml"
    path.write_text(PACK, encoding="utf-8")
    with RulePack.load([path], engine=request.param) as p:
        yield p


def by(measures, policy: str, metric: Metric = Metric.RESOLUTION):
    return [m for m in measures if m.policy == policy and m.metric is metric]


def test_the_l2_ola_starts_at_the_handoff(pack: RulePack) -> None:
    # Created Monday 09:00 in l1, moved to l2 on Tuesday at 10:00; seen Tuesday at 12:00.
    t = ticket_from_dict(handoff_ticket(moved(at(1, 10), "l1", "l2")))
    a = pack.assess(t, at(1, 12))
    assert a.policies == ("standard-sla", "l2-ola")
    (ola,) = by(a.measures, "l2-ola")
    assert ola.start == at(1, 10)
    assert ola.state is MeasureState.RUNNING and ola.breached_at is None
    assert ola.elapsed == timedelta(hours=2) and ola.deadline == at(1, 14)
    # The customer's clock still runs from creation.
    (sla,) = by(a.measures, "standard-sla")
    assert sla.start == MON and sla.elapsed == timedelta(hours=11)
    doc = explain(pack, t, at(1, 12))
    clock = next(c for c in doc["clocks"] if c["policy"] == "l2-ola")
    assert clock["start"] == "2026-03-03T10:00:00+01:00"
    assert clock["timeline"][0] == {"kind": "counted", "from": "2026-03-03T10:00:00+01:00",
                                    "to": "2026-03-03T12:00:00+01:00", "duration": "2h"}
    assert doc["history"] == [{"at": "2026-03-03T10:00:00+01:00", "field": "group",
                               "old": "l1", "value": "l2", "actor": "agent-7"}]
    text = render_text(doc)
    assert "l2-ola / resolution (cycle 1): RUNNING, 2h of 4h" in text
    assert "2026-03-03T10:00:00+01:00  group: l1 -> l2 (agent-7)" in text


RETARGETED = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: sla
    calendar: office
    targets:
      resolution: {urgent: 2h, normal: 8h}
"""


def test_explain_lists_the_priority_and_status_changes_that_moved_a_target(tmp_path) -> None:
    """QA #11: after normal -> urgent, explain showed the 2h target and a history of the
    assignee change alone, so the new target went unexplained."""
    path = tmp_path / "p.yaml"
    path.write_text(RETARGETED, encoding="utf-8")
    t = ticket_from_dict(handoff_ticket(
        TicketEvent(EventKind.PRIORITY_CHANGED, MON, "normal"),
        TicketEvent(EventKind.STATUS_CHANGED, MON, "new"),
        TicketEvent(EventKind.STATUS_CHANGED, at(0, 9, 30), "new"),  # the same: left out
        moved(at(0, 10), None, "ana", field="assignee"),
        TicketEvent(EventKind.PRIORITY_CHANGED, at(0, 11), "urgent", "agent-7"),
        TicketEvent(EventKind.STATUS_CHANGED, at(0, 12), "pending"),
        TicketEvent(EventKind.STATUS_CHANGED, at(1, 12), "open"),  # after `now`: left out
        priority="urgent", status="pending"))  # fmt: skip
    with RulePack.load([path], engine="python") as pack:
        doc = explain(pack, t, at(0, 14))
    (clock,) = [c for c in doc["clocks"] if c["metric"] == "resolution"]
    assert clock["target_s"] == 2 * 3600  # the urgent target...
    assert [(h["field"], h["old"], h["value"]) for h in doc["history"]] == [
        ("priority", None, "normal"),
        ("status", None, "new"),
        ("assignee", None, "ana"),
        ("priority", "normal", "urgent"),  # ...and the change that set it
        ("status", "new", "pending"),
    ]
    assert "2026-03-02T11:00:00+01:00  priority: normal -> urgent (agent-7)" in render_text(doc)


def test_each_stint_with_the_team_is_a_cycle_of_its_own(pack: RulePack) -> None:
    # l2 from Tue 10:00 to Tue 12:00 (2h, back to l1), again from Wed 09:00: 5h by Wed 14:00.
    t = ticket_from_dict(handoff_ticket(
        moved(at(1, 10), "l1", "l2"), moved(at(1, 12), "l2", "l1"), moved(at(2, 9), "l1", "l2")))
    first, second = by(pack.assess(t, at(2, 14)).measures, "l2-ola")
    assert (first.cycle, first.state, first.start, first.stopped_at, first.elapsed) == (
        1, MeasureState.ACHIEVED, at(1, 10), at(1, 12), timedelta(hours=2))
    assert (second.cycle, second.state, second.start) == (2, MeasureState.BREACHED, at(2, 9))
    assert second.breached_at == at(2, 13)  # a fresh 4h target, not what was left of the first


def test_a_ticket_that_left_the_team_stops_its_clock(pack: RulePack) -> None:
    # In l2 from creation (set at creation), moved to l3 at 11:00: the OLA stops there, met.
    t = ticket_from_dict(handoff_ticket(moved(MON, None, "l2"), moved(at(0, 11), "l2", "l3"),
                                        group="l3"))
    (ola,) = by(pack.assess(t, at(1, 12)).measures, "l2-ola")
    assert (ola.start, ola.stopped_at, ola.state) == (MON, at(0, 11), MeasureState.ACHIEVED)


def test_a_cycle_keeps_the_policy_that_matched_when_it_started(pack: RulePack) -> None:
    # Organization set to gold at Monday 12:00, mid-cycle: cycle 1 stays standard (40h);
    # solved Monday 15:00 and reopened Tuesday 09:00: cycle 2 starts under gold (4h).
    t = ticket_from_dict(handoff_ticket(
        moved(at(0, 12), "acme", "gold", "organization"),
        TicketEvent(EventKind.SOLVED, at(0, 15)),
        TicketEvent(EventKind.REOPENED, at(1, 9)),
        group="l1", organization="gold"))
    a = pack.assess(t, at(1, 14))
    assert a.policies == ("gold-sla", "standard-sla")
    (c1,) = by(a.measures, "standard-sla")
    assert (c1.cycle, c1.state, c1.stopped_at) == (1, MeasureState.ACHIEVED, at(0, 15))
    (c2,) = by(a.measures, "gold-sla")
    assert (c2.cycle, c2.state, c2.start, c2.breached_at) == (
        2, MeasureState.BREACHED, at(1, 9), at(1, 13))
    # The same ticket without its history is measured on its current fields, as before.
    flat = ticket_from_dict({**handoff_ticket(group="l1", organization="gold"),
                             "events": [{"kind": "created", "at": MON.isoformat()}]})
    assert pack.assess(flat, at(1, 14)).policies == ("gold-sla",)


def test_both_engines_agree_over_histories(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PACK, encoding="utf-8")
    t = ticket_from_dict(handoff_ticket(
        moved(at(0, 10), "acme", "gold", "organization"), moved(at(0, 11), "l1", "l2"),
        TicketEvent(EventKind.SOLVED, at(0, 15)), TicketEvent(EventKind.REOPENED, at(1, 9)),
        moved(at(1, 12), "l2", "l1"), organization="gold", group="l1"))
    with RulePack.load([path], engine="durable") as d, RulePack.load([path], engine="python") as p:
        assert d.assess(t, at(2, 9)).measures == p.assess(t, at(2, 9)).measures



def test_the_handoff_is_what_the_store_records(pack: RulePack, tmp_path: Path) -> None:
    from slaplug.store import Store

    t = ticket_from_dict(handoff_ticket(moved(at(1, 10), "l1", "l2"),
                                        moved(at(1, 12), "l2", "l3"), group="l3"))
    a = pack.assess(t, at(1, 16))
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.save_snapshots([t], now=at(1, 16))
        assert store.record_measures(t.key, a.measures, at=at(1, 16)) == len(a.measures)
        rows = list(store.measures_between(at(0, 0), at(2, 0), ticket_key=t.key))
        (again,) = [r for r in rows if r.measure.policy == "l2-ola"]
        # The l2 clock ran from the handoff to the move to l3, and says so from the store.
        assert (again.measure.start, again.measure.stopped_at) == (at(1, 10), at(1, 12))
        assert again.measure == next(m for m in a.measures if m.policy == "l2-ola")
        snap = store.load_snapshot(t.connector, t.id)
        assert snap is not None
        assert [e for e in snap.events if e.kind is EventKind.FIELD_CHANGED] == [
            e for e in t.events if e.kind is EventKind.FIELD_CHANGED]


# -- properties: no gates, the clocks as before; both engines, one meaning ----------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_clock_oracle import START, _same, policies, tickets  # noqa: E402

from slaplug.sla.calendar import epoch_us  # noqa: E402
from slaplug.sla.clock import FOREVER, Gates, TicketClocks, measure  # noqa: E402


@settings(deadline=None, max_examples=300)
@given(tickets(), policies(), st.integers(0, 40 * 24 * 60), st.booleans())
def test_property_ungated_clocks_measure_as_before(ticket, policy, now_min: int, cancel: bool):
    now = START + timedelta(minutes=now_min)
    clocks = TicketClocks(ticket, now)
    if not cancel:
        _same(clocks.measure_gated(policy, Gates()), measure(ticket, policy, now))
        return
    # A stop_when without history: cancelled from the last update on, as `measure` does it
    # (for a ticket that exists at ``now``; instants shown in the ticket's zone).
    if now < ticket.created_at:
        return
    last = max([ticket.created_at, *(e.at for e in ticket.events if e.at <= now)])
    last = last.astimezone(ticket.created_at.tzinfo)
    gates = Gates(cancel=((epoch_us(last), FOREVER),))
    _same(clocks.measure_gated(policy, gates), measure(ticket, policy, now, stop_at=last))


HISTORY_PACK = PACK + """\
  - name: vendor-ola
    kind: ola
    match: {fields.waiting_on: vendor}
    targets:
      resolution: {"*": 2h}
    clocks:
      resolution:
        pause_when: {status: pending}
        cancel_when: {tags: no_sla}
"""
CHANGES = {
    "group": ["l1", "l2", None],
    "organization": ["acme", "gold"],
    "tags": [(), ("no_sla",), ("vip",)],
    "fields.waiting_on": ["vendor", None],
}


@st.composite
def histories(draw: st.DrawFn):
    t = draw(tickets())
    events = list(t.events)
    current: dict[str, object] = {}
    for _ in range(draw(st.integers(0, 8))):
        field = draw(st.sampled_from(sorted(CHANGES)))
        new = draw(st.sampled_from(CHANGES[field]))
        old = current.get(field, CHANGES[field][0])
        at = t.created_at + timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
        events.append(TicketEvent(EventKind.FIELD_CHANGED, at, new, None, field, old))
        current[field] = new
    fields = {"waiting_on": current["fields.waiting_on"]} if current.get("fields.waiting_on") else {}
    return dataclasses.replace(
        t, events=tuple(events), group=current.get("group", "l1"),
        organization=current.get("organization", "acme"),
        tags=frozenset(current.get("tags", ())), fields=fields)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    path = tmp_path_factory.mktemp("both") / "p.yaml"
    path.write_text(HISTORY_PACK, encoding="utf-8")
    with RulePack.load([path], engine="durable") as d, RulePack.load([path], engine="python") as p:
        yield d, p


@settings(deadline=None, max_examples=80)
@given(st.lists(histories(), min_size=1, max_size=6), st.integers(0, 30 * 24 * 60))
def test_property_both_engines_agree_over_field_histories(both, batch, now_min: int) -> None:
    durable, python = both
    now = START + timedelta(minutes=now_min)
    a, b = durable.assess_many(batch, now), python.assess_many(batch, now)
    assert [(x.policies, x.measures, x.actions) for x in a] == [
        (y.policies, y.measures, y.actions) for y in b
    ]
