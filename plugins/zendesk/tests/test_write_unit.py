"""Writes on the wire: one merged update per ticket, safe_update and 409, bulk jobs, markers."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from zd_support import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind

BASE = "https://acme.zendesk.test"
STAMP = "2026-03-02T10:30:00Z"


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZD_UNIT_TOKEN", "unit-test-token-0001")
    config = ZendeskConfig(
        base_url=BASE,
        email="ops@acme.test",
        api_token_env="ZD_UNIT_TOKEN",
        fields={"sla_resolution_status": 360000000103},
        job_poll_interval=2.0,
    )
    with ZendeskConnector(config, instance="zendesk-eu") as conn:
        conn.sleep = polls.append
        yield conn


polls: list[float] = []


def current(*tickets: dict) -> None:
    ids = ",".join(str(t["id"]) for t in tickets)
    responses.get(
        f"{BASE}/api/v2/tickets/show_many.json",
        json={"tickets": list(tickets)},
        match=[matchers.query_param_matcher({"ids": ids})],
    )


def ticket(tid: int, **extra) -> dict:
    return {
        "id": tid,
        "status": "open",
        "priority": "normal",
        "tags": ["vip", "sla_at_risk"],
        "assignee_id": None,
        "group_id": 201,
        "custom_fields": [{"id": 360000000103, "value": None}],
        "updated_at": STAMP,
        **extra,
    }


#: The connector's API user, as ``GET /api/v2/users/me`` names it.
ME = 10001


def audits(tid: int, *bodies: str, author: int = ME, public: bool = False) -> None:
    """The ticket's audits: one comment per body, by ``author``; and ``/users/me``."""
    events = [{"type": "Comment", "body": b, "public": public, "author_id": author} for b in bodies]
    if not any(c.url.endswith("/users/me.json") for c in responses.registered()):
        responses.get(
            f"{BASE}/api/v2/users/me.json",
            json={"user": {"id": ME, "role": "admin", "email": "ops@acme.test"}},
        )
    responses.get(
        f"{BASE}/api/v2/tickets/{tid}/audits.json",
        json={
            "audits": [{"id": 1, "created_at": STAMP, "events": events}],
            "meta": {"has_more": False},
        },
    )


@responses.activate
def test_one_ticket_gets_one_merged_update_with_safe_update(connector) -> None:
    current(ticket(7))
    audits(7)
    responses.get(
        f"{BASE}/api/v2/users.json",
        json={"users": [{"id": 10002, "role": "agent", "email": "ana@acme.test"}]},
    )
    responses.get(
        f"{BASE}/api/v2/groups.json",
        json={"groups": [{"id": 201, "name": "first-line"}, {"id": 204, "name": "escalations"}]},
    )
    put = responses.put(
        f"{BASE}/api/v2/tickets/7.json",
        json={"ticket": ticket(7, updated_at="2026-03-02T10:31:00Z")},
    )
    connector.stamps[7] = STAMP  # as left by the last read of ticket 7
    actions = [
        action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "7", 1),
        action(ActionKind.REMOVE_TAG, {"tag": "sla_at_risk"}, "7", 2),
        action(ActionKind.ADD_TAG, {"tag": "vip"}, "7", 3),  # already there
        action(
            ActionKind.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, "7", 4
        ),
        action(ActionKind.COMMENT, {"body": "SLA breached.", "public": False}, "7", 5),
        action(ActionKind.SET_PRIORITY, {"priority": "urgent"}, "7", 6),
        action(ActionKind.SET_STATUS, {"status": "open"}, "7", 7),  # already there
        action(ActionKind.ASSIGN, {"user": "ana@acme.test"}, "7", 8),
        action(ActionKind.ASSIGN, {"group": "escalations"}, "7", 9),
        action(ActionKind.NOTIFY, {"channel": "team-lead", "message": "x"}, "7", 10),
    ]
    results = connector.apply(actions)
    assert [r.status for r in results] == [
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.ALREADY,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.ALREADY,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.SKIPPED,
    ]
    assert "notifier" in results[-1].detail
    assert put.call_count == 1
    # Update Ticket documents `tags` (it replaces the list), not additional_tags/remove_tags
    # (Update Many only; reference §1.1, §2.1): the whole new list, guarded by safe_update.
    assert json.loads(put.calls[0].request.body) == {
        "ticket": {
            "custom_fields": [{"id": 360000000103, "value": "breached"}],
            "priority": "urgent",
            "assignee_id": 10002,
            "group_id": 204,
            "comment": {
                "body": f"SLA breached.\n\n{connector.writer.marker(actions[4].key)}",
                "public": False,
            },
            "tags": ["vip", "sla_breached"],
            "safe_update": True,
            "updated_stamp": STAMP,
        }
    }
    assert connector.stamps[7] == "2026-03-02T10:31:00Z", "the next update uses the new stamp"


