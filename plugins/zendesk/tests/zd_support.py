"""Helpers and fixtures for the Zendesk connector's tests (fixtures re-exported by conftest).

Named apart from ``conftest`` so tests can import it: slaplug's own ``tests/conftest.py`` is
also on the path when both suites run together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from slaplug_zendesk.fake import FakeZendesk

from slaplug.connectors import sign
from slaplug.model import Action, ActionKind, Metric

#: The fake's clock starts here (2026-03-02T12:00:00Z), so its data set is the same each run.
NOW = 1_772_452_800
TOKEN_ENV = "ZD_TEST_TOKEN"
HOOK_SECRET = "zd-webhook-secret-0042"
OLD_HOOK_SECRET = "zd-old-rotated-secret-0041"
SLA_STATUS_FIELD = 360000000103

MakeConnector = Callable[..., ZendeskConnector]


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    """The fake with its built-in account, clock fixed at `NOW` (it keeps ticking)."""
    with FakeZendesk.start(now=NOW) as running:
        yield running


@pytest.fixture
def make_connector(fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeConnector]:
    """Build connectors on ``fake``; nothing sleeps (job polls go through ``sleep``)."""
    monkeypatch.setenv(TOKEN_ENV, fake.api_token)
    monkeypatch.setenv("ZD_HOOK_OLD", OLD_HOOK_SECRET)
    monkeypatch.setenv("ZD_HOOK", HOOK_SECRET)
    made: list[ZendeskConnector] = []

    def make(target: FakeZendesk | None = None, **overrides: Any) -> ZendeskConnector:
        server = target or fake
        settings: dict[str, Any] = {
            "base_url": server.base_url,
            "email": server.email,
            "api_token_env": TOKEN_ENV,
            "webhook_secret_env": ["ZD_HOOK_OLD", "ZD_HOOK"],
            "fields": {"sla_resolution_status": SLA_STATUS_FIELD},
            "retry": {"jitter": 0, "backoff_initial": 0.5},
            "job_poll_interval": 0.5,
            **overrides,
        }
        connector = ZendeskConnector(ZendeskConfig(**settings), instance="zendesk-eu")
        connector.sleep = lambda seconds: None
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def open_ticket_ids(fake: FakeZendesk, count: int) -> list[str]:
    """Ids of tickets that accept updates (not closed), lowest first."""
    with fake.lock:
        ids = sorted(t.id for t in fake.store.tickets.values() if t.status != "closed")
    return [str(i) for i in ids[:count]]


def action(kind: ActionKind, params: dict[str, Any], ticket: str, n: int = 1) -> Action:
    """An action as the rules would plan it, keyed like the rules key them."""
    return Action(
        kind=kind,
        params=params,
        connector="zendesk-eu",
        ticket_id=ticket,
        key=f"zendesk-eu:{ticket}:customer-sla:resolution:1:test:1:{n}",
        escalation="test",
        level=1,
        policy="customer-sla",
        metric=Metric.RESOLUTION,
        cycle=1,
    )


def signed(body: dict[str, Any] | bytes, secret: str = HOOK_SECRET, at: datetime | None = None):
    """Headers and raw body of a delivery signed as Zendesk signs (timestamp + body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "X-Zendesk-Webhook-Signature": sign(secret, stamp.encode() + raw),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Id": "01HWEBHOOK",
    }
    return headers, raw


def envelope(ticket_id: str, kind: str = "status_changed") -> dict[str, Any]:
    """An event-subscribed webhook body."""
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": 12514403,
        "id": "5f0c6e1e-3a4b-4c1d-9e8f-0123456789ab",
        "time": "2026-03-02T11:59:00Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {"id": ticket_id, "status": "OPEN"},
        "event": {"current": "OPEN", "previous": "NEW"},
    }
