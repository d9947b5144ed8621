"""The fake Zendesk's account: users, groups, organizations, ticket fields, tickets, audits.

:class:`ZendeskStore` keeps the state and applies changes the way Zendesk records them:
every accepted change is an *audit* of child events (``Create``, ``Change``, ``Comment``)
and bumps the ticket's ``updated_at``. :func:`load_seed` / :meth:`ZendeskStore.to_seed`
read and write the
JSON seed format documented in docs/testing/fake-zendesk.md.

Memory is kept modest for 50,000-ticket benchmarks: slotted records, times as int Unix
seconds, custom fields stored only when set, and a sorted ``(updated_at, id)`` index
instead of sorting on every export page.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slaplug.testing.fakeserver import iso_z, parse_iso_z

SEED_FORMAT = "slaplug-fake-zendesk/1"

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")
#: The user id Zendesk's own automations act as (closing solved tickets, for example).
SYSTEM_USER_ID = -1

#: Ticket attributes an audit can create or change, besides custom fields (named by id).
TRACKED = (
    "subject",
    "status",
    "priority",
    "type",
    "requester_id",
    "assignee_id",
    "group_id",
    "organization_id",
    "tags",
)


@dataclass(slots=True)
class Organization:
    """A customer organization."""

    id: int
    name: str
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    """An agent group (first-line, second-line, billing)."""

    id: int
    name: str


@dataclass(slots=True)
class User:
    """A user; ``role`` tells agents (``agent``, ``admin``) from customers (``end-user``)."""

    id: int
    name: str
    email: str
    role: str
    organization_id: int | None = None
    default_group_id: int | None = None
    created_at: int = 0


@dataclass(slots=True)
class TicketField:
    """A ticket field; ``custom`` fields appear in each ticket's ``custom_fields``."""

    id: int
    title: str
    type: str
    custom: bool
    options: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Ticket:
    """A ticket's current state. Times are Unix seconds."""

    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    requester_id: int
    submitter_id: int
    assignee_id: int | None
    group_id: int | None
    organization_id: int | None
    tags: list[str]
    #: Only fields with a value; rendering fills the rest with null, as Zendesk shows them.
    custom_fields: dict[int, Any]
    created_at: int
    updated_at: int
    via: str = "email"


@dataclass(slots=True)
class ChildEvent:
    """One event inside an audit: ``Create``/``Change`` of a field, or a ``Comment``."""

    type: str
    field_name: str | None = None
    value: Any = None
    previous_value: Any = None
    body: str | None = None
    public: bool | None = None
    author_id: int | None = None


@dataclass(slots=True)
class Audit:
    """One recorded update of one ticket."""

    id: int
    ticket_id: int
    created_at: int
    author_id: int
    via: str
    events: list[ChildEvent]


def _get(t: Ticket, name: str) -> Any:
    if name.isdigit():
        return t.custom_fields.get(int(name))
    value = getattr(t, name)
    return list(value) if name == "tags" else value


def _set(t: Ticket, name: str, value: Any) -> None:
    if name.isdigit():
        if value is None:
            t.custom_fields.pop(int(name), None)
        else:
            t.custom_fields[int(name)] = value
    else:
        setattr(t, name, list(value) if name == "tags" else value)


