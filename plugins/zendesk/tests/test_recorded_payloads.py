"""Documented or recorded real Zendesk payloads, replayed through the connector with `responses`.

Beside the fake-based tests: these hold the connector to what Zendesk itself sent or
documents, so a misreading shared by the connector and the fake cannot pass unseen. Each
payload names its source; docs/plugins/zendesk.md ("Endpoints and payloads") lists them.
"""

from __future__ import annotations

import json

import pytest
import responses
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from slaplug_zendesk.cursor import ZendeskCursor
from zd_support import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind, EventKind

BASE = "https://d3v-zenpydev.zendesk.com"
#: Rate-limit headers as every recorded zenpy cassette carries them (reference §3).
RATE = {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "688"}

#: zenpy specification/zendesk/audit.json: a recorded audit of GET /api/v2/tickets/{id}/audits,
#: word for word but for the two long bodies, shortened.
ZENPY_AUDIT = {
    "via": {"source": {"to": {}, "from": {}, "rel": None}, "channel": "api"},
    "created_at": "2015-08-29T03:45:36Z",
    "events": [
        {
            "body": "THIS IS MY FUNCY COMMENT",
            "attachments": [],
            "audit_id": 55882825727,
            "id": 55882825747,
            "author_id": 1276936927,
            "type": "Comment",
            "public": True,
            "html_body": '<div class="zd-comment"><p>THIS IS MY FUNCY COMMENT</p></div>',
        },
        {
            "field_name": "subject",
            "type": "Create",
            "id": 55882825847,
            "value": "OMG I MADE A TICKET",
        },
        {"field_name": "requester_id", "type": "Create", "id": 55882825867, "value": "1276936927"},
        {"field_name": "priority", "type": "Create", "id": 55882825877, "value": None},
        {"field_name": "type", "type": "Create", "id": 55882825897, "value": None},
        {"field_name": "assignee_id", "type": "Create", "id": 55882825907, "value": "1276936927"},
        {"field_name": "group_id", "type": "Create", "id": 55882825927, "value": "26425647"},
        {
            "field_name": "organization_id",
            "type": "Create",
            "id": 55882825937,
            "value": "472989027",
        },
        {"field_name": "status", "type": "Create", "id": 55882825947, "value": "open"},
        {
            "body": "Your request ({{ticket.id}}) has been received ...",
            "via": {
                "source": {
                    "to": {},
                    "from": {"id": 61351077, "title": "Notify requester of received request"},
                    "rel": "trigger",
                },
                "channel": "rule",
            },
            "recipients": [1276936927],
            "type": "Notification",
            "id": 55882825957,
            "subject": "[Request received] {{ticket.title}}",
        },
    ],
    "ticket_id": 7,
    "author_id": 1276936927,
    "id": 55882825727,
    "metadata": {"system": {}, "custom": {}},
}


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZD_REPLAY_TOKEN", "replay-token-0001")
    config = ZendeskConfig(
        base_url=BASE,
        email="ops@acme.test",
        api_token_env="ZD_REPLAY_TOKEN",
        retry={"jitter": 0},
        job_poll_interval=1.0,
    )
    with ZendeskConnector(config, instance="zendesk-eu") as conn:
        conn.sleep = lambda seconds: None
        yield conn


def _users() -> None:
    """``GET /api/v2/users/show_many.json``: the recorded audit's author is its requester."""
    responses.get(
        f"{BASE}/api/v2/users/show_many.json",
        json={"users": [{"id": 1276936927, "role": "end-user", "email": "sink@example.com"}]},
        headers=RATE,
    )


def _ticket(tid: int, **extra) -> dict:
    return {
        "id": tid,
        "status": "open",
        "priority": None,
        "subject": "OMG I MADE A TICKET",
        "requester_id": 1276936927,
        "assignee_id": 1276936927,
        "tags": [],
        "custom_fields": [],
        "created_at": "2015-08-29T03:45:36Z",
        "updated_at": "2015-08-29T03:45:36Z",
        **extra,
    }


@responses.activate
def test_zenpy_recorded_audit_read_through_read_ticket(connector) -> None:
    _users()
    responses.get(f"{BASE}/api/v2/tickets/7.json", json={"ticket": _ticket(7)}, headers=RATE)
    responses.get(
        f"{BASE}/api/v2/tickets/7/audits.json",
        json={"audits": [ZENPY_AUDIT], "meta": {"has_more": False, "after_cursor": None}},
        headers=RATE,
    )
    ticket = connector.read_ticket("7")
    # The creating audit: created, status open; a null priority is no event; the
    # description is the creation; the trigger's Notification is nothing.
    assert [(e.kind, e.value) for e in ticket.events] == [
        (EventKind.CREATED, None),
        (EventKind.STATUS_CHANGED, "open"),
    ]


