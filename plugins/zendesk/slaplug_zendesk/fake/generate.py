"""The fake Zendesk's built-in account: a deterministic, seeded generator of a few weeks of
realistic helpdesk activity (organizations, groups, agents, customers, tickets with their
histories). The same arguments always give the same account.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from slaplug._gcpause import paused_gc
from slaplug_zendesk.fake.data import (
    PRIORITIES,
    SYSTEM_USER_ID,
    Group,
    Organization,
    Ticket,
    TicketField,
    User,
    ZendeskStore,
)

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
    with paused_gc():
        _generate(rng, store, created_times, requesters, agents_by_group, history, last)
        store.shift(shift)
        store.finish_bulk()
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