@responses.activate
def test_a_date_time_for_a_date_field_fails_alone_and_the_rest_of_the_update_goes_out(
    connector,
) -> None:
    # A Zendesk date field takes YYYY-MM-DD only, and a bad value refuses the whole update
    # with 422 (github.com/facetoe/zenpy/issues/425): the live value fails by itself.
    current(ticket(7))
    responses.get(
        f"{BASE}/api/v2/ticket_fields.json",
        json={
            "ticket_fields": [
                {"id": 360000000103, "type": "text", "title": "SLA status"},
                {"id": 360000000104, "type": "date", "title": "SLA due date"},
            ],
            "next_page": None,
        },
    )
    put = responses.put(f"{BASE}/api/v2/tickets/7.json", json={"ticket": ticket(7)})
    actions = [
        action(
            ActionKind.SET_FIELD, {"field": "sla_due_date", "value": "2026-03-03T10:30:00Z"}, "7", 1
        ),
        action(
            ActionKind.SET_FIELD,
            {"field": "sla_resolution_status", "value": "2026-03-03T10:30:00Z"},
            "7",
            2,
        ),
        action(ActionKind.SET_PRIORITY, {"priority": "urgent"}, "7", 3),
    ]
    results = connector.apply(actions)
    assert [r.status for r in results] == [
        ApplyStatus.FAILED,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
    ]
    assert "YYYY-MM-DD" in results[0].detail and "format: date" in results[0].detail
    body = json.loads(put.calls[0].request.body)["ticket"]
    assert body["custom_fields"] == [{"id": 360000000103, "value": "2026-03-03T10:30:00Z"}]
    assert body["priority"] == "urgent"


@responses.activate
def test_a_409_reports_conflict_for_that_tickets_writes(connector) -> None:
    current(ticket(7))
    responses.put(
        f"{BASE}/api/v2/tickets/7.json",
        status=409,
        json={"error": "UpdateConflict", "description": "Safe Update prevented the update"},
    )
    connector.stamps[7] = "2026-03-02T09:00:00Z"
    results = connector.apply(
        [
            action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "7", 1),
            action(ActionKind.ADD_TAG, {"tag": "vip"}, "7", 2),
        ]
    )
    assert [r.status for r in results] == [ApplyStatus.CONFLICT, ApplyStatus.ALREADY]
    assert "re-read" in results[0].detail
    assert 7 not in connector.stamps


@responses.activate
def test_a_note_whose_marker_is_present_is_not_posted_again(connector) -> None:
    note = action(ActionKind.COMMENT, {"body": "SLA warning", "public": False}, "7", 1)
    current(ticket(7))
    audits(7, f"SLA warning\n\n{connector.writer.marker(note.key)}")
    (result,) = connector.apply([note])
    assert result.status is ApplyStatus.ALREADY
    assert not [c for c in responses.calls if c.request.method == "PUT"]


