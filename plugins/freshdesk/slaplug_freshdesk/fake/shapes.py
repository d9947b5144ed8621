"""The shapes the fake Freshdesk serves, and the values it parses, apart from its routing.

Each shape names its source (Freshdesk's API v2 reference, "the reference", read in the copy
ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``, or a recorded response); docs/plugins/
freshdesk.md lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from slaplug.testing.fakeserver import is_calendar_date

__all__ = ["agent", "count", "group", "is_date", "parse", "parse_or_none", "ticket_fields"]

#: A custom date field's value on input: "Only dates in the format YYYY-MM-DD are accepted as
#: input for custom date fields" (Freshdesk API v2 reference, "Update a Contact",
#: ``custom_fields``; the same field type, ``custom_date``, as on tickets, whose own rows
#: link to the same custom-field notes). That tickets enforce it alike is our reading.


def ticket_fields(
    statuses: Iterable[int],
    custom_fields: Mapping[str, str],
    field_types: Mapping[str, str],
    groups: Mapping[int, str],
    agents: Mapping[str, int],
) -> list[dict[str, Any]]:
    """``GET /api/v2/ticket_fields``, as the reference's "List All Ticket Fields" example
    shows it (Freshdesk API v2 reference; a copy in ktsaou/freshdesk_mcp
    ``FRESHDESK_API_DOCS.txt``): one object per field with ``id``, ``name``, ``label``,
    ``description``, ``position``, ``type``, ``default`` and the ``required_for_*`` /
    ``customers_*`` flags; ``portal_cc`` and ``portal_cc_to`` on the requester only.
    ``choices`` by type: ``status`` maps each code to ``[agent label, customer label]``
    (custom statuses included), ``priority``, ``source``, ``group`` and ``agent`` map
    names to ids, ``ticket_type`` lists names. A custom field's ``name`` is the key of
    ``custom_fields`` in a ticket: ``cf_...`` as the reference's newer ticket examples
    and a recorded listing (oneblink/sdk-core-js ``tests/freshdeskFieldsFixture.json``)
    show, or, with ``legacy_field_names``, without the prefix, as the reference's own
    2015 list example has them (``LEGACY_PREFIX`` in ``server``)."""
    customer_labels = {
        2: ("Open", "Being Processed"),
        3: ("Pending", "Awaiting your Reply"),
        4: ("Resolved", "This ticket has been Resolved"),
        5: ("Closed", "This ticket has been Closed"),
    }
    status_choices = {
        str(code): list(customer_labels.get(code, (f"Status {code}", "Being Processed")))
        for code in statuses
    }
    default: list[tuple[str, str, str, Any]] = [
        ("requester", "Search a requester", "default_requester", None),
        ("subject", "Subject", "default_subject", None),
        ("ticket_type", "Type", "default_ticket_type", ["Question", "Incident", "Problem"]),
        ("source", "Source", "default_source", {"Email": 1, "Portal": 2, "Phone": 3}),
        ("status", "Status", "default_status", status_choices),
        (
            "priority",
            "Priority",
            "default_priority",
            {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4},
        ),
        ("group", "Group", "default_group", {n: gid for gid, n in groups.items()}),
        ("agent", "Agent", "default_agent", dict(agents)),
        ("description", "Description", "default_description", None),
    ]
    custom = [
        (name, label, field_types.get(name, "custom_text"), None)
        for name, label in custom_fields.items()
    ]
    fields = []
    for n, (name, label, kind, choices) in enumerate([*default, *custom], start=1):
        field: dict[str, Any] = {
            "id": 1000 + n,
            "description": label,
            "label": label,
            "name": name,
            "position": n,
            "type": kind,
            "label_for_customers": label,
            "default": kind.startswith("default_"),
            "required_for_closure": False,
            "required_for_agents": name in ("requester", "subject", "status", "priority"),
            "required_for_customers": False,
            "customers_can_edit": False,
            "displayed_to_customers": False,
            "created_at": "2026-01-05T09:00:00Z",
            "updated_at": "2026-01-05T09:00:00Z",
        }
        if name == "requester":
            field.update(portal_cc=False, portal_cc_to="company")
        if choices is not None:
            field["choices"] = choices
        fields.append(field)
    return fields


def group(gid: int, name: str) -> dict[str, Any]:
    """A group as ``GET /api/v2/groups`` lists it: the reference's "List All Groups" example
    (Freshdesk API v2 reference; a copy in ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``)
    has ``id``, ``name``, ``description``, ``business_hour_id``, ``escalate_to``,
    ``unassigned_for``, ``auto_ticket_assign`` (0: disabled), ``created_at`` and
    ``updated_at``. (``type`` and ``agent_ids`` belong to ``/api/v2/admin/groups``.)"""
    return {
        "id": gid,
        "name": name,
        "description": f"{name} agents",
        "business_hour_id": None,
        "escalate_to": None,
        "unassigned_for": "30m",
        "auto_ticket_assign": 0,
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": "2026-01-05T09:00:00Z",
    }


def agent(agent_id: int, name: str, email: str, groups: list[int]) -> dict[str, Any]:
    """An agent as ``GET /api/v2/agents`` and ``/agents/me`` show it (the reference's
    "Currently Authenticated Agent" example: ``available``, ``occasional``, ``signature``,
    ``group_ids``, ``role_ids``, ``skill_ids``, ``id``, ``ticket_scope``, ``created_at``,
    ``updated_at``, ``available_since``, ``type`` and the person under ``contact``)."""
    return {
        "available": True,
        "occasional": False,
        "signature": None,
        "group_ids": groups,
        "role_ids": [1],
        "skill_ids": [],
        "id": agent_id,
        "ticket_scope": 1,
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": "2026-01-05T09:00:00Z",
        "available_since": None,
        "type": "support_agent",
        "contact": {
            "active": True,
            "email": email,
            "job_title": None,
            "language": "en",
            "last_login_at": None,
            "mobile": None,
            "name": name,
            "phone": None,
            "time_zone": "UTC",
            "created_at": "2026-01-05T09:00:00Z",
            "updated_at": "2026-01-05T09:00:00Z",
        },
    }


def is_date(value: Any) -> bool:
    """Whether a custom date field takes ``value``: ``YYYY-MM-DD``, or null to empty it."""
    return value is None or is_calendar_date(value)


def parse(value: str) -> datetime:
    """A date or timestamp as Freshdesk takes one; "If the time zone information is not
    present, it will be assumed to be in UTC" (reference, "Schema", Date Fields), and a bare
    date (``updated_since=2015-08-17``, "List All Tickets" example 5) is its midnight."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_or_none(value: str) -> datetime | None:
    """`parse`, or None for a value that is no date (the caller answers 400)."""
    try:
        return parse(value)
    except ValueError:
        return None


def count(value: str | None, default: int) -> int | None:
    """A ``page`` or ``per_page`` value: a whole number from 1, else None."""
    if value is None or value == "":
        return default
    return int(value) if value.isdigit() and int(value) >= 1 else None
