"""Field history in the model: field_changed events, their JSON form, and old snapshots."""

from __future__ import annotations

import json
from datetime import datetime
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
