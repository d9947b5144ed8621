"""The fake Jira's admin webhooks: ``jira:issue_created``, ``jira:issue_updated`` and
``comment_created`` bodies, signed ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw
body>`` and identified by ``X-Atlassian-Webhook-Identifier``, which stays the same across
retries and duplicates (reference §4).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slaplug.testing.fakeserver import FakeClock, WebhookSender
from slaplug_jira.fake.data import ChangeHistory, Comment, Issue, JiraStore
from slaplug_jira.fake.render import J, JiraRendering, JiraTime

#: Statuses on which Jira retries a delivery, besides 5xx (reference §4).
RETRY_STATUSES = (408, 409, 425, 429)
#: Fields a webhook's ``issue`` carries (the fake's choice of a useful, small subset).
_WEBHOOK_FIELDS = (
    "summary",
    "issuetype",
    "project",
    "status",
    "priority",
    "resolution",
    "assignee",
    "reporter",
    "labels",
    "created",
    "updated",
)


@dataclass
class WebhookConfig:
    """Where and how to send webhooks."""

    url: str
    secret: str
    duplicate_rate: float = 0.0
    seed: int = 0


class JiraWebhooks(JiraRendering):
    """Builds, signs and queues webhooks (a base of the app)."""

    webhook: WebhookConfig | None = None
    sender: WebhookSender | None = None

    def __init__(self, store: JiraStore, clock: FakeClock, time_zone: str) -> None:
        self.store = store
        self.clock = clock
        self.time = JiraTime(time_zone)
        self.base_url = ""
        self._delivery_ns = uuid.UUID("6f6b0c1e-5c2a-4f7e-9d7e-000000000001")
        self._delivery_count = 0

    def now_ms(self) -> int:
        """The fake clock in Unix milliseconds."""
        return int(self.clock.now() * 1000)

    def configure_webhook(self, config: WebhookConfig | None) -> None:
        """Send webhooks to ``config.url`` (None stops sending)."""
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        self.webhook = config
        if config is not None:
            self.sender = WebhookSender(
                config.url,
                _signer(config.secret),
                duplicate_rate=config.duplicate_rate,
                seed=config.seed,
                attempt_headers=_attempt_headers,
                retry_statuses=RETRY_STATUSES,
            )

    def _send(self, body: J) -> None:
        if self.sender is None:
            return
        # Deterministic ids (uuid5 of a counter) keep runs comparable.
        self._delivery_count += 1
        delivery = str(uuid.uuid5(self._delivery_ns, str(self._delivery_count)))
        self.sender.send(delivery, json.dumps(body).encode())

    def _issue_brief(self, issue: Issue) -> J:
        wanted = [f for f in self.store.fields if f.id in _WEBHOOK_FIELDS or f.custom]
        # Webhook bodies use the REST v2 representation: plain-text rich fields.
        return self.issue_json(issue, "2", wanted)

    def notify_created(self, issue: Issue, actor: str) -> None:
        """``jira:issue_created``."""
        self._send(
            {
                "timestamp": self.now_ms(),
                "webhookEvent": "jira:issue_created",
                "issue_event_type_name": "issue_created",
                "user": self.user_ref(actor, "2"),
                "issue": self._issue_brief(issue),
            }
        )

    def notify_changed(self, issue: Issue, history: ChangeHistory) -> None:
        """``jira:issue_updated`` with the ``changelog`` of one change."""
        fields = {i.field_id for i in history.items}
        kind = "issue_assigned" if fields == {"assignee"} else "issue_generic"
        self._send(
            {
                "timestamp": self.now_ms(),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": kind,
                "user": self.user_ref(history.author, "2"),
                "issue": self._issue_brief(issue),
                "changelog": {
                    "id": str(history.id),
                    "items": self.history_json(history, "2")["items"],
                },
            }
        )

    def notify_comment(self, issue: Issue, comment: Comment) -> None:
        """``comment_created``, then ``jira:issue_updated`` (``issue_commented``), as a
        webhook subscribed to both receives them."""
        body = self.comment_json(comment, "2")
        common = {"user": self.user_ref(comment.author, "2"), "comment": body}
        self._send(
            {
                "timestamp": self.now_ms(),
                "webhookEvent": "comment_created",
                "issue": self._issue_brief(issue),
                **common,
            }
        )
        self._send(
            {
                "timestamp": self.now_ms(),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_commented",
                "issue": self._issue_brief(issue),
                **common,
            }
        )


def _signer(secret: str) -> Callable[[bytes], dict[str, str]]:
    def sign(body: bytes) -> dict[str, str]:
        if not secret:
            return {}  # webhooks without a secret carry no signature (reference §4)
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature": f"sha256={digest}"}

    return sign


def _attempt_headers(delivery_id: str, attempt: int) -> dict[str, Any]:
    headers = {"X-Atlassian-Webhook-Identifier": delivery_id, "X-Atlassian-Webhook-Flow": "Primary"}
    if attempt > 1:  # present only on retries (reference §4)
        headers["X-Atlassian-Webhook-Retry"] = str(attempt - 1)
    return headers
