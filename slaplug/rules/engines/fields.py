"""The fields rule conditions and templates may name, and the facts built from tickets and measures.

Ticket fields are available everywhere; measure fields only in escalations, where each fact is
one (ticket, measure) pair. Durations enter facts as seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from slaplug._codegen import compile_source
from slaplug.model import EventKind, MeasureState, Metric, SlaMeasure, Ticket
from slaplug.rules.conditions import FieldType

__all__ = [
    "DURATION_FIELDS",
    "INSTANT_FIELDS",
    "MEASURE_EXPRESSIONS",
    "MEASURE_FIELDS",
    "TICKET_FIELDS",
    "measure_fact",
    "measure_fact_builder",
    "template_value_getter",
    "ticket_fact",
]

S, N, B, L = FieldType.STR, FieldType.NUM, FieldType.BOOL, FieldType.LIST

#: Fields of every ticket, by the name conditions use.
TICKET_FIELDS: Mapping[str, FieldType] = {
    "id": S,
    "connector": S,
    "platform": S,
    "status": S,
    "priority": S,
    "type": S,
    "group": S,
    "assignee": S,
    "organization": S,
    "requester": S,
    "subject": S,
    "tags": L,
}

#: Fields only a metric's ``start_when``, ``stop_when`` and ``cancel_when`` may name: ``event``
#: holds, at the instant of each event, the kinds of the events at that instant.
INSTANT_FIELDS: Mapping[str, FieldType] = {"event": L}

#: Fields of an SLA measure, usable in escalation conditions.
MEASURE_FIELDS: Mapping[str, FieldType] = {
    "policy": S,
    "policy_kind": S,
    "metric": S,
    "state": S,
    "cycle": N,
    "percent": N,
    "elapsed": N,
    "remaining": N,
    "target": N,
    "overdue": N,
    "breached": B,
}

#: Measure fields holding a duration: conditions may write ``"30m"``; facts carry seconds.
DURATION_FIELDS = frozenset({"elapsed", "remaining", "target", "overdue"})

#: Allowed values of enumerated fields, for precise errors on typos.
ENUM_VALUES: Mapping[str, frozenset[str]] = {
    "metric": frozenset(m.value for m in Metric),
    "state": frozenset(s.value for s in MeasureState),
    "policy_kind": frozenset({"sla", "ola"}),
    "event": frozenset(k.value for k in EventKind),
}

CUSTOM_PREFIX = "fields."


def ticket_fact(ticket: Ticket) -> dict[str, Any]:
    """The ticket's fields as a raw fact (normalize it before matching)."""
    fact: dict[str, Any] = {
        "id": ticket.id,
        "connector": ticket.connector,
        "platform": ticket.platform,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "group": ticket.group,
        "assignee": ticket.assignee,
        "organization": ticket.organization,
        "requester": ticket.requester,
        "subject": ticket.subject,
        "tags": ticket.tags,
    }
    for name, value in ticket.fields.items():
        fact[CUSTOM_PREFIX + name] = value
    return fact


# An enum's ``.value`` goes through a descriptor; these run for every measure of every ticket.
_METRIC_VALUE = {m: m.value for m in Metric}
_STATE_VALUE = {s: s.value for s in MeasureState}

#: Each measure field's value, already of its `FieldType` (None: missing), as a Python
#: expression of the measure ``m`` and its policy's kind ``kind``. The one table serves raw
#: facts (`MEASURE_VALUES`) and the pack's ready-normalized ones (`measure_fact_builder`).
MEASURE_EXPRESSIONS: Mapping[str, str] = {
    "policy": "m.policy",
    "policy_kind": "kind",
    "metric": "_METRIC_VALUE[m.metric]",
    "state": "_STATE_VALUE[m.state]",
    "cycle": "m.cycle",
    "percent": "m.percent",
    "elapsed": "m.elapsed.total_seconds()",
    "remaining": "m.remaining.total_seconds()",
    "target": "m.target.total_seconds()",
    "breached": "m.breached_at is not None",
    "overdue": "(m.elapsed - m.target).total_seconds() if m.breached_at is not None else None",
}
_EXPRESSION_NAMES = {"_METRIC_VALUE": _METRIC_VALUE, "_STATE_VALUE": _STATE_VALUE}

#: Each measure field's value from a measure and its policy's kind (see `MEASURE_EXPRESSIONS`).
MEASURE_VALUES: Mapping[str, Callable[[SlaMeasure, str], Any]] = {
    name: eval(  # our own table
        compile_source(f"lambda m, kind: {expr}", f"measure field {name}", "eval"),
        dict(_EXPRESSION_NAMES),
    )
    for name, expr in MEASURE_EXPRESSIONS.items()
}

#: ``build(ticket_part, m, kind)``: a copy of ``ticket_part`` with some measure fields added.
MeasureFactBuilder = Callable[[Mapping[str, Any], SlaMeasure, str], dict[str, Any]]


