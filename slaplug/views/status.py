"""The status view: the clocks a `ClockQuery` asks for, counts by state, breaches today and
this period, from one pass over the store. ``slaplug status`` prints it; the dashboard
renders it; `status_to_dict` is the JSON both publish."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slaplug.golive import is_done
from slaplug.model import Ticket
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.serialize import measure_to_dict
from slaplug.store import Store
from slaplug.views.breaches import BreachSummary, breach_summary
from slaplug.views.clocks import (
    ClockQuery,
    ClockRow,
    ClockState,
    LinkFor,
    count_states,
    measure_clocks,
    select,
    snapshot_link,
)

__all__ = ["SCHEMA_VERSION", "StatusView", "row_to_dict", "status_to_dict", "status_view"]

#: The version of `status_to_dict`'s document. Keys are only ever added within a version; a
#: key removed or changed in meaning makes the next one.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StatusView:
    """What ``slaplug status`` shows.

    Attributes:
        at: When the clocks were measured.
        query: The query answered.
        rows: The clocks it asks for, least time left first, at most ``query.limit``.
        matched: How many clocks matched before the limit.
        counts: Open clocks in the query's scope (connector, policy, team, customer) by
            state, every state named; the state filter does not narrow these.
        breaches: Breaches today and this period in the query's scope.
        tickets: Synced tickets read from the store (of the one connector asked for, if one
            was); 0 means nothing was synced yet.
    """

    at: datetime
    query: ClockQuery
    rows: list[ClockRow]
    matched: int
    counts: dict[str, int]
    breaches: BreachSummary
    tickets: int = 0


def status_view(
    store: Store,
    pack: RulePack | VersionedPack,
    now: datetime,
    query: ClockQuery | None = None,
    *,
    links: LinkFor = snapshot_link,
    zone: ZoneInfo | None = None,
    period: str = "month",
) -> StatusView:
    """Measure every synced ticket at ``now`` and answer ``query`` (everything open by
    default). No helpdesk is called.

    Args:
        store: The store.
        pack: The rules pack in force (used from this thread only).
        now: The moment to measure at.
        query: Which clocks to list.
        links: How a row finds its ticket's page (see `measure_clocks`).
        zone: Where "today" and the period begin (UTC by default).
        period: ``month`` or ``quarter``.
    """
    q = query or ClockQuery()
    only = next(iter(q.connectors)) if q.connectors is not None and len(q.connectors) == 1 else None
    empty = breach_summary([], now, zone=zone, period=period)
    since = min(empty.day_start, empty.period.start)

    read = 0

    def keep(ticket: Ticket) -> bool:
        nonlocal read
        read += 1
        if not q.wants_ticket(ticket):
            return False
        # Most stored tickets were solved long ago: every clock of theirs stopped by their
        # last change, so they can hold neither an open clock nor a breach in the window.
        # Skipping them spares measuring them (unless stopped clocks are asked for).
        return q.shows_closed or not _settled_before(ticket, since)

    scoped = [
        r
        for r in measure_clocks(
            store, pack, now, connector=only, within=q.within, links=links, keep=keep
        )
        if q.in_scope(r)
    ]
    wanted = select(scoped, dataclasses.replace(q, limit=None))
    return StatusView(
        at=now,
        query=q,
        rows=wanted if q.limit is None else wanted[: q.limit],
        matched=len(wanted),
        counts=count_states([r for r in scoped if r.open]),
        breaches=breach_summary(scoped, now, zone=zone, period=period),
        tickets=read,
    )


def _settled_before(ticket: Ticket, since: datetime) -> bool:
    """Whether the ticket is solved or closed and nothing happened to it since ``since``."""
    last = max(
        [e.at for e in ticket.events[-1:]]
        + [ticket.created_at]
        + ([ticket.updated_at] if ticket.updated_at is not None else [])
    )
    return last < since and is_done(ticket)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def row_to_dict(row: ClockRow) -> dict[str, Any]:
    """One clock as JSON: the ticket's fields people filter on, the link, and the measure
    (`slaplug.serialize.measure_to_dict`'s keys; durations in seconds, times ISO 8601 UTC).

    Keys: ``ticket`` (``connector:id``), ``connector``, ``ticket_id``, ``subject``,
    ``status``, ``priority``, ``group``, ``assignee``, ``organization`` (as the connector
    holds them: ids on Jira and Freshdesk), ``group_name``, ``assignee_name``,
    ``organization_name`` (their display names where the connector knows them, else null),
    ``contract``, ``link``, ``state`` (a `ClockState` value), ``open``, ``due``, ``time_left_s`` (wall
    seconds to ``due``, negative once breached, None when there is none), then ``policy``,
    ``metric``, ``cycle``, ``calendar``, ``target_s``, ``elapsed_s``, ``remaining_s``
    (business time), ``percent``, ``start``, ``deadline``, ``breached_at``, ``stopped_at``,
    ``clock_state`` (the measure's own state), ``target_priority`` (the priority whose target
    applies).
    """
    t, m = row.ticket, row.measure
    left = row.time_left
    measure = measure_to_dict(m)
    measure.pop("pauses")
    measure["clock_state"] = measure.pop("state")
    # The priority whose target applies; the ticket's own priority keeps the name priority.
    measure["target_priority"] = measure.pop("priority")
    return {
        "ticket": t.key,
        "connector": t.connector,
        "ticket_id": t.id,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "group": t.group,
        "assignee": t.assignee,
        "organization": t.organization,
        "group_name": t.names.get("group"),
        "assignee_name": t.names.get("assignee"),
        "organization_name": t.names.get("organization"),
        "contract": row.contract,
        "link": row.link,
        "state": row.state.value,
        "open": row.open,
        "due": _iso(row.due),
        "time_left_s": None if left is None else left.total_seconds(),
        **measure,
    }


def _sorted(values: frozenset[str] | frozenset[ClockState] | None) -> list[str] | None:
    return None if values is None else sorted(str(v) for v in values)


def status_to_dict(view: StatusView) -> dict[str, Any]:
    """The JSON document of ``slaplug status --json`` (version `SCHEMA_VERSION`).

    Keys: ``schema``, ``at``, ``query`` (the filters, lists or null), ``tickets`` (synced
    tickets read), ``counts`` (open clocks by state), ``breaches`` (``today`` and ``period`` counts, ``day_start``,
    ``period_label``, ``period_start``), ``matched``, ``clocks`` (`row_to_dict` each).
    """
    q, b = view.query, view.breaches
    return {
        "schema": SCHEMA_VERSION,
        "at": view.at.isoformat(),
        "query": {
            "connectors": _sorted(q.connectors),
            "states": _sorted(q.states),
            "policies": _sorted(q.policies),
            "teams": _sorted(q.teams),
            "customers": _sorted(q.customers),
            "include_closed": q.shows_closed,
            "within_s": q.within.total_seconds(),
            "limit": q.limit,
        },
        "tickets": view.tickets,
        "counts": view.counts,
        "breaches": {
            "today": len(b.today),
            "period": len(b.this_period),
            "day_start": b.day_start.isoformat(),
            "period_label": b.period.label,
            "period_start": b.period.start.isoformat(),
        },
        "matched": view.matched,
        "clocks": [row_to_dict(r) for r in view.rows],
    }
