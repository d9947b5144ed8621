"""`FreshdeskConnector`: Freshdesk API v2 as slaplug tickets, and slaplug actions back.

Reading (plugins/freshdesk/README.md has the whole story):

* ``GET /api/v2/tickets?updated_since=…&order_by=updated_at&order_type=asc&include=stats``
  lists changed tickets oldest change first, ``per_page`` at most 100, the next page named
  by the ``Link: <…>; rel="next"`` header (Freshdesk puts nothing about paging in the body).
* The cursor is an ``updated_at`` watermark: the newest change read so far. Each page is
  read as the first page of a new ``updated_since`` window starting at that watermark, so a
  ticket changed during the read cannot shift another out of sight, and the 300-page cap
  is never reached (`FreshdeskConnector.read_changed`). A pass starts ``overlap_seconds``
  before the stored watermark; tickets read twice are deduplicated.
* The history the clocks need comes from ``GET /api/v2/tickets/{id}/conversations``
  (requester messages and public agent replies) plus the ticket's ``stats`` (when it was
  last set pending, resolved, closed, reopened). Freshdesk's API v2 has no audit log of
  status changes, so only the *latest* of each transition is known: incremental pages say
  so (``complete_history=False``) and the sync store merges them with earlier reads.

Freshdesk webhooks come from automation rules and carry no signature over the body, so this
connector does not declare `Capability.WEBHOOK`: run ``slaplug sync --every 60s`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from slaplug.connectors import (
    DEFAULT_RESOLUTIONS,
    ApplyResult,
    BasicAuth,
    Capability,
    Connector,
    ConnectorConfig,
    NextUrlPaginator,
    Outcome,
    Resolution,
    TicketPage,
    paginate,
)
from slaplug.connectors.budget import EndpointLimit, ExtraCost, RateLimits
from slaplug.connectors.checks import Check, DoctorNeeds
from slaplug.errors import ConnectorError, InvalidTicketError, PaginationError
from slaplug.model import Action, EventKind, Ticket, TicketEvent
from slaplug_freshdesk.doctor import freshdesk_checks
from slaplug_freshdesk.fields import CustomFields
from slaplug_freshdesk.write import PRIORITIES, STATUSES, Writer

__all__ = ["CustomStatus", "FreshdeskConfig", "FreshdeskConnector"]

#: Freshdesk returns only the last 30 days when ``updated_since`` is left out, so a first
#: full read asks for everything changed since this instant instead.
EPOCH = "2000-01-01T00:00:00Z"
#: ``GET /api/v2/tickets`` serves pages 1 to 300 and no further (Freshdesk API v2
#: reference, "List All Tickets"; also ktsaou/freshdesk_mcp FRESHDESK_API_REFERENCE.md:
#: "Max 300 pages").
MAX_PAGE = 300

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


class CustomStatus(BaseModel):
    """One of the account's own statuses (Admin > Ticket Fields > Status).

    Attributes:
        name: Its name in the rules (``set_status: waiting_on_customer`` writes it) and in
            the ticket's ``status_name`` field.
        like: How SLA clocks treat it: ``open`` (clocks run), ``pending`` (the ticket is
            reported as ``pending``, so the policies' ``pause_statuses`` pause it) or
            ``solved`` (reported as ``resolved``, with a solved event: clocks stop).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    like: Literal["open", "pending", "solved"] = "open"


class FreshdeskConfig(ConnectorConfig):
    """Settings of one Freshdesk account.

    Attributes:
        base_url: ``https://<domain>.freshdesk.com`` (the ``/api/v2`` prefix is added).
        api_key_env: The environment variable holding the agent's API key.
        page_size: Tickets per page, at most 100 (Freshdesk's cap).
        overlap_seconds: How far before the stored watermark each read starts; tickets
            read twice are merged by the sync store, a ticket missed is lost.
    """

    connector_name: ClassVar[str] = "freshdesk"

    api_key_env: str = Field(description="Environment variable holding the API key.")
    page_size: int = Field(default=100, ge=1, le=100, description="Tickets per page (max 100).")
    custom_statuses: dict[int, CustomStatus] = Field(
        default_factory=dict,
        description="The account's own status codes (6 and up): their names and whether "
        "they are open-, pending- or solved-like.",
    )
    overlap_seconds: int = Field(
        default=60,
        ge=0,
        le=86_400,
        description="Each read starts this long before the last change read, so that a "
        "change Freshdesk lists late (or in the same second) is not missed.",
    )

    @field_validator("custom_statuses")
    @classmethod
    def _check_statuses(cls, value: dict[int, CustomStatus]) -> dict[int, CustomStatus]:
        seen: dict[str, int] = {}
        for code, status in value.items():
            if code in STATUSES or code < 2:
                raise ValueError(
                    f"status code {code} is Freshdesk's own ({', '.join(map(str, STATUSES))}"
                    " are open, pending, resolved, closed); custom statuses have codes from 6"
                )
            key = status.name.lower()
            if key in _STATUS_NAMES:
                raise ValueError(
                    f"custom status {code} is named {status.name!r}, like Freshdesk's own "
                    f"status {_STATUS_NAMES[key]}; give it another name"
                )
            if key in seen:
                raise ValueError(
                    f"custom statuses {seen[key]} and {code} are both named {status.name!r}"
                )
            seen[key] = code
        return value


_STATUS_NAMES = {v: k for k, v in STATUSES.items()}
#: What a custom status's ``like`` makes of it in slaplug's tickets.
_REPORTED = {"open": "open", "pending": "pending", "solved": "resolved"}

log = logging.getLogger(__name__)


def parse_time(value: str) -> datetime:
    """Freshdesk's ``2026-03-04T09:00:00Z`` as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class FreshdeskConnector(Connector):
    """Freshdesk API v2: incremental reads by ``updated_since``, idempotent write-back."""

    name: ClassVar[str] = "freshdesk"
    Config = FreshdeskConfig
    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK})
    resolutions = RESOLUTIONS
    #: Freshdesk's per-minute limits on its smallest current plan (Growth: 200 a minute,
    #: Ticket Update 80, Tickets List 20; Pro 400/160/100, Enterprise 700/280/200: configure
    #: them), https://support.freshdesk.com/support/solutions/articles/225439 (helpdesk-apis
    #: reference §8).
    rate_limits = RateLimits(
        per_minute=200,
        endpoints=(
            EndpointLimit(
                "ticket_update", 80, methods=frozenset({"PUT"}), path=r"/api/v2/tickets/[^/]+$"
            ),
            EndpointLimit("tickets_list", 20, methods=frozenset({"GET"}), path=r"/api/v2/tickets$"),
        ),
        # "Each include will consume an additional 2 credits" (List All Tickets) and "an
        # additional credit" (View a Ticket), Freshdesk API v2 reference (copy in
        # ktsaou/freshdesk_mcp FRESHDESK_API_DOCS.txt); the read lists with include=stats.
        costs=(
            ExtraCost("include", 2, methods=frozenset({"GET"}), path=r"/api/v2/tickets$"),
            ExtraCost("include", 1, methods=frozenset({"GET"}), path=r"/api/v2/tickets/[^/]+$"),
        ),
        source="https://support.freshdesk.com/support/solutions/articles/225439",
    )

    config: FreshdeskConfig

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._agent_id: int | None = None
        self._fields: CustomFields | None = None
        #: Whether `_fields` was read during the current `apply` (a miss reads it again once).
        self._fields_fresh = False
        #: Display names by directory (``groups``, ``agents``) and id, listed once each.
        self._names: dict[str, dict[str, str]] = {}
        custom = self.config.custom_statuses
        #: Status code -> the status slaplug's tickets report.
        self.status_names: dict[int, str] = {
            **STATUSES,
            **{code: _REPORTED[s.like] for code, s in custom.items()},
        }
        #: Status name (lower case) -> the code written for it.
        self.status_codes: dict[str, int] = {
            **_STATUS_NAMES,
            **{s.name.lower(): code for code, s in custom.items()},
        }

    def auth(self) -> requests.auth.AuthBase:
        """Basic auth with the API key as user name and ``X`` as password (Freshdesk's way)."""
        return BasicAuth(self.config.secret("api_key"), "X")

    # -- reading --------------------------------------------------------------------------

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since the ``updated_at`` watermark ``cursor``.

        Freshdesk pages by number over a list sorted by ``updated_at``. A ticket changed
        while the pages are read moves to the end of that list and shifts every later
        ticket one place forward, so the next page number skips one; and ``page`` stops at
        300. So each page is read as page 1 of a new window, ``updated_since`` = the newest
        ``updated_at`` read so far (inclusive: its own tickets come again and are dropped
        here by ``(id, updated_at)``). Only when a whole page shares that one second (a bulk
        update) does the read go on to page 2, 3... of the same window, and then reads that
        second's pages again for a ticket a change shifted out of sight.

        Args:
            cursor: An ISO 8601 watermark from an earlier page, or None for everything.
                The first window starts ``overlap_seconds`` before it.

        Yields:
            One `TicketPage` per Freshdesk page; its cursor is the newest ``updated_at``
            read so far.

        Raises:
            PaginationError: More than 300 pages of tickets changed in one second.
        """
        since = EPOCH
        if cursor is not None:
            start = parse_time(cursor) - timedelta(seconds=self.config.overlap_seconds)
            since = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        watermark = cursor
        seen: dict[object, str] = {}  # id -> updated_at of tickets read in this window
        page = 1
        while True:
            raw_tickets, more = self._list_page(since, page)
            fresh = [r for r in raw_tickets if seen.get(r["id"]) != r["updated_at"]]
            seen.update((r["id"], r["updated_at"]) for r in fresh)
            tickets = [self._ticket(raw, self._conversations(raw["id"])) for raw in fresh]
            newest = max((r["updated_at"] for r in raw_tickets), key=parse_time, default=since)
            if watermark is None or parse_time(newest) > parse_time(watermark):
                watermark = newest
            yield TicketPage(tickets, watermark, complete_history=cursor is None)
            progress = parse_time(newest) > parse_time(since)
            if page > 1 and (progress or not more):
                # The window's first second filled several pages; a ticket of that second
                # changed meanwhile shifted the rest one place, perhaps onto a page read.
                again = [
                    self._ticket(raw, self._conversations(raw["id"]))
                    for raw in self._unseen_in_second(since, page, seen)
                ]
                if again:
                    yield TicketPage(again, watermark, complete_history=cursor is None)
            if not more:
                return
            if progress:
                # A new window from the newest change read: only its second's tickets can
                # come again, so only they need remembering.
                since, page = newest, 1
                seen = {k: v for k, v in seen.items() if v == newest}
            elif page < MAX_PAGE:
                page += 1  # a whole page changed in the window's first second: page on
            else:
                raise PaginationError(
                    f"connector {self.instance!r}: more than {MAX_PAGE} pages of tickets "
                    f"changed at {since}; Freshdesk serves no page beyond {MAX_PAGE}",
                    connector=self.instance,
                )

    def _unseen_in_second(
        self, since: str, pages: int, seen: dict[object, str]
    ) -> list[dict[str, Any]]:
        """Tickets changed at ``since`` exactly that the walk over its pages missed.

        Pages 1 to ``pages`` of the window are read again until a walk finds nothing new
        (at most three walks). A group of one second only shrinks (a change moves a ticket
        to a later second, read in a later window), so a walk during which no ticket of the
        group changes sees all of it.
        """
        second = parse_time(since)
        missed: list[dict[str, Any]] = []
        for _ in range(3):
            found = []
            for page in range(1, pages + 1):
                raw_tickets, more = self._list_page(since, page)
                for r in raw_tickets:
                    if (
                        parse_time(r["updated_at"]) == second
                        and seen.get(r["id"]) != r["updated_at"]
                    ):
                        seen[r["id"]] = r["updated_at"]
                        found.append(r)
                if not more or any(parse_time(r["updated_at"]) > second for r in raw_tickets):
                    break
            if not found:
                break
            missed.extend(found)
        return missed

    def _list_page(self, since: str, page: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``GET /api/v2/tickets`` and whether a next one is announced."""
        params = {
            "updated_since": since,
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": str(self.config.page_size),
            "include": "stats",
        }
        if page > 1:
            params["page"] = str(page)
        response = self.http.request("GET", "api/v2/tickets", params=params)
        return response.json(), "next" in response.links

    def ticket_url(self, ticket_id: str) -> str:
        """Freshdesk's agent view of the ticket, for the links in notifications."""
        return f"{str(self.config.base_url).rstrip('/')}/a/tickets/{ticket_id}"

    def read_ticket(self, ticket_id: str) -> Ticket:
        """Read one ticket, its stats and its conversations."""
        raw = self.http.get_json(f"api/v2/tickets/{ticket_id}", params={"include": "stats"})
        return self._ticket(raw, self._conversations(raw["id"]))

    def _conversations(self, ticket_id: object) -> list[dict[str, Any]]:
        return self.list_all(f"api/v2/tickets/{ticket_id}/conversations")

    def list_all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a Freshdesk list (a bare JSON array per page, 100 a page), following
        the ``Link: <...>; rel="next"`` header from page to page."""

        def fetch(url: str | None) -> dict[str, Any]:
            response = self.http.request(
                "GET", url or path, params=None if url else {"per_page": "100"}
            )
            return {"items": response.json(), "next": response.links.get("next", {}).get("url")}

        return [c for page in paginate(fetch, NextUrlPaginator("next")) for c in page.data["items"]]

    def _name(self, directory: str, ident: object) -> str | None:
        """A group's or an agent's name, for people reading `Ticket.names` (rules match the
        ids). ``GET /api/v2/groups`` or ``/agents`` is listed once, when a ticket first holds
        one (a group's ``name``; an agent's person under ``contact.name``: the reference's
        "List All Groups" and "Currently Authenticated Agent" examples, see
        fake/shapes.py). A list the API key may not read leaves the ids."""
        if ident is None:
            return None
        if directory not in self._names:
            try:
                items = self.list_all(f"api/v2/{directory}")
            except ConnectorError as exc:
                log.warning(
                    "freshdesk %s: %s not listed, ids shown: %s", self.instance, directory, exc
                )
                items = []
            self._names[directory] = {
                str(i.get("id")): str(name)
                for i in items
                if (name := i.get("name") or (i.get("contact") or {}).get("name"))
            }
        return self._names[directory].get(str(ident))

    def _ticket(self, raw: Mapping[str, Any], conversations: Sequence[Mapping[str, Any]]) -> Ticket:
        created = parse_time(raw["created_at"])
        code = raw["status"]
        status = self.status_names.get(code, str(code))
        custom = self.config.custom_statuses.get(code)
        events = [TicketEvent(EventKind.CREATED, created)]
        for c in conversations:
            if c.get("private"):
                continue  # internal notes stop no clock
            kind = EventKind.REQUESTER_MESSAGE if c.get("incoming") else EventKind.AGENT_REPLY
            events.append(
                TicketEvent(kind, parse_time(c["created_at"]), actor=str(c.get("user_id")))
            )
        events.extend(self._stats_events(raw.get("stats") or {}, status, raw["updated_at"]))
        fields = dict(raw.get("custom_fields") or {})
        fields["status_name"] = custom.name if custom else STATUSES.get(code, str(code))
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
            fields=fields,
            url=f"{self.config.base_url}/a/tickets/{raw['id']}",
            events=tuple(events),
            names={
                field: name
                for field, directory, key in (
                    ("group", "groups", "group_id"),
                    ("assignee", "agents", "responder_id"),
                )
                if (name := self._name(directory, raw.get(key)))
            },
        )

    @staticmethod
    def _stats_events(stats: Mapping[str, Any], status: str, updated_at: str) -> list[TicketEvent]:
        """The transitions ``stats`` remembers: the latest of each kind only (see module doc).

        A custom status sets neither ``pending_since`` nor ``resolved_at`` for certain, so
        its change time falls back to ``status_updated_at`` (in ``stats``, as in
        sjkingo/python-freshdesk freshdesk/v2/tests/sample_json_data/ticket_1.json), then to
        the ticket's ``updated_at``.
        """
        changed = stats.get("status_updated_at") or updated_at
        events: list[TicketEvent] = []
        if stats.get("reopened_at"):
            events.append(TicketEvent(EventKind.REOPENED, parse_time(stats["reopened_at"])))
        if status == "pending":
            since = stats.get("pending_since") or changed
            events.append(TicketEvent(EventKind.STATUS_CHANGED, parse_time(since), "pending"))
        if status in ("resolved", "closed"):
            solved = stats.get("resolved_at") or stats.get("closed_at") or changed
            events.append(TicketEvent(EventKind.SOLVED, parse_time(solved)))
        return events

    # -- writing --------------------------------------------------------------------------

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply actions: one ``PUT`` per ticket for tags, priority, status and fields,
        one note per comment (see `slaplug_freshdesk.write`)."""
        self._fields_fresh = False
        writer = Writer(
            self.http, self.marker_key, self.agent_id, self.status_codes, self.field_key
        )
        return writer.apply(actions, fresh=fresh)

    def custom_fields(self, *, refresh: bool = False) -> CustomFields:
        """The account's custom ticket fields (``GET /api/v2/ticket_fields``), read once."""
        if self._fields is None or refresh:
            self._fields = CustomFields.from_ticket_fields(
                self.http.get_json("api/v2/ticket_fields") or []
            )
            self._fields_fresh = True
        return self._fields

    def field_key(self, name: str) -> str:
        """The key of ``custom_fields`` for the field a rule calls ``name`` (``cf_x`` or
        ``x``, whichever the account has: `slaplug_freshdesk.fields`).

        A name not found reads the fields again, once per `apply`, for a field made since.

        Raises:
            UnknownFieldError: The account has no such field; the message lists its fields.
        """
        fields = self.custom_fields()
        if fields.resolve(name) is None and not self._fields_fresh:
            fields = self.custom_fields(refresh=True)
        return fields.key(name)

    def doctor(self, needs: DoctorNeeds) -> Iterator[Check]:
        """Credentials, and every field, status, priority, group and agent the rules write
        (see `slaplug_freshdesk.doctor`)."""
        return freshdesk_checks(self, needs)

    def agent_id(self) -> int:
        """The id of the agent the API key belongs to, read once (``GET /api/v2/agents/me``).

        A note counts as slaplug's only if this agent wrote it: its ``user_id`` in
        ``GET /api/v2/tickets/{id}/conversations`` is the agent's ``id``.
        """
        if self._agent_id is None:
            self._agent_id = int(self.http.get_json("api/v2/agents/me")["id"])
        return self._agent_id
