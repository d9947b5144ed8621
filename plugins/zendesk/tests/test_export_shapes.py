"""The incremental ticket events export in its own shape (issue 13, item 1).

A child event of that export names the changed field by its key, with no
``field_name``/``value`` (reference §1.1): zenpy ``specification/zendesk/ticket_event.json``
records ``{"via": "Email", "via_reference_id": 2, "status": "solved"}``; public sync code
reads ``{"event_type": "Change", "status": "solved", "previous_value": "open"}``; the
Zendesk Java client's issue #271 notes the export "is different to the ticket audit
endpoint". Read as the audits API's shape, every status and priority change is lost, and
the clocks keep running on solved tickets.
"""

from __future__ import annotations

import pytest
import responses
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from slaplug_zendesk.cursor import ZendeskCursor
from slaplug_zendesk.fake import FakeZendesk

from slaplug.errors import AuthenticationError
from slaplug.model import EventKind

BASE = "https://acme.zendesk.test"
REQUESTER, AGENT = 20001, 10002


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZD_SHAPE_TOKEN", "shape-test-token-0001")
    config = ZendeskConfig(base_url=BASE, email="ops@acme.test", api_token_env="ZD_SHAPE_TOKEN")
    with ZendeskConnector(config, instance="zd") as conn:
        yield conn


def _ticket(tid: int, status: str) -> dict:
    return {
        "id": tid,
        "status": status,
        "priority": "normal",
        "subject": "Printer on fire",
        "requester_id": REQUESTER,
        "assignee_id": AGENT,
        "tags": ["vip"],
        "custom_fields": [],
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-02T10:05:00Z",
    }


@responses.activate
def test_a_replayed_export_page_gives_status_priority_solve_and_reply(connector) -> None:
    """A page shaped as documented: Create with the field's key, Change with previous_value,
    tags as tags/added_tags/removed_tags, a Comment with event_type (reference §1.1)."""
    via = {"via": "Web form", "via_reference_id": None}
    page = {
        "ticket_events": [
            {
                "id": 101,
                "ticket_id": 7,
                "timestamp": 1772442000,  # 09:00
                "updater_id": REQUESTER,
                "via": "Web form",
                "event_type": "Audit",
                "child_events": [
                    {"id": 1, **via, "event_type": "Create", "status": "new"},
                    {"id": 2, **via, "event_type": "Create", "priority": "normal"},
                    {
                        "id": 3,
                        **via,
                        "event_type": "Create",
                        "tags": ["vip"],
                        "added_tags": ["vip"],
                        "removed_tags": [],
                    },
                    {
                        "id": 4,
                        **via,
                        "event_type": "Comment",
                        "author_id": REQUESTER,
                        "public": True,
                        "body": "It is on fire.",
                    },
                ],
            },
            {
                "id": 102,
                "ticket_id": 7,
                "timestamp": 1772442600,  # 09:10
                "updater_id": AGENT,
                "via": "Web form",
                "event_type": "Audit",
                "child_events": [
                    {
                        "id": 5,
                        **via,
                        "event_type": "Comment",
                        "author_id": AGENT,
                        "public": True,
                        "body": "Looking.",
                    },
                    {
                        "id": 6,
                        **via,
                        "event_type": "Change",
                        "status": "open",
                        "previous_value": "new",
                    },
                    {
                        "id": 7,
                        **via,
                        "event_type": "Change",
                        "priority": "urgent",
                        "previous_value": "normal",
                    },
                ],
            },
            {
                "id": 103,
                "ticket_id": 7,
                "timestamp": 1772445900,  # 10:05
                "updater_id": AGENT,
                "via": "Web form",
                "event_type": "Audit",
                "child_events": [
                    # The example of issue 13, item 1, word for word.
                    {
                        "id": 5,
                        "via": "Web form",
                        "via_reference_id": None,
                        "event_type": "Change",
                        "status": "solved",
                        "previous_value": "open",
                    },
                ],
            },
        ],
        "count": 3,
        "end_time": 1772445900,
        "end_of_stream": True,
    }
    responses.get(f"{BASE}/api/v2/incremental/ticket_events.json", json=page)
    responses.get(
        f"{BASE}/api/v2/incremental/tickets/cursor.json",
        json={
            "tickets": [_ticket(7, "solved")],
            "users": [
                {"id": REQUESTER, "role": "end-user", "email": "alice@acme.example"},
                {"id": AGENT, "role": "agent", "email": "ana@acme.test"},
            ],
            "after_cursor": "T1",
            "end_of_stream": True,
        },
    )
    start = ZendeskCursor("T0", 1772441000).encode()
    (ticket,) = [t for p in connector.read_changed(start) for t in p.tickets]
    assert [(e.kind.value, e.value) for e in ticket.events] == [
        ("created", None),
        ("status_changed", "new"),
        ("priority_changed", "normal"),
        ("agent_reply", None),
        ("status_changed", "open"),
        ("priority_changed", "urgent"),
        ("status_changed", "solved"),
        ("solved", None),
    ]


def test_a_status_change_on_the_fake_reaches_the_history_through_the_export(
    fake: FakeZendesk, make_connector
) -> None:
    """The fake serves the export in its documented shape only; the connector reads it."""
    connector = make_connector()
    cursor = None
    for page in connector.read_changed(None):
        cursor = page.cursor or cursor
    with fake.lock:
        tid = str(min(t.id for t in fake.store.tickets.values() if t.status == "open"))
    fake.simulate("status", int(tid), value="solved")
    fake.simulate("priority", int(tid), value="urgent")
    fake.advance(61)  # past the export's one-minute lag (reference §1.1)

    seen = [t for p in connector.read_changed(cursor) for t in p.tickets if t.id == tid]
    assert seen, "the changed ticket is read again"
    events = [(e.kind, e.value) for e in seen[-1].events]
    assert (EventKind.STATUS_CHANGED, "solved") in events
    assert (EventKind.SOLVED, None) in events
    assert (EventKind.PRIORITY_CHANGED, "urgent") in events


# -- admins only (issue 13, item 3) -------------------------------------------------------


def test_an_agent_token_is_told_the_exports_need_the_admin_role(fake, make_connector) -> None:
    # Both incremental exports are "Allowed For: Admins" (reference §1.1,
    # incremental-openapi-original.yml); the fake answers an agent's token 403.
    with fake.lock:
        agent = next(u for u in fake.store.users.values() if u.role == "agent")
    connector = make_connector(email=agent.email)
    with pytest.raises(AuthenticationError, match="Admin role") as caught:
        list(connector.read_changed(None))
    assert caught.value.status == 403 and agent.email in str(caught.value)
    assert fake.api_token not in str(caught.value)
    assert list(make_connector().read_changed(None)), "an admin's token reads"


@responses.activate
def test_a_replayed_403_names_the_missing_role(connector) -> None:
    # Zendesk's error envelope {"error", "description"} (reference §3); 403 "Forbidden"
    # (api-evangelist/zendesk errors/zendesk-error-codes.yml).
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        status=403,
        json={"error": "Forbidden", "description": "You do not have access to this page."},
    )
    with pytest.raises(AuthenticationError, match=r"admins only.*ops@acme\.test"):
        list(connector.read_changed(ZendeskCursor("T0", 1772441000).encode()))
