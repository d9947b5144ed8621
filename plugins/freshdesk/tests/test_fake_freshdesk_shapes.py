"""The fake Freshdesk serves the shapes of Freshdesk's API v2 reference and enforces its rules.

Source for every expectation: Freshdesk's API v2 reference (developers.freshdesk.com/api; the
copy read is ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``), sections "List All Ticket
Fields", "List All Groups", "Currently Authenticated Agent", "Update a Contact"
(``custom_fields``: "Only dates in the format YYYY-MM-DD are accepted as input for custom
date fields") and "Errors".
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from slaplug_freshdesk.fake import API_KEY, FakeFreshdesk


def get(fake: FakeFreshdesk, path: str) -> Any:
    r = requests.get(f"{fake.base_url}/api/v2/{path}", auth=(API_KEY, "X"), timeout=5)
    assert r.status_code == 200
    return r.json()


def put(fake: FakeFreshdesk, ticket: int, body: dict[str, Any]) -> requests.Response:
    return requests.put(
        f"{fake.base_url}/api/v2/tickets/{ticket}", json=body, auth=(API_KEY, "X"), timeout=5
    )


def test_ticket_fields_carry_the_documented_choices_and_requester_flags(
    fake: FakeFreshdesk,
) -> None:
    fields = {f["name"]: f for f in get(fake, "ticket_fields")}
    # default_status: code -> [agent label, customer label], as the reference's example.
    assert fields["status"]["choices"]["2"] == ["Open", "Being Processed"]
    assert fields["status"]["choices"]["3"] == ["Pending", "Awaiting your Reply"]
    assert fields["priority"]["choices"] == {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}
    # default_group / default_agent: name -> id.
    assert fields["group"]["choices"] == {"Support": 7, "Second Line": 8}
    assert all(isinstance(v, int) for v in fields["agent"]["choices"].values())
    # portal_cc / portal_cc_to: "Applicable only for the requester field".
    assert (fields["requester"]["portal_cc"], fields["requester"]["portal_cc_to"]) == (
        False,
        "company",
    )
    assert "portal_cc" not in fields["subject"]
    assert fields["cf_sla_due_date"]["type"] == "custom_date"
    assert fields["cf_sla_due_date"]["default"] is False


def test_groups_list_in_the_documented_shape(fake: FakeFreshdesk) -> None:
    groups = get(fake, "groups")
    assert set(groups[0]) == {
        "id",
        "name",
        "description",
        "business_hour_id",
        "escalate_to",
        "unassigned_for",
        "auto_ticket_assign",
        "created_at",
        "updated_at",
    }


def test_agents_carry_the_documented_fields_with_the_person_under_contact(
    fake: FakeFreshdesk,
) -> None:
    me = get(fake, "agents/me")
    assert {"id", "type", "group_ids", "role_ids", "ticket_scope", "available"} <= set(me)
    assert {"email", "name", "language", "time_zone"} <= set(me["contact"])
    assert "email" not in me  # the e-mail is the contact's, not the agent's


@pytest.mark.parametrize("value", ["2026-03-03T10:00:00Z", "03/03/2026", "2026-02-30", 20260303])
def test_a_custom_date_field_refuses_anything_but_yyyy_mm_dd_with_400(
    fake: FakeFreshdesk, value: Any
) -> None:
    before = get(fake, "tickets/1")
    r = put(fake, 1, {"priority": 4, "custom_fields": {"cf_sla_due_date": value}})
    assert r.status_code == 400
    body = r.json()
    assert body["description"] == "Validation failed"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("cf_sla_due_date", "invalid_value")
    ]
    assert get(fake, "tickets/1") == before  # nothing applied


def test_a_custom_date_field_takes_yyyy_mm_dd_and_null(fake: FakeFreshdesk) -> None:
    r = put(fake, 1, {"custom_fields": {"cf_sla_due_date": "2026-03-03"}})
    assert r.status_code == 200
    assert r.json()["custom_fields"]["cf_sla_due_date"] == "2026-03-03"
    r = put(fake, 1, {"custom_fields": {"cf_sla_due_date": None}})
    assert r.json()["custom_fields"]["cf_sla_due_date"] is None


# -- GET /api/v2/tickets, against the reference's "List All Tickets" and "Pagination" ------


def listing(fake: FakeFreshdesk, **params: str) -> requests.Response:
    return requests.get(
        f"{fake.base_url}/api/v2/tickets", params=params, auth=(API_KEY, "X"), timeout=5
    )


def test_the_list_sorts_by_created_at_newest_first_unless_asked(fake: FakeFreshdesk) -> None:
    """Reference: "Default sort order is created_at", "Default sort order type is desc";
    ``order_by`` takes created_at, due_by, updated_at or status. The fake sorted by
    ``updated_at``, oldest first, whatever was asked."""
    fake.touch(5)  # ticket 5, the newest, is now also the latest changed
    fake.touch(1)
    assert [t["id"] for t in listing(fake).json()] == [5, 4, 3, 2, 1]
    asc = listing(fake, order_by="updated_at", order_type="asc").json()
    assert [t["id"] for t in asc] == [2, 3, 4, 5, 1]
    by_status = listing(fake, order_by="status", order_type="asc").json()
    assert [t["status"] for t in by_status] == [2, 2, 2, 3, 4]
    for params in ({"order_by": "subject"}, {"order_type": "up"}):
        r = listing(fake, **params)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] in params


def test_without_updated_since_only_the_last_30_days_are_listed(fake: FakeFreshdesk) -> None:
    """Reference: "By default, only tickets that have been created within the past 30 days
    will be returned. For older tickets, use the updated_since filter." The fake listed
    all."""
    fake.tickets[1]["created_at"] = "2025-12-01T09:00:00Z"  # long before the fake's clock
    assert 1 not in [t["id"] for t in listing(fake).json()]
    assert 1 in [t["id"] for t in listing(fake, updated_since="2000-01-01T00:00:00Z").json()]


def test_updated_since_takes_a_date_and_reads_no_zone_as_utc(
    fake: FakeFreshdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``updated_since=2015-08-17`` (the reference's example 5) and "If the time zone
    information is not present, it will be assumed to be in UTC" (Schema). The fake read a
    time without zone in the machine's zone."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+5:30: a local reading is 5.5 h off
    time.tzset()
    try:
        last = fake.tickets[5]["updated_at"]  # 2026-03-02T16:00:00Z
        naive = listing(fake, updated_since=last.removesuffix("Z"))
        assert [t["id"] for t in naive.json()] == [5]
        assert len(listing(fake, updated_since="2026-03-02").json()) == 5
        bad = listing(fake, updated_since="yesterday")
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "updated_since"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    "params", [{"per_page": "0"}, {"per_page": "ten"}, {"page": "0"}, {"page": "-1"}]
)
def test_invalid_page_values_are_400(fake: FakeFreshdesk, params: dict[str, str]) -> None:
    """Reference: "Invalid values and values greater than 100 will result in an error";
    "The page number starts with 1". The fake answered 500 or announced next pages
    forever."""
    r = listing(fake, **params)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == next(iter(params))


def test_the_next_page_is_only_in_the_link_header(fake: FakeFreshdesk) -> None:
    """Reference: "The 'link' header in the response will hold the next page url if exists.
    If you have reached the last page of objects, then the link header will not be set."
    """
    first = listing(fake, per_page="2")
    assert len(first.json()) == 2 and "page=2" in first.links["next"]["url"]
    second = requests.get(first.links["next"]["url"], auth=(API_KEY, "X"), timeout=5)
    assert len(second.json()) == 2 and "page=3" in second.links["next"]["url"]
    last = listing(fake, per_page="2", page="3")
    assert len(last.json()) == 1 and "link" not in {k.lower() for k in last.headers}


def test_include_requester_and_stats_embed_their_documented_keys(fake: FakeFreshdesk) -> None:
    """``include=requester``: "the requester's email, id, mobile, name, and phone";
    ``include=stats``: the keys of a recorded ``stats`` (sjkingo/python-freshdesk
    freshdesk/v2/tests/sample_json_data/ticket_1.json). The fake ignored ``requester`` and
    its ``stats`` lacked ``status_updated_at`` and the responded-at times."""
    both = listing(fake, include="stats,requester").json()[0]
    assert set(both["requester"]) == {"email", "id", "mobile", "name", "phone"}
    assert both["requester"]["id"] == both["requester_id"]
    assert set(both["stats"]) == {
        "agent_responded_at", "requester_responded_at", "first_responded_at",
        "status_updated_at", "reopened_at", "resolved_at", "closed_at", "pending_since",
    }  # fmt: skip
    plain = listing(fake).json()[0]
    assert "requester" not in plain and "stats" not in plain


def test_a_status_change_moves_the_status_stats(fake: FakeFreshdesk) -> None:
    r = put(fake, 1, {"status": 4})
    assert r.status_code == 200 and "stats" not in r.json()  # the reference's example has none
    stats = fake.tickets[1]["stats"]
    assert stats["status_updated_at"] == stats["resolved_at"] == fake.tickets[1]["updated_at"]


def test_every_answer_carries_the_rate_limit_headers_and_a_429_says_when_to_retry() -> None:
    """Reference, "Rate Limit": ``X-RateLimit-Total``, ``-Remaining`` and
    ``-Used-CurrentRequest`` on every answer, an include costing 2 more on the list; past
    the limit, 429 with ``Retry-After`` in seconds."""
    with FakeFreshdesk(rate_limit=5, enforce_rate_limit=True) as fake:
        minute = (int(fake.clock.now()) // 60 + 1) * 60
        fake.clock.set(minute + 1)  # a fresh minute: no roll-over during the test
        first = listing(fake, include="stats")
        assert first.headers["X-RateLimit-Total"] == "5"
        assert first.headers["X-RateLimit-Used-CurrentRequest"] == "3"
        assert first.headers["X-RateLimit-Remaining"] == "2"
        assert requests.get(f"{fake.base_url}/api/v2/tickets/1", auth=(API_KEY, "X"),
                            timeout=5).headers["X-RateLimit-Remaining"] == "1"  # fmt: skip
        listing(fake)
        over = listing(fake)
        assert over.status_code == 429
        assert 0 < int(over.headers["Retry-After"]) <= 60
        assert over.headers["X-RateLimit-Remaining"] == "0"
