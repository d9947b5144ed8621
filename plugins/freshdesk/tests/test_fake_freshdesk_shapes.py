"""The fake Freshdesk serves the shapes of Freshdesk's API v2 reference and enforces its rules.

Source for every expectation: Freshdesk's API v2 reference (developers.freshdesk.com/api; the
copy read is ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``), sections "List All Ticket
Fields", "List All Groups", "Currently Authenticated Agent", "Update a Contact"
(``custom_fields``: "Only dates in the format YYYY-MM-DD are accepted as input for custom
date fields") and "Errors".
"""

from __future__ import annotations

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
