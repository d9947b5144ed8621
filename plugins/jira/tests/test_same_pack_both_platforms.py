"""One rules pack applied to a Zendesk and a Jira ticket with the same history produces the
same measures and the same planned actions, each written in its platform's own dialect.

The Zendesk ticket is served by the fake Zendesk (`slaplug_zendesk.fake`) and read
by the Zendesk connector; the Jira issue is canned Jira JSON (issue, changelog, comments)
read by the Jira connector. Both go through ``rules/default.yaml`` at the same ``now``.

The history (Berlin business hours, 08:00-18:00; 2 March 2026 is a Monday), times in UTC:

* Mon 08:00 the customer opens the ticket, priority high, tagged ``sla_at_risk``;
* Mon 09:00 an agent replies publicly; 09:30 an internal note, and the ticket waits on the
  customer (Zendesk ``pending``, JSM ``Waiting for customer``);
* Tue 09:00 the customer answers and the ticket is open again; Tue 10:00 an agent replies.

On Thu 12:00 the 20 h resolution target of a high ticket ran out (Thu 09:30 Berlin) more
than 4 h earlier, so both levels of ``resolution-breached`` fire.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jira_support import (
    AGENT,
    API,
    CUSTOMER,
    SLA_FIELD,
    calls,
    comment,
    history,
    issue,
    item,
    make_connector,
    sent,
    user,
)

from slaplug.connectors import ApplyStatus
from slaplug.model import Ticket
from slaplug.rules.pack import Assessment, RulePack

slaplug_zendesk = pytest.importorskip(
    "slaplug_zendesk", reason="the Zendesk plugin is not installed"
)
from slaplug_zendesk import ZendeskConfig, ZendeskConnector  # noqa: E402
from slaplug_zendesk.fake import FakeZendesk  # noqa: E402

RULES = Path(__file__).resolve().parents[3] / "rules" / "default.yaml"
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
ZD_FIELD = 360000000103
ADMIN, REQUESTER = 10001, 20001


def zendesk_seed() -> dict[str, Any]:
    def audit(n: int, at: str, author: int, *events: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 7000000000 + n,
            "ticket_id": 4711,
            "created_at": at,
            "author_id": author,
            "via": "web",
            "events": list(events),
        }

    def said(author: int, public: bool = True) -> dict[str, Any]:
        return {"type": "Comment", "body": "...", "public": public, "author_id": author}

    def status(before: str, after: str) -> dict[str, Any]:
        return {"type": "Change", "field_name": "status", "value": after, "previous_value": before}

    return {
        "format": "slaplug-fake-zendesk/1",
        "now": NOW.isoformat(),
        "organizations": [],
        "groups": [{"id": 201, "name": "first-line"}, {"id": 202, "name": "escalations"}],
        "users": [
            {
                "id": ADMIN,
                "name": "Ada Admin",
                "email": "admin@fake-zendesk.test",
                "role": "admin",
                "organization_id": None,
                "default_group_id": 201,
                "created_at": "2026-01-03T12:00:00Z",
            },
            {
                "id": REQUESTER,
                "name": "Carl Customer",
                "email": "carl@acme.example",
                "role": "end-user",
                "organization_id": None,
            },
        ],
        "ticket_fields": [
            {"id": ZD_FIELD, "title": "SLA status", "type": "text", "custom": True, "options": []}
        ],
        "tickets": [
            {
                "id": 4711,
                "subject": "Cannot log in",
                "description": "...",
                "status": "open",
                "priority": "high",
                "type": "incident",
                "requester_id": REQUESTER,
                "submitter_id": REQUESTER,
                "assignee_id": None,
                "group_id": None,
                "organization_id": None,
                "tags": ["sla_at_risk"],
                "custom_fields": [{"id": ZD_FIELD, "value": "at_risk"}],
                "created_at": "2026-03-02T08:00:00Z",
                "updated_at": "2026-03-03T10:00:00Z",
                "via": "web",
            }
        ],
        "audits": [
            audit(
                1,
                "2026-03-02T08:00:00Z",
                REQUESTER,
                {"type": "Create", "field_name": "status", "value": "open"},
                {"type": "Create", "field_name": "priority", "value": "high"},
                said(REQUESTER),
            ),
            audit(2, "2026-03-02T09:00:00Z", ADMIN, said(ADMIN)),
            audit(
                3,
                "2026-03-02T09:30:00Z",
                ADMIN,
                said(ADMIN, public=False),
                status("open", "pending"),
            ),
            audit(4, "2026-03-03T09:00:00Z", REQUESTER, said(REQUESTER), status("pending", "open")),
            audit(5, "2026-03-03T10:00:00Z", ADMIN, said(ADMIN)),
        ],
    }


def jira_issue() -> dict[str, Any]:
    raw = issue(
        "SUP-12",
        "10012",
        created="2026-03-02T08:00:00.000+0000",
        updated="2026-03-03T10:00:00.000+0000",
        status_name="Waiting for support",
        priority="High",
        reporter=CUSTOMER,
        labels=("sla_at_risk",),
        comments=(
            comment("1", user(AGENT), "2026-03-02T09:00:00.000+0000"),
            comment("2", user(AGENT), "2026-03-02T09:30:00.000+0000", public=False),
            comment("3", user(CUSTOMER, "customer"), "2026-03-03T09:00:00.000+0000"),
            comment("4", user(AGENT), "2026-03-03T10:00:00.000+0000"),
        ),
        **{SLA_FIELD: "at_risk"},
    )
    raw["changelog"] = {
        "startAt": 0,
        "maxResults": 100,
        "total": 2,
        "histories": [
            history(
                "2",
                "2026-03-03T09:00:00.000+0000",
                item("status", "Waiting for customer", "Waiting for support"),
                author=CUSTOMER,
            ),
            history(
                "1",
                "2026-03-02T09:30:00.000+0000",
                item("status", "Waiting for support", "Waiting for customer"),
            ),
        ],
    }
    return raw


def history_of(ticket: Ticket) -> list[tuple[Any, ...]]:
    return sorted((e.at, e.kind.value, e.value or "") for e in ticket.events)


def measures(a: Assessment) -> list[tuple[Any, ...]]:
    return sorted(
        (m.policy, m.metric.value, m.cycle, m.state.value, m.elapsed, m.deadline)
        for m in a.measures
    )


def planned(a: Assessment, ticket: Ticket) -> list[tuple[Any, ...]]:
    # Templates may name the ticket ("Ticket 4711 breached..."): the one expected difference.
    def same(v: Any) -> Any:
        return v.replace(ticket.id, "<id>") if isinstance(v, str) else v

    return [
        (x.kind.value, {k: same(v) for k, v in x.params.items()}, x.escalation, x.level)
        for x in a.actions
    ]


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(seed=zendesk_seed(), now=int(NOW.timestamp())) as fake:
        yield fake


def test_same_history_same_measures_same_actions_each_in_its_own_dialect(zendesk, rsps) -> None:
    fake = zendesk
    zd_config = ZendeskConfig.load(
        {
            "base_url": fake.base_url,
            "email": fake.email,
            "api_token_env": "ZD_SAME_PACK_TOKEN",
            "fields": {"sla_resolution_status": ZD_FIELD},
        },
        connector="zendesk",
        environ={"ZD_SAME_PACK_TOKEN": fake.api_token},
    )
    assert isinstance(zd_config, ZendeskConfig)
    jira = make_connector()
    rsps.add_passthru(fake.base_url)  # the fake Zendesk is a real server on 127.0.0.1
    rsps.get(f"{API}/issue/SUP-12", json=jira_issue())

    with ZendeskConnector(zd_config) as zd:
        zd_ticket = zd.read_ticket("4711")
        jira_ticket = jira.read_ticket("SUP-12")
        with RulePack.load([RULES], engine="python") as pack:
            zd_a, jira_a = pack.assess(zd_ticket, NOW), pack.assess(jira_ticket, NOW)

        # The same history in slaplug's terms (order within one instant is the platform's).
        assert history_of(zd_ticket) == history_of(jira_ticket)
        assert measures(zd_a) == measures(jira_a)
        assert ("customer-sla", "resolution", 1, "breached") in [m[:4] for m in measures(jira_a)]
        assert planned(zd_a, zd_ticket) == planned(jira_a, jira_ticket)
        assert {(x.escalation, x.level) for x in jira_a.actions} == {
            ("resolution-breached", 1),
            ("resolution-breached", 2),
        }

        # Written back, each in its own dialect.
        rsps.put(f"{API}/issue/SUP-12", status=204)
        rsps.post(f"{API}/issue/SUP-12/comment", status=201, json={"id": "5"})
        jira_results = jira.apply(jira_a.actions)
        zd_results = zd.apply(zd_a.actions)

    assert [r.status for r in jira_results] == [r.status for r in zd_results]
    assert {r.status for r in jira_results} <= {ApplyStatus.APPLIED, ApplyStatus.SKIPPED}
    (put,) = calls(rsps, "PUT", "/issue/SUP-12")
    assert sent(put) == {
        "fields": {
            SLA_FIELD: "breached",
            "priority": {"name": "Highest"},
            "assignee": {"accountId": "acc-escalations"},
        },
        "update": {"labels": [{"add": "sla_breached"}, {"remove": "sla_at_risk"}]},
    }
    (posted,) = calls(rsps, "POST", "/issue/SUP-12/comment")
    body = sent(posted)
    assert body["body"]["type"] == "doc"
    assert body["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
    assert "SLA breached: resolution target" in str(body["body"])
