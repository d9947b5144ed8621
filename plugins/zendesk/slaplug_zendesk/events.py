"""From Zendesk audits to slaplug's `TicketEvent`s: the mapping the clocks depend on.

Pure functions, fed either by the ticket audits API (``GET /api/v2/tickets/{id}/audits``)
or by the incremental ticket events export (``include=comment_events``); both are reduced
to `Audit` first, since they shape the same things differently (reference §1.1, "Child
event shape differs from the audits API"):

* audits API: ``author_id``; a child event ``{"type": "Change", "field_name": "status",
  "value": "solved", "previous_value": "open"}`` (zenpy ``specification/zendesk/audit.json``);
* events export: ``updater_id``; a child event names the changed field by its key, with no
  ``field_name``/``value``: ``{"event_type": "Change", "status": "solved",
  "previous_value": "open"}`` (zenpy ``specification/zendesk/ticket_event.json``; Zendesk's
  Java client, issue #271: the export "is different to the ticket audit endpoint"); tags
  come as ``tags`` / ``added_tags`` / ``removed_tags``, comments as
  ``{"event_type": "Comment", "author_id", "public", "body"}``.

Each reader reads its own endpoint's shape only (`Child.from_api`, `Child.from_export`).

=========================================================  ==============================
Zendesk                                                    slaplug
=========================================================  ==============================
audit with a ``Create`` child event                        CREATED
``Create`` of ``status`` / ``priority``                    STATUS_CHANGED / PRIORITY_CHANGED
the ``Comment`` in the creating audit (the description)    nothing: it is the creation
``Change`` of ``status``                                   STATUS_CHANGED (value: new)
status to ``solved``/``closed`` from an open status         + SOLVED (once: solved->closed adds none)
status ``solved`` -> ``new``/``open``/``pending``/``hold``  + REOPENED
``Change`` of ``priority``                                 PRIORITY_CHANGED (value: new or None)
``Change`` of ``group_id`` / ``assignee_id`` /               FIELD_CHANGED ``group`` / ``assignee`` /
``organization_id`` / ``type``                              ``organization`` / ``type`` (names, as
                                                           the ticket's own fields read them)
``Change`` of ``tags`` (export: ``tags``, ``added_tags``,  FIELD_CHANGED ``tags`` (sorted tuples)
``removed_tags``)
``Change`` of a custom field (its id)                      FIELD_CHANGED ``fields.<name>``
``Create`` of any of these                                 nothing: the first ``Change`` says
                                                           the value before it
public ``Comment`` by an agent or admin                    AGENT_REPLY
public ``Comment`` by the requester or another end-user    REQUESTER_MESSAGE
private ``Comment`` (internal note)                        nothing
=========================================================  ==============================
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slaplug.model import EventKind, TicketEvent
from slaplug_zendesk.directory import User

__all__ = ["HISTORY_FIELDS", "Audit", "Child", "Rename", "map_events", "parse_time"]

#: Zendesk's ticket attributes whose changes become FIELD_CHANGED, by the name rules use.
#: Custom fields (named by their numeric id in both shapes) are added by `map_events`.
HISTORY_FIELDS = {
    "group_id": "group",
    "assignee_id": "assignee",
    "organization_id": "organization",
    "type": "type",
    "tags": "tags",
}

#: Turns a Zendesk field (``group_id``, a custom field id...) and one raw value into the rule
#: field's name and the value as `Ticket` shows it (a group's name, a user's email...).
Rename = Callable[[str, Any], tuple[str, Any]]

DONE = frozenset({"solved", "closed"})
REOPEN_TO = frozenset({"new", "open", "pending", "hold"})


def parse_time(value: Any) -> datetime:
    """A Zendesk time (ISO 8601 with ``Z``, or Unix seconds) as an aware UTC datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Child:
    """One child event of an audit, as far as the mapping cares."""

    kind: str
    field: str | None = None
    value: Any = None
    previous: Any = None
    public: bool = True
    author_id: int | None = None
    #: Export tag changes only: ``added_tags`` / ``removed_tags``.
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Child:
        """A child event of the audits API: ``type``, ``field_name``, ``value``."""
        author = raw.get("author_id")
        field = raw.get("field_name")
        # A ticket's audits can be many; the same few kind and field names recur in all of
        # them, so one shared string each keeps a buffer of them small.
        return cls(
            kind=sys.intern(str(raw.get("type") or "")),
            field=sys.intern(field) if isinstance(field, str) else field,
            value=raw.get("value"),
            previous=raw.get("previous_value"),
            public=bool(raw.get("public", True)),
            author_id=int(author) if author is not None else None,
        )

    @classmethod
    def from_export(cls, raw: Mapping[str, Any]) -> Child:
        """A child event of the ticket events export: ``event_type``, and the changed field
        named by its own key (``{"event_type": "Change", "status": "solved",
        "previous_value": "open"}``). A key ``type`` there is the ticket's *type* field."""
        kind = sys.intern(str(raw.get("event_type") or ""))
        if kind == "Comment":
            author = raw.get("author_id")
            return cls(
                kind=kind,
                public=bool(raw.get("public", True)),
                author_id=int(author) if author is not None else None,
            )
        field = _export_field(raw)
        if not kind and field is not None:
            # zenpy's recorded specification/zendesk/ticket_event.json has a child event
            # with no event_type at all: {"via": "Email", "via_reference_id": 2,
            # "status": "solved"}. A field set without a kind is read as a change of it.
            kind = "Change"
        if field == "tags":
            return cls(
                kind=kind,
                field=field,
                value=raw.get("tags"),
                previous=raw.get("previous_value"),
                added=tuple(str(t) for t in raw.get("added_tags") or ()),
                removed=tuple(str(t) for t in raw.get("removed_tags") or ()),
            )
        value = raw.get(field) if field is not None else None
        if field == _CUSTOM_KEY and isinstance(value, Mapping) and len(value) == 1:
            # A custom field comes as {"custom_ticket_fields": {"360041597112": "set_up_app"},
            # "event_type": "Change", "previous_value": null}: one id and its new value (a
            # real export child event quoted in the zendesk-java-client fork's
            # org.zendesk.client.v2.model.ChildEvent). The id is the field, as in audits.
            [(ident, value)] = value.items()
            field = sys.intern(str(ident))
        return cls(kind=kind, field=field, value=value, previous=raw.get("previous_value"))


