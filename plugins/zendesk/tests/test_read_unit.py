"""The event mapping and the cursor, on recorded-shape payloads served by `responses`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from slaplug_zendesk.cursor import ZendeskCursor
from slaplug_zendesk.directory import User
from slaplug_zendesk.events import Audit, map_events

from slaplug.errors import ConfigError
from slaplug.model import EventKind

BASE = "https://acme.zendesk.test"
REQUESTER, AGENT, OTHER_CUSTOMER = 20001, 10002, 20002
USERS = {
    REQUESTER: User(REQUESTER, "end-user", "alice@acme.example"),
    AGENT: User(AGENT, "agent", "ana@acme.test"),
    OTHER_CUSTOMER: User(OTHER_CUSTOMER, "end-user", "bob@acme.example"),
}


def at(minute: int) -> str:
    return f"2026-03-02T10:{minute:02d}:00Z"


def audit(n: int, minute: int, author: int, *events: dict) -> dict:
    return {
        "id": n,
        "ticket_id": 7,
        "created_at": at(minute),
        "author_id": author,
        "events": list(events),
    }


def change(field: str, value, previous=None) -> dict:
    return {"type": "Change", "field_name": field, "value": value, "previous_value": previous}


def comment(author: int, public: bool = True) -> dict:
    return {"type": "Comment", "author_id": author, "body": "text", "public": public}


def kinds(raw_audits: list[dict]) -> list[tuple[str, str | None]]:
    events = map_events([Audit.from_api(a) for a in raw_audits], REQUESTER, USERS.get)
    return [(e.kind.value, e.value) for e in events]


def test_creation_gives_initial_status_and_priority_and_the_description_is_not_a_message() -> None:
    created = audit(
        1,
        0,
        REQUESTER,
        {"type": "Create", "field_name": "status", "value": "new"},
        {"type": "Create", "field_name": "priority", "value": "high"},
        comment(REQUESTER),
    )
    assert kinds([created]) == [
        ("created", None),
        ("status_changed", "new"),
        ("priority_changed", "high"),
    ]


def test_public_comments_by_agents_and_customers_private_notes_ignored() -> None:
    assert kinds(
        [
            audit(2, 5, AGENT, comment(AGENT)),
            audit(3, 6, AGENT, comment(AGENT, public=False)),
            audit(4, 7, REQUESTER, comment(REQUESTER)),
            audit(5, 8, OTHER_CUSTOMER, comment(OTHER_CUSTOMER)),
            audit(6, 9, -1, comment(-1)),  # the system user: not a conversation turn
        ]
    ) == [("agent_reply", None), ("requester_message", None), ("requester_message", None)]


def test_status_changes_solve_once_and_reopen() -> None:
    assert kinds(
        [
            audit(2, 1, AGENT, change("status", "open", "new")),
            audit(3, 2, AGENT, change("status", "solved", "open")),
            audit(4, 3, REQUESTER, change("status", "open", "solved")),
            audit(5, 4, AGENT, change("status", "solved", "open")),
            audit(6, 5, -1, change("status", "closed", "solved")),
        ]
    ) == [
        ("status_changed", "open"),
        ("status_changed", "solved"),
        ("solved", None),
        ("status_changed", "open"),
        ("reopened", None),
        ("status_changed", "solved"),
        ("solved", None),
        ("status_changed", "closed"),
    ]


def test_priority_changes_and_a_cleared_priority() -> None:
    assert kinds(
        [
            audit(2, 1, AGENT, change("priority", "urgent", "normal")),
            audit(3, 2, AGENT, change("priority", None, "urgent")),
        ]
    ) == [("priority_changed", "urgent"), ("priority_changed", None)]


def test_export_child_events_name_the_field_by_its_key_and_type_is_the_ticket_type() -> None:
    # The events export's own shape (reference §1.1; zenpy specification/zendesk/ticket_event.json):
    # no field_name/value; a key "type" is the ticket's type field, never the event kind.
    raw = {
        "id": 9,
        "ticket_id": 7,
        "timestamp": 1772445600,
        "updater_id": AGENT,
        "event_type": "Audit",
        "child_events": [
            {
                "id": 1,
                "via": "Web form",
                "via_reference_id": None,
                "event_type": "Create",
                "type": "incident",
            },
            {
                "id": 2,
                "via": "Web form",
                "via_reference_id": None,
                "event_type": "Create",
                "status": "open",
            },
        ],
    }
    events = map_events([Audit.from_export(raw)], REQUESTER, USERS.get)
    assert [(e.kind, e.value) for e in events] == [
        (EventKind.CREATED, None),
        (EventKind.STATUS_CHANGED, "open"),
    ]
    assert events[0].at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_audits_api_shape_is_not_read_as_an_export_child_nor_the_reverse() -> None:
    # Each endpoint's shape is read by its own reader only, so a fake that served the wrong
    # shape on an endpoint would fail the tests instead of passing silently.
    api_shaped = {
        "type": "Change",
        "field_name": "status",
        "value": "solved",
        "previous_value": "open",
    }
    export_shaped = {"event_type": "Change", "status": "solved", "previous_value": "open"}
    exported = {"id": 9, "ticket_id": 7, "timestamp": 1772445600, "updater_id": AGENT}
    audit_api = {"id": 9, "ticket_id": 7, "created_at": at(0), "author_id": AGENT}
    solved = (EventKind.STATUS_CHANGED, "solved")

    def read(audit: Audit) -> list[tuple[EventKind, str | None]]:
        return [(e.kind, e.value) for e in map_events([audit], REQUESTER, USERS.get)]

    assert read(Audit.from_export({**exported, "child_events": [export_shaped]}))[0] == solved
    assert read(Audit.from_api({**audit_api, "events": [api_shaped]}))[0] == solved
    assert read(Audit.from_export({**exported, "child_events": [api_shaped]})) == []
    assert read(Audit.from_api({**audit_api, "events": [export_shaped]})) == []


def test_an_exported_custom_field_change_is_read_from_custom_ticket_fields() -> None:
    # A real export child event (quoted in a zendesk-java-client fork,
    # org.zendesk.client.v2.model.ChildEvent): the custom field's id and new value come under
    # "custom_ticket_fields", beside "previous_value". It was read as a field named
    # "custom_ticket_fields" and dropped, so custom field history was lost.
    raw = {
        "id": 9,
        "ticket_id": 7,
        "timestamp": 1772445600,
        "updater_id": AGENT,
        "event_type": "Audit",
        "child_events": [
            {
                "id": 1561823056931,
                "via": "Web form",
                "via_reference_id": None,
                "custom_ticket_fields": {"360041597112": "set_up_app"},
                "event_type": "Change",
                "previous_value": None,
            }
        ],
    }

    def rename(field: str, value: object) -> tuple[str, object]:
        return {"360041597112": "fields.category"}.get(field, field), value

    [event] = map_events([Audit.from_export(raw)], REQUESTER, USERS.get, rename)
    assert (event.kind, event.field, event.old, event.value) == (
        EventKind.FIELD_CHANGED,
        "fields.category",
        None,
        "set_up_app",
    )


# -- the cursor ---------------------------------------------------------------------------


def test_cursor_round_trips_and_is_one_opaque_string() -> None:
    cursor = ZendeskCursor("MTY5NTA2MjcyNC4wfHwxNTcxfA==", 1772445600, (9, 10))
    text = cursor.encode()
    assert text.startswith("zd1.") and "=" not in text
    assert ZendeskCursor.decode(text) == cursor


@pytest.mark.parametrize("bad", ["", "MTY5NTA2", "zd1.!!!", "zd1.e30"])
def test_an_unreadable_cursor_says_to_reset_it(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"stored Zendesk cursor .* reset the connector's cursor"):
        ZendeskCursor.decode(bad)


#: Cursors written by the hand-rolled encoder before it moved onto the kit's `CursorCodec`
#: (commit 81b7c44); stores hold such strings, so they must decode, and encode, the same.
STORED_CURSORS = {
    "zd1.eyJ0IjoiTVRZNU5UQTJNamN5TkM0d2ZId3hOVGN4ZkE9PSIsImUiOjE3NzI0NDEwMDAsInMiOls3MDAwMSw3MDAwMl19": (
        ZendeskCursor("MTY5NTA2MjcyNC4wfHwxNTcxfA==", 1772441000, (70001, 70002))
    ),
    # ``t`` null: the next read restarts the ticket export at ``e``.
    "zd1.eyJ0IjpudWxsLCJlIjoxNzcyNDQxMDAwLCJzIjpbNzAwMDNdfQ": ZendeskCursor(
        None, 1772441000, (70003,)
    ),
}


@pytest.mark.parametrize(("text", "cursor"), STORED_CURSORS.items())
def test_a_cursor_stored_by_the_old_encoder_reads_and_writes_the_same(
    text: str, cursor: ZendeskCursor
) -> None:
    assert ZendeskCursor.decode(text) == cursor
    assert cursor.encode() == text


# -- a steady-state read, on the wire ---------------------------------------------------


def ticket_json(tid: int, status: str = "open", updated: int = 30) -> dict:
    return {
        "id": tid,
        "status": status,
        "priority": "high",
        "subject": "Printer on fire",
        "type": "incident",
        "requester_id": REQUESTER,
        "assignee_id": AGENT,
        "group_id": 201,
        "organization_id": 501,
        "tags": ["vip"],
        "custom_fields": [{"id": 360000000103, "value": "at_risk"}],
        "created_at": at(0),
        "updated_at": at(updated),
    }


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZD_UNIT_TOKEN", "unit-test-token-0001")
    config = ZendeskConfig(
        base_url=BASE,
        email="ops@acme.test",
        api_token_env="ZD_UNIT_TOKEN",
        fields={"sla_resolution_status": 360000000103},
    )
    with ZendeskConnector(config, instance="zd") as conn:
        yield conn


@responses.activate
def test_a_steady_state_read_takes_events_from_the_export_and_marks_history_partial(
    connector,
) -> None:
    start = ZendeskCursor("T0", 1772445000, (41,)).encode()
    export_event = {
        "id": 42,
        "ticket_id": 7,
        "timestamp": 1772445600,
        "updater_id": REQUESTER,
        "event_type": "Audit",
        "child_events": [
            {"event_type": "Comment", "author_id": REQUESTER, "public": True, "body": "hello?"},
            {"event_type": "Change", "status": "open", "previous_value": "pending"},
        ],
    }
    repeated = {**export_event, "id": 41}  # delivered by the last sync: must be skipped
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        json={
            "ticket_events": [repeated, export_event],
            "count": 2,
            "end_time": 1772445600,
            "end_of_stream": True,
        },
        match=[
            responses.matchers.query_param_matcher(
                {"start_time": "1772445000", "include": "comment_events", "per_page": "1000"}
            )
        ],
    )
    responses.get(
        f"{BASE}/api/v2/incremental/tickets/cursor.json",
        json={
            "tickets": [ticket_json(7, updated=0)],  # changed last by the audit above
            "users": [
                {"id": REQUESTER, "role": "end-user", "email": "alice@acme.example"},
                {"id": AGENT, "role": "agent", "email": "ana@acme.test"},
            ],
            "groups": [{"id": 201, "name": "first-line"}],
            "organizations": [{"id": 501, "name": "Acme Corp"}],
            "after_cursor": "T1",
            "end_of_stream": True,
        },
        match=[
            responses.matchers.query_param_matcher(
                {"cursor": "T0", "per_page": "1000", "include": "users,groups,organizations"}
            )
        ],
    )
    (page,) = list(connector.read_changed(start))
    assert page.complete_history is False
    (ticket,) = page.tickets
    assert [(e.kind.value, e.value) for e in ticket.events] == [
        ("requester_message", None),
        ("status_changed", "open"),
    ]
    assert (ticket.id, ticket.connector, ticket.platform) == ("7", "zd", "zendesk")
    assert (ticket.group, ticket.organization) == ("first-line", "Acme Corp")
    assert (ticket.assignee, ticket.requester) == ("ana@acme.test", "alice@acme.example")
    assert ticket.fields == {"sla_resolution_status": "at_risk"}
    assert ticket.url == f"{BASE}/agent/tickets/7"
    assert ZendeskCursor.decode(page.cursor) == ZendeskCursor("T1", 1772445600, (42,))
    assert len(responses.calls) == 2, "no call per ticket in steady state"


@responses.activate
def test_the_ticket_export_stops_where_the_events_stopped_and_the_next_read_restarts_there(
    connector,
) -> None:
    """A ticket changed after the events export's end (here by a write-back while the read
    went on) is listed without its newest audit; read on, and the next read would find that
    audit with no ticket to go with it (one ``show_many`` per 100 such tickets). So the read
    stops at the first page past the events' end and the next one restarts the cursor-based
    export at that second with ``start_time``.

    Sources: the export returns "all the items that were created or changed on or after the
    start time" and compares it with the ticket's ``generated_timestamp`` (Zendesk's guide
    "Using the Incremental Export API", developer.zendesk.com/documentation/ticketing/
    managing-tickets/using-the-incremental-export-api; reference §1.1); Fivetran's Zendesk
    connector starts each sync so, "adjust the start_time parameter ... GET
    /api/v2/incremental/tickets/cursor.json?start_time={unix_time}" (fivetran.com/docs/
    connectors/applications/zendesk/troubleshooting/sync-tickets-incrementally); the
    recorded ``after_cursor`` decodes to ``<timestamp>||<id>|`` (zenpy cassette
    ``TicketsIncrementalTest.test_pagination.json``), so pages follow change time."""
    events_end = 1772445600  # 10:00
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        json={"ticket_events": [], "count": 0, "end_time": events_end, "end_of_stream": True},
    )
    export = f"{BASE}/api/v2/incremental/tickets/cursor.json"
    sideloads = "users,groups,organizations"
    directory = {
        "users": [
            {"id": REQUESTER, "role": "end-user", "email": "alice@acme.example"},
            {"id": AGENT, "role": "agent", "email": "ana@acme.test"},
        ],
        "groups": [{"id": 201, "name": "first-line"}],
        "organizations": [{"id": 501, "name": "Acme Corp"}],
    }
    responses.get(
        export,
        json={
            "tickets": [ticket_json(7, updated=0), ticket_json(8, updated=5)],
            "after_cursor": "T1",
            "end_of_stream": False,
            **directory,
        },
        match=[
            responses.matchers.query_param_matcher(
                {"cursor": "T0", "per_page": "1000", "include": sideloads}
            )
        ],
    )
    start = ZendeskCursor("T0", events_end - 600).encode()
    (page,) = list(connector.read_changed(start))
    assert [t.id for t in page.tickets] == ["7", "8"], "the page past the end is still given"
    assert ZendeskCursor.decode(page.cursor) == ZendeskCursor(None, events_end)
    assert len(responses.calls) == 2, "the page after it is not read"

    # The next read restarts the ticket export at the events' end, with start_time.
    responses.get(
        export,
        json={
            "tickets": [ticket_json(8, updated=5)],
            "after_cursor": "T2",
            "end_of_stream": True,
            **directory,
        },
        match=[
            responses.matchers.query_param_matcher(
                {"start_time": str(events_end), "per_page": "1000", "include": sideloads}
            )
        ],
    )
    (again,) = list(connector.read_changed(page.cursor))
    assert [t.id for t in again.tickets] == ["8"]
    assert responses.calls[-1].request.params["start_time"] == str(events_end)
