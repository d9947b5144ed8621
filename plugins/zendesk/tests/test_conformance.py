"""The connector kit's conformance suite, against the fake Zendesk."""

from __future__ import annotations

import pytest
from slaplug_zendesk import ZendeskConnector
from zd_support import action, envelope, open_ticket_ids, signed

from slaplug.model import ActionKind
from slaplug.testing import ConnectorSuite, Scenario, WebhookSample


class TestZendeskConnector(ConnectorSuite):
    connector = ZendeskConnector

    @pytest.fixture
    def scenario(self, fake, make_connector):
        first, second = open_ticket_ids(fake, 2)
        headers, body = signed(envelope(second))
        yield Scenario(
            connector=make_connector(page_size=100),
            control=fake,  # FakeZendesk is the suite's FakeControl itself
            ticket_id=first,
            actions=[
                action(ActionKind.ADD_TAG, {"tag": "sla_at_risk"}, first, 1),
                action(
                    ActionKind.SET_FIELD,
                    {"field": "sla_resolution_status", "value": "at_risk"},
                    first,
                    2,
                ),
                action(ActionKind.COMMENT, {"body": "SLA at 75 %", "public": False}, second, 3),
            ],
            webhook=WebhookSample(headers, body, ticket_id=second),
            min_pages=3,
        )