#: Keys of an export child event that describe the event, not the field it changed.
_EXPORT_META = frozenset(
    {"id", "via", "via_reference_id", "event_type", "previous_value", "created_at", "timestamp"}
)
#: Fields the mapping reads, looked for first: a child changes one field.
_WATCHED = ("status", "priority")
_TAG_KEYS = ("tags", "added_tags", "removed_tags")
#: The export's key for a custom field's change: ``{"<field id>": new value}``.
_CUSTOM_KEY = "custom_ticket_fields"


def _export_field(raw: Mapping[str, Any]) -> str | None:
    """The field an export child event changed: the key that is not the event's own."""
    for name in _WATCHED:
        if name in raw:
            return name
    if any(k in raw for k in _TAG_KEYS):
        return "tags"
    other = next((k for k in raw if k not in _EXPORT_META), None)
    return sys.intern(other) if other is not None else None


@dataclass(frozen=True, slots=True)
class Audit:
    """One audit: an accepted change of one ticket, with its child events."""

    id: int
    ticket_id: int
    at: datetime
    author_id: int | None
    children: tuple[Child, ...]

    @classmethod
    def from_api(cls, raw: Mapping[str, Any], ticket_id: int | None = None) -> Audit:
        """An audit from ``GET /api/v2/tickets/{id}/audits``."""
        return cls(
            id=int(raw["id"]),
            ticket_id=int(raw.get("ticket_id") or ticket_id or 0),
            at=parse_time(raw["created_at"]),
            author_id=raw.get("author_id"),
            children=tuple(Child.from_api(e) for e in raw.get("events") or ()),
        )

    @classmethod
    def from_export(cls, raw: Mapping[str, Any]) -> Audit:
        """An audit from the incremental ticket events export."""
        stamp = raw.get("timestamp")
        return cls(
            id=int(raw["id"]),
            ticket_id=int(raw["ticket_id"]),
            at=parse_time(stamp if stamp is not None else raw["created_at"]),
            author_id=raw.get("updater_id"),
            children=tuple(Child.from_export(e) for e in raw.get("child_events") or ()),
        )

    @property
    def creates(self) -> bool:
        """Whether this audit created the ticket."""
        return any(c.kind == "Create" for c in self.children)


