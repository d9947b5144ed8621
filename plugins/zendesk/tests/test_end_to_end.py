"""Fake Zendesk -> read_changed -> the shipped rules -> apply -> what the platform saw."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind
from slaplug.rules.pack import RulePack

RULES = ["rules/default.yaml"]
#: The built-in account's newest activity is hours old; four days on, the open tickets' clocks
#: have run far enough for every kind of write in the shipped pack.
LATER = 4 * 86400


def read_all(connector):
    pages = list(connector.read_changed(None))
    return [t for p in pages for t in p.tickets], pages


def actions_for(tickets, now, engine=None):
    with RulePack.load(RULES, engine=engine) as pack:
        return [a for assessment in pack.assess_many(tickets, now=now) for a in assessment.actions]


def test_read_assess_apply_and_apply_again(fake, make_connector) -> None:
    connector = make_connector()
    tickets, pages = read_all(connector)
    assert all(p.complete_history for p in pages)
    fake.advance(LATER)
    now = datetime.fromtimestamp(fake.now, UTC)
    actions = actions_for(tickets, now, engine="python")
    kinds = Counter(a.kind for a in actions)
    assert kinds[ActionKind.COMMENT] and kinds[ActionKind.ADD_TAG] and kinds[ActionKind.SET_FIELD]
    before = {t.id: set(t.tags) for t in tickets}

    results = connector.apply(actions)
    by_key = {r.key: r for r in results}
    assert [r.key for r in results] == [a.key for a in actions]
    for a in actions:
        r = by_key[a.key]
        if a.kind is ActionKind.NOTIFY or fake.ticket(int(a.ticket_id))["status"] == "closed":
            assert r.status is ApplyStatus.SKIPPED, r
        elif a.kind is ActionKind.ASSIGN:
            # The shipped pack assigns to a group "escalations", which the fake account lacks.
            assert r.status is ApplyStatus.FAILED and "escalations" in r.detail
        else:
            assert r.status in (ApplyStatus.APPLIED, ApplyStatus.ALREADY), r

    writes = [w for w in fake.writes if w.accepted]
    assert writes and all(w.path.endswith("update_many.json") for w in writes)
    sent = [t for w in writes for t in w.body["tickets"]]
    assert all("tags" not in t for t in sent), "never the clobbering tags list"
    for t in sent:  # tags were added without losing the others
        tags = set(fake.ticket(t["id"])["tags"])
        assert before[str(t["id"])] - set(t.get("remove_tags", [])) <= tags
        assert set(t.get("additional_tags", [])) <= tags
    notes = [t["comment"] for t in sent if "comment" in t]
    assert notes and all(n["public"] is False for n in notes)
    comments = [
        a
        for a in actions
        if a.kind is ActionKind.COMMENT and by_key[a.key].status is ApplyStatus.APPLIED
    ]
    assert comments
    bodies = "\n".join(n["body"] for n in notes)
    assert all(bodies.count(connector.writer.marker(a.key)) == 1 for a in comments)
    field_sets = [cf for t in sent for cf in t.get("custom_fields", [])]
    assert field_sets and all(cf["id"] == 360000000103 for cf in field_sets)
    for t in sent:
        for cf in t.get("custom_fields", []):
            shown = {f["id"]: f["value"] for f in fake.ticket(t["id"])["custom_fields"]}
            assert shown[cf["id"]] == cf["value"]

    # The same actions again: nothing is written, every comment is on the platform once.
    fake.clear_records()
    again = connector.apply(actions)
    assert [w for w in fake.writes if w.accepted] == []
    assert all(
        r.status is ApplyStatus.ALREADY
        for r, a in zip(again, actions, strict=True)
        if r.status is not ApplyStatus.SKIPPED and a.kind is not ActionKind.ASSIGN
    )
    for a in comments:
        posted = [
            e
            for audit in fake.audits(int(a.ticket_id))
            for e in audit["events"]
            if e["type"] == "Comment" and connector.writer.marker(a.key) in e["body"]
        ]
        assert len(posted) == 1


def test_the_next_sync_reads_only_what_changed_with_partial_history(fake, make_connector) -> None:
    connector = make_connector()
    _, pages = read_all(connector)
    cursor = pages[-1].cursor
    open_id = next(
        t.id for t in sorted(fake.store.tickets.values(), key=lambda t: t.id) if t.status == "open"
    )
    fake.simulate("requester_reply", open_id, body="Any news?")
    fake.simulate("internal_note", open_id, body="Looking.")
    fake.simulate("agent_reply", open_id, body="On it.", status="pending")
    fake.advance(61)  # past the exports' one-minute lag
    fake.clear_records()
    again = list(connector.read_changed(cursor))
    tickets = [t for p in again for t in p.tickets]
    assert [t.id for t in tickets] == [str(open_id)]
    assert all(p.complete_history is False for p in again)
    assert [(e.kind.value, e.value) for e in tickets[0].events] == [
        ("requester_message", None),
        ("status_changed", "pending"),  # the audit lists its field changes before its comment
        ("agent_reply", None),
    ]
    assert fake.requests["read"] <= 3, "two exports (and perhaps one users page), not per ticket"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_durable_engine_plans_the_same_writes(fake, make_connector) -> None:
    connector = make_connector()
    tickets, _ = read_all(connector)
    fake.advance(LATER)
    now = datetime.fromtimestamp(fake.now, UTC)
    durable = actions_for(tickets, now)
    assert {a.key for a in durable} == {a.key for a in actions_for(tickets, now, engine="python")}
    results = connector.apply(durable)
    assert any(r.status is ApplyStatus.APPLIED for r in results)
