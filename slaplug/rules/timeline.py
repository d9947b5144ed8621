"""The ticket as it was: the fields rules look at, over its recorded history.

Policies are chosen and clock conditions followed against the ticket *as it was* at each
instant, not as it is now (docs/concepts/sla-clock.md). The history comes from the events:
``field_changed`` (group, assignee, organization, type, tags, custom fields) carries the value
before and after; ``status_changed`` and ``priority_changed`` carry the value after only. The field ``event``
(in a metric's start, stop and cancel conditions) holds the kinds of the events at each
event's instant.

What a field was before its first recorded change:
    * a ``field_changed`` field: that change's ``old`` value;
    * priority: the ticket's current priority, as the clocks assume (connectors report the
      initial priority as a change at creation when they know it);
    * status: unknown (missing), as for the pause statuses.

A ticket with no recorded change of any field the rules read has one state, its current
fields: `fact_states` returns None and the pack takes the fast path it always took.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from slaplug.sla.clock import TicketClocks

__all__ = ["State", "fact_states"]

#: One stretch of the ticket's history: from this instant (epoch µs) on, these raw field
#: values (until the next state).
State = tuple[int, dict[str, Any]]

_LISTS = (list, tuple, set, frozenset)


def _norm(v: Any) -> Any:
    """Values compared for "did it change": list fields as sets, whatever their order."""
    return frozenset(str(x) for x in v) if isinstance(v, _LISTS) else v


def _instants(clocks: TicketClocks) -> list[tuple[int, str, Any]]:
    """``event`` as a field: the kinds of the events at each event's instant, for one
    microsecond (the smallest span), then nothing."""
    kinds: dict[int, set[str]] = {}
    now_us = clocks.now_us
    for e in clocks.ticket.events:
        if e.at_us <= now_us:
            kinds.setdefault(e.at_us, set()).add(e.kind.value)
    out: list[tuple[int, str, Any]] = []
    for us in sorted(kinds):
        out.append((us, "event", tuple(sorted(kinds[us]))))
        if us + 1 not in kinds:
            out.append((us + 1, "event", None))
    return out


def fact_states(
    clocks: TicketClocks, base: Mapping[str, Any], fields: Collection[str]
) -> tuple[list[State], frozenset[str]] | None:
    """The ticket's ``fields`` over its history up to ``clocks.now``, as raw facts.

    Args:
        clocks: The ticket's history, read once (`TicketClocks`).
        base: The ticket's current raw fact (`slaplug.rules.engines.fields.ticket_fact`).
        fields: The fact fields the rules look at.

    Returns:
        The states in time order, the first at creation, and the fields with a recorded
        change up to ``now`` (at creation included); None when none of ``fields`` has one
        and the fields were then what they are now.
    """
    changes: list[tuple[int, str, Any]] = []
    first_old: dict[str, Any] = {}
    for e in clocks.field_changes:
        f = e.field
        if f in fields:
            assert f is not None  # field_changed events always name their field
            if f not in first_old:
                first_old[f] = e.old
            changes.append((e.at_us, f, e.value))
    for e in clocks.later_field_changes:
        f = e.field
        if f in fields and f is not None and f not in first_old:
            first_old[f] = e.old  # changed only after now: this was its value until then
    if "status" in fields and clocks.status_changes:
        changes += [(us, "status", v) for us, _, v in clocks.status_changes]
        first_old["status"] = None
    if "priority" in fields and clocks.priority_changes:
        changes += [(us, "priority", v) for us, v in clocks.priority_changes]
    if "event" in fields:
        changes += _instants(clocks)
    if not changes and not first_old:
        return None
    changes.sort(key=lambda c: c[0])  # stable: same-instant changes keep their order
    created_us = clocks.ticket_created_us
    cur = {f: base.get(f) for f in fields}
    cur.update(first_old)
    states: list[State] = [(created_us, cur)]
    changed: set[str] = set()  # changed value after creation
    for us, f, v in changes:
        if us <= created_us:  # set at creation: part of the first state
            cur[f] = v
            continue
        if _norm(cur.get(f)) == _norm(v):
            continue
        cur = {**cur, f: v}
        changed.add(f)
        if states[-1][0] == us:
            states[-1] = (us, cur)
        else:
            states.append((us, cur))
    recorded = frozenset(f for _, f, _ in changes)
    if not changed and all(_norm(base.get(f)) == _norm(cur.get(f)) for f in first_old):
        if not recorded:
            return None
        return [(created_us, dict(base))], recorded
    return states, recorded
