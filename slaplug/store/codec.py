"""The store's JSON forms: canonical text, content hashes, and the way back to records.

Tickets and measures reuse `slaplug.serialize`. Actions need their policy, metric and cycle
back when a worker claims them, which `serialize.action_to_dict` leaves out, so the store's
action form adds them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from slaplug.model import (
    Action,
    ActionKind,
    EventKind,
    MeasureState,
    Metric,
    SlaMeasure,
    Ticket,
    TicketEvent,
)
from slaplug.serialize import action_to_dict, measure_to_dict, ticket_from_dict, ticket_to_dict

__all__ = [
    "action_from_json",
    "action_to_json",
    "dumps",
    "measure_from_json",
    "measure_to_json",
    "merge_events",
    "snapshot_hash",
    "ticket_from_json",
    "ticket_to_json",
]


def dumps(doc: Any) -> str:
    """Canonical JSON: sorted keys and no spaces, so equal documents give equal text.

    Values JSON cannot hold (a custom field holding a date, say) are written as strings.
    """
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def ticket_to_json(ticket: Ticket) -> str:
    """The canonical JSON text of a ticket snapshot, events included.

    Events at the same instant are put in one order (kind, value, actor), whatever order the
    platform listed them in; and a ticket without a ``created`` event gets one at
    ``created_at``, as `ticket_from_dict` adds when it reads the text back. Either would
    otherwise make an unchanged ticket look changed next to its stored copy.
    """
    events = list(ticket.events)
    if not any(e.kind is EventKind.CREATED for e in events):
        events.append(TicketEvent(EventKind.CREATED, ticket.created_at))
    events.sort(key=_event_order)
    return dumps(ticket_to_dict(dataclasses.replace(ticket, events=tuple(events))))


def _event_order(e: TicketEvent) -> tuple[Any, ...]:
    """Sort key of events at one instant: kind, field, value, actor. Field changes may hold
    lists or numbers, which do not compare with text: those are compared as their JSON."""
    v = e.value
    value = v if isinstance(v, str) else ("" if v is None else dumps(v))
    return (e.at, e.kind.value, e.field or "", value, e.actor or "")


def ticket_from_json(text: str) -> Ticket:
    """The ticket back from `ticket_to_json` text."""
    return ticket_from_dict(json.loads(text), source="snapshot")


def snapshot_hash(ticket_or_text: Ticket | str) -> str:
    """The sha256 (hex) of a ticket's canonical JSON: equal hashes mean nothing changed."""
    text = ticket_or_text if isinstance(ticket_or_text, str) else ticket_to_json(ticket_or_text)
    return hashlib.sha256(text.encode()).hexdigest()


def merge_events(
    stored: Iterable[TicketEvent], new: Iterable[TicketEvent]
) -> tuple[TicketEvent, ...]:
    """The union of two event histories, de-duplicated by (kind, at, value).

    ``at`` is compared as an instant, so the same event read with two UTC offsets is one event.
    When both sides hold an event, the new one wins (it may carry an actor the old one lacked).
    """
    merged: dict[tuple[str, datetime, str | None], TicketEvent] = {}
    for e in stored:
        merged[(e.kind.value, e.at, e.value)] = e
    for e in new:
        merged[(e.kind.value, e.at, e.value)] = e
    return tuple(sorted(merged.values(), key=lambda e: e.at))


def action_to_json(action: Action) -> str:
    """The action's JSON text: `serialize.action_to_dict` plus policy, metric and cycle."""
    doc = action_to_dict(action)
    doc.update(policy=action.policy, metric=action.metric.value, cycle=action.cycle)
    return dumps(doc)


def action_from_json(text: str) -> Action:
    """The action back from `action_to_json` text."""
    doc = json.loads(text)
    return Action(
        kind=ActionKind(doc["kind"]),
        params=doc["params"],
        connector=doc["connector"],
        ticket_id=doc["ticket_id"],
        key=doc["key"],
        escalation=doc["escalation"],
        level=int(doc["level"]),
        policy=doc["policy"],
        metric=Metric(doc["metric"]),
        cycle=int(doc["cycle"]),
        shadow=bool(doc.get("shadow", False)),
        explanation=doc.get("explanation") or {},
    )


def measure_to_json(measure: SlaMeasure) -> str:
    """The measure's JSON text (`serialize.measure_to_dict`)."""
    return dumps(measure_to_dict(measure))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def measure_from_json(text: str) -> SlaMeasure:
    """The measure back from `measure_to_json` text."""
    doc: Mapping[str, Any] = json.loads(text)
    start = _time(doc["start"])
    assert start is not None  # every measure has a start
    return SlaMeasure(
        policy=doc["policy"],
        metric=Metric(doc["metric"]),
        cycle=int(doc["cycle"]),
        state=MeasureState(doc["state"]),
        target=timedelta(seconds=doc["target_s"]),
        start=start,
        deadline=_time(doc["deadline"]),
        elapsed=timedelta(seconds=doc["elapsed_s"]),
        remaining=timedelta(seconds=doc["remaining_s"]),
        percent=float(doc["percent"]),
        breached_at=_time(doc["breached_at"]),
        stopped_at=_time(doc["stopped_at"]),
        calendar=doc["calendar"],
        priority=doc["priority"],
        pauses=tuple(
            (datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in doc["pauses"]
        ),
    )
