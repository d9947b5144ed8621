"""`ZendeskConnector`: the Zendesk Support connector, wired from small parts.

Reading is in `slaplug_zendesk.read`, the event mapping in `slaplug_zendesk.events`,
writing in `slaplug_zendesk.write`, webhooks in `slaplug_zendesk.webhooks`; this module
holds them together over the kit's one `ApiClient`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import requests
from requests.auth import AuthBase

from slaplug.connectors import (
    ApplyResult,
    BasicAuth,
    BearerAuth,
    Capability,
    Connector,
    TicketPage,
    WebhookEvent,
)
from slaplug.connectors.budget import EndpointLimit, RateLimits
from slaplug.connectors.checks import Check, DoctorNeeds
from slaplug.errors import WebhookError
from slaplug.model import Action, Ticket
from slaplug_zendesk.config import ZendeskConfig
from slaplug_zendesk.directory import Directory
from slaplug_zendesk.doctor import zendesk_checks
from slaplug_zendesk.read import Reader
from slaplug_zendesk.webhooks import parse_delivery, verify_delivery
from slaplug_zendesk.write import Writer

__all__ = ["ZendeskConnector"]

#: Tickets whose ``updated_at`` is remembered for ``safe_update``; the oldest are forgotten.
STAMP_CAPACITY = 10_000


class _Stamps(OrderedDict[int, str]):
    """A small LRU of ticket ``updated_at`` values, as Zendesk writes them."""

    def __setitem__(self, key: int, value: str) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > STAMP_CAPACITY:
            self.popitem(last=False)


class ZendeskConnector(Connector):
    """Zendesk Support: incremental reads, bulk write-back, signed webhooks.

    Args:
        config: A `ZendeskConfig`.
        session: The requests session (inject one in tests).
        instance: The configured connector's name; defaults to ``"zendesk"``.

    Attributes:
        sleep: Waits between polls of a bulk job's status; replace it in tests. Retry waits
            go through ``http.sleep`` instead, so the two can be told apart.
        clock: The current aware time, for webhook freshness; replace it in tests.
    """

    name: ClassVar[str] = "zendesk"
    Config = ZendeskConfig
    capabilities = frozenset(
        {Capability.READ, Capability.WRITE_BACK, Capability.BULK_WRITE, Capability.WEBHOOK}
    )
    #: Zendesk's documented limits (docs/operations/scaling.md; helpdesk-apis reference §3,
    #: https://developer.zendesk.com/api-reference/introduction/rate-limits): 200 requests a
    #: minute on the smallest plans (Team; 400 to 2500 on larger ones or with High Volume:
    #: configure ``requests_per_minute``), incremental exports 10 a minute (30 with High
    #: Volume), Update Ticket 100 a minute per account
    #: (https://support.zendesk.com/hc/en-us/articles/8638126078234).
    rate_limits = RateLimits(
        per_minute=200,
        endpoints=(
            EndpointLimit("incremental", 10, path=r"/api/v2/incremental/"),
            EndpointLimit(
                "ticket_update",
                100,
                methods=frozenset({"PUT"}),
                path=r"/api/v2/tickets/[^/]+\.json$",
            ),
        ),
        source="https://developer.zendesk.com/api-reference/introduction/rate-limits",
    )

    def __init__(
        self,
        config: ZendeskConfig,
        *,
        session: requests.Session | None = None,
        instance: str | None = None,
    ) -> None:
        super().__init__(config, session=session, instance=instance)
        self.config: ZendeskConfig = config
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.stamps: _Stamps = _Stamps()
        self._api_user: int | None = None
        self.directory = Directory(self.http, config.fields)
        self.reader = Reader(self.http, config, self.directory, self.instance, self._remember)
        self.writer = Writer(
            self.http,
            config,
            self.directory,
            self.stamps,
            self._own_notes,
            self._poll_wait,
            page_raw=lambda: self.reader.page_raw,
            marker_key=lambda: self.marker_key,
        )

    def auth(self) -> AuthBase:
        """API token as basic ``{email}/token:{token}``, or an OAuth bearer token."""
        config = self.config
        assert isinstance(config, ZendeskConfig)
        if config.oauth_token_env is not None:
            return BearerAuth.from_config(config, "oauth_token")
        return BasicAuth(f"{config.email}/token", config.secret("api_token"))

    # -- reading --------------------------------------------------------------------------

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since ``cursor``, page by page.

        Pages read from a stored cursor have ``complete_history=False``: their events are
        only those since the cursor, for the sync store to merge with what it holds. The
        cursor format is documented in `slaplug_zendesk.cursor`.
        """
        return self.reader.read_changed(cursor)

    def doctor(self, needs: DoctorNeeds) -> Iterator[Check]:
        """Credentials, the Admin role the exports need, and every name the rules write."""
        return zendesk_checks(self, needs)

    def ticket_url(self, ticket_id: str) -> str:
        """Zendesk's agent view of the ticket, for the links in notifications."""
        return f"{str(self.config.base_url).rstrip('/')}/agent/tickets/{ticket_id}"

    def read_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its whole history, from its audits."""
        return self.reader.read_ticket(ticket_id)

    # -- writing --------------------------------------------------------------------------

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply actions, one merged update per ticket, in bulk for several tickets.

        Idempotent per `Action.key` (see `slaplug_zendesk.write`). Transient failures that
        outlast the kit's retries raise `RetriableAPIError`; applying again is then safe.
        """
        return self.writer.apply(actions, fresh=fresh)

    # -- webhooks -------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check the delivery's signature (timestamp + body) and its freshness.

        Raises:
            WebhookError: 401 on a missing, stale or wrong signature; 404 when no
                ``webhook_secret_env`` is configured.
        """
        if not self.config.webhook_secret_env:
            raise WebhookError(
                f"connector {self.instance!r} takes no webhooks: set webhook_secret_env",
                status=404,
            )
        verify_delivery(
            headers,
            body,
            self.config.secrets("webhook_secret"),
            now=self.clock(),
            tolerance=self.config.webhook_tolerance,
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Read a verified delivery (envelope or trigger body).

        Raises:
            WebhookError: 400 on a malformed body.
        """
        return parse_delivery(headers, body, received_at=self.clock())

    # -- internals ------------------------------------------------------------------------

    def _remember(self, ticket: Ticket) -> None:
        if ticket.updated_at is not None:
            stamp = ticket.updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.stamps[int(ticket.id)] = stamp

    def _poll_wait(self, seconds: float) -> None:
        # Looked up at each call, so a test can replace ``self.sleep`` after construction.
        self.sleep(seconds)

    def api_user_id(self) -> int:
        """The id of the user the connector's credentials act as (``GET /api/v2/users/me``,
        "Show Self"; read once and kept): the author of every note the connector posts."""
        if self._api_user is None:
            self._api_user = int(self.http.get_json("api/v2/users/me.json")["user"]["id"])
        return self._api_user

    def _own_notes(self, ticket_id: int) -> list[str]:
        """The bodies of the ticket's internal notes that the connector's API user wrote.

        Only these can carry a marker slaplug posted: a requester's description or reply,
        or another agent's comment, may hold the same text and must not count.
        """
        me: int | None = None
        out: list[str] = []
        for audit in self.reader.raw_audits(ticket_id):
            for e in audit.get("events") or ():
                if e.get("type") != "Comment" or e.get("public") is not False:
                    continue
                me = self.api_user_id() if me is None else me
                if str(e.get("author_id")) == str(me):
                    out.append(
                        str(e.get("body") or e.get("plain_body") or e.get("html_body") or "")
                    )
        return out
