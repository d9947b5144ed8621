"""The connector kit's conformance suite, against the fake Freshdesk."""

from __future__ import annotations

from typing import Any

import pytest
from slaplug_freshdesk import FreshdeskConnector

from slaplug.model import Action, ActionKind, Metric
from slaplug.testing import ConnectorSuite, Scenario


def action(kind: ActionKind, params: dict[str, Any], ticket: str) -> Action:
    """An action as the rules would plan it, keyed for idempotency."""
    return Action(
        kind=kind,
        params=params,
        connector="freshdesk-eu",
        ticket_id=ticket,
        key=f"freshdesk-eu:{ticket}:p:first_response:1:warn:1:{kind}",
        escalation="warn",
        level=1,
        policy="p",
        metric=Metric.FIRST_RESPONSE,
        cycle=1,
    )


class TestFreshdeskConnector(ConnectorSuite):
    connector = FreshdeskConnector

    @pytest.fixture
    def scenario(self, fake, connector):
        yield Scenario(
            connector=connector,
            control=fake,
            ticket_id="1",
            actions=[
                action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "1"),
                action(ActionKind.SET_PRIORITY, {"priority": "urgent"}, "1"),
                action(ActionKind.SET_FIELD, {"field": "sla_state", "value": "at_risk"}, "1"),
                action(ActionKind.SET_STATUS, {"status": "open"}, "2"),
                action(ActionKind.COMMENT, {"body": "SLA at 75 %", "public": False}, "2"),
            ],
            min_pages=3,
            ticket_ids=[str(i) for i in fake.tickets],
        )
