"""The fake Zendesk's account: users, groups, organizations, ticket fields, tickets, audits.

:class:`ZendeskStore` keeps the state and applies changes the way Zendesk records them:
every accepted change is an *audit* of child events (``Create``, ``Change``, ``Comment``)
and bumps the ticket's ``updated_at``. :func:`build_dataset` generates a deterministic
account from a seed; :func:`load_seed` / :meth:`ZendeskStore.to_seed` read and write the
JSON seed format documented in docs/testing/fake-zendesk.md.

Memory is kept modest for 50,000-ticket benchmarks: slotted records, times as int Unix
seconds, custom fields stored only when set, and a sorted ``(updated_at, id)`` index
instead of sorting on every export page.
"""

from __future__ import annotations

import bisect
import gc
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from slaplug.testing.fakes.base import iso_z, parse_iso_z

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


# -- The built-in data set -----------------------------------------------------------------

_ORGS = (  # name, slug, contract tier, vip
    ("Acme Corp", "acme", "gold", True),
    ("Globex", "globex", "silver", False),
    ("Initech", "initech", "bronze", False),
    ("Umbrella", "umbrella", "gold", True),
    ("Hooli", "hooli", "silver", False),
    ("Stark Industries", "stark", "bronze", False),
)
_GROUPS = ((201, "first-line"), (202, "second-line"), (203, "billing"))
_AGENTS = (  # name, group id
    ("Ana Souza", 201),
    ("Ben Okafor", 201),
    ("Chloe Martin", 201),
    ("Dev Patel", 201),
    ("Elena Rossi", 202),
    ("Farid Haddad", 202),
    ("Grace Liu", 202),
    ("Hugo Lambert", 203),
    ("Ines Duarte", 203),
)
_FIRST = (
    "Alice",
    "Bob",
    "Carmen",
    "Dmitri",
    "Emma",
    "Femi",
    "Gita",
    "Hans",
    "Ivy",
    "Jonas",
    "Kenji",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Paula",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
)
_LAST = (
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Novak",
    "Olsen",
    "Park",
)
_SUBJECTS = {  # group id -> (subject, area, default priority, type)
    201: (
        ("Cannot log in to the dashboard", "login", "normal", "incident"),
        ("Password reset email never arrives", "login", "normal", "incident"),
        ("How do I export my reports to CSV?", "dashboard", "low", "question"),
        ("Mobile app crashes on startup", "mobile", "high", "incident"),
        ("Two-factor code not accepted", "login", "high", "incident"),
        ("Question about user permissions", "dashboard", "low", "question"),
        ("Notification emails land in spam", "dashboard", "normal", "problem"),
        ("Dashboard loads very slowly", "dashboard", "normal", "problem"),
    ),
    202: (
        ("API returns 500 on the orders endpoint", "api", "high", "incident"),
        ("Webhook deliveries failing since this morning", "integrations", "high", "incident"),
        ("Data sync stuck at 80%", "integrations", "normal", "problem"),
        ("SSO login loop with our identity provider", "login", "high", "incident"),
        ("Salesforce integration drops records", "integrations", "normal", "problem"),
        ("Rate limit errors from the API", "api", "normal", "question"),
        ("Report totals do not match the export", "dashboard", "normal", "problem"),
        ("Production outage: checkout unavailable", "api", "urgent", "incident"),
    ),
    203: (
        ("Invoice shows the wrong VAT number", "billing", "normal", "task"),
        ("Charged twice this month", "billing", "high", "incident"),
        ("Upgrade to the Enterprise plan", "billing", "low", "task"),
        ("Refund for unused seats", "billing", "normal", "task"),
        ("Update the credit card on file", "billing", "low", "task"),
        ("Copies of last year's invoices", "billing", "low", "question"),
    ),
}
_OPENERS = ("Hi team,", "Hello,", "Good morning,", "Hi support,")
_DETAILS = (
    "This started after yesterday's update.",
    "Several colleagues see the same thing.",
    "It blocks our month-end reporting.",
    "We tried another browser with the same result.",
    "Screenshots are attached.",
    "Our admin is on leave, so I am raising it.",
)
_AGENT_REPLIES = (
    "Thanks for reaching out. I am looking into this now.",
    "Thanks, I can reproduce this and am checking with the team.",
    "Could you send the exact time it happened and your user id?",
    "We rolled out a fix; could you try again and let us know?",
)
_NOTES = (
    "Internal: looks like the known issue in the release notes.",
    "Internal: asked engineering for a log pull.",
    "Internal: customer is on a gold contract, keep an eye on this one.",
)

