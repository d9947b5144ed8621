"""A safe go-live: what a sync may write for the history it finds on its first run.

A helpdesk connected for the first time has months of tickets whose clocks ran out long ago.
Measuring them is right (credits and reports need them); escalating them is not: nobody wants
"first response target missed" on a ticket solved three weeks ago. Two rules decide, for each
action the escalations plan, whether it is written:

1. **The cutoff.** Each escalation level's *threshold time* for a clock (`crossed_at`) is the
   moment the clock crossed the time threshold the level's condition tests. An action whose
   threshold time is before the connector's cutoff is held back: not planned, not written,
   never written later (the threshold time of a clock's past never moves). The cutoff is the
   connector's go-live (the start of its first sync, kept in the store) unless
   ``escalate_from`` sets another one (`parse_escalate_from`): an earlier one backfills.
2. **Done tickets.** No action is written on a solved or closed ticket (`is_done`).

Both rules are decided anew at each evaluation, from the ticket and its measures: nothing is
recorded for a held action, so a ticket reopened after go-live is judged as it stands then.
The rules are documented, with examples, in docs/operations/running.md ("Going live").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from slaplug.errors import ConfigError
from slaplug.model import Action, EventKind, MeasureState, SlaMeasure, Ticket
from slaplug.rules.conditions import All, AnyOf, Compare, Condition, In, Not
from slaplug.sla.calendar import BusinessCalendar

__all__ = [
    "DONE_STATUSES",
    "FIRST_SYNC",
    "OPEN_STATUSES",
    "LevelThresholds",
    "ThresholdTimes",
    "is_done",
    "parse_escalate_from",
]

#: The spelling of the default cutoff in ``escalate_from`` (the connector's first sync).
FIRST_SYNC = "first-sync"

#: Statuses that mean the ticket is done, as the connectors name them: Zendesk ``solved`` and
#: ``closed``; Freshdesk ``resolved`` (4) and ``closed`` (5); Jira statuses mapped to
#: ``solved`` / ``closed`` by the connector's ``statuses`` map.
DONE_STATUSES = frozenset({"solved", "closed", "resolved"})

#: Statuses that mean the ticket is not done, whatever its history says.
OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})

#: Measure fields whose value grows with business time, and so cross thresholds.
_TIME_FIELDS = ("percent", "remaining", "overdue", "elapsed")
#: Measure fields that change when the clock breaches (or stops, or pauses).
_STATE_FIELDS = frozenset({"state", "breached"})


def parse_escalate_from(value: Any, where: str = "escalate_from") -> datetime | None:
    """An ``escalate_from`` value as a cutoff; None for ``first-sync`` (the default).

    Takes a date (``2026-11-01``: midnight UTC that day), a timezone-aware datetime or an
    ISO 8601 string of either, or ``first-sync``.

    Raises:
        ConfigError: Anything else, or a datetime without a time zone; the message names
            ``where`` (when given) and how to write the value.
    """
    at = f"{where}: " if where else ""
    if value is None or (isinstance(value, str) and value.strip().lower() == FIRST_SYNC):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                date.fromisoformat(text)
                if len(text) == 10
                else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise ConfigError(
                f"{at}{text!r} is neither {FIRST_SYNC} nor an ISO 8601 date or time; "
                "write e.g. 2026-11-01 or 2026-11-01T08:00:00+01:00"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(
                f"{at}{value.isoformat()} has no time zone; add one, "
                f"e.g. {value.isoformat()}Z or {value.isoformat()}+01:00"
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    raise ConfigError(
        f"{at}expected {FIRST_SYNC}, a date (2026-11-01) or a time with its zone "
        f"(2026-11-01T08:00:00+01:00), not {value!r}"
    )


def is_done(ticket: Ticket) -> bool:
    """Whether the ticket is solved or closed, so that no escalation is written on it.

    Its status decides when slaplug knows it (`DONE_STATUSES`, `OPEN_STATUSES`); any other
    status (a Jira status outside the connector's map, a Freshdesk custom status) is done when
    the ticket's last lifecycle event is ``solved`` rather than ``reopened``: the connectors
    emit those from the platform's own notion of done (Jira's ``done`` status category).
    """
    status = ticket.status.casefold()
    if status in DONE_STATUSES:
        return True
    if status in OPEN_STATUSES:
        return False
    for e in reversed(ticket.events):
        if e.kind is EventKind.SOLVED:
            return True
        if e.kind is EventKind.REOPENED:
            return False
    return False


@dataclass(frozen=True)
class LevelThresholds:
    """The time thresholds one escalation level's condition tests.

    Attributes:
        percent: ``percent`` literals (of the target).
        remaining: ``remaining`` literals, in seconds before the deadline.
        overdue: ``overdue`` literals, in seconds after the deadline.
        elapsed: ``elapsed`` literals, in seconds of business time.
        state: Whether the condition tests ``state`` or ``breached`` (the deadline itself is
            then a threshold, and a stop or a pause is a change the level may react to).
    """

    percent: tuple[float, ...] = ()
    remaining: tuple[float, ...] = ()
    overdue: tuple[float, ...] = ()
    elapsed: tuple[float, ...] = ()
    state: bool = False

    @classmethod
    def of(cls, condition: Condition) -> LevelThresholds:
        """The thresholds ``condition`` tests (numbers compared with time-like fields)."""
        found: dict[str, set[float]] = {f: set() for f in _TIME_FIELDS}
        state = False

        def walk(node: Condition) -> None:
            nonlocal state
            if isinstance(node, All | AnyOf):
                for i in node.items:
                    walk(i)
            elif isinstance(node, Not):
                walk(node.item)
            elif node.field in _STATE_FIELDS:
                state = True
            elif isinstance(node, Compare) and node.field in found:
                if isinstance(node.value, int | float) and not isinstance(node.value, bool):
                    found[node.field].add(float(node.value))
            elif isinstance(node, In) and node.field in found:
                found[node.field].update(
                    float(v)
                    for v in node.values
                    if isinstance(v, int | float) and not isinstance(v, bool)
                )

        walk(condition)
        return cls(
            percent=tuple(sorted(found["percent"])),
            remaining=tuple(sorted(found["remaining"])),
            overdue=tuple(sorted(found["overdue"])),
            elapsed=tuple(sorted(found["elapsed"])),
            state=state,
        )

    def marks(self, target: float) -> list[float]:
        """The thresholds as business seconds elapsed on a clock with ``target`` seconds."""
        out = [p / 100.0 * target for p in self.percent]
        out += [target - r for r in self.remaining]
        out += [target + o for o in self.overdue]
        out += list(self.elapsed)
        if self.state:
            out.append(target)
        return [x for x in out if x >= 0]

    def crossed_at(self, m: SlaMeasure, calendar: BusinessCalendar) -> datetime:
        """When clock ``m`` crossed the threshold this level fires on.

        The rule, in order:

        1. Of the level's thresholds the clock has reached (`marks` at most ``m.elapsed``),
           the highest: the moment the clock's business time reached it, counted from
           ``m.start`` on ``calendar`` less the clock's pauses. The deadline itself is
           ``m.breached_at`` when the clock breached (a priority change can breach it late).
        2. No threshold reached, and the level tests the state: the moment the state became
           what it is (the stop of a stopped clock, the start of the current pause, the end
           of the last pause of a running one).
        3. Otherwise the clock's start: nothing time-related changed since.
        """
        target = m.target.total_seconds()
        elapsed = m.elapsed.total_seconds()
        # `percent` is rounded to 0.01 %, so a condition may hold a hair before its mark.
        slack = max(1.0, target * 0.0001)
        reached = [x for x in self.marks(target) if x <= elapsed + slack]
        if reached:
            x = max(reached)
            if m.breached_at is not None and x == target:
                return m.breached_at
            crossed = calendar.add(m.start, timedelta(seconds=min(x, elapsed)), m.pauses)
            if m.breached_at is not None and x >= target:
                return max(crossed, m.breached_at)  # never before the breach itself
            return crossed
        if self.state:
            if m.stopped_at is not None:
                return m.stopped_at
            if m.pauses:
                last_from, last_to = m.pauses[-1]
                return last_from if m.state is MeasureState.PAUSED else last_to
        return m.start


class ThresholdTimes:
    """Threshold times for a rules pack's escalation levels.

    Args:
        escalations: ``(escalation name, level conditions, level 1 first)`` per escalation.
        calendars: The pack's business calendars by name.
    """

    def __init__(
        self,
        escalations: Iterable[tuple[str, Iterable[Condition]]],
        calendars: Mapping[str, BusinessCalendar],
    ) -> None:
        self._levels = {
            (name, li + 1): LevelThresholds.of(cond)
            for name, levels in escalations
            for li, cond in enumerate(levels)
        }
        self._calendars = dict(calendars)

    @classmethod
    def for_pack(cls, pack: Any) -> ThresholdTimes:
        """From a loaded `slaplug.rules.pack.RulePack` (its compiled source)."""
        src = pack.source
        return cls(
            (
                (e.name, levels)
                for e, levels in zip(src.escalations, src.escalation_levels, strict=True)
            ),
            src.calendars,
        )

    def before(self, action: Action, measures: Iterable[SlaMeasure], cutoff: datetime) -> bool:
        """Whether ``action``'s threshold was crossed before ``cutoff`` (then it is held).

        A clock started at or after the cutoff crossed nothing before it (a threshold time
        is never before the clock's start): the common case, answered without arithmetic.
        """
        m = self._measure(action, measures)
        if m is None or m.start >= cutoff:
            return False
        crossed = self._crossed_at(action, m)
        return crossed is not None and crossed < cutoff

    def crossed_at(self, action: Action, measures: Iterable[SlaMeasure]) -> datetime | None:
        """When the clock ``action`` was planned for crossed its level's threshold.

        None when the action names a level or clock this pack does not know (then it is
        not held back on time grounds).
        """
        m = self._measure(action, measures)
        return None if m is None else self._crossed_at(action, m)

    def _crossed_at(self, action: Action, m: SlaMeasure) -> datetime | None:
        level = self._levels.get((action.escalation, action.level))
        cal = self._calendars.get(m.calendar)
        return None if level is None or cal is None else level.crossed_at(m, cal)

    @staticmethod
    def _measure(action: Action, measures: Iterable[SlaMeasure]) -> SlaMeasure | None:
        """The clock ``action`` was planned for."""
        for m in measures:
            if m.policy == action.policy and m.metric is action.metric and m.cycle == action.cycle:
                return m
        return None