@responses.activate
def test_zenpy_specified_ticket_event_without_event_type_is_a_status_change(connector) -> None:
    _users()
    # zenpy specification/zendesk/ticket_event.json, word for word: the export's child event
    # names the field by its key and, here, carries no event_type at all (reference §1.1).
    zenpy_event = {
        "id": 1717,
        "ticket_id": 27,
        "timestamp": 138561439,
        "updater_id": -1,
        "via": "Email",
        "child_events": [{"via": "Email", "via_reference_id": 2, "status": "solved"}],
    }
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        json={
            "ticket_events": [zenpy_event],
            "count": 1,
            "end_time": 138561439,
            "end_of_stream": True,
        },
    )
    # Recorded cursor-export keys and cursor (zenpy cassette
    # TicketsIncrementalTest.test_pagination.json, reference §1.1).
    responses.get(
        f"{BASE}/api/v2/incremental/tickets/cursor.json",
        json={
            "tickets": [
                # Last changed by the event above: the read goes to the export's end.
                _ticket(
                    27,
                    status="solved",
                    created_at="1974-05-23T00:00:00Z",
                    updated_at="1974-05-23T17:17:19Z",
                )
            ],
            "after_url": f"{BASE}/api/v2/incremental/tickets/cursor.json?cursor=MTY5NTA2MjcyNC4wfHwxNTcxfA%3D%3D",
            "before_url": None,
            "after_cursor": "MTY5NTA2MjcyNC4wfHwxNTcxfA==",
            "before_cursor": None,
            "end_of_stream": True,
        },
        headers=RATE,
    )
    pages = list(connector.read_changed(ZendeskCursor("T0", 138561000).encode()))
    (ticket,) = [t for p in pages for t in p.tickets]
    assert [(e.kind, e.value) for e in ticket.events] == [
        (EventKind.STATUS_CHANGED, "solved"),
        (EventKind.SOLVED, None),
    ]
    cursor = ZendeskCursor.decode(pages[-1].cursor)
    assert (cursor.tickets, cursor.events) == ("MTY5NTA2MjcyNC4wfHwxNTcxfA==", 138561439)


@responses.activate
def test_recorded_update_many_job_sequence_applies(connector) -> None:
    # The job status sequence recorded in zenpy's cassette
    # TestTicketCreateUpdateDelete.test_multiple_update_full_objects-update-many.json:
    # queued -> working -> completed, results [{"action", "status": "Updated", "success", "id"}]
    # (reference §2.1, "checked").
    responses.get(
        f"{BASE}/api/v2/tickets/show_many.json",
        json={"tickets": [_ticket(3862), _ticket(3863)]},
    )
    job = "bce19e8084d47f4fb2bd2973db29cc97"
    url = f"{BASE}/api/v2/job_statuses/{job}.json"
    status = {"id": job, "url": url, "total": 2, "progress": None, "message": None}
    put = responses.put(
        f"{BASE}/api/v2/tickets/update_many.json",
        json={"job_status": {**status, "status": "queued", "results": None}},
        headers=RATE,
    )
    responses.get(url, json={"job_status": {**status, "status": "working", "progress": 1}})
    results = [
        {"action": "update", "status": "Updated", "success": True, "id": 3862},
        {"action": "update", "status": "Updated", "success": True, "id": 3863},
    ]
    responses.get(
        url,
        json={"job_status": {**status, "status": "completed", "progress": 2, "results": results}},
    )
    actions = [action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, str(t), 1) for t in (3862, 3863)]
    assert [r.status for r in connector.apply(actions)] == [ApplyStatus.APPLIED] * 2
    sent = json.loads(put.calls[0].request.body)
    assert sent == {
        "tickets": [
            {"id": 3862, "additional_tags": ["sla_breached"]},
            {"id": 3863, "additional_tags": ["sla_breached"]},
        ]
    }


@responses.activate
def test_recorded_404_record_not_found_fails_that_ticket_only(connector) -> None:
    # 404 {"error": "RecordNotFound", "description": "Not found"}: seen in real cassettes
    # (reference §3, "checked").
    responses.get(f"{BASE}/api/v2/tickets/show_many.json", json={"tickets": [_ticket(9)]})
    responses.put(
        f"{BASE}/api/v2/tickets/9.json",
        status=404,
        json={"error": "RecordNotFound", "description": "Not found"},
        headers=RATE,
    )
    (result,) = connector.apply([action(ActionKind.SET_PRIORITY, {"priority": "high"}, "9")])
    assert result.status is ApplyStatus.FAILED


@responses.activate
def test_a_429_waits_exactly_its_retry_after(connector) -> None:
    # "Going over gives 429 with Retry-After (seconds)" (reference §3,
    # developer.zendesk.com/api-reference/introduction/rate-limits).
    waits: list[float] = []
    connector.http.sleep = waits.append
    responses.get(
        f"{BASE}/api/v2/users/me.json",
        status=429,
        json={"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"},
        headers={**RATE, "X-Rate-Limit-Remaining": "0", "Retry-After": "7"},
    )
    responses.get(
        f"{BASE}/api/v2/users/me.json",
        json={"user": {"id": 10001, "role": "admin", "email": "ops@acme.test"}},
        headers=RATE,
    )
    assert connector.api_user_id() == 10001
    assert waits == [7.0]
