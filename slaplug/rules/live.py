"""Live SLA fields: what each policy's ``live_fields`` should show on a ticket right now.

A live field shows one metric's current deadline to agents, in the helpdesk's own views. Its
value follows the clock (`LiveFields.values`):

- a running clock, breached or not: its deadline (`format_deadline`);
- a paused clock: empty, or the field's ``paused`` text (the deadline moves when the pause
  ends, so no instant is true while it lasts);
- a stopped clock (met, cancelled, or stopped after a breach): empty (nothing is due);
- a reopened ticket: the new cycle's deadline (the newest cycle is the one shown).

The sync writes a value only when it differs from the last one planned for that field
(`slaplug.store.live`), so a field is rewritten when its deadline moves, not on every sync.
Nothing here knows about the store or the helpdesks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from slaplug.model import Action, ActionKind, MeasureState, Metric, SlaMeasure, Ticket
from slaplug.rules.identity import encode
from slaplug.rules.schema import LiveFieldSpec, PolicySpec

__all__ = [
    "LIVE_ESCALATION",
    "LiveFields",
    "LiveValue",
    "format_deadline",
    "live_action",
    "versioned_values",
]

#: The `Action.escalation` of a live field's write (it belongs to no escalation).
LIVE_ESCALATION = "live"


def format_deadline(deadline: datetime, fmt: str, zone: tzinfo | None) -> str:
    """A deadline as a live field shows it.

    Args:
        deadline: The instant.
        fmt: ``instant`` (``2026-12-07T15:00:00Z``), ``local`` (ISO 8601 in ``zone``,
            ``2026-12-07T16:00:00+01:00``) or ``date`` (the date in ``zone``, ``2026-12-07``).
        zone: The policy calendar's zone (UTC when None).
    """
    at = deadline.replace(microsecond=0)
    if fmt == "instant":
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    local = at.astimezone(zone or UTC)
    if fmt == "date":
        return local.date().isoformat()
    return local.isoformat()


@dataclass(frozen=True)
class LiveValue:
    """What one live field of one ticket should show now.

    Attributes:
        ticket: The ticket.
        field: The field's name, as the connector maps it.
        value: The text to show; None for empty.
        measure: The clock it shows (the newest cycle of its metric); None when no clock of
            the field's policies runs on the ticket.
    """

    ticket: Ticket
    field: str
    value: str | None
    measure: SlaMeasure | None


class LiveFields:
    """The live fields of a rules pack's policies.

    Args:
        policies: The pack's policies, in order.
        zones: Each calendar's time zone, by calendar name.
    """

    def __init__(self, policies: Sequence[PolicySpec], zones: Mapping[str, tzinfo]) -> None:
        #: (policy, metric) -> its live field.
        self._specs: dict[tuple[str, Metric], LiveFieldSpec] = {
            (p.name, metric): spec for p in policies for metric, spec in p.live_fields.items()
        }
        self._zones = dict(zones)
        #: Every live field, so that a ticket whose policy no longer shows one can be emptied.
        self.fields: frozenset[str] = frozenset(s.field for s in self._specs.values())

    @classmethod
    def for_pack(cls, pack: Any) -> LiveFields:
        """From a loaded `slaplug.rules.pack.RulePack` (its compiled source)."""
        src = pack.source
        return cls(src.policies, {name: cal.zone for name, cal in src.calendars.items()})

    def __bool__(self) -> bool:
        return bool(self._specs)

    def values(self, ticket: Ticket, measures: Iterable[SlaMeasure]) -> list[LiveValue]:
        """Per live field the ticket's clocks fill, the value it should show now.

        A field several policies declare (two SLAs a ticket moved between) shows the clock
        started last. Fields no clock of this ticket fills are left out: the caller empties
        one only if it showed something before.
        """
        best: dict[str, tuple[SlaMeasure, LiveFieldSpec]] = {}
        for m in measures:
            spec = self._specs.get((m.policy, m.metric))
            if spec is None:
                continue
            held = best.get(spec.field)
            if held is None or (m.start, m.cycle) >= (held[0].start, held[0].cycle):
                best[spec.field] = (m, spec)
        return [
            LiveValue(ticket, name, self._value(m, spec), m) for name, (m, spec) in best.items()
        ]

    def _value(self, m: SlaMeasure, spec: LiveFieldSpec) -> str | None:
        if m.stopped_at is not None or m.state in (MeasureState.ACHIEVED, MeasureState.CANCELLED):
            return None
        if m.state is MeasureState.PAUSED or m.deadline is None:
            return spec.paused
        return format_deadline(m.deadline, spec.format, self._zones.get(m.calendar))


class _Assessed(Protocol):
    """What `versioned_values` reads of a `slaplug.rules.versions.VersionedAssessment`."""

    @property
    def ticket(self) -> Ticket: ...

    @property
    def measures(self) -> tuple[SlaMeasure, ...]: ...

    def version_of(self, m: SlaMeasure) -> str: ...


def versioned_values(live: Mapping[str, LiveFields], a: _Assessed) -> dict[str, LiveValue]:
    """Each live field's value for one ticket, each clock under its own rules version.

    Args:
        live: Each version's live fields, by label (one entry for unversioned rules).
        a: The ticket's assessment; each measure fills the fields its own version declares,
            and the clock started last wins a field (as within one version).
    """
    if len(live) == 1:
        (only,) = live.values()
        return {v.field: v for v in only.values(a.ticket, a.measures)}
    best: dict[str, LiveValue] = {}
    for label, fields in live.items():
        if not fields:
            continue
        mine = [m for m in a.measures if a.version_of(m) == label]
        for v in fields.values(a.ticket, mine):
            held = best.get(v.field)
            if held is None or _later(v, held):
                best[v.field] = v
    return best


def _later(a: LiveValue, b: LiveValue) -> bool:
    """Whether ``a`` shows a clock started no earlier than ``b``'s (it wins the field)."""
    if a.measure is None or b.measure is None:
        return b.measure is None
    return (a.measure.start, a.measure.cycle) >= (b.measure.start, b.measure.cycle)


def live_action(live: LiveValue, seq: int) -> Action:
    """The write that shows ``live`` as the field's ``seq``-th value.

    Its key names the field, the value's number in the field's history and the value itself:
    a moved deadline is a new key (one write), an unchanged one plans nothing, and a value
    shown again later (the priority changed back) is a new key too.
    """
    t, m = live.ticket, live.measure
    key = f"{t.connector}:{t.id}:live={encode(live.field)}:{seq}:{encode(live.value or '')}"
    return Action(
        kind=ActionKind.SET_FIELD,
        params={"field": live.field, "value": live.value},
        connector=t.connector,
        ticket_id=t.id,
        key=key,
        escalation=LIVE_ESCALATION,
        level=0,
        policy=m.policy if m is not None else "",
        metric=m.metric if m is not None else Metric.RESOLUTION,
        cycle=m.cycle if m is not None else 0,
        explanation={
            "live_field": live.field,
            "value": live.value,
            "state": m.state.value if m is not None else None,
            "deadline": m.deadline.isoformat() if m is not None and m.deadline else None,
        },
    )