class ZendeskStore:
    """The account's state. Not thread-safe: the server holds one lock around it."""

    def __init__(self) -> None:
        self.organizations: dict[int, Organization] = {}
        self.groups: dict[int, Group] = {}
        self.users: dict[int, User] = {}
        self.fields: list[TicketField] = []
        self.tickets: dict[int, Ticket] = {}
        self.audits_by_ticket: dict[int, list[Audit]] = {}
        #: Every audit, sorted by (created_at, id): the ticket-events stream.
        self.audit_log: list[Audit] = []
        #: (created_at, id) of each audit in :attr:`audit_log`, for bisecting by time.
        self.audit_keys: list[tuple[int, int]] = []
        #: Sorted (updated_at, id) of every ticket: the cursor-export order.
        self.index: list[tuple[int, int]] = []
        self.next_audit_id = 7_000_000_001
        self.next_ticket_id = 1
        self._bulk = False

    @property
    def custom_fields(self) -> list[TicketField]:
        """The custom ticket fields, in display order."""
        return [f for f in self.fields if f.custom]

    def field_by_id(self, field_id: int) -> TicketField | None:
        """The ticket field with this id, if any."""
        return next((f for f in self.fields if f.id == field_id), None)

    def agent_ids(self) -> list[int]:
        """Ids of users who are agents or admins."""
        return [u.id for u in self.users.values() if u.role in ("agent", "admin")]

    # -- changes -----------------------------------------------------------------------

    def begin_bulk(self) -> None:
        """Append audits unsorted until :meth:`finish_bulk` (fast generation and loading)."""
        self._bulk = True

    def finish_bulk(self) -> None:
        """Sort the audit log and rebuild the export index after bulk loading."""
        self._bulk = False
        self.audit_log.sort(key=lambda a: (a.created_at, a.id))
        self.audit_keys = [(a.created_at, a.id) for a in self.audit_log]
        self.index = sorted((t.updated_at, t.id) for t in self.tickets.values())

    def create_ticket(
        self,
        ticket: Ticket,
        author_id: int,
        via: str,
        comment_public: bool = True,
    ) -> Audit:
        """Add a ticket, with its Create audit and the description as first comment."""
        self.tickets[ticket.id] = ticket
        self.next_ticket_id = max(self.next_ticket_id, ticket.id + 1)
        # Zendesk's Create audit lists the fields that were set; unset ones are left out.
        events = [ChildEvent("Create", n, _get(ticket, n)) for n in TRACKED if getattr(ticket, n)]
        events += [ChildEvent("Create", str(k), v) for k, v in ticket.custom_fields.items()]
        events.append(
            ChildEvent(
                "Comment", body=ticket.description, public=comment_public, author_id=author_id
            )
        )
        if not self._bulk:
            bisect.insort(self.index, (ticket.updated_at, ticket.id))
        return self._add_audit(ticket, ticket.created_at, author_id, via, events)

    def record(
        self,
        ticket: Ticket,
        at: int,
        author_id: int,
        via: str,
        changes: Mapping[str, Any],
        comment: tuple[str, bool] | None = None,
    ) -> Audit | None:
        """Apply ``changes`` (attribute or custom-field id -> value) and an optional
        ``(body, public)`` comment as one audit by ``author_id``.

        Returns:
            The audit, or None when nothing changed (no audit, ``updated_at`` kept).
        """
        events: list[ChildEvent] = []
        for name, new in changes.items():
            old = _get(ticket, name)
            if old != new:
                _set(ticket, name, new)
                events.append(ChildEvent("Change", name, new, old))
        if comment is not None:
            events.append(
                ChildEvent("Comment", body=comment[0], public=comment[1], author_id=author_id)
            )
        if not events:
            return None
        old_key = (ticket.updated_at, ticket.id)
        ticket.updated_at = max(ticket.updated_at, at)
        if not self._bulk:
            i = bisect.bisect_left(self.index, old_key)
            if i < len(self.index) and self.index[i] == old_key:
                del self.index[i]
            bisect.insort(self.index, (ticket.updated_at, ticket.id))
        return self._add_audit(ticket, at, author_id, via, events)

    def _add_audit(
        self, ticket: Ticket, at: int, author_id: int, via: str, events: list[ChildEvent]
    ) -> Audit:
        audit = Audit(self.next_audit_id, ticket.id, at, author_id, via, events)
        self.next_audit_id += 1
        self.audits_by_ticket.setdefault(ticket.id, []).append(audit)
        key = (at, audit.id)
        if self._bulk or not self.audit_keys or key >= self.audit_keys[-1]:
            self.audit_log.append(audit)
            self.audit_keys.append(key)
        else:  # a change dated before the newest audit (clock moved back): keep the order
            i = bisect.bisect(self.audit_keys, key)
            self.audit_keys.insert(i, key)
            self.audit_log.insert(i, audit)
        return audit

    def audits_from(self, start_time: int) -> int:
        """Position in :attr:`audit_log` of the first audit at or after ``start_time``."""
        return bisect.bisect_left(self.audit_keys, (start_time, 0))

    # -- seed format -------------------------------------------------------------------

    def shift(self, seconds: int) -> None:
        """Move every time in the account by ``seconds`` (bulk mode only)."""
        for u in self.users.values():
            u.created_at += seconds
        for t in self.tickets.values():
            t.created_at += seconds
            t.updated_at += seconds
        for a in self.audit_log:
            a.created_at += seconds

    def to_seed(self, now: float | None = None) -> dict[str, Any]:
        """The whole account in the seed-file format (see docs/testing/fake-zendesk.md)."""
        return {
            "format": SEED_FORMAT,
            "now": iso_z(now) if now is not None else None,
            "organizations": [
                {"id": o.id, "name": o.name, "tags": o.tags} for o in self.organizations.values()
            ],
            "groups": [{"id": g.id, "name": g.name} for g in self.groups.values()],
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "email": u.email,
                    "role": u.role,
                    "organization_id": u.organization_id,
                    "default_group_id": u.default_group_id,
                    "created_at": iso_z(u.created_at),
                }
                for u in self.users.values()
            ],
            "ticket_fields": [
                {
                    "id": f.id,
                    "title": f.title,
                    "type": f.type,
                    "custom": f.custom,
                    "options": f.options,
                }
                for f in self.fields
            ],
            "tickets": [
                {
                    "id": t.id,
                    "subject": t.subject,
                    "description": t.description,
                    "status": t.status,
                    "priority": t.priority,
                    "type": t.type,
                    "requester_id": t.requester_id,
                    "submitter_id": t.submitter_id,
                    "assignee_id": t.assignee_id,
                    "group_id": t.group_id,
                    "organization_id": t.organization_id,
                    "tags": t.tags,
                    "custom_fields": [{"id": k, "value": v} for k, v in t.custom_fields.items()],
                    "created_at": iso_z(t.created_at),
                    "updated_at": iso_z(t.updated_at),
                    "via": t.via,
                }
                for t in self.tickets.values()
            ],
            "audits": [
                {
                    "id": a.id,
                    "ticket_id": a.ticket_id,
                    "created_at": iso_z(a.created_at),
                    "author_id": a.author_id,
                    "via": a.via,
                    "events": [_event_seed(e) for e in a.events],
                }
                for a in self.audit_log
            ],
        }


