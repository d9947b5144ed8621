"""The connector kit's conformance suite, against the fake Zendesk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from slaplug_zendesk import ZendeskConnector
from slaplug_zendesk.webhooks import SIGNATURE, TIMESTAMP
from zd_support import HOOK_SECRET, NOW, action, envelope, open_ticket_ids, signed

from slaplug.model import ActionKind
from slaplug.testing import ConnectorSuite, Scenario, WebhookSample

#: The connector's clock, pinned: webhook freshness is measured against it.
CLOCK = datetime.fromtimestamp(NOW, UTC)


def sign(body: bytes, *, secret: str | None = None, age: float = 0.0) -> Mapping[str, str]:
    """Headers of ``body`` signed as Zendesk signs (timestamp + body), ``age`` s before CLOCK."""
    return signed(body, secret or HOOK_SECRET, at=CLOCK - timedelta(seconds=age))[0]


class TestZendeskConnector(ConnectorSuite):
    connector = ZendeskConnector

    @pytest.fixture
    def scenario(self, fake, make_connector):
        first, second = open_ticket_ids(fake, 2)
        body = json.dumps(envelope(second)).encode()
        connector = make_connector(page_size=100)
        connector.clock = lambda: CLOCK
        with fake.lock:
            ticket_ids = [str(i) for i in fake.store.tickets]
        yield Scenario(
            connector=connector,
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
            webhook=WebhookSample(
                sign(body),
                body,
                ticket_id=second,
                signature_header=SIGNATURE,
                sign=sign,
                timestamp_header=TIMESTAMP,
            ),
            min_pages=3,
            ticket_ids=ticket_ids,
        )
