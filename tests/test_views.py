"""slaplug.views: the clocks of synced tickets from the store, filtered, sorted, counted.

The store is filled by a real sync (HTTP) from the fake Zendesk and the fake Jira
(`status_data`); each expectation is computed here again from the snapshots and the rules
pack, or from what the fakes were given, never copied from the view.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from status_data import NEW_TICKETS, RULES, VIEW_AT, Install, synced_install

from slaplug.errors import UnknownTicketError
from slaplug.explain import explain
from slaplug.model import EventKind, MeasureState, Ticket, TicketEvent
from slaplug.notify.digest import at_risk
from slaplug.rules.pack import RulePack
from slaplug.serialize import ticket_from_dict, ticket_to_dict
from slaplug.store import Store
from slaplug.views import (
    ClockQuery,
    ClockRow,
    ClockState,
    explain_synced,
    measure_clocks,
    parse_ticket_ref,
    select,
    status_to_dict,
    status_view,
)
from slaplug.views.clocks import measure_tickets
from slaplug.views.status import row_to_dict
from slaplug.views.terminal import COLUMNS, cells, render_plain

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    with synced_install(tmp_path_factory.mktemp("status")) as inst:
        yield inst


@pytest.fixture(scope="module")
def opened(install: Install) -> Iterator[tuple[Store, RulePack]]:
    with Store.open(install.store_url) as store, RulePack.load([RULES], engine="python") as pack:
        yield store, pack


@pytest.fixture(scope="module")
def every(opened: tuple[Store, RulePack]) -> list[ClockRow]:
    store, pack = opened
    return list(measure_clocks(store, pack, VIEW_AT))


def ident(r: ClockRow) -> tuple[str, str, str, int]:
    return (r.ticket.key, r.measure.policy, r.measure.metric.value, r.measure.cycle)


def test_every_clock_of_every_snapshot_is_a_row(opened, every) -> None:
    store, pack = opened
    expected = {
        (t.key, m.policy, m.metric.value, m.cycle)
        for t in store.iter_snapshots()
        for m in pack.assess(t, VIEW_AT).measures
    }
    assert {ident(r) for r in every} == expected
    assert {r.ticket.connector for r in every} == {"zendesk", "jira"}


def test_states_say_where_each_clock_stands(every) -> None:
    horizon = VIEW_AT + timedelta(hours=4)
    seen = {r.state for r in every}
    # The data holds every state, or the checks below would prove little.
    assert seen == set(ClockState), seen
    for r in every:
        m = r.measure
        if r.state is ClockState.BREACHED:
            assert m.breached_at is not None and m.breached_at <= VIEW_AT
        elif r.state is ClockState.AT_RISK:
            assert m.stopped_at is None and m.deadline is not None
            assert VIEW_AT < m.deadline <= horizon
        elif r.state is ClockState.RUNNING:
            assert m.state is MeasureState.RUNNING and m.deadline > horizon
        elif r.state is ClockState.PAUSED:
            assert m.state is MeasureState.PAUSED and m.deadline is None
        elif r.state is ClockState.MET:
            assert m.state is MeasureState.ACHIEVED
        else:
            assert m.state is MeasureState.CANCELLED


def test_the_new_tickets_stand_where_their_targets_put_them(install, every) -> None:
    # Created at 15:00 Berlin, looked at 16:30: urgent (1h) missed its first response at
    # 16:00, high (2h) has 30 minutes left, normal (8h) runs into tomorrow.
    frt = {
        r.ticket.id: r
        for r in every
        if r.ticket.connector == "zendesk" and r.measure.metric.value == "first_response"
    }
    urgent, high, normal = (frt[install.new_ids[p]] for p in ("urgent", "high", "normal"))
    assert urgent.state is ClockState.BREACHED and urgent.time_left == timedelta(minutes=-30)
    assert high.state is ClockState.AT_RISK and high.time_left == timedelta(minutes=30)
    assert normal.state is ClockState.RUNNING
    assert urgent.ticket.subject == NEW_TICKETS["urgent"]
    # The link is the ticket's agent page on the fake (the connector's ticket_url).
    assert urgent.link == f"{install.zendesk.base_url}/agent/tickets/{install.new_ids['urgent']}"


def test_default_lists_open_clocks_least_time_left_first(every) -> None:
    rows = select(every, ClockQuery())
    assert {ident(r) for r in rows} == {
        ident(r)
        for r in every
        if r.measure.stopped_at is None and r.state is not ClockState.CANCELLED
    }
    timed = [r for r in rows if r.time_left is not None]
    untimed = [r for r in rows if r.time_left is None]
    assert rows == timed + untimed, "clocks with a deadline come before paused ones"
    lefts = [r.time_left for r in timed]
    assert lefts == sorted(lefts) and lefts[0] < timedelta(0) < lefts[-1]
    assert [r.state for r in timed[: len([r for r in timed if r.time_left < timedelta(0)])]] == [
        ClockState.BREACHED
    ] * len([r for r in timed if r.time_left < timedelta(0)])
    assert {r.state for r in untimed} == {ClockState.PAUSED}
    remaining = [r.measure.remaining for r in untimed]
    assert remaining == sorted(remaining)


def test_filters_match_on_the_ticket_and_clock_fields(every) -> None:
    open_rows = [r for r in every if r.open]
    by_connector = select(every, ClockQuery.build(connectors="jira"))
    assert by_connector and {ident(r) for r in by_connector} == {
        ident(r) for r in open_rows if r.ticket.connector == "jira"
    }
    risky = select(every, ClockQuery.build(states=["at-risk", "breached"]))
    assert {ident(r) for r in risky} == {
        ident(r) for r in open_rows if r.state in (ClockState.AT_RISK, ClockState.BREACHED)
    }
    assert {r.state for r in risky} == {ClockState.AT_RISK, ClockState.BREACHED}
    ola = select(every, ClockQuery.build(policies="second-line-ola"))
    assert ola and {ident(r) for r in ola} == {
        ident(r) for r in open_rows if r.measure.policy == "second-line-ola"
    }
    # A team is a group or an assignee, in any case.
    group = next(r.ticket.group for r in open_rows if r.ticket.group)
    team = select(every, ClockQuery.build(teams=group.upper()))
    assert team and {ident(r) for r in team} == {
        ident(r) for r in open_rows if r.ticket.group == group
    }
    person = next(r.ticket.assignee for r in open_rows if r.ticket.assignee)
    mine = select(every, ClockQuery.build(teams=person))
    assert mine and all(person in (r.ticket.group, r.ticket.assignee) for r in mine)
    # A customer is an organization, or the contract it falls under.
    org = next(r.ticket.organization for r in open_rows if r.ticket.organization)
    theirs = select(every, ClockQuery.build(customers=org.lower()))
    assert theirs and {ident(r) for r in theirs} == {
        ident(r) for r in open_rows if r.ticket.organization == org
    }
    contract = select(every, ClockQuery.build(customers="enterprise"))
    assert contract and {ident(r) for r in contract} == {
        ident(r) for r in open_rows if r.contract == "enterprise"
    }
    both = select(every, ClockQuery.build(connectors="zendesk", states="paused", teams=group))
    assert {ident(r) for r in both} == {
        ident(r)
        for r in open_rows
        if r.ticket.connector == "zendesk"
        and r.state is ClockState.PAUSED
        and r.ticket.group == group
    }


def test_closed_clocks_show_when_asked_for(every) -> None:
    met = select(every, ClockQuery.build(states="met"))
    assert met and {ident(r) for r in met} == {ident(r) for r in every if r.state is ClockState.MET}
    assert len(select(every, ClockQuery(include_closed=True))) == len(every)
    assert len(select(every, ClockQuery(limit=3))) == 3
    with pytest.raises(ValueError, match="not a clock state; use one of breached, at-risk"):
        ClockQuery.build(states="late")


def test_breaches_today_and_this_period_count_breach_instants(opened, every) -> None:
    store, pack = opened
    view = status_view(store, pack, VIEW_AT)
    midnight = datetime(2026, 11, 4, tzinfo=UTC)
    month = datetime(2026, 11, 1, tzinfo=UTC)
    breached = [
        (t.key, m)
        for t in store.iter_snapshots()
        for m in pack.assess(t, VIEW_AT).measures
        if m.breached_at is not None
    ]
    today = {
        (k, m.policy, m.metric.value, m.cycle) for k, m in breached if m.breached_at >= midnight
    }
    period = {(k, m.policy, m.metric.value, m.cycle) for k, m in breached if m.breached_at >= month}
    assert today and period > today, "the data must hold older breaches of this month"
    assert {ident(r) for r in view.breaches.today} == today
    assert {ident(r) for r in view.breaches.this_period} == period
    # The state filter narrows the list, not the counts and breaches.
    paused = status_view(store, pack, VIEW_AT, ClockQuery.build(states="paused"))
    assert paused.breaches == view.breaches and paused.counts == view.counts
    assert {r.state for r in paused.rows} == {ClockState.PAUSED}
    # The connector filter narrows everything.
    jira = status_view(store, pack, VIEW_AT, ClockQuery.build(connectors="jira"))
    assert {r.ticket.connector for r in jira.breaches.this_period} <= {"jira"}
    assert len(jira.breaches.this_period) == len(
        [r for r in view.breaches.this_period if r.ticket.connector == "jira"]
    )


def test_status_json_keeps_its_schema(opened) -> None:
    store, pack = opened
    doc = status_to_dict(status_view(store, pack, VIEW_AT, ClockQuery(limit=2)))
    assert set(doc) == {
        "schema", "at", "query", "tickets", "counts", "breaches", "matched", "clocks"
    }  # fmt: skip
    assert doc["tickets"] == sum(1 for _ in store.iter_snapshots())
    assert doc["schema"] == 1 and doc["matched"] > 2 and len(doc["clocks"]) == 2
    assert set(doc["breaches"]) == {"today", "period", "day_start", "period_label", "period_start"}
    assert doc["breaches"]["period_label"] == "2026-11"
    assert set(doc["counts"]) == {s.value for s in ClockState}
    assert list(doc["clocks"][0]) == [
        "ticket", "connector", "ticket_id", "subject", "status", "priority", "group",
        "assignee", "organization", "group_name", "assignee_name", "organization_name",
        "contract", "link", "state", "open", "due", "time_left_s",
        "policy", "metric", "cycle", "calendar", "target_s", "elapsed_s", "remaining_s",
        "percent", "start", "deadline", "breached_at", "stopped_at", "clock_state",
        "target_priority",
    ]  # fmt: skip
    first = doc["clocks"][0]
    assert first["state"] == "breached" and first["time_left_s"] < 0 and first["open"] is True
    json.dumps(doc)  # plain JSON types only


def test_explain_of_a_synced_ticket_is_the_explain_of_its_snapshot(install, opened) -> None:
    store, pack = opened
    ticket_id = install.new_ids["urgent"]
    doc = explain_synced(store, pack, "zendesk", ticket_id, VIEW_AT, known={"zendesk", "jira"})
    snapshot = store.load_snapshot("zendesk", ticket_id)
    assert doc == {**explain(pack, snapshot, VIEW_AT), "link": snapshot.url}
    assert doc["link"].endswith(f"/agent/tickets/{ticket_id}")
    with pytest.raises(
        UnknownTicketError, match=r"zendesk:99999 is not in the store: run `slaplug sync`"
    ):
        explain_synced(store, pack, "zendesk", "99999", VIEW_AT)
    with pytest.raises(
        UnknownTicketError, match="no connector named 'zendsk'; configured: jira, zendesk"
    ):
        explain_synced(store, pack, "zendsk", ticket_id, VIEW_AT, known={"zendesk", "jira"})
    assert parse_ticket_ref("jira:SUP-12") == ("jira", "SUP-12")
    with pytest.raises(ValueError, match=r"write CONNECTOR:ID, e\.g\. zendesk:286"):
        parse_ticket_ref("286")


def test_the_digest_lists_the_same_clocks_as_status(opened, every) -> None:
    store, pack = opened
    digest = at_risk(store.iter_snapshots(), pack, VIEW_AT, timedelta(hours=4))
    status = select(every, ClockQuery.build(states=["breached", "at-risk"]))
    assert [ident(r) for r in digest] == [ident(r) for r in status]
    assert digest and digest[0].due <= digest[-1].due


def test_an_empty_store_says_to_sync_first(opened, tmp_path) -> None:
    _, pack = opened
    with Store.open(f"sqlite:///{tmp_path / 'empty.db'}") as empty:
        view = status_view(empty, pack, VIEW_AT)
    assert view.tickets == 0 and view.rows == [] and view.matched == 0
    text = render_plain(view, UTC)
    assert "The store holds no synced ticket yet: run `slaplug sync` first." in text


def test_team_and_customer_show_names_the_connector_knows_and_json_keeps_the_ids(opened) -> None:
    """QA #11: TEAM showed a Jira accountId and a Freshdesk group id, CUSTOMER a contract's
    name on a ticket of no organization."""
    _, pack = opened
    opened_at = VIEW_AT - timedelta(hours=1)
    base = {"connector": "freshdesk", "created_at": opened_at, "status": "open",
            "priority": "urgent", "events": (TicketEvent(EventKind.CREATED, opened_at),)}  # fmt: skip
    named = Ticket(id="7", group="7", assignee="1", names={"group": "Billing"}, **base)
    jira = Ticket(id="SUP-1", assignee="5b10a2844c20165700ede21g",
                  names={"assignee": "Ana Lima"}, **{**base, "connector": "jira"})  # fmt: skip
    bare = Ticket(id="8", group="7", **base)
    rows = {r.ticket.key: r for r in measure_tickets([named, jira, bare], pack, VIEW_AT)}
    team, customer = COLUMNS.index("TEAM"), COLUMNS.index("CUSTOMER")
    assert cells(rows["freshdesk:7"], UTC)[team] == "Billing"
    assert cells(rows["jira:SUP-1"], UTC)[team] == "Ana Lima"
    assert cells(rows["freshdesk:8"], UTC)[team] == "7"  # no name known: the id
    assert rows["freshdesk:7"].contract is not None  # the pack's catch-all contract...
    assert cells(rows["freshdesk:7"], UTC)[customer] == "-"  # ...is no customer
    doc = row_to_dict(rows["freshdesk:7"])
    assert (doc["group"], doc["group_name"], doc["assignee"], doc["assignee_name"]) == (
        "7",
        "Billing",
        "1",
        None,
    )
    assert select(list(rows.values()), ClockQuery.build(teams="billing"))[0].ticket is named
    # The names are kept with the snapshot.
    assert ticket_from_dict(ticket_to_dict(jira)).names == {"assignee": "Ana Lima"}
    assert {r.ticket.key for r in select(list(rows.values()), ClockQuery.build(teams="7"))} == {
        "freshdesk:7", "freshdesk:8"
    }  # fmt: skip