def map_events(
    audits: Iterable[Audit],
    requester_id: int | None,
    user: Callable[[int], User | None],
    rename: Rename | None = None,
) -> list[TicketEvent]:
    """The slaplug events of one ticket's audits (see the table in the module docstring).

    Args:
        audits: The ticket's audits, in any order; all of them, or those since a cursor.
        requester_id: The ticket's requester.
        user: Looks a user up by id (None when unknown); tells agents from end-users.
        rename: Names the values of field changes (group ids to names...); without it,
            no FIELD_CHANGED events are made.

    Returns:
        The events in time order (audit order within a second).
    """
    out: list[TicketEvent] = []
    status: str | None = None  # the last status seen, when previous_value is missing
    for audit in sorted(audits, key=lambda a: (a.at, a.id)):
        at, actor = audit.at, _actor(audit.author_id)
        creating = audit.creates
        if creating:
            out.append(TicketEvent(EventKind.CREATED, at, actor=actor))
        for child in audit.children:
            if child.kind in ("Create", "Change") and child.field == "status":
                before = child.previous if child.kind == "Change" else None
                before = before if before is not None else status
                status = str(child.value)
                out.append(TicketEvent(EventKind.STATUS_CHANGED, at, status, actor))
                if status in DONE and before not in DONE:
                    out.append(TicketEvent(EventKind.SOLVED, at, actor=actor))
                elif before == "solved" and status in REOPEN_TO:
                    out.append(TicketEvent(EventKind.REOPENED, at, actor=actor))
            elif child.kind in ("Create", "Change") and child.field == "priority":
                if child.kind == "Create" and not child.value:
                    continue  # created without a priority: nothing to record
                value = str(child.value) if child.value else None
                out.append(TicketEvent(EventKind.PRIORITY_CHANGED, at, value, actor))
            elif child.kind == "Change" and rename is not None and _tracked(child.field):
                event = _field_change(child, at, actor, rename)
                if event is not None:
                    out.append(event)
            elif child.kind == "Comment" and child.public and not creating:
                kind = _comment_kind(child.author_id or audit.author_id, requester_id, user)
                if kind is not None:
                    out.append(TicketEvent(kind, at, actor=_actor(child.author_id)))
    return out


def _tracked(field: str | None) -> bool:
    return field is not None and (field in HISTORY_FIELDS or field.isdigit())


def _tag_list(value: Any) -> list[str] | None:
    """Tags as Zendesk lists them: a list, or (in some older audits) one spaced string."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.split()
    return [str(t) for t in value]


def _field_change(
    child: Child, at: datetime, actor: str | None, rename: Rename
) -> TicketEvent | None:
    """One ``Change`` of a tracked field as FIELD_CHANGED, or None when nothing changed."""
    assert child.field is not None
    if child.field == "tags":
        new = _tag_list(child.value)
        old = _tag_list(child.previous)
        if new is None and old is not None:  # export with only added/removed: rebuild
            new = sorted((set(old) | set(child.added)) - set(child.removed))
        if old is None and new is not None:
            old = sorted((set(new) - set(child.added)) | set(child.removed))
        if new is None or old is None:
            return None  # neither list given: nothing to say what the tags were
        name, value = rename("tags", new)
        _, before = rename("tags", old)
    else:
        name, value = rename(child.field, child.value)
        _, before = rename(child.field, child.previous)
    event = TicketEvent(EventKind.FIELD_CHANGED, at, value, actor, name, before)
    return None if event.value == event.old else event


def _comment_kind(
    author: int | None, requester_id: int | None, user: Callable[[int], User | None]
) -> EventKind | None:
    if author is None:
        return None
    if author == requester_id:
        return EventKind.REQUESTER_MESSAGE
    found = user(author)
    if found is None:
        return None  # the system user, or a deleted one: not a conversation turn
    return EventKind.AGENT_REPLY if found.is_agent else EventKind.REQUESTER_MESSAGE


def _actor(user_id: int | None) -> str | None:
    return None if user_id is None else str(user_id)
