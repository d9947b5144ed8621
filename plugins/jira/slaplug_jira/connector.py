"""`JiraConnector`: Jira Cloud and Jira Service Management through REST API v3.

The connector only wires the parts together: `JiraReader` (read.py), `JiraWriter`
(write.py) and the webhook functions (webhooks.py), all sharing the kit's `ApiClient`
and one `Normalizer` of priority and status names.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import requests

from slaplug.connectors import (
    ApplyResult,
    BasicAuth,
    BearerAuth,
    Capability,
    Connector,
    TicketPage,
    WebhookEvent,
)
from slaplug.connectors.budget import RateLimits
from slaplug.connectors.checks import Check, DoctorNeeds
from slaplug.errors import WebhookError
from slaplug.model import Action, Ticket
from slaplug_jira import webhooks
from slaplug_jira.config import JiraConfig, Normalizer
from slaplug_jira.doctor import jira_checks
from slaplug_jira.myself import Myself
from slaplug_jira.notes import OwnNotes
from slaplug_jira.read import JiraReader
from slaplug_jira.write import JiraWriter

__all__ = ["JiraConnector"]


class JiraConnector(Connector):
    """The Jira Cloud / JSM connector (see docs/plugins/jira.md).

    Args:
        config: A `JiraConfig`.
        session: The requests session (inject one in tests).
        instance: The configured connector's name.

    Attributes:
        norm: The priority and status maps, both ways.
        myself: The API user (``/myself``): its time zone and accountId, read once.
        notes: Comment markers (keyed by ``marker_key``) and the own-comment check.
        reader: Reads issues and their history.
        writer: Applies actions.
        clock: Returns the current aware time (webhook ``received_at``).
    """

    name: ClassVar[str] = "jira"
    Config = JiraConfig
    capabilities = frozenset(
        {Capability.READ, Capability.WRITE_BACK, Capability.BULK_WRITE, Capability.WEBHOOK}
    )
    #: Jira Cloud documents no fixed figure for API-token (basic-auth) traffic: it is held
    #: to per-second burst limits per endpoint and answers 429 with ``Retry-After``
    #: (https://developer.atlassian.com/cloud/jira/platform/rate-limiting; helpdesk-apis
    #: reference §3). 100 a minute is a conservative default (the figure the bundled fake
    #: advertises in ``X-RateLimit-Limit``); raise ``requests_per_minute`` where a site
    #: allows more.
    rate_limits = RateLimits(
        per_minute=100,
        source="https://developer.atlassian.com/cloud/jira/platform/rate-limiting",
    )
    config: JiraConfig

    def __init__(
        self,
        config: JiraConfig,
        *,
        session: requests.Session | None = None,
        instance: str | None = None,
    ) -> None:
        super().__init__(config, session=session, instance=instance)
        self.norm = Normalizer(self.config)
        self.myself = Myself(self.http, self.instance)
        self.reader = JiraReader(self.http, self.config, self.norm, self.instance, self.myself)
        # The runtime may replace marker_key after this (the store's install secret), so
        # the notes look it up at each use.
        self.notes = OwnNotes(self.http, self.myself, lambda: self.marker_key)
        self.writer = JiraWriter(self.http, self.config, self.norm, self.reader, self.notes)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def auth(self) -> requests.auth.AuthBase:
        """Basic (email + API token) or Bearer (OAuth 2.0 token, Data Center PAT)."""
        c = self.config
        if c.api_token_env is not None and c.email is not None:
            return BasicAuth(c.email, c.secret("api_token"))
        return BearerAuth.from_config(c, "oauth_token" if c.oauth_token_env is not None else "pat")

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Issues updated since ``cursor``; see `JiraReader.read_changed`."""
        return self.reader.read_changed(cursor)

    def doctor(self, needs: DoctorNeeds) -> Iterator[Check]:
        """Credentials, the time zone, the permissions the rules need, and every name the
        rules write (see `slaplug_jira.doctor`)."""
        return jira_checks(self, needs)

    def ticket_url(self, ticket_id: str) -> str:
        """Jira's page of the issue, for the links in notifications."""
        return f"{str(self.config.base_url).rstrip('/')}/browse/{ticket_id}"

    def read_ticket(self, ticket_id: str) -> Ticket:
        """One issue by key, with its whole history."""
        return self.reader.read_ticket(ticket_id)

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply actions; see `JiraWriter.apply`."""
        # The Jira writer reads each issue once anyway (its fields and comment markers
        # come in one call), so knowing which keys are fresh saves nothing here.
        return self.writer.apply(actions)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``X-Hub-Signature`` against every configured secret.

        Raises:
            WebhookError: 401 on a missing or bad signature; 404 when no secret is set.
        """
        if not self.config.webhook_secret_env:
            raise WebhookError(
                f"connector {self.instance!r} takes no webhooks: set webhook_secret_env", status=404
            )
        webhooks.verify(headers, body, self.config.secrets("webhook_secret"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """A verified delivery as a `WebhookEvent` whose ``ticket_id`` is the issue key."""
        return webhooks.parse(headers, body, self.clock())
