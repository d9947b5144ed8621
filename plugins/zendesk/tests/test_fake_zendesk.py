"""The fake Zendesk behaves as the documented API does (real HTTP on 127.0.0.1).

Each test names the behaviour; the reference for each is cited in docs/testing/fake-zendesk.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests
from slaplug_zendesk.fake import FakeZendesk, main_fake_zendesk
from slaplug_zendesk.fake.generate import FIELD_SLA_BREACH_AT, FIELD_SLA_STATUS, build_dataset

NOW = 1_772_452_800.0  # 2026-03-02T12:00:00Z: the built-in set's reference end


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(now=NOW, job_polls=3, job_complete_after=60) as f:
        yield f


@pytest.fixture
def api(fake: FakeZendesk) -> Iterator[requests.Session]:
    fake.reset_faults()
    with requests.Session() as s:
        s.auth = fake.auth
        yield s


def url(fake: FakeZendesk, path: str) -> str:
    return f"{fake.base_url}/api/v2/{path}"


def open_ticket_id(fake: FakeZendesk, skip: int = 0) -> int:
    """An id of a ticket that accepts updates (closed tickets do not)."""
    ids = sorted(t.id for t in fake.store.tickets.values() if t.status in ("open", "pending"))
    return ids[skip]


def page_all(api: requests.Session, fake: FakeZendesk, **params: Any) -> tuple[list[Any], str, int]:
    r = api.get(url(fake, "incremental/tickets/cursor.json"), params=params)
    pages = 1
    body = r.json()
    tickets = list(body["tickets"])
    while not body["end_of_stream"]:
        body = api.get(body["after_url"]).json()
        tickets += body["tickets"]
        pages += 1
    return tickets, body["after_cursor"], pages


# -- auth -------------------------------------------------------------------------------------


def test_api_token_and_oauth_authenticate(fake: FakeZendesk, api: requests.Session) -> None:
    me = api.get(url(fake, "users/me.json"))
    assert me.status_code == 200
    assert me.json()["user"]["role"] == "admin"
    bearer = {"Authorization": f"Bearer {fake.oauth_token}"}
    assert requests.get(url(fake, "users/me.json"), headers=bearer).status_code == 200
    agent = next(u for u in fake.store.users.values() if u.role == "agent")
    as_agent = requests.get(
        url(fake, "users/me.json"), auth=(f"{agent.email}/token", fake.api_token)
    )
    assert as_agent.json()["user"]["id"] == agent.id


@pytest.mark.parametrize(
    "path",
    [
        "incremental/tickets/cursor.json",
        "incremental/tickets.json",
        "incremental/ticket_events.json",
    ],
)
def test_incremental_exports_are_for_admins_only(fake: FakeZendesk, path: str) -> None:
    # "Allowed For: Admins" on both exports (reference §1.1, incremental-openapi-original.yml);
    # Zendesk's 403 envelope {"error", "description"} (reference §3).
    agent = next(u for u in fake.store.users.values() if u.role == "agent")
    r = requests.get(
        url(fake, path), params={"start_time": 0}, auth=(f"{agent.email}/token", fake.api_token)
    )
    assert r.status_code == 403
    assert r.json()["error"] == "Forbidden" and r.json()["description"]
    assert requests.get(url(fake, path), params={"start_time": 0}, auth=fake.auth).ok


@pytest.mark.parametrize(
    "auth",
    [None, ("admin@fake-zendesk.test", "fake-api-token"), ("admin@fake-zendesk.test/token", "no")],
)
def test_bad_credentials_get_401_couldnt_authenticate(
    fake: FakeZendesk, auth: tuple[str, str] | None
) -> None:
    r = requests.get(url(fake, "users/me.json"), auth=auth)
    assert r.status_code == 401
    assert r.json() == {"error": "Couldn't authenticate you"}


def test_end_user_token_login_is_refused(fake: FakeZendesk) -> None:
    customer = next(u for u in fake.store.users.values() if u.role == "end-user")
    r = requests.get(url(fake, "users/me.json"), auth=(f"{customer.email}/token", fake.api_token))
    assert r.status_code == 401


# -- reads ------------------------------------------------------------------------------------


def test_cursor_export_covers_every_ticket_once_in_updated_order(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tickets, _, pages = page_all(api, fake, start_time=0, per_page=40)
    ids = [t["id"] for t in tickets]
    assert sorted(ids) == sorted(fake.store.tickets)
    assert len(ids) == len(set(ids))
    keys = [(t["generated_timestamp"], t["id"]) for t in tickets]
    assert keys == sorted(keys)
    assert pages == math.ceil(len(ids) / 40)


def test_cursor_export_page_shape(fake: FakeZendesk, api: requests.Session) -> None:
    r = api.get(
        url(fake, "incremental/tickets/cursor.json"), params={"start_time": 0, "per_page": 5}
    )
    body = r.json()
    assert set(body) >= {
        "tickets",
        "after_url",
        "before_url",
        "after_cursor",
        "before_cursor",
        "end_of_stream",
    }
    assert body["after_url"].startswith(f"{fake.base_url}/api/v2/incremental/tickets/cursor.json?")
    assert base64.b64decode(body["after_cursor"]).decode().count("||") == 1
    t = body["tickets"][0]
    assert t["url"] == f"{fake.base_url}/api/v2/tickets/{t['id']}.json"
    assert t["updated_at"].endswith("Z")
    assert {"id": FIELD_SLA_STATUS, "value": None} in t["custom_fields"]
    assert r.headers["X-Rate-Limit"] == "700"
    assert int(r.headers["X-Rate-Limit-Remaining"]) < 700


def test_per_page_is_capped_at_1000(fake: FakeZendesk, api: requests.Session) -> None:
    with FakeZendesk.start(now=NOW, tickets=1500, history="minimal") as big:
        r = requests.get(
            f"{big.base_url}/api/v2/incremental/tickets/cursor.json",
            params={"start_time": 0, "per_page": 5000},
            auth=big.auth,
        )
        assert len(r.json()["tickets"]) == 1000
        assert r.json()["end_of_stream"] is False


def test_start_time_within_the_last_minute_is_400(fake: FakeZendesk, api: requests.Session) -> None:
    r = api.get(
        url(fake, "incremental/tickets/cursor.json"), params={"start_time": int(fake.now) - 30}
    )
    assert r.status_code == 400
    assert r.json()["error"] == "InvalidValue"


def test_after_cursor_later_returns_only_the_changed_ticket(fake: FakeZendesk) -> None:
    with FakeZendesk.start(now=NOW) as own, requests.Session() as api:
        api.auth = own.auth
        _, cursor, _ = page_all(api, own, start_time=0)
        again = api.get(url(own, "incremental/tickets/cursor.json"), params={"cursor": cursor})
        assert again.json()["tickets"] == []
        assert again.json()["end_of_stream"] is True
        tid = open_ticket_id(own)
        assert (
            api.put(
                url(own, f"tickets/{tid}.json"), json={"ticket": {"priority": "low"}}
            ).status_code
            == 200
        )
        # Changes of the last minute are held back (reference §1.1) ...
        held = api.get(url(own, "incremental/tickets/cursor.json"), params={"cursor": cursor})
        assert held.json()["tickets"] == []
        own.advance(61)  # ... and show once it has passed.
        body = api.get(
            url(own, "incremental/tickets/cursor.json"), params={"cursor": cursor}
        ).json()
        assert [t["id"] for t in body["tickets"]] == [tid]
        assert body["tickets"][0]["priority"] == "low"
        assert body["end_of_stream"] is True


def test_ticket_events_stream_has_comments_with_public_flag_and_status_changes(
    fake: FakeZendesk, api: requests.Session
) -> None:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start_time": 0, "include": "comment_events"}
    next_url = url(fake, "incremental/ticket_events.json")
    for _ in range(50):
        body = api.get(next_url, params=params).json()
        assert set(body) >= {"ticket_events", "count", "end_time", "next_page", "end_of_stream"}
        events += body["ticket_events"]
        if body["end_of_stream"]:
            break
        next_url, params = body["next_page"], {}
    children = [c for e in events for c in e["child_events"]]
    comments = [c for c in children if c["event_type"] == "Comment"]
    assert {c["public"] for c in comments} == {True, False}
    assert all({"body", "author_id"} <= set(c) for c in comments)
    # The export's own shape (reference §1.1): the field is named by its key, never the
    # audits API's field_name/value/type.
    assert not any({"field_name", "value"} & set(c) for c in children)
    assert {c["type"] for c in children if "type" in c} <= {
        "question",
        "incident",
        "problem",
        "task",
    }
    changes = [c for c in children if c["event_type"] == "Change" and "status" in c]
    assert {(c["previous_value"], c["status"]) for c in changes} >= {
        ("new", "open"),
        ("open", "pending"),
        ("pending", "open"),
        ("open", "solved"),
        ("solved", "closed"),
        ("open", "hold"),
    }
    assert {e["ticket_id"] for e in events} == set(fake.store.tickets)
    e = events[0]
    assert {"ticket_id", "timestamp", "created_at", "updater_id", "child_events"} <= set(e)


def test_ticket_events_leave_comments_out_unless_included(
    fake: FakeZendesk, api: requests.Session
) -> None:
    body = api.get(url(fake, "incremental/ticket_events.json"), params={"start_time": 0}).json()
    kinds = {c["event_type"] for e in body["ticket_events"] for c in e["child_events"]}
    assert "Comment" not in kinds


def test_ticket_audits_and_users_show_roles(fake: FakeZendesk, api: requests.Session) -> None:
    tid = open_ticket_id(fake)
    r = api.get(url(fake, f"tickets/{tid}/audits.json"), params={"page[size]": 1})
    body = r.json()
    assert len(body["audits"]) == 1
    assert body["meta"]["has_more"] is True
    assert body["audits"][0]["events"][0]["type"] == "Create"
    rest = api.get(body["links"]["next"]).json()
    assert rest["audits"][0]["id"] != body["audits"][0]["id"]
    ticket = api.get(url(fake, f"tickets/{tid}.json"), params={"include": "users"}).json()
    roles = {u["id"]: u["role"] for u in ticket["users"]}
    assert roles[ticket["ticket"]["requester_id"]] == "end-user"
    assert api.get(url(fake, "tickets/999999.json")).json() == {
        "error": "RecordNotFound",
        "description": "Not found",
    }


def test_ticket_fields_list_custom_fields(fake: FakeZendesk, api: requests.Session) -> None:
    fields = api.get(url(fake, "ticket_fields.json")).json()["ticket_fields"]
    assert {"id": FIELD_SLA_STATUS, "title": "SLA status"}.items() <= next(
        f for f in fields if f["id"] == FIELD_SLA_STATUS
    ).items()


def test_built_in_data_set_is_deterministic_and_varied() -> None:
    a, b = build_dataset(seed=3), build_dataset(seed=3)
    assert [(t.id, t.status, t.priority, t.subject) for t in a.tickets.values()] == [
        (t.id, t.status, t.priority, t.subject) for t in b.tickets.values()
    ]
    statuses = {t.status for t in a.tickets.values()}
    assert statuses >= {"new", "open", "pending", "solved", "closed"}
    went_to = {e.value for x in a.audit_log for e in x.events if e.field_name == "status"}
    assert "hold" in went_to
    tags = {tag for t in a.tickets.values() for tag in t.tags}
    assert {"vip", "no_sla", "acme", "globex", "initech"} <= tags
    assert {g.name for g in a.groups.values()} == {"first-line", "second-line", "billing"}


# -- writes -----------------------------------------------------------------------------------


def test_additional_and_remove_tags_are_ignored_on_a_single_ticket_update(
    fake: FakeZendesk, api: requests.Session
) -> None:
    # additional_tags / remove_tags are documented for Update Many only; Update Ticket's
    # `tags` replaces the list (reference §1.1, §2.1; developer.zendesk.com guide "Adding
    # tags to tickets without overwriting existing tags"). Zendesk ignores unknown keys.
    tid = open_ticket_id(fake, 1)
    before = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["tags"]
    r = api.put(
        url(fake, f"tickets/{tid}.json"), json={"ticket": {"additional_tags": ["sla_warning"]}}
    )
    assert r.status_code == 200 and r.json()["ticket"]["tags"] == before
    r = api.put(url(fake, f"tickets/{tid}.json"), json={"ticket": {"remove_tags": before[:1]}})
    assert r.json()["ticket"]["tags"] == before


def test_tag_endpoints_and_update_many_add_and_remove_keeping_other_tags(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tid = open_ticket_id(fake, 1)
    before = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["tags"]
    r = api.put(url(fake, f"tickets/{tid}/tags.json"), json={"tags": ["sla_warning"]})
    assert r.json()["tags"] == [*before, "sla_warning"]
    r = api.put(url(fake, f"tickets/{tid}/tags.json"), json={"tags": ["sla_breached"]})
    assert r.json()["tags"] == [*before, "sla_warning", "sla_breached"]
    r = api.delete(url(fake, f"tickets/{tid}/tags.json"), json={"tags": ["sla_warning"]})
    assert r.json()["tags"] == [*before, "sla_breached"]
    job = api.put(
        url(fake, "tickets/update_many.json"),
        json={"tickets": [{"id": tid, "remove_tags": ["sla_breached"]}]},
    ).json()["job_status"]
    fake.complete_jobs()
    assert api.get(job["url"]).json()["job_status"]["status"] == "completed"
    assert api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["tags"] == before


def test_a_comment_is_recorded_with_its_true_author_and_privacy(
    fake: FakeZendesk, api: requests.Session
) -> None:
    # The comment's author is the user the credentials act as ("Show Self",
    # GET /api/v2/users/me); `public: false` makes an internal note (reference §2.1).
    tid = open_ticket_id(fake, 3)
    me = api.get(url(fake, "users/me.json")).json()["user"]["id"]
    agent = next(u for u in fake.store.users.values() if u.role == "agent")
    body = {"ticket": {"comment": {"body": "note by the API user", "public": False}}}
    audit = api.put(url(fake, f"tickets/{tid}.json"), json=body).json()["audit"]
    (comment,) = [e for e in audit["events"] if e["type"] == "Comment"]
    assert (comment["author_id"], comment["public"]) == (me, False)
    as_agent = requests.put(
        url(fake, f"tickets/{tid}.json"),
        json={"ticket": {"comment": {"body": "by an agent", "public": True}}},
        auth=(f"{agent.email}/token", fake.api_token),
    ).json()["audit"]
    (comment,) = [e for e in as_agent["events"] if e["type"] == "Comment"]
    assert (comment["author_id"], comment["public"]) == (agent.id, True)


def test_show_many_lists_the_tickets_asked_for_and_caps_at_100(
    fake: FakeZendesk, api: requests.Session
) -> None:
    # Show Many Tickets takes up to 100 ids (Tickets API; reference §2.1 for the 100 cap and
    # the TooManyValues body recorded in zenpy's cassettes).
    ids = sorted(fake.store.tickets)[:3]
    body = api.get(url(fake, "tickets/show_many.json"), params={"ids": ",".join(map(str, ids))})
    assert [t["id"] for t in body.json()["tickets"]] == ids
    many = ",".join(str(i) for i in range(1, 102))
    r = api.get(url(fake, "tickets/show_many.json"), params={"ids": many})
    assert r.status_code == 400 and r.json()["error"] == "TooManyValues"


def test_tags_property_replaces_the_list(fake: FakeZendesk, api: requests.Session) -> None:
    tid = open_ticket_id(fake, 2)
    r = api.put(url(fake, f"tickets/{tid}.json"), json={"ticket": {"tags": ["only"]}})
    assert r.json()["ticket"]["tags"] == ["only"]


def test_internal_note_is_recorded_as_private_comment_audit(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tid = open_ticket_id(fake, 3)
    before = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["updated_at"]
    fake.advance(2)
    r = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={
            "ticket": {
                "comment": {"body": "SLA breached at 14:00", "public": False},
                "custom_fields": [{"id": FIELD_SLA_STATUS, "value": "breached"}],
            }
        },
    )
    assert r.status_code == 200
    audit = r.json()["audit"]
    comment = next(e for e in audit["events"] if e["type"] == "Comment")
    assert comment["public"] is False
    assert comment["body"] == "SLA breached at 14:00"
    assert r.json()["ticket"]["updated_at"] > before
    assert fake.audits(tid)[-1]["id"] == audit["id"]
    write = fake.writes[-1]
    assert (write.method, write.path, write.accepted) == (
        "PUT",
        f"/api/v2/tickets/{tid}.json",
        True,
    )
    assert write.body["ticket"]["comment"]["public"] is False


def test_safe_update_conflicts_on_a_stale_stamp_and_succeeds_on_a_fresh_one(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tid = open_ticket_id(fake, 4)
    stamp = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["updated_at"]
    fake.advance(5)
    fake.simulate("requester_reply", tid, body="Still broken")
    stale = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={"ticket": {"priority": "high", "safe_update": True, "updated_stamp": stamp}},
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "UpdateConflict"
    assert fake.writes[-1].accepted is False
    fresh_stamp = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]["updated_at"]
    ok = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={"ticket": {"priority": "high", "safe_update": True, "updated_stamp": fresh_stamp}},
    )
    assert ok.status_code == 200


def test_invalid_priority_is_422_record_invalid(fake: FakeZendesk, api: requests.Session) -> None:
    tid = open_ticket_id(fake)
    r = api.put(url(fake, f"tickets/{tid}.json"), json={"ticket": {"priority": "p1"}})
    assert r.status_code == 422
    assert r.json()["error"] == "RecordInvalid"
    assert "priority" in r.json()["details"]


def _date_refused(body: Any) -> None:
    # Recorded from real Zendesk: github.com/facetoe/zenpy/issues/425 (a date custom field
    # set to datetime.now().isoformat()).
    assert body["error"] == "RecordInvalid"
    assert body["description"] == "Record validation errors"
    assert body["details"]["base"] == [
        {
            "description": "SLA breach at is not valid",
            "error": "InvalidValue",
            "ticket_field_id": FIELD_SLA_BREACH_AT,
            "ticket_field_type": "FieldDate",
        }
    ]


@pytest.mark.parametrize(
    "value", ["2026-12-07T15:00:00Z", "2026-12-07T16:00:00+01:00", "07/12/2026", "2026-02-30", 7]
)
def test_a_date_field_refuses_anything_but_yyyy_mm_dd_with_422_and_applies_nothing(
    fake: FakeZendesk, api: requests.Session, value: Any
) -> None:
    tid = open_ticket_id(fake, 9)
    before = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]
    r = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={
            "ticket": {
                "priority": "urgent" if before["priority"] != "urgent" else "low",
                "custom_fields": [{"id": FIELD_SLA_BREACH_AT, "value": value}],
            }
        },
    )
    assert r.status_code == 422
    _date_refused(r.json())
    after = api.get(url(fake, f"tickets/{tid}.json")).json()["ticket"]
    assert after == before  # the update is refused whole


def test_a_date_field_takes_yyyy_mm_dd_and_shows_it_as_sent(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tid = open_ticket_id(fake, 10)
    r = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={"ticket": {"custom_fields": [{"id": FIELD_SLA_BREACH_AT, "value": "2026-12-07"}]}},
    )
    assert r.status_code == 200
    assert {"id": FIELD_SLA_BREACH_AT, "value": "2026-12-07"} in r.json()["ticket"]["custom_fields"]
    cleared = api.put(
        url(fake, f"tickets/{tid}.json"),
        json={"ticket": {"custom_fields": [{"id": FIELD_SLA_BREACH_AT, "value": None}]}},
    )
    assert {"id": FIELD_SLA_BREACH_AT, "value": None} in cleared.json()["ticket"]["custom_fields"]


def test_update_many_fails_the_ticket_with_a_malformed_date_and_applies_the_others(
    fake: FakeZendesk, api: requests.Session
) -> None:
    a, b = open_ticket_id(fake, 11), open_ticket_id(fake, 12)
    r = api.put(
        url(fake, "tickets/update_many.json"),
        json={
            "tickets": [
                {"id": a, "custom_fields": [{"id": FIELD_SLA_BREACH_AT, "value": "2026-12-07"}]},
                {
                    "id": b,
                    "custom_fields": [{"id": FIELD_SLA_BREACH_AT, "value": "2026-12-07T15:00:00Z"}],
                },
            ]
        },
    )
    fake.complete_jobs()
    job = api.get(r.json()["job_status"]["url"]).json()["job_status"]
    results = {x["id"]: x for x in job["results"]}
    assert results[a]["success"] is True
    assert results[b]["success"] is False
    assert results[b]["error"] == "RecordInvalid"
    values = {cf["id"]: cf["value"] for cf in fake.ticket(b)["custom_fields"]}
    assert values[FIELD_SLA_BREACH_AT] is None


def test_update_many_over_100_is_400_too_many_values(
    fake: FakeZendesk, api: requests.Session
) -> None:
    tickets = [{"id": i, "priority": "low"} for i in range(1, 102)]
    r = api.put(url(fake, "tickets/update_many.json"), json={"tickets": tickets})
    assert r.status_code == 400
    assert r.json()["error"] == "TooManyValues"
    assert r.json()["max_count"] == 100
    ids = ",".join(str(i) for i in range(1, 102))
    r = api.put(
        url(fake, f"tickets/update_many.json?ids={ids}"), json={"ticket": {"status": "open"}}
    )
    assert r.status_code == 400


def test_job_status_progresses_to_completed_with_per_ticket_results(
    fake: FakeZendesk, api: requests.Session
) -> None:
    a, b = open_ticket_id(fake, 5), open_ticket_id(fake, 6)
    r = api.put(
        url(fake, "tickets/update_many.json"),
        json={
            "tickets": [
                {"id": a, "additional_tags": ["bulk"]},
                {"id": b, "additional_tags": ["bulk"]},
                {"id": 999999, "additional_tags": ["bulk"]},
            ]
        },
    )
    job = r.json()["job_status"]
    assert job["status"] == "queued"
    assert "bulk" not in fake.ticket(a)["tags"]  # applied in the background, not yet
    seen = [api.get(job["url"]).json()["job_status"] for _ in range(3)]
    assert [s["status"] for s in seen] == ["queued", "working", "completed"]
    results = {x["id"]: x for x in seen[-1]["results"]}
    assert results[a] == {"id": a, "action": "update", "status": "Updated", "success": True}
    assert results[999999]["success"] is False
    assert "bulk" in fake.ticket(a)["tags"]
    assert fake.requests["poll"] >= 3


def test_update_many_with_ids_applies_one_update_to_all(
    fake: FakeZendesk, api: requests.Session
) -> None:
    a, b = open_ticket_id(fake, 7), open_ticket_id(fake, 8)
    r = api.put(
        url(fake, f"tickets/update_many.json?ids={a},{b}"),
        json={"ticket": {"additional_tags": ["ids_bulk"]}},
    )
    fake.complete_jobs()
    assert api.get(r.json()["job_status"]["url"]).json()["job_status"]["status"] == "completed"
    assert "ids_bulk" in fake.ticket(a)["tags"] and "ids_bulk" in fake.ticket(b)["tags"]


# -- faults -----------------------------------------------------------------------------------


def _fault_run(fake: FakeZendesk, api: requests.Session, seed: int) -> list[int]:
    fake.set_faults(rate=0.3, statuses=(429, 503), retry_after=2, seed=seed)
    statuses = []
    for _ in range(200):
        r = api.get(url(fake, "users/me.json"))
        if r.status_code != 200:
            assert r.headers["Retry-After"] == "2"
        statuses.append(r.status_code)
    fake.reset_faults()
    return statuses


def test_fault_rate_is_close_to_configured_and_deterministic(
    fake: FakeZendesk, api: requests.Session
) -> None:
    first = _fault_run(fake, api, seed=7)
    again = _fault_run(fake, api, seed=7)
    assert first == again
    failed = sum(s != 200 for s in first)
    assert 40 <= failed <= 80  # 30 % of 200, give or take
    assert set(first) == {200, 429, 503}
    assert api.get(url(fake, "users/me.json")).status_code == 200


def test_faults_can_target_one_method(fake: FakeZendesk, api: requests.Session) -> None:
    fake.set_faults(rate=1.0, statuses=(429,), methods=["PUT"])
    assert api.get(url(fake, "users/me.json")).status_code == 200
    tid = open_ticket_id(fake)
    r = api.put(url(fake, f"tickets/{tid}.json"), json={"ticket": {"priority": "low"}})
    assert r.status_code == 429
    assert fake.writes[-1].faulted is True
    fake.reset_faults()


def test_admin_surface_over_http(fake: FakeZendesk, api: requests.Session) -> None:
    admin = f"{fake.base_url}/_fake"
    assert requests.post(f"{admin}/faults", json={"rate": 1, "statuses": [503]}).status_code == 200
    assert api.get(url(fake, "users/me.json")).status_code == 503
    requests.delete(f"{admin}/faults")
    tid = open_ticket_id(fake)
    r = requests.post(f"{admin}/simulate", json={"kind": "internal_note", "ticket_id": tid})
    assert r.json()["audit"]["events"][-1]["public"] is False
    writes = requests.get(f"{admin}/writes").json()["writes"]
    assert writes and {"method", "path", "body", "time", "accepted"} <= set(writes[-1])
    clock = requests.post(f"{admin}/clock", json={"advance": 0}).json()
    assert clock["unix"] >= NOW
    assert requests.get(f"{admin}/requests").json()["requests"]["read"] > 0


# -- webhooks ---------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_signature_verifies_timestamp_plus_body(fake: FakeZendesk) -> None:
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    secret = "s3cret-signing-key"
    try:
        with FakeZendesk.start(now=NOW) as own:
            own.configure_webhook(f"http://127.0.0.1:{receiver.server_port}/hook", secret)
            tid = open_ticket_id(own)
            own.simulate("status", tid, value="solved")
            assert own.wait_for_webhooks(5)
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert _Receiver.received
    headers, body = _Receiver.received[0]
    ts = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    expected = base64.b64encode(
        hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()
    ).decode()
    assert hmac.compare_digest(headers["X-Zendesk-Webhook-Signature"], expected)
    assert headers["X-Zendesk-Webhook-Id"]
    assert time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    event = json.loads(body)
    assert event["type"] == "zen:event-type:ticket.status_changed"
    assert event["subject"] == f"zen:ticket:{tid}"
    assert event["detail"]["id"] == str(tid)
    assert event["event"]["current"] == "SOLVED"


def test_webhook_duplicates_keep_the_event_id(fake: FakeZendesk) -> None:
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with FakeZendesk.start(now=NOW) as own:
            own.configure_webhook(f"http://127.0.0.1:{receiver.server_port}/", "k", 1.0)
            own.simulate("agent_reply", open_ticket_id(own))
            assert own.wait_for_webhooks(5)
    finally:
        receiver.shutdown()
        receiver.server_close()
    ids = [json.loads(body)["id"] for _, body in _Receiver.received]
    assert len(ids) == 2 * len(set(ids))
    # One invocation id per event, the same on its duplicate (reference, corrections 2026-12).
    invocations = {
        (json.loads(body)["id"], headers["X-Zendesk-Webhook-Invocation-Id"])
        for headers, body in _Receiver.received
    }
    assert len(invocations) == len(set(ids)) == len({i for _, i in invocations})


# -- scale and life cycle ---------------------------------------------------------------------


def test_generated_tickets_page_through_in_ceil_n_over_1000_pages() -> None:
    # Speed at 50,000 tickets is a benchmark's business (bench/), not a timed test's.
    n = 5_500
    with FakeZendesk.start(now=NOW, tickets=n) as big, requests.Session() as api:
        api.auth = big.auth
        tickets, _, pages = page_all(api, big, start_time=0)
    assert len(tickets) == n
    assert len({t["id"] for t in tickets}) == n
    assert pages == math.ceil(n / 1000)


def test_seed_file_round_trips(tmp_path: Any) -> None:
    path = tmp_path / "seed.json"
    with FakeZendesk.start(now=NOW, tickets=20) as small:
        small.dump_seed(path)
        before = small.ticket(3)
    with FakeZendesk.from_seed_file(path) as again:
        assert again.ticket(3) | {"url": ""} == before | {"url": ""}
        assert len(again.audits(3)) == len(small.audits(3))


def test_hand_written_seed_without_audits_loads() -> None:
    seed = {
        "format": "slaplug-fake-zendesk/1",
        "now": "2026-03-02T12:00:00Z",
        "users": [
            {"id": 1, "name": "Ann", "email": "ann@x.test", "role": "admin"},
            {"id": 2, "name": "Cy", "email": "cy@y.test", "role": "end-user"},
        ],
        "tickets": [
            {
                "id": 7,
                "subject": "Hi",
                "requester_id": 2,
                "status": "open",
                "created_at": "2026-03-01T10:00:00Z",
            }
        ],
    }
    with FakeZendesk.start(seed=seed) as fake:
        assert fake.ticket(7)["status"] == "open"
        assert fake.audits(7)[0]["events"][0]["type"] == "Create"


def test_stop_leaves_no_threads_behind() -> None:
    before = threading.active_count()
    with FakeZendesk.start(now=NOW, tickets=10) as f, requests.Session() as s:
        s.auth = f.auth
        assert s.get(f"{f.base_url}/api/v2/users/me.json").status_code == 200
    # No grace period: stop() joins the server's, its handlers' and the webhook sender's
    # threads before the ``with`` block ends.
    assert threading.active_count() <= before


def test_cli_help_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_fake_zendesk(["--help"]) == 0
    assert "--webhook-secret-env" in capsys.readouterr().out


def test_cli_serves_until_sigterm() -> None:
    argv = [sys.executable, "-m", "slaplug_zendesk.fake", "--port", "0", "--tickets", "20"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
            assert base.startswith("http://127.0.0.1:")
            assert requests.get(f"{base}/_fake/health", timeout=5).json()["tickets"] == 20
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