def measure_fact_builder(names: Sequence[str]) -> MeasureFactBuilder:
    """One function that adds the measure fields ``names`` (those the rules look at) to a
    normalized ticket part, leaving out missing ones, as the matchers expect.

    It is generated from `MEASURE_EXPRESSIONS`, with no call per field: the engine builds a
    fact for every measure of every ticket, and a getter call per field was most of that.
    """
    lines = ["def build(ticket_part, m, kind):", "    fact = dict(ticket_part)"]
    for name in names:
        lines += [f"    v = {MEASURE_EXPRESSIONS[name]}", f"    if v is not None: fact[{name!r}] = v"]
    lines.append("    return fact")
    namespace: dict[str, Any] = dict(_EXPRESSION_NAMES)
    # From our own table and field names only.
    exec(compile_source("\n".join(lines), "measure fact builder"), namespace)
    build: MeasureFactBuilder = namespace["build"]
    return build


def measure_fact(
    base: Mapping[str, Any], m: SlaMeasure, policy_kind: str, now: datetime
) -> dict[str, Any]:
    """A ticket fact extended with one measure's fields."""
    fact = dict(base)
    for name, value in MEASURE_VALUES.items():
        fact[name] = value(m, policy_kind)
    return fact


def human_duration(d: timedelta) -> str:
    """``timedelta(hours=2, minutes=30)`` -> ``"2h 30m"``; negative values get a minus sign."""
    total = int(d.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    h, rest = divmod(total, 3600)
    m = rest // 60
    if h and m:
        return f"{sign}{h}h {m}m"
    return f"{sign}{h}h" if h else f"{sign}{m}m"


@functools.lru_cache(maxsize=256)
def _target_text(d: timedelta) -> str:
    """`human_duration` of a target: a pack has few, and every templated action shows one."""
    return human_duration(d)


def _when(t: datetime | None, zone: tzinfo | None) -> str:
    """A time as people read it in the calendar's zone: ``2026-03-02 17:15 CET``."""
    if t is None:
        return ""
    if zone:
        t = t.astimezone(zone)
    # What strftime("%Y-%m-%d %H:%M %Z") gives, at a fifth of its cost.
    name = t.tzname()
    when = f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"
    return f"{when} {name}" if name else when


#: Names a ``{{ template }}`` may use, besides ``ticket.fields.<name>``.
TEMPLATE_NAMES = frozenset(
    [f"ticket.{f}" for f in ("id", "url", *TICKET_FIELDS)]
    + [
        f"measure.{f}"
        for f in (
            "policy",
            "metric",
            "state",
            "cycle",
            "percent",
            "elapsed",
            "remaining",
            "target",
            "deadline",
            "start",
            "breached_at",
            "calendar",
            "priority",
            "overdue",
        )
    ]
    + ["escalation.name", "escalation.level"]
)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, frozenset | set | tuple | list):
        return ", ".join(sorted(str(x) for x in v))
    return str(v)


#: How one template value is worked out, from the ticket, the measure and the display zone.
ValueGetter = Callable[[Ticket, SlaMeasure, tzinfo | None], str]

# Getters of the measure's values take the ticket too, unused: one call per value rendered.
_TEMPLATE_MEASURE_VALUES: dict[str, ValueGetter] = {
    "measure.policy": lambda t, m, z: m.policy,
    "measure.metric": lambda t, m, z: _METRIC_VALUE[m.metric].replace("_", " "),
    "measure.state": lambda t, m, z: _STATE_VALUE[m.state],
    "measure.cycle": lambda t, m, z: str(m.cycle),
    "measure.percent": lambda t, m, z: f"{m.percent:g}",
    "measure.elapsed": lambda t, m, z: human_duration(m.elapsed),
    "measure.remaining": lambda t, m, z: human_duration(m.remaining),
    "measure.target": lambda t, m, z: _target_text(m.target),
    "measure.deadline": lambda t, m, z: _when(m.deadline, z),
    "measure.start": lambda t, m, z: _when(m.start, z),
    "measure.breached_at": lambda t, m, z: _when(m.breached_at, z),
    "measure.overdue": lambda t, m, z: human_duration(max(m.elapsed - m.target, timedelta(0))),
    "measure.calendar": lambda t, m, z: m.calendar,
    "measure.priority": lambda t, m, z: m.priority or "",
}


def template_value_getter(name: str) -> ValueGetter | None:
    """How to work out the template value ``name``; None for ``escalation.*`` (fixed per level)
    and for names no template may use.

    The engine looks each name up once per rules pack, then renders with the getters: a
    lookup per rendering would cost more than most values.
    """
    if name in _TEMPLATE_MEASURE_VALUES:
        return _TEMPLATE_MEASURE_VALUES[name]
    if name.startswith("ticket.fields.") and len(name) > len("ticket.fields."):
        key = name[len("ticket.fields.") :]
        return lambda t, m, z: _text(t.fields[key]) if key in t.fields else ""
    if name == "ticket.url":
        return lambda t, m, z: t.url or ""
    if name.startswith("ticket.") and name[7:] in TICKET_FIELDS:
        attr = name[7:]
        return lambda t, m, z: _text(getattr(t, attr))
    return None
