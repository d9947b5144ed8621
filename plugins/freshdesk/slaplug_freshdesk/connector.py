"""`FreshdeskConnector`: Freshdesk API v2 as slaplug tickets, and slaplug actions back.

Reading (plugins/freshdesk/README.md has the whole story):

* ``GET /api/v2/tickets?updated_since=…&order_by=updated_at&order_type=asc&include=stats``
  lists changed tickets oldest change first, ``per_page`` at most 100, the next page named
  by the ``Link: <…>; rel="next"`` header (Freshdesk puts nothing about paging in the body).
* The cursor is an ``updated_at`` watermark: the newest change read so far. Freshdesk's
  filter is inclusive, so a resumed read sees the watermark's own ticket again; slaplug
  deduplicates by ticket, and re-reading one ticket is cheaper than missing one.
* The history the clocks need comes from ``GET /api/v2/tickets/{id}/conversations``
  (requester messages and public agent replies) plus the ticket's ``stats`` (when it was
  last set pending, resolved, closed, reopened). Freshdesk's API v2 has no audit log of
  status changes, so only the *latest* of each transition is known: incremental pages say
  so (``complete_history=False``) and the sync store merges them with earlier reads.

Freshdesk webhooks come from automation rules and carry no signature over the body, so this
connector does not declare `Capability.WEBHOOK`: run ``slaplug sync --every 60s`` instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests
from pydantic import Field

from slaplug.connectors import (
    DEFAULT_RESOLUTIONS,
    ApplyResult,
    Capability,
    Connector,
    ConnectorConfig,
    NextUrlPaginator,
    Outcome,
    Resolution,
    TicketPage,
    paginate,
)
from slaplug.errors import InvalidTicketError
from slaplug.model import Action, EventKind, Ticket, TicketEvent
from slaplug_freshdesk.write import PRIORITIES, STATUSES, Writer

__all__ = ["FreshdeskConfig", "FreshdeskConnector"]

#: Freshdesk returns only the last 30 days when ``updated_since`` is left out, so a first
#: full read asks for everything changed since this instant instead.
EPOCH = "2000-01-01T00:00:00Z"

#: Freshdesk answers a change it refuses (an unknown custom field, a status or choice the
#: account lacks) with 400 ``{"description": "Validation failed", "errors": [{"field",
#: "message", "code"}]}`` (Freshdesk API v2 reference, "Error Handling"; the body shape as
#: sjkingo/python-freshdesk ``freshdesk/v2/api.py`` ``_action`` reads it). That is about
#: one ticket's change, not a broken connector: skip it, never stop the batch or the pass.
RESOLUTIONS = {
    **DEFAULT_RESOLUTIONS,
    400: Resolution(
        Outcome.SKIP,
        InvalidTicketError,
        "Freshdesk refused the change as invalid (a field, value or status this account "
        "does not have); check the rule's action against the account's ticket fields",
    ),
}


class FreshdeskConfig(ConnectorConfig):
    """Settings of one Freshdesk account.

    Attributes:
        base_url: ``https://<domain>.freshdesk.com`` (the ``/api/v2`` prefix is added).
        api_key_env: The environment variable holding the agent's API key.
        page_size: Tickets per page, at most 100 (Freshdesk's cap).
    """

    connector_name: ClassVar[str] = "freshdesk"

    api_key_env: str = Field(description="Environment variable holding the API key.")
    page_size: int = Field(default=100, ge=1, le=100, description="Tickets per page (max 100).")


def parse_time(value: str) -> datetime:
    """Freshdesk's ``2026-03-04T09:00:00Z`` as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class FreshdeskConnector(Connector):
    """Freshdesk API v2: incremental reads by ``updated_since``, idempotent write-back."""

    name: ClassVar[str] = "freshdesk"
    Config = FreshdeskConfig
    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK})

    config: FreshdeskConfig

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.http.resolutions = RESOLUTIONS

    def auth(self) -> requests.auth.AuthBase:
        """Basic auth with the API key as user name and ``X`` as password (Freshdesk's way)."""
        return requests.auth.HTTPBasicAuth(self.config.secret("api_key").get_secret_value(), "X")

    # -- reading --------------------------------------------------------------------------

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since the ``updated_at`` watermark ``cursor``.

        Args:
            cursor: An ISO 8601 watermark from an earlier page, or None for everything.

        Yields:
            One `TicketPage` per Freshdesk page; its cursor is the newest ``updated_at``
            read so far.
        """
        params = {
            "updated_since": cursor or EPOCH,
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": str(self.config.page_size),
            "include": "stats",
        }

        def fetch(url: str | None) -> dict[str, Any]:
            # The next-page URL already carries every parameter.
            response = self.http.request(
                "GET", url or "api/v2/tickets", params=None if url else params
            )
            return {"tickets": response.json(), "next": response.links.get("next", {}).get("url")}

        watermark = cursor
        for page in paginate(fetch, NextUrlPaginator("next")):
            tickets = [
                self._ticket(raw, self._conversations(raw["id"])) for raw in page.data["tickets"]
            ]
            for raw in page.data["tickets"]:
                if watermark is None or parse_time(raw["updated_at"]) > parse_time(watermark):
                    watermark = raw["updated_at"]
            yield TicketPage(tickets, watermark, complete_history=cursor is None)

    def read_ticket(self, ticket_id: str) -> Ticket:
        """Read one ticket, its stats and its conversations."""
        raw = self.http.get_json(f"api/v2/tickets/{ticket_id}", params={"include": "stats"})
        return self._ticket(raw, self._conversations(raw["id"]))

    def _conversations(self, ticket_id: object) -> list[dict[str, Any]]:
        def fetch(url: str | None) -> dict[str, Any]:
            response = self.http.request(
                "GET",
                url or f"api/v2/tickets/{ticket_id}/conversations",
                params=None if url else {"per_page": "100"},
            )
            return {"items": response.json(), "next": response.links.get("next", {}).get("url")}

        return [c for page in paginate(fetch, NextUrlPaginator("next")) for c in page.data["items"]]

    def _ticket(self, raw: Mapping[str, Any], conversations: Sequence[Mapping[str, Any]]) -> Ticket:
        created = parse_time(raw["created_at"])
        status = STATUSES.get(raw["status"], str(raw["status"]))
        events = [TicketEvent(EventKind.CREATED, created)]
        for c in conversations:
            if c.get("private"):
                continue  # internal notes stop no clock
            kind = EventKind.REQUESTER_MESSAGE if c.get("incoming") else EventKind.AGENT_REPLY
            events.append(
                TicketEvent(kind, parse_time(c["created_at"]), actor=str(c.get("user_id")))
            )
        events.extend(self._stats_events(raw.get("stats") or {}, status))
        return Ticket(
            id=str(raw["id"]),
            connector=self.instance,
            platform=self.name,
            created_at=created,
            updated_at=parse_time(raw["updated_at"]),
            status=status,
            priority=PRIORITIES.get(raw.get("priority", 0)),
            subject=raw.get("subject") or "",
            type=raw.get("type"),
            group=None if raw.get("group_id") is None else str(raw["group_id"]),
            assignee=None if raw.get("responder_id") is None else str(raw["responder_id"]),
            organization=None if raw.get("company_id") is None else str(raw["company_id"]),
            requester=None if raw.get("requester_id") is None else str(raw["requester_id"]),
            tags=frozenset(raw.get("tags") or ()),
            fields=dict(raw.get("custom_fields") or {}),
            url=f"{self.config.base_url}/a/tickets/{raw['id']}",
            events=tuple(events),
        )

    @staticmethod
    def _stats_events(stats: Mapping[str, Any], status: str) -> list[TicketEvent]:
        """The transitions ``stats`` remembers: the latest of each kind only (see module doc)."""
        events: list[TicketEvent] = []
        if stats.get("reopened_at"):
            events.append(TicketEvent(EventKind.REOPENED, parse_time(stats["reopened_at"])))
        if status == "pending" and stats.get("pending_since"):
            events.append(
                TicketEvent(EventKind.STATUS_CHANGED, parse_time(stats["pending_since"]), "pending")
            )
        solved = stats.get("resolved_at") or stats.get("closed_at")
        if status in ("resolved", "closed") and solved:
            events.append(TicketEvent(EventKind.SOLVED, parse_time(solved)))
        return events

    # -- writing --------------------------------------------------------------------------

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply actions: one ``PUT`` per ticket for tags, priority, status and fields,
        one note per comment (see `slaplug_freshdesk.write`)."""
        return Writer(self.http).apply(actions, fresh=fresh)