def _event_seed(e: ChildEvent) -> dict[str, Any]:
    if e.type == "Comment":
        return {"type": "Comment", "body": e.body, "public": e.public, "author_id": e.author_id}
    out: dict[str, Any] = {"type": e.type, "field_name": e.field_name, "value": e.value}
    if e.type == "Change":
        out["previous_value"] = e.previous_value
    return out


def load_seed(data: Mapping[str, Any] | str | Path) -> tuple[ZendeskStore, int | None]:
    """Build a store from seed data (a mapping, or a path to a JSON file).

    Tickets without audits get a synthesised Create audit, so a hand-written seed may list
    tickets only. Returns the store and the seed's ``now`` (Unix seconds) if it has one.

    Raises:
        ValueError: naming the first malformed entry.
    """
    if not isinstance(data, Mapping):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    assert isinstance(data, Mapping)
    if data.get("format", SEED_FORMAT) != SEED_FORMAT:
        raise ValueError(f"seed format {data.get('format')!r} is not {SEED_FORMAT!r}")
    store = ZendeskStore()
    store.begin_bulk()
    try:
        for o in data.get("organizations", []):
            store.organizations[o["id"]] = Organization(o["id"], o["name"], list(o.get("tags", [])))
        for g in data.get("groups", []):
            store.groups[g["id"]] = Group(g["id"], g["name"])
        for u in data.get("users", []):
            store.users[u["id"]] = User(
                u["id"],
                u["name"],
                u["email"],
                u.get("role", "end-user"),
                u.get("organization_id"),
                u.get("default_group_id"),
                _time(u.get("created_at"), 0),
            )
        store.fields = [
            TicketField(
                f["id"],
                f["title"],
                f.get("type", "text"),
                bool(f.get("custom", True)),
                list(f.get("options", [])),
            )
            for f in data.get("ticket_fields", [])
        ]
        audits = data.get("audits", [])
        with_audits = {a["ticket_id"] for a in audits}
        for raw in data.get("tickets", []):
            created = _time(raw.get("created_at"), 0)
            t = Ticket(
                raw["id"],
                raw.get("subject", ""),
                raw.get("description", ""),
                raw.get("status", "new"),
                raw.get("priority"),
                raw.get("type"),
                raw["requester_id"],
                raw.get("submitter_id", raw["requester_id"]),
                raw.get("assignee_id"),
                raw.get("group_id"),
                raw.get("organization_id"),
                list(raw.get("tags", [])),
                {
                    int(c["id"]): c["value"]
                    for c in raw.get("custom_fields", [])
                    if c.get("value") is not None
                },
                created,
                _time(raw.get("updated_at"), created),
                raw.get("via", "email"),
            )
            if t.id in with_audits:
                store.tickets[t.id] = t
                store.next_ticket_id = max(store.next_ticket_id, t.id + 1)
            else:
                updated = t.updated_at
                store.create_ticket(t, t.requester_id, t.via)
                t.updated_at = updated
        for a in audits:
            events = [
                ChildEvent(
                    e["type"],
                    e.get("field_name"),
                    e.get("value"),
                    e.get("previous_value"),
                    e.get("body"),
                    e.get("public"),
                    e.get("author_id"),
                )
                for e in a.get("events", [])
            ]
            audit = Audit(
                a["id"],
                a["ticket_id"],
                _time(a["created_at"], 0),
                a.get("author_id", SYSTEM_USER_ID),
                a.get("via", "api"),
                events,
            )
            store.audits_by_ticket.setdefault(audit.ticket_id, []).append(audit)
            store.audit_log.append(audit)
            store.next_audit_id = max(store.next_audit_id, audit.id + 1)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed seed data: {type(exc).__name__}: {exc}") from None
    store.finish_bulk()
    for lst in store.audits_by_ticket.values():
        lst.sort(key=lambda a: (a.created_at, a.id))
    now = data.get("now")
    return store, (parse_iso_z(now) if now else None)


def _time(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int | float):
        return int(value)
    return parse_iso_z(str(value))
