"""Defects of issue 13 (item 7) and issue 14 (item 2), each against the fake Freshdesk.

Each test here failed on the connector before these issues.
"""

from __future__ import annotations

from slaplug_freshdesk import FreshdeskConnector
from test_freshdesk_conformance import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind


def test_a_400_on_one_ticket_fails_that_action_alone(fake, connector: FreshdeskConnector) -> None:
    """Freshdesk's 400 "Validation failed" (an unknown custom field here) used to raise a
    FatalAPIError out of `apply`: the whole batch and the sync pass stopped."""
    actions = [
        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "1"),
        action(ActionKind.SET_FIELD, {"field": "no_such_field", "value": "x"}, "1"),
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
