"""Tickets, measures and actions to and from plain JSON-able dicts.

The ticket form is what ``slaplug explain --ticket TICKET.json`` and policy tests read::

    {"id": "1001", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00",
     "status": "open", "priority": "high", "tags": ["vip"], "fields": {"tier": "gold"},
     "events": [{"kind": "agent_reply", "at": "2026-03-02T10:00:00+01:00"},
                {"kind": "status_changed", "at": "...", "value": "pending"},
                {"kind": "field_changed", "at": "...", "field": "group",
                 "old": "l1", "value": "l2", "actor": "agent-7"}]}

Field changes (``field_changed``) carry the field's name as rule conditions use it, its value
before (``old``) and after (``value``); tags and other list fields as JSON lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slaplug.errors import ConfigError
from slaplug.model import Action, EventKind, SlaMeasure, Ticket, TicketEvent

__all__ = [
    "EARLIEST",
    "LATEST",
    "action_to_dict",
    "measure_to_dict",
    "ticket_from_dict",
    "ticket_problem",
    "ticket_to_dict",
]

#: The earliest time a ticket may carry: no helpdesk dates a ticket before the Unix epoch, and
#: a clock laid out from year 1 overflows once a zone's offset is applied.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
#: The first time a ticket may not carry: targets, calendars and zone offsets added to a time
#: near year 9999 overflow Python's datetime (which ends there).
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

_TICKET_KEYS = {
    "id",
    "connector",
    "platform",
    "created_at",
    "updated_at",
    "status",
    "priority",
    "subject",
    "type",
    "group",
    "assignee",
    "organization",
    "requester",
    "tags",
    "fields",
    "url",
    "events",
    "names",
}


class TicketFormatError(ConfigError):
    """A ticket document is malformed; the message names the field."""

    __module__ = "slaplug"


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):  # YAML reads timestamps itself
        if value.tzinfo is None:
            raise TicketFormatError(
                f"{where}: {value.isoformat()} has no offset; add one, e.g. +01:00 or Z"
            )
        return value
    if not isinstance(value, str):
        raise TicketFormatError(f"{where}: expected an ISO 8601 time with offset, got {value!r}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TicketFormatError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise TicketFormatError(
            f"{where}: {value!r} has no offset; add one, e.g. {value}+01:00 or {value}Z"
        )
    return t


def ticket_from_dict(doc: Mapping[str, Any], source: str = "ticket") -> Ticket:
    """Build a `Ticket` from its JSON form.

    Raises:
        TicketFormatError: A field is missing or malformed; the message names it.
    """
    if not isinstance(doc, Mapping):
        raise TicketFormatError(f"{source}: a ticket is a JSON object")
    unknown = set(doc) - _TICKET_KEYS
    if unknown:
        raise TicketFormatError(
            f"{source}: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(_TICKET_KEYS))}"
        )
    for key in ("id", "created_at", "status"):
        if key not in doc:
            raise TicketFormatError(f"{source}: {key} is required")
    events = []
    for i, e in enumerate(doc.get("events") or []):
        where = f"{source}: events[{i}]"
        if not isinstance(e, Mapping) or "kind" not in e or "at" not in e:
            raise TicketFormatError(f"{where}: an event is an object with kind and at")
        try:
            kind = EventKind(e["kind"])
        except ValueError:
            kinds = ", ".join(k.value for k in EventKind)
            raise TicketFormatError(f"{where}.kind: {e['kind']!r} is not one of {kinds}") from None
        field = e.get("field")
        if kind is EventKind.FIELD_CHANGED and (not isinstance(field, str) or not field):
            raise TicketFormatError(
                f"{where}.field: a field_changed event names its field, e.g. "
                '"group", "tags" or "fields.waiting_on"'
            )
        events.append(
            TicketEvent(
                kind,
                _time(e["at"], f"{where}.at"),
                e.get("value"),
                e.get("actor"),
                field,
                e.get("old"),
            )
        )
    names = doc.get("names") or {}
    if not isinstance(names, Mapping):
        raise TicketFormatError(
            f'{source}: names maps a field to its display name, e.g. {{"assignee": "Ana Lima"}}'
        )
    created = _time(doc["created_at"], f"{source}: created_at")
    if not any(e.kind is EventKind.CREATED for e in events):
        events.append(TicketEvent(EventKind.CREATED, created))
    return Ticket(
        id=str(doc["id"]),
        connector=doc.get("connector", "file"),
        platform=doc.get("platform", ""),
        created_at=created,
        updated_at=_time(doc["updated_at"], f"{source}: updated_at")
        if doc.get("updated_at")
        else None,
        status=str(doc["status"]),
        priority=doc.get("priority"),
        subject=doc.get("subject", ""),
        type=doc.get("type"),
        group=doc.get("group"),
        assignee=doc.get("assignee"),
        organization=doc.get("organization"),
        requester=doc.get("requester"),
        tags=frozenset(doc.get("tags") or ()),
        fields=doc.get("fields") or {},
        url=doc.get("url"),
        events=tuple(events),
        names={str(k): str(v) for k, v in names.items() if v},
    )


def ticket_to_dict(t: Ticket) -> dict[str, Any]:
    """The JSON form of a ticket (inverse of `ticket_from_dict`)."""
    out: dict[str, Any] = {
        "id": t.id,
        "connector": t.connector,
        "platform": t.platform,
        "created_at": t.created_at.isoformat(),
        "status": t.status,
    }
    for key in (
        "priority",
        "subject",
        "type",
        "group",
        "assignee",
        "organization",
        "requester",
        "url",
    ):
        value = getattr(t, key)
        if value:
            out[key] = value
    if t.updated_at:
        out["updated_at"] = t.updated_at.isoformat()
    if t.tags:
        out["tags"] = sorted(t.tags)
    if t.fields:
        out["fields"] = dict(t.fields)
    if t.names:
        out["names"] = dict(t.names)
    out["events"] = [_event_to_dict(e) for e in t.events]
    return out


def _event_to_dict(e: TicketEvent) -> dict[str, Any]:
    """One event's JSON form; keys without a value are left out (older snapshots have no
    ``field`` or ``old``, and read back the same)."""
    out: dict[str, Any] = {"kind": e.kind.value, "at": e.at.isoformat()}
    if e.field is not None:
        out["field"] = e.field
    for key, v in (("value", e.value), ("old", e.old), ("actor", e.actor)):
        if v is not None:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def measure_to_dict(m: SlaMeasure) -> dict[str, Any]:
    """The JSON form of a measure; durations in seconds."""
    return {
        "policy": m.policy,
        "metric": m.metric.value,
        "cycle": m.cycle,
        "state": m.state.value,
        "priority": m.priority,
        "calendar": m.calendar,
        "target_s": m.target.total_seconds(),
        "elapsed_s": m.elapsed.total_seconds(),
        "remaining_s": m.remaining.total_seconds(),
        "percent": m.percent,
        "start": _iso(m.start),
        "deadline": _iso(m.deadline),
        "breached_at": _iso(m.breached_at),
        "stopped_at": _iso(m.stopped_at),
        "pauses": [[a.isoformat(), b.isoformat()] for a, b in m.pauses],
    }


def action_to_dict(a: Action) -> dict[str, Any]:
    """The JSON form of a planned action."""
    return {
        "kind": a.kind.value,
        "params": dict(a.params),
        "connector": a.connector,
        "ticket_id": a.ticket_id,
        "key": a.key,
        "escalation": a.escalation,
        "level": a.level,
        "shadow": a.shadow,
        "explanation": dict(a.explanation),
    }


def _collect(value: Any, out: list[str]) -> None:
    """Every string under ``value`` (keys included), appended to ``out``."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _collect(k, out)
            _collect(v, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            _collect(v, out)


def _bad_text(value: Any, where: str) -> str | None:
    """The first string under ``value`` that is not valid Unicode, described; None if none."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = value[exc.start]
            return (
                f"{where} holds a lone UTF-16 surrogate (\\u{ord(char):04x}) at character "
                f"{exc.start}, which is not text; fix it on the helpdesk"
            )
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _bad_text(k, f"{where} key") or _bad_text(v, f"{where}.{k}")
            if found:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            found = _bad_text(v, f"{where}[{i}]")
            if found:
                return found
    return None


def _time_problem(where: str, at: datetime) -> str | None:
    if at.tzinfo is None:
        return f"{where} {at.isoformat()} has no time zone"
    try:
        inside = EARLIEST <= at < LATEST
    except OverflowError:  # the offset itself pushes it past datetime's range
        inside = False
    if inside:
        return None
    return (
        f"{where} is {at.isoformat()}, outside the times slaplug measures "
        f"({EARLIEST.date()} to {LATEST.date()}); fix the date on the helpdesk"
    )


def ticket_problem(t: Ticket) -> str | None:
    """Why slaplug cannot process this ticket, or None when it can.

    Checked: every text is valid Unicode (JSON allows a lone surrogate such as ``\\ud800``,
    which no database or hash can encode), and every time lies between `EARLIEST` and
    `LATEST`. The message names the field, so it can be fixed where the ticket lives.
    """
    named = [("created_at", t.created_at), ("updated_at", t.updated_at)]
    for i, (name, at) in enumerate([*named, *((None, e.at) for e in t.events)]):
        # The year alone settles nearly every time (aware comparisons cost microseconds).
        if at is None or EARLIEST.year < at.year < LATEST.year - 1:
            continue
        where = name or f"events[{i - len(named)}].at ({t.events[i - len(named)].kind.value})"
        problem = _time_problem(where, at)
        if problem:
            return problem
    doc = {
        "id": t.id,
        "connector": t.connector,
        "status": t.status,
        "priority": t.priority,
        "subject": t.subject,
        "type": t.type,
        "group": t.group,
        "assignee": t.assignee,
        "organization": t.organization,
        "requester": t.requester,
        "url": t.url,
        "tags": sorted(t.tags),
        "fields": t.fields,
        "names": t.names,
        "events": [{"value": e.value, "actor": e.actor} for e in t.events],
    }
    texts: list[str] = []
    _collect(doc, texts)
    joined = "".join(texts)
    # One pass in C for the common case (all valid); the walk below only names the field.
    if joined.isascii():
        return None
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return None
    for key, value in doc.items():
        found = _bad_text(value, key)
        if found:
            return found
    return "its text is not valid Unicode"  # found by the encoder, not by the walk
