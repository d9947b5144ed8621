"""Synthetic tickets with realistic histories, for benchmarks and property tests.

Deterministic for a given seed: the same call gives the same tickets.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from slaplug.model import EventKind, Ticket, TicketEvent

__all__ = ["synthetic_tickets"]

_PRIORITIES = ("urgent", "high", "normal", "normal", "low")
_GROUPS = ("first-line", "first-line", "second-line", "billing")
_ORGS = ("acme", "globex", "initech", "umbrella", "hooli")
_TAGS = ("vip", "outage", "billing", "sso", "api", "no_sla")


def synthetic_tickets(
    n: int,
    now: datetime,
    seed: int = 42,
    connector: str = "zendesk",
    span: timedelta = timedelta(days=21),
) -> list[Ticket]:
    """``n`` tickets created within ``span`` before ``now``, with replies, pauses, solves and reopens.

    Args:
        n: How many tickets.
        now: The moment the histories end; no event is later.
        seed: The random seed.
        connector: The connector name the tickets carry.
        span: How far back creation times reach.
    """
    rng = random.Random(seed)
    span_min = int(span.total_seconds() // 60)
    tickets = []
    for i in range(n):
        created = now - timedelta(minutes=rng.randrange(5, span_min))
        priority = rng.choice(_PRIORITIES)
        events = [
            TicketEvent(EventKind.CREATED, created),
            TicketEvent(EventKind.PRIORITY_CHANGED, created, priority),
            TicketEvent(EventKind.STATUS_CHANGED, created, "new"),
        ]
        t, status, solved = created, "new", False
        for _ in range(rng.randrange(0, 8)):
            t += timedelta(minutes=rng.randrange(5, 900))
            if t >= now:
                break
            roll = rng.random()
            if solved:
                if roll < 0.3:
                    events.append(TicketEvent(EventKind.REOPENED, t))
                    events.append(TicketEvent(EventKind.STATUS_CHANGED, t, "open"))
                    status, solved = "open", False
                continue
            if roll < 0.35:
                events.append(TicketEvent(EventKind.AGENT_REPLY, t))
                if rng.random() < 0.3:
                    status = "pending"
                    events.append(TicketEvent(EventKind.STATUS_CHANGED, t, status))
                elif status != "open":
                    status = "open"
                    events.append(TicketEvent(EventKind.STATUS_CHANGED, t, status))
            elif roll < 0.6:
                events.append(TicketEvent(EventKind.REQUESTER_MESSAGE, t))
                if status != "open":
                    status = "open"
                    events.append(TicketEvent(EventKind.STATUS_CHANGED, t, status))
            elif roll < 0.7:
                priority = rng.choice(_PRIORITIES)
                events.append(TicketEvent(EventKind.PRIORITY_CHANGED, t, priority))
            elif roll < 0.85:
                status, solved = "solved", True
                events.append(TicketEvent(EventKind.STATUS_CHANGED, t, status))
                events.append(TicketEvent(EventKind.SOLVED, t))
        tags = frozenset(rng.sample(_TAGS, rng.randrange(0, 3)))
        tickets.append(
            Ticket(
                id=str(100000 + i),
                connector=connector,
                created_at=created,
                updated_at=t if t < now else created,
                status=status,
                priority=priority,
                subject=f"Synthetic ticket {i}",
                group=rng.choice(_GROUPS),
                organization=rng.choice(_ORGS),
                requester=f"user{rng.randrange(1000)}@example.com",
                tags=tags,
                events=tuple(events),
            )
        )
    return tickets