#: Custom field ids of the built-in set (stable: tests and docs use them).
FIELD_CONTRACT_TIER = 360_000_000_101
FIELD_PRODUCT_AREA = 360_000_000_102
FIELD_SLA_STATUS = 360_000_000_103
FIELD_SLA_BREACH_AT = 360_000_000_104
FIELD_ESCALATED = 360_000_000_105
ADMIN_EMAIL = "admin@fake-zendesk.test"

History = Literal["full", "minimal", "auto"]


def _base_account(store: ZendeskStore, start: int) -> None:
    for oid, (name, _slug, _tier, vip) in enumerate(_ORGS, start=501):
        store.organizations[oid] = Organization(oid, name, ["vip"] if vip else [])
    for gid, gname in _GROUPS:
        store.groups[gid] = Group(gid, gname)
    store.users[10001] = User(10001, "Ada Admin", ADMIN_EMAIL, "admin", None, 201, start)
    for uid, (name, gid) in enumerate(_AGENTS, start=10002):
        email = name.lower().replace(" ", ".") + "@fake-zendesk.test"
        store.users[uid] = User(uid, name, email, "agent", None, gid, start)
    uid = 20001
    for oid, (_name, slug, _tier, _vip) in enumerate(_ORGS, start=501):
        for k in range(6):
            first, last = _FIRST[(oid * 7 + k * 3) % len(_FIRST)], _LAST[(oid + k * 5) % len(_LAST)]
            email = f"{first}.{last}@{slug}.example".lower()
            store.users[uid] = User(uid, f"{first} {last}", email, "end-user", oid, None, start)
            uid += 1
    for k in range(4):  # customers without an organization
        first, last = _FIRST[(k * 11 + 5) % len(_FIRST)], _LAST[(k * 7 + 2) % len(_LAST)]
        email = f"{first}.{last}{k}@mail.example".lower()
        store.users[uid] = User(uid, f"{first} {last}", email, "end-user", None, None, start)
        uid += 1
    store.fields = [
        TicketField(360_000_000_001, "Subject", "subject", False),
        TicketField(360_000_000_002, "Description", "description", False),
        TicketField(360_000_000_003, "Status", "status", False),
        TicketField(360_000_000_004, "Type", "tickettype", False),
        TicketField(360_000_000_005, "Priority", "priority", False),
        TicketField(360_000_000_006, "Group", "group", False),
        TicketField(360_000_000_007, "Assignee", "assignee", False),
        TicketField(
            FIELD_CONTRACT_TIER, "Contract tier", "tagger", True, ["gold", "silver", "bronze"]
        ),
        TicketField(
            FIELD_PRODUCT_AREA,
            "Product area",
            "tagger",
            True,
            ["login", "dashboard", "mobile", "api", "integrations", "billing"],
        ),
        TicketField(FIELD_SLA_STATUS, "SLA status", "text", True),
        TicketField(FIELD_SLA_BREACH_AT, "SLA breach at", "date", True),
        TicketField(FIELD_ESCALATED, "Escalated", "checkbox", True),
    ]


#: 2026-03-02T12:00:00Z, a Monday noon: the built-in set is generated against this end.
DEFAULT_END = 1_772_452_800