@responses.activate
def test_several_tickets_go_through_update_many_and_its_job(connector) -> None:
    polls.clear()
    current(ticket(7), ticket(8))
    put = responses.put(
        f"{BASE}/api/v2/tickets/update_many.json",
        json={"job_status": {"id": "j1", "status": "queued", "results": None}},
    )
    job = f"{BASE}/api/v2/job_statuses/j1.json"
    responses.get(job, json={"job_status": {"id": "j1", "status": "working", "results": None}})
    responses.get(
        job,
        json={
            "job_status": {
                "id": "j1",
                "status": "completed",
                "results": [
                    {"id": 7, "action": "update", "status": "Updated", "success": True},
                    {
                        "id": 8,
                        "action": "update",
                        "status": "Failed",
                        "success": False,
                        "error": "RecordInvalid",
                        "details": "Status: closed prevents ticket update",
                    },
                ],
            }
        },
    )
    results = connector.apply(
        [
            action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "7", 1),
            action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "8", 2),
        ]
    )
    assert [r.status for r in results] == [ApplyStatus.APPLIED, ApplyStatus.FAILED]
    assert "RecordInvalid" in results[1].detail
    assert json.loads(put.calls[0].request.body) == {
        "tickets": [
            {"id": 7, "additional_tags": ["sla_breached"]},
            {"id": 8, "additional_tags": ["sla_breached"]},
        ]
    }
    assert polls == [2.0, 2.0], "polled with the configured interval, without sleeping"


@responses.activate
def test_a_job_that_never_finishes_is_tried_again_not_failed_for_good(connector) -> None:
    # FAILED is final in the ledger; a job still queued may never run, so the write would be
    # lost. CONFLICT sends it back to the outbox, whose next try reads the ticket first.
    polls.clear()
    current(ticket(7), ticket(8))
    responses.put(
        f"{BASE}/api/v2/tickets/update_many.json",
        json={"job_status": {"id": "j9", "status": "queued", "results": None}},
    )
    responses.get(
        f"{BASE}/api/v2/job_statuses/j9.json",
        json={"job_status": {"id": "j9", "status": "queued", "results": None}},
    )
    results = connector.apply(
        [
            action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "7", 1),
            action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "8", 2),
        ]
    )
    assert [r.status for r in results] == [ApplyStatus.CONFLICT, ApplyStatus.CONFLICT]
    assert "may still apply" in results[0].detail


@responses.activate
def test_an_unknown_field_fails_that_action_only(connector) -> None:
    current(ticket(7))
    responses.get(
        f"{BASE}/api/v2/ticket_fields.json",
        json={"ticket_fields": [{"id": 360000000101, "title": "Contract tier"}]},
    )
    responses.put(f"{BASE}/api/v2/tickets/7.json", json={"ticket": ticket(7)})
    results = connector.apply(
        [
            action(ActionKind.SET_FIELD, {"field": "no_such_field", "value": 1}, "7", 1),
            action(ActionKind.SET_FIELD, {"field": "Contract tier", "value": "gold"}, "7", 2),
        ]
    )
    assert [r.status for r in results] == [ApplyStatus.FAILED, ApplyStatus.APPLIED]
    assert "fields:" in results[0].detail


@responses.activate
def test_fresh_comments_skip_the_marker_search_and_retries_do_not(connector) -> None:
    # The outbox names the keys it hands out for the first time ("fresh"): they cannot have
    # been posted, so their ticket's comments are not read. A retried key is looked for.
    note = action(ActionKind.COMMENT, {"body": "SLA warning", "public": False}, "7", 1)
    current(ticket(7))
    responses.put(f"{BASE}/api/v2/tickets/7.json", json={"ticket": ticket(7), "audit": None})
    connector.apply([note], fresh={note.key})
    assert not any("/audits" in c.request.url for c in responses.calls)

    responses.calls.reset()
    current(ticket(7))
    audits(7, f"SLA warning\n\n{connector.writer.marker(note.key)}")
    (result,) = connector.apply([note])  # a retry: the earlier try posted it
    assert result.status is ApplyStatus.ALREADY
    assert any("/audits" in c.request.url for c in responses.calls)
