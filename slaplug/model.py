"""The platform-neutral records that flow through slaplug: tickets, their events, SLA measures.

Connectors fill `Ticket` and `TicketEvent` from their platform's API; the clocks in
`slaplug.sla` turn them into `SlaMeasure`s. Every record is frozen: a new state is a new record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import field as _dc_field  # TicketEvent has an attribute called field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from slaplug.errors import TimeError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = [
    "Action",
    "ActionKind",
    "EventKind",
    "MeasureState",
    "Metric",
    "SlaMeasure",
    "Ticket",
    "TicketEvent",
]


class EventKind(StrEnum):
    """What happened to a ticket, as far as SLA clocks care."""

    CREATED = "created"
    #: A public reply by an agent (internal notes are not replies).
    AGENT_REPLY = "agent_reply"
    #: A message from the requester (after the one that opened the ticket).
    REQUESTER_MESSAGE = "requester_message"
    #: The status changed; ``value`` holds the new status as the platform names it.
    STATUS_CHANGED = "status_changed"
    #: The priority changed; ``value`` holds the new priority as the platform names it.
    PRIORITY_CHANGED = "priority_changed"
    SOLVED = "solved"
    REOPENED = "reopened"
    #: Another field changed: ``field`` names it as rule conditions do (``group``,
    #: ``assignee``, ``organization``, ``type``, ``tags`` or ``fields.<custom field>``),
    #: ``old`` holds the value before and ``value`` the value after (a tuple for tags and
    #: list fields, None for "empty"). Status and priority keep their own kinds above.
    FIELD_CHANGED = "field_changed"


class Metric(StrEnum):
    """The SLA metrics slaplug measures."""

    #: From creation to the first public agent reply (measured once per ticket).
    FIRST_RESPONSE = "first_response"
    #: From the oldest unanswered requester message to the next public agent reply.
    NEXT_REPLY = "next_reply"
    #: From creation (or reopening) to solved; one cycle per reopening.
    RESOLUTION = "resolution"
    #: The longest an open ticket may go without a public agent update.
    PERIODIC_UPDATE = "periodic_update"


class MeasureState(StrEnum):
    """Where a clock stands."""

    RUNNING = "running"
    PAUSED = "paused"
    ACHIEVED = "achieved"
    BREACHED = "breached"
    #: Stopped by a condition that means "this target does not apply" (``cancel_when``, or a
    #: policy's ``stop_when``): neither met nor breached, left out of compliance and credits.
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One thing that happened to a ticket.

    Attributes:
        kind: What happened.
        at: When, timezone-aware.
        value: The new status or priority for ``STATUS_CHANGED`` and ``PRIORITY_CHANGED``;
            the new value of ``field`` for ``FIELD_CHANGED``.
        actor: Who did it, as the platform identifies them (informational).
        field: For ``FIELD_CHANGED``: which field, by the name rule conditions use.
        old: For ``FIELD_CHANGED``: the field's value before the change.
    """

    kind: EventKind
    at: datetime
    value: Any = None
    actor: str | None = None
    field: str | None = None
    old: Any = None
    #: ``at`` in microseconds since the Unix epoch, computed once: clocks compare instants
    #: many times, and comparing aware datetimes asks both for their UTC offset each time.
    at_us: int = _dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise TimeError(f"event {self.kind} at {self.at.isoformat()} has no time zone")
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))
        if self.kind is EventKind.FIELD_CHANGED:
            if not self.field:
                raise ValueError(f"field_changed event at {self.at.isoformat()} names no field")
            # Lists become sorted tuples: events stay hashable, and tag sets compare equal
            # whatever order the platform listed them in.
            for name in ("value", "old"):
                v = getattr(self, name)
                if isinstance(v, list | tuple | set | frozenset):
                    object.__setattr__(self, name, tuple(sorted({str(x) for x in v})))
        d = self.at - _EPOCH
        object.__setattr__(
            self, "at_us", (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        )


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as slaplug sees it, whatever platform it came from.

    Attributes:
        id: The platform's id, as a string (``"4711"``, ``"SUP-12"``).
        connector: Name of the configured connector it came from (``"zendesk-eu"``).
        platform: The kind of helpdesk (``"zendesk"``, ``"jira"``); defaults to ``connector``.
        created_at: When the ticket was opened, timezone-aware.
        status: The platform's current status name (``"open"``, ``"pending"``).
        priority: The platform's current priority name (``"urgent"``, ``"P1"``), or None.
        events: The history the clocks need, in any order (sorted on construction).
        fields: Custom fields by name.
        names: Display names of what ``group``, ``assignee``, ``organization`` and
            ``requester`` hold, by that field, where the connector knows them and they hold
            ids (a Jira accountId, a Freshdesk group id): ``{"assignee": "Ana Lima"}``. For
            people (``slaplug status``); rules match the ids.
    """

    id: str
    connector: str
    created_at: datetime
    status: str
    platform: str = ""
    priority: str | None = None
    subject: str = ""
    type: str | None = None
    group: str | None = None
    assignee: str | None = None
    organization: str | None = None
    requester: str | None = None
    tags: frozenset[str] = frozenset()
    fields: Mapping[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    url: str | None = None
    events: tuple[TicketEvent, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise TimeError(
                f"ticket {self.id}: created_at {self.created_at.isoformat()} has no time zone"
            )
        object.__setattr__(self, "id", str(self.id))
        if not self.platform:
            object.__setattr__(self, "platform", self.connector)
        object.__setattr__(self, "tags", frozenset(self.tags))
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))
        object.__setattr__(self, "names", _frozen_mapping(self.names))
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: e.at)))

    @property
    def key(self) -> str:
        """``connector:id``, unique across helpdesks."""
        return f"{self.connector}:{self.id}"

    def name_of(self, field: str) -> str | None:
        """What ``field`` (``group``, ``assignee``, ``organization``, ``requester``) holds,
        by its display name when the connector knows it."""
        value: str | None = getattr(self, field)
        return self.names.get(field) or value if value is not None else None


@dataclass(frozen=True, slots=True)
class SlaMeasure:
    """One SLA clock of one ticket at one moment.

    Attributes:
        policy: The policy that set the target.
        metric: What is measured.
        cycle: 1 for the first run of this metric; reopenings (resolution), requester messages
            (next reply) and agent updates (periodic update) start further cycles.
        state: Running, paused, achieved or breached.
        target: The business time allowed, for the priority in force.
        start: When the clock started.
        deadline: When the target runs out; None while paused (it moves when the pause ends).
        elapsed: Business time counted so far (or until the clock stopped).
        remaining: ``target - elapsed``, negative once breached.
        percent: ``elapsed / target`` in percent (can exceed 100).
        breached_at: When the target ran out, if it has.
        stopped_at: When the clock stopped (achieved, or solved after a breach), if it has.
        calendar: Name of the business calendar used.
        priority: The priority whose target applies.
        pauses: The wall-clock intervals during which the clock was paused.
    """

    policy: str
    metric: Metric
    cycle: int
    state: MeasureState
    target: timedelta
    start: datetime
    deadline: datetime | None
    elapsed: timedelta
    remaining: timedelta
    percent: float
    breached_at: datetime | None
    stopped_at: datetime | None
    calendar: str
    priority: str | None
    pauses: tuple[tuple[datetime, datetime], ...] = ()

    @property
    def breached(self) -> bool:
        """Whether the target was missed, whether or not the clock still runs."""
        return self.breached_at is not None


class ActionKind(StrEnum):
    """What a planned action does on the helpdesk."""

    SET_FIELD = "set_field"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    COMMENT = "comment"
    SET_PRIORITY = "set_priority"
    ASSIGN = "assign"
    SET_STATUS = "set_status"
    NOTIFY = "notify"
    #: A plugin hook call (``on_breach``...) delivered through the outbox, never written to
    #: the helpdesk (`slaplug.hookcalls`).
    HOOK = "hook"


@dataclass(frozen=True, slots=True)
class Action:
    """An action the rules planned for a ticket, not yet applied.

    Attributes:
        kind: What to do.
        params: The action's arguments, templates already rendered (``{"tag": "sla_warn"}``).
        connector: The connector that owns the ticket.
        ticket_id: The ticket's id on that platform.
        key: The idempotency key: connector, ticket, policy, metric, cycle, escalation,
            level and the action's identity (what it does, `slaplug.rules.identity`). The
            ledger applies an action with a given key once.
        escalation: The escalation that planned it.
        level: Its level in the escalation chain, from 1.
        policy: The policy of the measure that matched.
        metric: The metric of the measure that matched.
        cycle: The cycle of the measure that matched.
        shadow: Evaluated and logged, never written.
        explanation: The rule and the values of the fields its condition looked at.
    """

    kind: ActionKind
    params: Mapping[str, Any]
    connector: str
    ticket_id: str
    key: str
    escalation: str
    level: int
    policy: str
    metric: Metric
    cycle: int
    shadow: bool = False
    explanation: Mapping[str, Any] = field(default_factory=dict)