def build_dataset(
    seed: int = 0,
    tickets: int = 300,
    days: int = 28,
    end: int = DEFAULT_END,
    history: History = "auto",
) -> ZendeskStore:
    """Generate a deterministic account whose activity ends shortly before ``end``.

    The account is generated against :data:`DEFAULT_END` and then moved by a whole number
    of days towards ``end``, so the same ``seed`` gives the same tickets, statuses and
    histories whatever ``end`` is; times of day are kept (activity clusters in 08-18 UTC),
    weekdays only when the move is a multiple of seven days. The newest activity is
    between 2 minutes and a day before ``end``.

    Args:
        seed: RNG seed; the same arguments always give the same account.
        tickets: How many tickets.
        days: Tickets are created over this many days before ``end``.
        end: Unix time the data set ends by (default :data:`DEFAULT_END`); usually the
            fake's clock.
        history: ``full`` simulates each ticket's life (replies, pending and hold periods,
            priority changes, solves, reopens, closing); ``minimal`` gives each ticket one
            Create audit and at most one status change (cheap: for 50,000-ticket
            benchmarks); ``auto`` is full up to 2,000 tickets.
    """
    rng = random.Random(seed)
    store = ZendeskStore()
    shift = (end - DEFAULT_END) // 86400 * 86400
    end = DEFAULT_END
    start = end - days * 86400
    _base_account(store, start - 86400 * 30)
    if history == "auto":
        history = "full" if tickets <= 2000 else "minimal"
    last = end - 120  # keep the data out of the export's one-minute lag
    requesters = [u for u in store.users.values() if u.role == "end-user"]
    agents_by_group: dict[int, list[int]] = {}
    for u in store.users.values():
        if u.role == "agent" and u.default_group_id:
            agents_by_group.setdefault(u.default_group_id, []).append(u.id)
    created_times = sorted(_business_time(rng, start, last) for _ in range(tickets))
    # Millions of small objects and no garbage: pausing the cyclic collector halves the
    # time of a 50,000-ticket build.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _generate(rng, store, created_times, requesters, agents_by_group, history, last)
        store.shift(shift)
        store.finish_bulk()
    finally:
        if gc_was_enabled:
            gc.enable()
    return store


def _generate(
    rng: random.Random,
    store: ZendeskStore,
    created_times: list[int],
    requesters: list[User],
    agents_by_group: Mapping[int, list[int]],
    history: History,
    last: int,
) -> None:
    store.begin_bulk()
    for tid, created in enumerate(created_times, start=1):
        requester = requesters[rng.randrange(len(requesters))]
        r = rng.random()
        gid = 201 if r < 0.55 else 202 if r < 0.85 else 203
        subject, area, prio, ttype = _SUBJECTS[gid][rng.randrange(len(_SUBJECTS[gid]))]
        priority: str | None = _shift_priority(rng, prio)
        org = store.organizations.get(requester.organization_id or 0)
        tags = [area]
        if org is not None:
            tags.append(_ORGS[org.id - 501][1])
            tags += org.tags
        if rng.random() < 0.05:
            tags.append("no_sla")
        custom: dict[int, Any] = {FIELD_PRODUCT_AREA: area}
        if org is not None:
            custom[FIELD_CONTRACT_TIER] = _ORGS[org.id - 501][2]
        if history == "full":
            description = (
                f"{_OPENERS[rng.randrange(4)]} {subject.rstrip('?')}. "
                f"{_DETAILS[rng.randrange(len(_DETAILS))]} Thanks, {requester.name.split()[0]}"
            )
        else:  # one shared string per subject keeps 50,000 tickets small
            description = subject
        via = rng.choice(("email", "web", "web", "api"))
        ticket = Ticket(
            tid,
            subject,
            description,
            "new",
            priority,
            ttype if rng.random() < 0.85 else None,
            requester.id,
            requester.id,
            None,
            gid,
            requester.organization_id,
            tags,
            custom,
            created,
            created,
            via,
        )
        store.create_ticket(ticket, requester.id, via)
        agent = rng.choice(agents_by_group[gid])
        if history == "full":
            _simulate_life(rng, store, ticket, agent, agents_by_group, last)
        else:
            t = created + rng.randrange(600, 3 * 86400)
            r = rng.random()
            status = (
                "open" if r < 0.3 else "pending" if r < 0.45 else "solved" if r < 0.8 else "closed"
            )
            if t <= last:
                store.record(ticket, t, agent, "web", {"status": status, "assignee_id": agent})


