"""Reading Zendesk: the two incremental exports, one ticket with its audits, normalization.

`Reader.read_changed` combines two exports so that steady-state syncs never make one call
per ticket:

1. the time-based ticket events export
   (``GET /api/v2/incremental/ticket_events.json?start_time=&include=comment_events``) from
   the stored position to ``end_of_stream``: the audits since the last sync, buffered by
   ticket (a compact form, not the raw JSON);
2. the cursor-based ticket export (``GET /api/v2/incremental/tickets/cursor.json``,
   ``start_time`` on the first run, then ``cursor``) to ``end_of_stream`` or past the events'
   end (below): the tickets' current state, with users, groups and organizations sideloaded.
   Each page becomes a `TicketPage`, its tickets carrying their buffered events;
3. tickets with new events that the ticket export did not return (changed again after the
   events were read, before the ticket export reached them) are fetched with ``show_many``
   (100 a call) so their events are not lost.

The ticket export stops at the events export's end. Both follow change time (the ticket
export compares ``start_time`` with ``generated_timestamp`` and its recorded cursor decodes
to ``<timestamp>||<id>|``, reference §1.1), so once a page reaches past the second the events
were read to, every ticket changed up to that second has been listed; the tickets changed
later (by people, or by slaplug's own write-backs while this read goes on) are left to the
next read, which restarts the ticket export at that second with ``start_time`` ("all the
items that were created or changed on or after the start time", Zendesk's guide to the
incremental export API; Fivetran's connector starts each sync that way) and reads their new
events with them. Read on to
the export's end instead, and those tickets would be listed here without their newest events,
which the next read would then find with no ticket to go with: one ``show_many`` call per 100
tickets written back during a long first read (147 calls at 50,000 tickets, measured by
``bench/scale.py --large``).

Only the last page carries the advanced events position; the pages before it resume the
ticket export but keep the old events position, so a crash mid-read re-delivers events
rather than losing them (the sync store merges events as values, so duplicates are harmless).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from slaplug.connectors import ApiClient, CursorPaginator, TicketPage, paginate
from slaplug.errors import AuthenticationError, PaginationError
from slaplug.model import Ticket, TicketEvent
from slaplug_zendesk.buffer import AuditBuffer
from slaplug_zendesk.config import ZendeskConfig
from slaplug_zendesk.cursor import ZendeskCursor
from slaplug_zendesk.directory import Directory
from slaplug_zendesk.events import Audit, map_events, parse_time

__all__ = ["Reader"]

log = logging.getLogger(__name__)

TICKET_EXPORT = "api/v2/incremental/tickets/cursor.json"
EVENTS_EXPORT = "api/v2/incremental/ticket_events.json"
SIDELOADS = "users,groups,organizations"
_SHOW_MANY = 100  # tickets/show_many takes at most 100 ids
_AUDIT_PAGE = 100  # audits page at most 100 (reference §1.1)
_MAX_EVENT_PAGES = 100_000


class Reader:
    """Reads tickets and their histories for one connector.

    Args:
        http: The connector's client.
        config: The connector's configuration.
        directory: Users, groups, organizations and fields.
        instance: The configured connector's name (`Ticket.connector`).
        seen: Called with every ticket read, so writes can use its ``updated_at``.
    """

    def __init__(
        self,
        http: ApiClient,
        config: ZendeskConfig,
        directory: Directory,
        instance: str,
        seen: Callable[[Ticket], None],
    ) -> None:
        self.http = http
        self.config = config
        self.directory = directory
        self.instance = instance
        self._seen = seen
        #: The raw tickets of the page `read_changed` yielded last, by id. The writer uses them
        #: in place of a fresh read for actions planned from that very page (see `Writer`).
        self.page_raw: dict[int, Mapping[str, Any]] = {}

    # -- the incremental read -------------------------------------------------------------

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since ``cursor`` (see the module docstring)."""
        state = ZendeskCursor.decode(cursor) if cursor else None
        complete = state is None
        old_events = state.events if state else self.config.start_time
        old_seen = state.seen if state else ()
        buffered, new_events, new_seen = self._read_events(old_events, old_seen)
        try:

            def cursor_for(tickets: str | None, final: bool) -> str | None:
                if final:  # no ticket cursor: the next read restarts at ``new_events``
                    return ZendeskCursor(tickets, new_events, new_seen).encode()
                if tickets is None:
                    return None
                return ZendeskCursor(tickets, old_events, old_seen).encode()

            # The ticket export starts after its stored cursor, or else at the events' start.
            after: str | None = state.tickets if state else None
            pending: tuple[list[Ticket], str | None] | None = None
            pending_raw: dict[int, Mapping[str, Any]] = {}
            reached_end = True
            pages = paginate(lambda t: self._fetch_tickets(t, old_events), _TICKET_PAGINATOR, after)
            for page in pages:
                if pending is not None:
                    self.page_raw = pending_raw
                    yield TicketPage(pending[0], cursor_for(pending[1], False), complete)
                data = page.data
                self._remember_sideloads(data)
                raws = data.get("tickets") or []
                tickets = self._tickets(raws, buffered, complete)
                pending, after = (tickets, page.resume), page.resume
                pending_raw = {int(r["id"]): r for r in raws}
                if raws and max(_changed_at(r) for r in raws) > new_events:
                    reached_end = False  # past the events' end: the rest is the next read's
                    break
            final_tickets = after if reached_end else None
            leftovers = list(buffered.pending())  # tickets with new events the export did not list
            chunks = [leftovers[n : n + _SHOW_MANY] for n in range(0, len(leftovers), _SHOW_MANY)]
            if pending is not None:
                self.page_raw = pending_raw
                last = not chunks
                yield TicketPage(
                    pending[0],
                    cursor_for(final_tickets if last else pending[1], last),
                    complete,
                )
            for n, chunk in enumerate(chunks):
                data = self.http.get_json(
                    "api/v2/tickets/show_many.json",
                    params={"ids": ",".join(map(str, chunk)), "include": SIDELOADS},
                )
                self._remember_sideloads(data)
                raws = data.get("tickets") or []
                tickets = self._tickets(raws, buffered, complete)
                self.page_raw = {int(r["id"]): r for r in raws}
                last = n == len(chunks) - 1
                yield TicketPage(
                    tickets, cursor_for(final_tickets if last else after, last), complete
                )
        finally:
            buffered.close()  # and its temporary file, if it spilled

    def _fetch_tickets(self, token: str | None, since: int) -> Any:
        params: dict[str, Any] = {"per_page": self.config.page_size, "include": SIDELOADS}
        if token is None:
            params["start_time"] = since
        else:
            params["cursor"] = token
        return self._export(TICKET_EXPORT, params)

    def _export(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET one page of an incremental export; a 403 says which role is missing.

        Both exports are "Allowed For: Admins" (reference §1.1,
        ``incremental-openapi-original.yml``): an agent's token is refused with 403.
        """
        try:
            return self.http.get_json(path, params=params)
        except AuthenticationError as exc:
            if exc.status != 403:
                raise
            raise AuthenticationError(
                f"connector {self.instance!r}: Zendesk refused the incremental export "
                f"({path}) with 403: the exports are for admins only. Give the API user "
                f"{self.config.email or '(the OAuth token owner)'} the Admin role in Zendesk "
                "(Admin Center > Team members), or use an admin's credentials; see "
                "docs/plugins/zendesk.md, 'Permissions'",
                connector=self.instance,
                status=403,
            ) from exc

    def _read_events(
        self, start: int, seen: Sequence[int]
    ) -> tuple[AuditBuffer, int, tuple[int, ...]]:
        """Read the events export from ``start`` to its end.

        Returns:
            The audits by ticket id, the next ``start_time`` and the ids of the audits at
            exactly that second (the export repeats them; see `ZendeskCursor`).
        """
        buffered = AuditBuffer()
        # The export restarts each page at the previous page's end_time, inclusive, so only
        # audits of that one second can come twice: remembering just their ids keeps this
        # bounded by a page, however long the export.
        skip = set(seen)
        position = start
        for _ in range(_MAX_EVENT_PAGES):
            data = self._export(
                EVENTS_EXPORT,
                {
                    "start_time": position,
                    "include": "comment_events",
                    "per_page": self.config.page_size,
                },
            )
            end = int(data.get("end_time") or position)
            at_end = set(skip) if end == position else set()
            for raw in data.get("ticket_events") or []:
                if "child_events" not in raw:
                    continue  # audits only; other event types carry no history
                audit = Audit.from_export(raw)
                if audit.id in skip:
                    continue  # the boundary second, delivered by an earlier page or sync
                if int(audit.at.timestamp()) == end:
                    at_end.add(audit.id)
                buffered.add(audit)
            if data.get("end_of_stream"):
                return buffered, end, tuple(sorted(at_end))
            skip = at_end
            if end <= position:
                raise PaginationError(
                    f"connector {self.instance!r}: the ticket events export did not move on "
                    f"from start_time {position}; stopping instead of looping"
                )
            position = end
        raise PaginationError(f"connector {self.instance!r}: the events export did not end")

    # -- one ticket -----------------------------------------------------------------------

    def read_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its whole history, from its audits (cursor-paged, 100 a page)."""
        data = self.http.get_json(
            f"api/v2/tickets/{int(ticket_id)}.json", params={"include": SIDELOADS}
        )
        self._remember_sideloads(data)
        raw = data["ticket"]
        return self._ticket(raw, self.audits(int(raw["id"])))

    def audits(self, ticket_id: int) -> list[Audit]:
        """Every audit of one ticket, oldest first."""
        return [Audit.from_api(a, ticket_id) for a in self.raw_audits(ticket_id)]

    def raw_audits(self, ticket_id: int) -> Iterator[Mapping[str, Any]]:
        """One ticket's audits as the API returns them, page by page (cursor paging)."""

        def fetch(token: str | None) -> Any:
            params: dict[str, Any] = {"page[size]": _AUDIT_PAGE}
            if token is not None:
                params["page[after]"] = token
            return self.http.get_json(f"api/v2/tickets/{ticket_id}/audits.json", params=params)

        for page in paginate(fetch, _AUDIT_PAGINATOR):
            yield from page.data.get("audits") or []

    # -- normalization --------------------------------------------------------------------

    def _tickets(
        self, raws: Sequence[Mapping[str, Any]], buffered: AuditBuffer, complete: bool
    ) -> list[Ticket]:
        # `take`, not a pop: a ticket that comes again later in this read (written back
        # meanwhile) must carry its whole history again, as the page says it is complete.
        audits = {int(r["id"]): buffered.take(int(r["id"])) for r in raws}
        if complete and self.config.start_time:
            # Created before the first read's start: the export holds only part of its log.
            for r in raws:
                if parse_time(r["created_at"]).timestamp() < self.config.start_time:
                    audits[int(r["id"])] = self.audits(int(r["id"]))
        self.directory.ensure_users(
            [u for r in raws for u in (r.get("requester_id"), r.get("assignee_id"))]
            + [
                i
                for found in audits.values()
                for a in found
                for i in (a.author_id, *(c.author_id for c in a.children))
            ]
            # Former and new assignees of the history, asked for in the same batch.
            + [
                _int(v)
                for found in audits.values()
                for a in found
                for c in a.children
                if c.kind == "Change" and c.field == "assignee_id"
                for v in (c.value, c.previous)
            ]
        )
        # Organizations the tickets have left are not sideloaded: name them in one batch.
        self.directory.ensure_organizations(
            _int(v)
            for found in audits.values()
            for a in found
            for c in a.children
            if c.kind == "Change" and c.field == "organization_id"
            for v in (c.value, c.previous)
        )
        return [self._ticket(r, audits[int(r["id"])]) for r in raws]

    def _ticket(self, raw: Mapping[str, Any], audits: Sequence[Audit]) -> Ticket:
        d = self.directory
        d.ensure_organizations(
            _int(v)
            for a in audits
            for c in a.children
            if c.kind == "Change" and c.field == "organization_id"
            for v in (c.value, c.previous)
        )
        d.ensure_users(
            [raw.get("requester_id"), raw.get("assignee_id")]
            + [i for a in audits for i in (a.author_id, *(c.author_id for c in a.children))]
        )
        events: list[TicketEvent] = map_events(
            audits, raw.get("requester_id"), d.user, self.history_value
        )
        fields = {
            d.field_name(int(cf["id"])): cf.get("value")
            for cf in raw.get("custom_fields") or []
            if cf.get("id") is not None
        }
        ticket = Ticket(
            id=str(raw["id"]),
            connector=self.instance,
            platform="zendesk",
            created_at=parse_time(raw["created_at"]),
            updated_at=parse_time(raw["updated_at"]) if raw.get("updated_at") else None,
            status=str(raw.get("status") or "new"),
            priority=raw.get("priority") or None,
            subject=str(raw.get("subject") or ""),
            type=raw.get("type") or None,
            group=d.group_name(raw.get("group_id")),
            assignee=self._user_ref(raw.get("assignee_id")),
            organization=_name(d.organizations, raw.get("organization_id")),
            requester=self._user_ref(raw.get("requester_id")),
            tags=frozenset(raw.get("tags") or ()),
            fields=fields,
            url=f"{self.config.base_url}/agent/tickets/{raw['id']}",
            events=tuple(events),
        )
        self._seen(ticket)
        return ticket

    def history_value(self, field: str, raw: Any) -> tuple[str, Any]:
        """A changed field's rule name and one of its values, named as `_ticket` names the
        current ones: group and organization names, a user's email, custom field names.

        Audits give ids as text (``"value": "26425647"`` in zenpy's recorded audit.json)."""
        ident = _int(raw)
        if field == "group_id":
            return "group", self.directory.group_name(ident)
        if field == "assignee_id":
            self.directory.ensure_users([ident])
            return "assignee", self._user_ref(ident)
        if field == "organization_id":
            return "organization", _name(self.directory.organizations, ident)
        if field == "type":
            return "type", raw or None
        if field == "tags":
            return "tags", raw
        return f"fields.{self.directory.field_name(int(field))}", raw

    def _user_ref(self, user_id: int | None) -> str | None:
        """A user as rules see them: the email when known, else the id."""
        if user_id is None:
            return None
        found = self.directory.user(user_id)
        return found.email if found is not None and found.email else str(user_id)

    def _remember_sideloads(self, data: Mapping[str, Any]) -> None:
        self.directory.remember_users(data.get("users") or [])
        self.directory.remember_groups(data.get("groups") or [])
        self.directory.remember_organizations(data.get("organizations") or [])


def _int(value: Any) -> int | None:
    """An id as Zendesk writes it in an audit (a number, or digits as text), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _changed_at(raw: Mapping[str, Any]) -> float:
    """When an exported ticket last changed, as the export orders it: ``generated_timestamp``
    (reference §1.1), else ``updated_at``."""
    stamp = raw.get("generated_timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return float(stamp)
    return parse_time(raw["updated_at"]).timestamp()


def _name(names: Mapping[int, str], ident: int | None) -> str | None:
    if ident is None:
        return None
    return names.get(ident, str(ident))


_TICKET_PAGINATOR = CursorPaginator("after_cursor", done_path="end_of_stream")
_AUDIT_PAGINATOR = CursorPaginator("meta.after_cursor", more_path="meta.has_more")
