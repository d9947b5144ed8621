"""The connector kit's conformance suite (`ConnectorSuite`), against the fake Jira.

(Named ``test_jira_conformance.py``: the Zendesk plugin's tests already have a
``test_conformance.py``, and both test folders share pytest's module namespace.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from jira_support import action
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira

from slaplug.model import ActionKind
from slaplug.testing import ConnectorSuite, Scenario, WebhookSample

HOOK = "fake-jira-hook-secret-0042"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def sign(body: bytes, *, secret: str | None = None, age: float = 0.0) -> Mapping[str, str]:
    """Headers of ``body`` signed as Jira signs (the body only: ``age`` is unused)."""
    digest = hmac.new((secret or HOOK).encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "X-Atlassian-Webhook-Identifier": "fake-1"}


def signed(key: str) -> WebhookSample:
    body = json.dumps(
        {
            "timestamp": 1772452800000,
            "webhookEvent": "jira:issue_updated",
            "issue": {"id": "1", "key": key, "fields": {}},
        }
    ).encode()
    return WebhookSample(
        sign(body), body, ticket_id=key, signature_header="X-Hub-Signature", sign=sign
    )


class TestJiraConnector(ConnectorSuite):
    connector = JiraConnector

    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeJira.start(now=NOW, issues=30) as fake:
            user, token = fake.auth
            config = JiraConfig.load(
                {
                    "base_url": fake.base_url,
                    "email": user,
                    "api_token_env": "FAKE_JIRA_TOKEN",
                    "webhook_secret_env": "FAKE_JIRA_HOOK",
                    "page_size": 10,
                    "retry": {"jitter": 0, "backoff_initial": 0.5},
                    "bulk_edit_min_issues": 0,
                },
                connector="jira",
                environ={"FAKE_JIRA_TOKEN": token, "FAKE_JIRA_HOOK": HOOK},
            )
            assert isinstance(config, JiraConfig)
            with JiraConnector(config) as connector:
                tickets = [t for p in connector.read_changed(None) for t in p.tickets]
                fake.clear_records()
                with fake.lock:
                    keys = [issue.key for issue in fake.store.issues.values()]
                first, second = [t.id for t in tickets if t.status not in ("solved", "closed")][:2]
                yield Scenario(
                    connector=connector,
                    control=fake,  # FakeJira is the suite's FakeControl itself
                    ticket_id=first,
                    actions=[
                        action(ActionKind.ADD_TAG, {"tag": "sla_at_risk"}, first, 1),
                        action(ActionKind.SET_PRIORITY, {"priority": "urgent"}, first, 2),
                        action(
                            ActionKind.COMMENT, {"body": "SLA at 75 %", "public": False}, second, 3
                        ),
                    ],
                    webhook=signed(second),
                    min_pages=3,
                    ticket_ids=keys,
                )
