"""The connector kit's conformance suite (`ConnectorSuite`), against the fake Jira.

(Named ``test_jira_conformance.py``: the Zendesk plugin's tests already have a
``test_conformance.py``, and both test folders share pytest's module namespace.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from jira_support import action
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira

from slaplug.model import ActionKind
from slaplug.testing import ConnectorSuite, Scenario, WebhookSample
from slaplug.testing.fakeserver import Response

HOOK = "fake-jira-hook-secret-0042"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class JiraControl:
    """The suite's `FakeControl` over a running `FakeJira`: one-off faults served first
    through the fake's own fault injector, and its request and write counts."""

    def __init__(self, fake: FakeJira) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._queue: deque[Response] = deque()
        self._served = threading.local()
        app = fake._app
        injector = app.faults
        policy: Callable[[str, str], Response | None] = injector.decide
        jira_fault: Callable[[int], Response] = app._jira_fault

        def decide(method: str, path: str) -> Response | None:
            with self._lock:
                queued = self._queue.popleft() if self._queue else None
            if queued is None:
                return policy(method, path)
            injector.injected[queued.status] += 1
            self._served.response = queued
            return queued

        def fault(status: int) -> Response:
            # The fake rebuilds a fault from its status with the policy's Retry-After; a
            # queued one keeps the headers the suite asked for (Retry-After: 7).
            queued = getattr(self._served, "response", None)
            self._served.response = None
            if queued is None:
                return jira_fault(status)
            return Response(queued.status, queued.body, dict(queued.headers))

        injector.decide = decide
        app._jira_fault = fault

    def inject(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        after_apply: bool = False,
    ) -> None:
        body = (
            body
            if body is not None
            else {"errorMessages": ["Injected by JiraControl"], "errors": {}}
        )
        with self._lock:
            for _ in range(times):
                self._queue.append(
                    Response(status, body, dict(headers or {}), after_apply=after_apply)
                )

    @property
    def request_count(self) -> int:
        counts = self.fake.requests
        return counts.get("read", 0) + counts.get("write", 0) + counts.get("poll", 0)

    @property
    def write_count(self) -> int:
        return sum(1 for w in self.fake.writes if w.accepted)  # lost answers were applied


def signed(key: str) -> WebhookSample:
    body = json.dumps(
        {
            "timestamp": 1772452800000,
            "webhookEvent": "jira:issue_updated",
            "issue": {"id": "1", "key": key, "fields": {}},
        }
    ).encode()
    digest = hmac.new(HOOK.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature": f"sha256={digest}", "X-Atlassian-Webhook-Identifier": "fake-1"}
    return WebhookSample(headers, body, ticket_id=key)


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
                first, second = [t.id for t in tickets if t.status not in ("solved", "closed")][:2]
                yield Scenario(
                    connector=connector,
                    control=JiraControl(fake),
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
                )