def _business_time(rng: random.Random, start: int, end: int) -> int:
    """A time in [start, end], mostly on weekdays 08:00-18:00 UTC as real queues are."""
    t = start
    for _ in range(4):
        t = rng.randrange(start, end)
        hour, weekday = (t // 3600) % 24, ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday
        if 8 <= hour < 18 and weekday < 5:
            return t
    return t


def _shift_priority(rng: random.Random, prio: str) -> str | None:
    r = rng.random()
    if r < 0.08:
        return None  # Zendesk allows tickets without a priority
    if r < 0.18:
        i = PRIORITIES.index(prio)
        return PRIORITIES[max(0, min(3, i + rng.choice((-1, 1))))]
    return prio


def _simulate_life(
    rng: random.Random,
    store: ZendeskStore,
    t: Ticket,
    agent: int,
    agents_by_group: Mapping[int, list[int]],
    last: int,
) -> None:
    """Play a plausible history forward from creation, stopping at ``last``."""
    speed = {"urgent": 0.1, "high": 0.4, "normal": 1.0, "low": 2.0}.get(t.priority or "", 1.5)
    now = t.created_at

    def step(seconds: float) -> bool:
        nonlocal now
        now += max(60, int(seconds))
        return now <= last

    def reply(author: int, text: str, public: bool = True, **changes: Any) -> None:
        store.record(t, now, author, "web", changes, (text, public))

    if not step(rng.expovariate(1 / (3 * 3600)) * speed):
        return
    reply(agent, rng.choice(_AGENT_REPLIES), status="open", assignee_id=agent)
    for _ in range(rng.choices((0, 1, 2, 3), (30, 35, 25, 10))[0]):
        roll = rng.random()
        if roll < 0.45:  # ask the customer, wait, the customer answers
            if not step(rng.uniform(1800, 4 * 3600) * speed):
                return
            reply(
                agent, "Could you confirm the account and the time you saw this?", status="pending"
            )
            if rng.random() < 0.1 or not step(rng.uniform(1800, 2 * 86400)):
                return  # some customers never answer
            reply(t.requester_id, "Here are the details you asked for.", status="open")
        elif roll < 0.65:  # waiting on a third party or engineering
            if not step(rng.uniform(1800, 6 * 3600)):
                return
            reply(agent, rng.choice(_NOTES), public=False, status="hold")
            if not step(rng.uniform(3600, 2 * 86400)):
                return
            reply(agent, "Engineering came back to us; continuing here.", status="open")
        elif roll < 0.8:  # the customer chases
            if not step(rng.uniform(1800, 86400)):
                return
            reply(t.requester_id, "Any update on this? It is still happening.")
        elif roll < 0.92 and t.priority in ("low", "normal"):  # escalation
            if not step(rng.uniform(900, 4 * 3600)):
                return
            new = "high" if t.priority == "normal" else "normal"
            reply(
                agent,
                "Internal: raising priority, impact is wider than reported.",
                public=False,
                priority=new,
            )
        else:  # hand-over to second line
            if t.group_id == 202 or not step(rng.uniform(900, 4 * 3600)):
                continue
            agent = rng.choice(agents_by_group[202])
            reply(
                agent,
                "Internal: moving to second line.",
                public=False,
                group_id=202,
                assignee_id=agent,
            )
    if not step(rng.uniform(1800, 8 * 3600) * speed):
        return
    reply(
        agent, "This should now be fixed. Let us know if anything else comes up.", status="solved"
    )
    if rng.random() < 0.1:  # reopened by the customer
        if not step(rng.uniform(3600, 2 * 86400)):
            return
        reply(t.requester_id, "Sorry, it is happening again.", status="open")
        if not step(rng.uniform(1800, 6 * 3600) * speed):
            return
        reply(agent, "Applied a permanent fix this time.", status="solved")
    if step(4 * 86400):  # Zendesk's default automation closes solved tickets after 4 days
        store.record(t, now, SYSTEM_USER_ID, "rule", {"status": "closed"})
