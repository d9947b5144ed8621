"""Unit tests of the Freshdesk connector with `responses`: the exact requests it sends."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers
from slaplug_freshdesk import FreshdeskConfig, FreshdeskConnector
from slaplug_freshdesk.write import marker

from slaplug.connectors import ApplyStatus
from slaplug.model import Action, ActionKind, EventKind, Metric

BASE = "https://acme.freshdesk.com"
TICKET = {
    "id": 7,
    "subject": "Down",
    "status": 3,
    "priority": 4,
    "created_at": "2026-03-02T09:00:00Z",
    "updated_at": "2026-03-02T12:00:00Z",
    "tags": ["vip"],
    "custom_fields": {"cf_sla_state": None},
    "stats": {"pending_since": "2026-03-02T11:00:00Z"},
}
#: ``GET /api/v2/agents/me``, trimmed from sjkingo/python-freshdesk
#: freshdesk/v2/tests/sample_json_data/agent_1.json (a recorded agent).
AGENT_ME = {"available": True, "occasional": False, "id": 1, "ticket_scope": 1,
            "contact": {"active": True, "email": "rachel@freshdesk.com", "name": "Rachel"}}  # fmt: skip
#: A private note, as sjkingo/python-freshdesk freshdesk/v2/tests/sample_json_data/note_1.json.
NOTE = {
    "body": "<div>This is a private note</div>",
    "body_text": "This is a private note",
    "id": 1,
    "incoming": False,
    "private": True,
    "user_id": 1,
    "support_email": None,
    "source": 2,
    "ticket_id": 1,
    "to_emails": [],
    "from_email": None,
    "cc_emails": None,
    "bcc_emails": None,
    "created_at": "2016-05-19T05:36:12Z",
    "updated_at": "2016-05-19T05:36:12Z",
    "attachments": [],
}
#: ``GET /api/v2/ticket_fields`` of an account whose custom fields are ``cf_``-prefixed:
#: entries of the recorded listing in oneblink/sdk-core-js tests/freshdeskFieldsFixture.json
#: (trimmed), plus ``cf_sla_state`` in the same shape.
FIELDS_CF = [
    {"id": 42000317069, "name": "subject", "label": "Subject", "type": "default_subject",
     "default": True},
    {"id": 42000340772, "name": "cf_submission_id", "label": "Submission Id",
     "type": "custom_text", "default": False},
    {"id": 42000342174, "name": "cf_country", "label": "Country", "type": "nested_field",
     "default": False, "nested_ticket_fields": [
         {"id": 42000002085, "name": "cf_state", "label": "State", "level": 2},
         {"id": 42000002086, "name": "cf_city", "label": "City", "level": 3}]},
    {"id": 42000342175, "name": "cf_sla_state", "label": "SLA state", "type": "custom_text",
     "default": False},
]  # fmt: skip
#: ``GET /api/v2/ticket_fields`` of fields made in 2015: the Freshdesk API v2 reference's own
#: "List All Ticket Fields" example (a copy in ktsaou/freshdesk_mcp FRESHDESK_API_DOCS.txt),
#: trimmed: custom fields named without ``cf_``.
FIELDS_2015 = [
    {"id": 1, "name": "requester", "label": "Search a requester", "type": "default_requester",
     "default": True, "created_at": "2014-11-30T09:10:02Z"},
    {"id": 19, "name": "rating", "label": "Rating", "type": "custom_decimal", "default": False,
     "created_at": "2015-06-16T14:06:48Z"},
    {"id": 13, "name": "department", "label": "department", "type": "custom_text",
     "default": False, "created_at": "2015-05-11T11:03:28Z"},
]  # fmt: skip
CONVERSATIONS = [
    {"incoming": False, "private": False, "created_at": "2026-03-02T10:00:00Z", "user_id": 9},
    {"incoming": True, "private": False, "created_at": "2026-03-02T09:30:00Z", "user_id": 5},
    {"incoming": False, "private": True, "created_at": "2026-03-02T09:40:00Z", "user_id": 9},
]


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> FreshdeskConnector:
    monkeypatch.setenv("FD_KEY", "fd-key-unit-0042")
    return FreshdeskConnector(FreshdeskConfig(base_url=BASE, api_key_env="FD_KEY"))


def action(kind: ActionKind, params: dict[str, object]) -> Action:
    return Action(kind, params, "freshdesk", "7", f"k:{kind}", "warn", 1, "p",
                  Metric.FIRST_RESPONSE, 1)  # fmt: skip


@responses.activate
def test_reads_history_from_conversations_and_stats(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    responses.get(f"{BASE}/api/v2/tickets/7/conversations", json=CONVERSATIONS)
    ticket = connector.read_ticket("7")
    assert (ticket.status, ticket.priority, ticket.tags) == ("pending", "urgent", {"vip"})
    assert [e.kind for e in ticket.events] == [
        EventKind.CREATED,
        EventKind.REQUESTER_MESSAGE,
        EventKind.AGENT_REPLY,  # the private note in between is no reply
        EventKind.STATUS_CHANGED,
    ]
    assert responses.calls[0].request.url.endswith("include=stats")


def listing(since: str, page: int = 1) -> list[object]:
    """Match ``GET /api/v2/tickets`` with exactly the parameters the connector sends."""
    params = {
        "updated_since": since,
        "order_by": "updated_at",
        "order_type": "asc",
        "per_page": "100",
        "include": "stats",
    }
    if page > 1:
        params["page"] = str(page)
    return [matchers.query_param_matcher(params)]


@responses.activate
def test_first_read_asks_everything_then_windows_from_the_newest_change(
    connector: FreshdeskConnector,
) -> None:
    # Freshdesk announces a next page only in the Link header (RFC 8288), the body being a
    # bare array (Freshdesk API v2 reference, "Pagination"). The connector does not follow
    # it: it asks page 1 again from the newest ``updated_at`` read (see read_changed).
    link = {"Link": f'<{BASE}/api/v2/tickets?page=2>; rel="next"'}
    responses.get(f"{BASE}/api/v2/tickets", json=[TICKET], headers=link,
                  match=listing("2000-01-01T00:00:00Z"))  # fmt: skip
    later = {**TICKET, "id": 8, "updated_at": "2026-03-03T08:00:00Z"}
    responses.get(f"{BASE}/api/v2/tickets", json=[TICKET, later],
                  match=listing("2026-03-02T12:00:00Z"))  # fmt: skip
    responses.get(f"{BASE}/api/v2/tickets/7/conversations", json=[])
    responses.get(f"{BASE}/api/v2/tickets/8/conversations", json=[])
    pages = list(connector.read_changed(None))
    assert [p.cursor for p in pages] == ["2026-03-02T12:00:00Z", "2026-03-03T08:00:00Z"]
    assert [[t.id for t in p.tickets] for p in pages] == [["7"], ["8"]]  # 7 once
    assert pages[0].complete_history


@responses.activate
def test_a_full_page_in_one_second_goes_on_to_page_2(connector: FreshdeskConnector) -> None:
    link = {"Link": f'<{BASE}/api/v2/tickets?page=2>; rel="next"'}
    same = [{**TICKET, "id": i} for i in range(1, 101)]
    responses.get(f"{BASE}/api/v2/tickets", json=same, headers=link,
                  match=listing("2026-03-02T12:00:00Z"))  # fmt: skip
    responses.get(f"{BASE}/api/v2/tickets", json=[{**TICKET, "id": 101}],
                  match=listing("2026-03-02T12:00:00Z", page=2))  # fmt: skip
    for i in range(1, 102):
        responses.get(f"{BASE}/api/v2/tickets/{i}/conversations", json=[])
    pages = list(connector.read_changed("2026-03-02T12:01:00Z"))
    assert sum(len(p.tickets) for p in pages) == 101
    assert not pages[0].complete_history


@responses.activate
def test_one_put_per_ticket_with_only_what_changed(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    responses.get(f"{BASE}/api/v2/ticket_fields", json=FIELDS_CF)
    put = responses.put(f"{BASE}/api/v2/tickets/7", json={})
    results = connector.apply(
        [
            action(ActionKind.ADD_TAG, {"tag": "sla_warn"}),
            action(ActionKind.ADD_TAG, {"tag": "vip"}),
            action(ActionKind.SET_PRIORITY, {"priority": "urgent"}),
            action(ActionKind.SET_STATUS, {"status": "open"}),
            action(ActionKind.SET_FIELD, {"field": "sla_state", "value": "breached"}),
            action(ActionKind.ASSIGN, {"to": "tier2"}),
        ]
    )
    assert [r.status for r in results] == [
        ApplyStatus.APPLIED,
        ApplyStatus.ALREADY,
        ApplyStatus.ALREADY,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.SKIPPED,
    ]
    assert put.call_count == 1
    assert json.loads(put.calls[0].request.body) == {
        "tags": ["vip", "sla_warn"],
        "status": 2,
        "custom_fields": {"cf_sla_state": "breached"},
    }


@responses.activate
def test_note_is_private_marked_and_not_posted_twice(connector: FreshdeskConnector) -> None:
    note = action(ActionKind.COMMENT, {"body": "SLA <75 %>"})
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    posted = responses.post(f"{BASE}/api/v2/tickets/7/notes", status=201, json={})
    assert connector.apply([note], fresh={note.key})[0].status is ApplyStatus.APPLIED
    body = json.loads(posted.calls[0].request.body)
    assert body["private"] is True
    assert "SLA &lt;75 %&gt;" in body["body"]
    assert marker(connector.marker_key, note.key) in body["body"]
    # A retry (the key is no longer fresh) finds the marker in the agent's own private note
    # and writes nothing. The shapes: sjkingo/python-freshdesk freshdesk/v2/tests/
    # sample_json_data/agent_1.json (agents/me) and .../note_1.json (a private note).
    responses.get(f"{BASE}/api/v2/agents/me", json=AGENT_ME)
    own = {**NOTE, "body": body["body"], "user_id": AGENT_ME["id"]}
    responses.get(f"{BASE}/api/v2/tickets/7/conversations", json=[own])
    assert connector.apply([note])[0].status is ApplyStatus.ALREADY
    assert posted.call_count == 1


@responses.activate
def test_missing_ticket_fails_only_its_actions(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", status=404, json={"code": "access_denied"})
    result = connector.apply([action(ActionKind.ADD_TAG, {"tag": "x"})])[0]
    assert result.status is ApplyStatus.FAILED
    assert "not found" in result.detail


#: Freshdesk's validation error, as its API v2 reference documents it ("Error Handling":
#: ``description`` plus ``errors[]`` of ``field``/``message``/``code``) and as
#: sjkingo/python-freshdesk ``freshdesk/v2/api.py`` (``_action``) reads it.
VALIDATION_FAILED = {
    "description": "Validation failed",
    "errors": [
        {"field": "priority", "message": "It should be one of these values: '1,2,3,4'",
         "code": "invalid_value"},
    ],
}  # fmt: skip


@responses.activate
def test_a_400_fails_only_the_refused_action_of_the_put(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    put = responses.put(f"{BASE}/api/v2/tickets/7", status=400, json=VALIDATION_FAILED)
    results = connector.apply(
        [action(ActionKind.SET_PRIORITY, {"priority": 9}), action(ActionKind.ADD_TAG, {"tag": "a"})]
    )
    assert [r.status for r in results] == [ApplyStatus.FAILED, ApplyStatus.FAILED]
    # The combined PUT, then one per action: Freshdesk refused each, so each failed alone.
    assert [json.loads(c.request.body) for c in put.calls] == [
        {"priority": 9, "tags": ["vip", "a"]},
        {"priority": 9},
        {"tags": ["vip", "a"]},
    ]
    assert all("Validation failed" in r.detail for r in results)


@responses.activate
def test_a_400_on_a_note_fails_that_note_alone(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    responses.post(f"{BASE}/api/v2/tickets/7/notes", status=400, json=VALIDATION_FAILED)
    put = responses.put(f"{BASE}/api/v2/tickets/7", json={})
    note, tag = action(ActionKind.COMMENT, {"body": "x"}), action(ActionKind.ADD_TAG, {"tag": "a"})
    results = connector.apply([note, tag], fresh={note.key})
    assert [r.status for r in results] == [ApplyStatus.FAILED, ApplyStatus.APPLIED]
    assert put.call_count == 1


#: A ticket as Freshdesk sends it with ``include=stats``: sjkingo/python-freshdesk
#: freshdesk/v2/tests/sample_json_data/ticket_1.json (attachments and e-mail lists left out).
RECORDED_TICKET = {
    "cc_emails": ["test2@example.com"],
    "fr_escalated": False,
    "group_id": None,
    "priority": 1,
    "requester_id": 6012691534,
    "responder_id": 6010396333,
    "source": 2,
    "spam": False,
    "status": 2,
    "subject": "This is a sample ticket",
    "type": "Question",
    "company_id": None,
    "id": 1,
    "created_at": "2016-05-18T04:36:04Z",
    "updated_at": "2016-05-18T23:42:50Z",
    "due_by": "2016-05-18T23:36:04Z",
    "fr_due_by": "2016-05-18T05:36:04Z",
    "is_escalated": True,
    "description_text": "This is a sample ticket, feel free to delete it.",
    "description": "<div>This is a sample ticket, feel free to delete it.</div>",
    "custom_fields": {"parent_or_child": None, "parent_ticket_id": None, "child_ticket_id": None},
    "tags": ["foo", "bar"],
    "stats": {
        "agent_responded_at": "2020-06-26T01:23:39Z",
        "requester_responded_at": "2020-06-25T23:10:15Z",
        "first_responded_at": "2020-06-17T20:23:43Z",
        "status_updated_at": "2020-07-24T15:35:21Z",
        "reopened_at": None,
        "resolved_at": "2020-07-24T15:35:21Z",
        "closed_at": None,
        "pending_since": None,
    },
}
#: Its conversations: sjkingo/python-freshdesk freshdesk/v2/sample_json_data/conversations.json
#: (a private note, then a public reply, both by agent 1).
RECORDED_CONVERSATIONS = [
    NOTE,
    {**NOTE, "body": "<div>This is a reply</div>", "body_text": "This is a reply", "id": 2,
     "private": False, "source": 0, "to_emails": ["test@example.com"],
     "from_email": "Rachel <rachel@freshdesk.com>", "created_at": "2016-05-19T05:36:14Z",
     "updated_at": "2016-05-19T05:36:14Z"},
]  # fmt: skip


@responses.activate
def test_reads_a_recorded_ticket_and_its_conversations(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/1", json=RECORDED_TICKET)
    responses.get(f"{BASE}/api/v2/tickets/1/conversations", json=RECORDED_CONVERSATIONS)
    ticket = connector.read_ticket("1")
    assert (ticket.status, ticket.priority, ticket.type) == ("open", "low", "Question")
    assert ticket.tags == {"foo", "bar"} and ticket.assignee == "6010396333"
    assert ticket.fields["status_name"] == "open" and "parent_ticket_id" in ticket.fields
    # The note is no reply; the public reply is. The ticket is open again, so its stats'
    # resolved_at (an earlier resolution) stops no clock.
    assert [(e.kind, e.actor) for e in ticket.events] == [
        (EventKind.CREATED, None),
        (EventKind.AGENT_REPLY, "1"),
    ]


@responses.activate
def test_the_agent_is_read_once_and_only_its_notes_hold_markers(
    connector: FreshdeskConnector,
) -> None:
    note = action(ActionKind.COMMENT, {"body": "x"})
    tag = marker(connector.marker_key, note.key)
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    me = responses.get(f"{BASE}/api/v2/agents/me", json=AGENT_ME)
    # The recorded private note, but by agent 6010396333, not by the API key's agent 1.
    theirs = {**NOTE, "body": f"<div>{tag}</div>", "user_id": 6010396333}
    responses.get(f"{BASE}/api/v2/tickets/7/conversations", json=[theirs])
    posted = responses.post(f"{BASE}/api/v2/tickets/7/notes", status=201, json=NOTE)
    assert connector.apply([note])[0].status is ApplyStatus.APPLIED
    assert connector.apply([note])[0].status is ApplyStatus.APPLIED  # still not ours
    assert posted.call_count == 2 and me.call_count == 1


@responses.activate
def test_custom_fields_are_written_under_the_accounts_own_names(
    connector: FreshdeskConnector,
) -> None:
    """Fields made in 2015 are named without ``cf_`` (the reference's own example): a rule's
    ``cf_rating`` or ``department`` is written as ``rating`` and ``department``, the keys the
    account's tickets carry. The connector used to send ``cf_rating`` and ``cf_department``,
    which such an account refuses."""
    ticket = {**TICKET, "custom_fields": {"rating": None, "department": "sales"}}
    responses.get(f"{BASE}/api/v2/tickets/7", json=ticket)
    fields = responses.get(f"{BASE}/api/v2/ticket_fields", json=FIELDS_2015)
    put = responses.put(f"{BASE}/api/v2/tickets/7", json={})
    results = connector.apply(
        [
            action(ActionKind.SET_FIELD, {"field": "cf_rating", "value": 4.5}),
            action(ActionKind.SET_FIELD, {"field": "department", "value": "billing"}),
        ]
    )
    assert [r.status for r in results] == [ApplyStatus.APPLIED, ApplyStatus.APPLIED]
    assert json.loads(put.calls[0].request.body) == {
        "custom_fields": {"rating": 4.5, "department": "billing"}
    }
    # Read back under the same key: the value in place is ALREADY, with no second PUT.
    done = {**TICKET, "custom_fields": {"rating": 4.5, "department": "billing"}}
    responses.replace(responses.GET, f"{BASE}/api/v2/tickets/7", json=done)
    again = connector.apply([action(ActionKind.SET_FIELD, {"field": "cf_rating", "value": 4.5})])
    assert again[0].status is ApplyStatus.ALREADY
    assert put.call_count == 1 and fields.call_count == 1  # the fields are read once


@responses.activate
def test_a_nested_level_resolves_like_a_field(connector: FreshdeskConnector) -> None:
    """The levels of a dependent field have their own ``name`` (``cf_state`` in the recorded
    listing); a rule may name them, with or without ``cf_``."""
    responses.get(f"{BASE}/api/v2/ticket_fields", json=FIELDS_CF)
    assert connector.field_key("state") == "cf_state"
    assert connector.field_key("cf_submission_id") == "cf_submission_id"


@responses.activate
def test_an_unknown_field_fails_alone_naming_the_accounts_fields(
    connector: FreshdeskConnector,
) -> None:
    """A field the account lacks under either spelling fails that action with the
    account's custom fields listed, and is not sent; the rest of the PUT goes. The fields
    are read again (once per apply) in case the field was made since."""
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET)
    fields = responses.get(f"{BASE}/api/v2/ticket_fields", json=FIELDS_CF)
    put = responses.put(f"{BASE}/api/v2/tickets/7", json={})
    wrong = action(ActionKind.SET_FIELD, {"field": "sla_deadline", "value": "x"})
    results = connector.apply([wrong, action(ActionKind.ADD_TAG, {"tag": "sla_warn"})])
    assert [r.status for r in results] == [ApplyStatus.FAILED, ApplyStatus.APPLIED]
    assert "'sla_deadline' or 'cf_sla_deadline'" in results[0].detail
    assert "cf_sla_state (SLA state)" in results[0].detail
    assert "cf_state (State)" in results[0].detail
    assert json.loads(put.calls[0].request.body) == {"tags": ["vip", "sla_warn"]}
    assert fields.call_count == 1
    connector.apply([wrong])
    assert fields.call_count == 2  # a later apply looks again, once


#: ``GET /api/v2/groups``: the reference's "List All Groups" example, trimmed (the shape
#: slaplug_freshdesk.fake.shapes.group cites).
GROUPS = [{"id": 7, "name": "Billing", "description": "Billing agents", "escalate_to": None}]


@responses.activate
def test_group_and_agent_ids_get_their_names_listed_once(connector: FreshdeskConnector) -> None:
    """QA #11: `slaplug status` showed group id 7. Rules still see the ids."""
    assigned = TICKET | {"group_id": 7, "responder_id": 1}
    for tid in ("7", "8"):
        responses.get(f"{BASE}/api/v2/tickets/{tid}", json=assigned | {"id": int(tid)})
        responses.get(f"{BASE}/api/v2/tickets/{tid}/conversations", json=[])
    responses.get(f"{BASE}/api/v2/groups", json=GROUPS)
    responses.get(f"{BASE}/api/v2/agents", json=[AGENT_ME])
    first, second = connector.read_ticket("7"), connector.read_ticket("8")
    assert (first.group, first.assignee) == ("7", "1")
    assert first.names == second.names == {"group": "Billing", "assignee": "Rachel"}
    listed = [c.request.url for c in responses.calls if "/tickets" not in c.request.url]
    assert len(listed) == 2  # each directory once, not once per ticket


@responses.activate
def test_a_directory_the_key_may_not_list_leaves_the_ids(connector: FreshdeskConnector) -> None:
    responses.get(f"{BASE}/api/v2/tickets/7", json=TICKET | {"group_id": 7})
    responses.get(f"{BASE}/api/v2/tickets/7/conversations", json=[])
    # Freshdesk's 403 body (API v2 reference, "Error Codes": access_denied).
    responses.get(
        f"{BASE}/api/v2/groups",
        status=403,
        json={"code": "access_denied", "message": "You are not authorized to perform this action."},
    )
    ticket = connector.read_ticket("7")
    assert (ticket.group, dict(ticket.names)) == ("7", {})
