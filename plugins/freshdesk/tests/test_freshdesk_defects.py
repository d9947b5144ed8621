"""Defects of issue 13 (item 7) and issue 14 (item 2), each against the fake Freshdesk.

Each test here failed on the connector before these issues.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import requests
from slaplug_freshdesk import FreshdeskConfig, FreshdeskConnector
from slaplug_freshdesk.fake import AGENT_ID, API_KEY, FakeFreshdesk
from test_freshdesk_conformance import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind, EventKind


def test_a_400_on_one_ticket_fails_that_action_alone(fake, connector: FreshdeskConnector) -> None:
    """Freshdesk's 400 "Validation failed" (a status code the account lacks here) used to
    raise a FatalAPIError out of `apply`: the whole batch and the sync pass stopped. (This
    test used an unknown custom field; the writer now fails one without sending it.)"""
    actions = [
        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "1"),
        action(ActionKind.SET_STATUS, {"status": "9"}, "1"),
        action(ActionKind.SET_PRIORITY, {"priority": "urgent"}, "1"),
        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "2"),
        action(ActionKind.COMMENT, {"body": "at risk", "public": False}, "3"),
    ]
    results = connector.apply(actions, fresh={a.key for a in actions})

    assert [r.status for r in results] == [
        ApplyStatus.APPLIED,
        ApplyStatus.FAILED,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED,
    ]
    assert "Validation failed" in results[1].detail and "refused" in results[1].detail
    assert "sla_warn" in fake.tickets[1]["tags"] and fake.tickets[1]["priority"] == 4
    assert "sla_warn" in fake.tickets[2]["tags"]
    # Applied again: only the refused action is tried again, and refused again.
    again = connector.apply(actions)
    assert [r.status for r in again][:3] == [
        ApplyStatus.ALREADY,
        ApplyStatus.FAILED,
        ApplyStatus.ALREADY,
    ]


def ids(pages) -> list[str]:
    return [t.id for p in pages for t in p.tickets]


def test_a_ticket_changed_during_paging_skips_no_other(fake, connector) -> None:
    """Paging by number, a change to ticket 1 after page 1 moved it to the end of the
    list and shifted ticket 3 from page 2 onto page 1, already read: ticket 3 was lost."""
    moved: list[int] = []

    def change_ticket_1(page: int) -> None:
        if not moved:
            moved.append(page)
            fake.touch(1)

    fake.after_list_page = change_ticket_1
    pages = list(connector.read_changed(None))
    assert sorted(set(ids(pages))) == ["1", "2", "3", "4", "5"]
    assert ids(pages).count("1") == 2  # before and after its change: both are news
    assert pages[-1].cursor == fake.tickets[1]["updated_at"]


def test_reads_go_past_the_300_page_cap(monkeypatch) -> None:
    """302 tickets at one a page: page 301 of one listing does not exist on Freshdesk."""
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    with FakeFreshdesk(count=302) as fake:
        config = FreshdeskConfig(
            base_url=fake.base_url, api_key_env="FRESHDESK_API_KEY", page_size=1
        )
        with FreshdeskConnector(config) as conn:
            pages = list(conn.read_changed(None))
        assert len(set(ids(pages))) == 302
        assert (
            max(int(r.query.get("page") or 1) for r in fake.received if r.path == "/api/v2/tickets")
            <= 300
        )


def test_a_bulk_change_in_one_second_is_read_page_by_page(fake, connector) -> None:
    for t in fake.tickets.values():
        t["updated_at"] = "2026-03-20T10:00:00Z"
    pages = list(connector.read_changed(None))
    assert sorted(ids(pages)) == ["1", "2", "3", "4", "5"]


def test_the_fake_refuses_page_301_and_per_page_101(fake) -> None:
    url = f"{fake.base_url}/api/v2/tickets"
    for params in ({"page": "301"}, {"per_page": "101"}):
        r = requests.get(url, params=params, auth=(API_KEY, "X"), timeout=5)
        assert r.status_code == 400 and r.json()["description"] == "Validation failed"


def test_a_resumed_read_starts_overlap_seconds_before_the_cursor(fake, connector) -> None:
    cursor = fake.tickets[3]["updated_at"]
    pages = list(connector.read_changed(cursor))
    first = next(r for r in fake.received if r.path == "/api/v2/tickets")
    assert first.query.get("updated_since") == "2026-03-02T13:59:00Z"  # ticket 3: 14:00, - 60 s
    assert ids(pages) == ["3", "4", "5"]


def keyed(connector: FreshdeskConnector, key: str) -> str:
    """The marker the connector puts in its notes (HMAC under its marker key)."""
    return f"[slaplug {connector.marker_key.digest(key, 16)}]"


def legacy(key: str) -> str:
    """The marker before issue 14: an unkeyed hash anyone could compute."""
    return f"[slaplug {hashlib.sha256(key.encode()).hexdigest()[:12]}]"


def own_notes(fake, connector, ticket: int, key: str) -> int:
    tag = keyed(connector, key)
    return sum(
        tag in c["body"] and c["private"] and c["user_id"] == AGENT_ID
        for c in fake.conversations[ticket]
    )


def test_markers_typed_by_a_requester_suppress_nothing(fake, connector) -> None:
    """Issue 14.2: the right markers in the requester's description and reply (and in
    another agent's note quoting them), plus one lost answer: the note is still posted,
    exactly once. Before, the marker in the requester's reply made slaplug record the
    note as already posted without posting it."""
    connector.http.sleep = lambda seconds: None
    note = action(ActionKind.COMMENT, {"body": "SLA breached", "public": False}, "2")
    markers = f"{keyed(connector, note.key)} {legacy(note.key)}"
    fake.tickets[2]["description"] = f"<div>Ignore these: {markers}</div>"
    fake.add_conversation(2, f"<div>{markers}</div>", incoming=True)
    fake.add_conversation(2, f"<div>quoting {markers}</div>", private=True, user_id=9)
    fake.inject(500, after_apply=True)  # the note is posted, its answer lost

    results = connector.apply([note])  # not fresh: a retry, so the writer looks first

    assert results[0].status is ApplyStatus.ALREADY  # posted, then found by the retry check
    assert own_notes(fake, connector, 2, note.key) == 1
    again = connector.apply([note])
    assert again[0].status is ApplyStatus.ALREADY
    assert own_notes(fake, connector, 2, note.key) == 1
    assert sum(r.path == "/api/v2/agents/me" for r in fake.received) == 1  # cached


def test_a_note_is_marked_with_the_keyed_marker(fake, connector) -> None:
    note = action(ActionKind.COMMENT, {"body": "SLA breached", "public": False}, "2")
    assert connector.apply([note], fresh={note.key})[0].status is ApplyStatus.APPLIED
    body = fake.conversations[2][-1]["body"]
    assert keyed(connector, note.key) in body and legacy(note.key) not in body


def test_a_public_reply_whose_answer_is_lost_is_posted_once(fake, connector) -> None:
    connector.http.sleep = lambda seconds: None
    reply = action(ActionKind.COMMENT, {"body": "We are on it", "public": True}, "2")
    fake.inject(502, after_apply=True)
    assert connector.apply([reply], fresh={reply.key})[0].status is ApplyStatus.ALREADY
    tag = keyed(connector, reply.key)
    assert sum(tag in c["body"] for c in fake.conversations[2]) == 1


def custom_connector(fake, monkeypatch, **statuses) -> FreshdeskConnector:
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    config = FreshdeskConfig(
        base_url=fake.base_url,
        api_key_env="FRESHDESK_API_KEY",
        custom_statuses={
            6: {"name": "Waiting on customer", "like": "pending"},
            7: {"name": "awaiting_release", "like": "solved"},
            8: {"name": "with_engineering"},
        },
    )
    return FreshdeskConnector(config)


def test_custom_statuses_read_as_pending_solved_or_open(monkeypatch) -> None:
    """Issue 13.7: an account's own status codes (6 and up) used to be read as "6", "7":
    neither pending nor solved, so clocks ran on tickets waiting on the customer and
    escalations landed on tickets the account considers done."""
    with FakeFreshdesk(custom_statuses=(6, 7, 8)) as fake:
        for ticket, code in ((1, 6), (2, 7), (4, 8)):
            fake.tickets[ticket]["status"] = code
            fake.tickets[ticket]["stats"]["status_updated_at"] = "2026-03-02T15:00:00Z"
        with custom_connector(fake, monkeypatch) as conn:
            waiting, done, engineering = (conn.read_ticket(i) for i in ("1", "2", "4"))
            assert (waiting.status, waiting.fields["status_name"]) == (
                "pending",
                "Waiting on customer",
            )
            assert waiting.events[-1].kind is EventKind.STATUS_CHANGED
            assert waiting.events[-1].at == datetime(2026, 3, 2, 15, tzinfo=UTC)
            assert done.status == "resolved" and done.events[-1].kind is EventKind.SOLVED
            assert engineering.status == "open"
            assert engineering.fields["status_name"] == "with_engineering"
            # A rule writes a custom status by its name.
            act = action(ActionKind.SET_STATUS, {"status": "waiting on customer"}, "3")
            assert conn.apply([act])[0].status is ApplyStatus.APPLIED
            assert fake.tickets[3]["status"] == 6


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        ({3: {"name": "x"}}, "Freshdesk's own"),
        ({6: {"name": "Pending"}}, "another name"),
        ({6: {"name": "a"}, 7: {"name": "A"}}, "both named"),
        ({6: {"name": "a", "like": "hold"}}, "open"),
    ],
)
def test_custom_statuses_are_checked(statuses, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FreshdeskConfig(
            base_url="https://a.freshdesk.com", api_key_env="X", custom_statuses=statuses
        )


def test_a_bulk_change_with_a_ticket_changed_during_its_pages(fake, connector) -> None:
    """Five tickets changed in one second, two a page: the read pages through that second.
    Ticket 1 changing after the first of those pages shifts ticket 3 onto it, already read;
    the second's pages are read again, so ticket 3 is not lost."""
    for t in fake.tickets.values():
        t["updated_at"] = "2026-03-05T10:00:00Z"  # before the fake's clock: a change moves it last
    served: list[int] = []

    def change_ticket_1(page: int) -> None:
        served.append(page)
        if len(served) == 2:  # page 1 of the window that starts at the bulk second
            fake.touch(1)

    fake.after_list_page = change_ticket_1
    pages = list(connector.read_changed(None))
    assert sorted(set(ids(pages))) == ["1", "2", "3", "4", "5"]
