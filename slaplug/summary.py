"""What one sync pass did (`Summary`): the counters every run prints, logs and returns.

Each counter means what its label says, once: a clock evaluated twice in one pass (read from
the helpdesk, then re-evaluated because its threshold came due) is one breached clock; a
skipped action is counted under the reason its connector or notifier gave; a write carries
the escalation level and the clock state that planned it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from slaplug.model import Action

__all__ = ["BreachFate", "BreachSeen", "HelpdeskFailure", "Summary", "Written"]

#: Distinct skip reasons a summary keeps; any further ones are counted under `OTHER_REASONS`.
MAX_REASONS = 20
OTHER_REASONS = "other reasons"


class BreachFate(StrEnum):
    """What a pass did about a clock it found breached."""

    #: Breached before the connector's cutoff (go-live or ``escalate_from``): history,
    #: recorded and never escalated.
    BEFORE_CUTOFF = "before_cutoff"
    #: Its ticket is solved or closed: nothing is written on a done ticket.
    TICKET_DONE = "ticket_done"
    #: Breached since the cutoff on an open ticket: its escalations are planned, once (a
    #: later pass finds them in the ledger and plans nothing new).
    SINCE_CUTOFF = "since_cutoff"


class BreachSeen(NamedTuple):
    """One breached clock, as a pass saw it."""

    connector: str
    ticket_id: str
    #: ``policy/metric``.
    clock: str
    cycle: int
    fate: BreachFate


class HelpdeskFailure(NamedTuple):
    """A connector whose helpdesk failed during a pass (down, timing out, refusing us): its
    work stopped there, the other connectors' went on."""

    connector: str
    #: What failed and what to do (`slaplug.errors.helpdesk_message`).
    error: str
    #: Outbox actions its stopped job had claimed, given back at once for the next pass.
    released: int

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {"connector": self.connector, "error": self.error, "released": self.released}


class Written(NamedTuple):
    """One action a pass wrote to a helpdesk (or delivered, for a notification)."""

    connector: str
    ticket_id: str
    kind: str
    params: dict[str, Any]
    #: What planned it: the escalation, its level, the clock and the values its condition
    #: tested (``resolution-breached L1: customer-sla/resolution breached=True``).
    why: str

    @classmethod
    def of(cls, action: Action) -> Written:
        """The record of ``action``, written now."""
        return cls(
            action.connector,
            action.ticket_id,
            action.kind.value,
            dict(action.params),
            why_planned(action),
        )


def why_planned(action: Action) -> str:
    """The escalation level and clock that planned ``action``, with the values it tested
    (``resolution-breached L2: customer-sla/resolution breached=True overdue=8h 23m``)."""
    matched = action.explanation.get("matched")
    tested = []
    if isinstance(matched, Mapping):
        for k, v in matched.items():
            if k in ("policy_kind", "metric", "policy"):
                continue  # the clock named before says it
            tested.append(f"{k}={_value(k, v)}")
    clock = f"{action.policy}/{action.metric.value}"
    return " ".join([f"{action.escalation} L{action.level}: {clock}", *tested])


def _value(name: str, value: Any) -> str:
    if name in ("elapsed", "remaining", "overdue") and isinstance(value, int | float):
        minutes = int(value) // 60
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
    if name == "percent" and isinstance(value, int | float):
        return f"{value:.0f}%"
    return str(value)


@dataclass
class Summary:
    """What one sync pass did; printed at the end of every run."""

    tickets_read: int = 0
    tickets_changed: int = 0
    reevaluated: int = 0
    measures_changed: int = 0
    planned: int = 0
    shadow: int = 0
    applied: int = 0
    already: int = 0
    #: Actions not written because they do not apply there; `skipped_by` says why.
    skipped: int = 0
    failed: int = 0
    conflicts: int = 0
    retried_later: int = 0
    dead_lettered: int = 0
    quarantined: int = 0
    #: API calls that read (GET, and reads sent with POST such as bulk fetches).
    #: Tickets read older than their stored snapshot (another process had read a newer
    #: version): not saved, not evaluated.
    stale: int = 0
    #: Reads stopped because another process had moved the connector's cursor.
    cursor_conflicts: int = 0
    api_reads: int = 0
    #: API calls that change the helpdesk.
    api_writes: int = 0
    #: Clocks seen breached by this pass, each once (ticket, policy, metric, cycle).
    breached_clocks: int = 0
    #: Of those: breached before the cutoff (history, not escalated).
    breached_before_cutoff: int = 0
    #: Of those: on solved or closed tickets (nothing is written on them).
    breached_ticket_done: int = 0
    #: Of those: breached since the cutoff on open tickets (escalated, once).
    breached_since_cutoff: int = 0
    #: Clocks whose breach came before the cutoff, recorded now (a dry run: would be)
    #: and never escalated.
    past_breaches: int = 0
    #: Escalation levels (one per clock and level) this pass found crossed before the cutoff.
    past_crossings: int = 0
    #: Their actions, held back: not planned, not written.
    held_before_cutoff: int = 0
    #: Actions held back because their ticket is solved or closed.
    held_done: int = 0
    #: Stored open tickets re-evaluated from their snapshots because the connector's cutoff
    #: moved earlier than the one last in force (a backfill after go-live); counted in
    #: ``reevaluated`` too.
    cutoff_reevaluated: int = 0
    #: Live fields' new values planned (a dry run: would be); counted in ``planned`` too.
    live_writes: int = 0
    #: Connectors whose helpdesk failed this pass (`helpdesk_failures` says which and why).
    connectors_failed: int = 0
    seconds: float = 0.0
    #: Each connector's cutoff this pass, ISO 8601.
    cutoffs: dict[str, str] = field(default_factory=dict)
    #: The connectors whose cutoff moved this pass: the cutoff last in force, ISO 8601 (the
    #: new one is in ``cutoffs``).
    cutoff_moves: dict[str, str] = field(default_factory=dict)
    #: Skipped actions by the reason given (the connector's or the notifier's words).
    skipped_by: dict[str, int] = field(default_factory=dict)
    #: Clocks seen breached (the first `SAMPLE` of them: a summary must not grow with the
    #: number of tickets), each once.
    breaches: list[BreachSeen] = field(default_factory=list)
    #: Writes, with what planned each (the first `SAMPLE`).
    written: list[Written] = field(default_factory=list)
    #: What a dry run would have planned (the first `SAMPLE`; ``sync --plan FILE`` has all).
    would_plan: list[Action] = field(default_factory=list)
    #: The connectors whose helpdesk failed this pass, each with its error.
    helpdesk_failures: list[HelpdeskFailure] = field(default_factory=list)
    #: The breached clocks counted so far: a clock evaluated twice in a pass counts once.
    _breach_heads: set[tuple[str, str, str, int]] = field(
        default_factory=set, repr=False, compare=False
    )

    #: How many examples the lists above keep.
    SAMPLE = 1000

    def as_dict(self) -> dict[str, Any]:
        """The counters, for structured logs and JSON output."""
        return {
            k: v
            for k, v in self.__dict__.items()
            if isinstance(v, int | float) and not k.startswith("_")
        }

    def note_breach(
        self, connector: str, ticket_id: str, clock: str, cycle: int, fate: BreachFate
    ) -> None:
        """Count a breached clock, once per pass however often the pass evaluates it."""
        head = (connector, ticket_id, clock, cycle)
        if head in self._breach_heads:
            return
        self._breach_heads.add(head)
        self.breached_clocks += 1
        if fate is BreachFate.BEFORE_CUTOFF:
            self.breached_before_cutoff += 1
        elif fate is BreachFate.TICKET_DONE:
            self.breached_ticket_done += 1
        else:
            self.breached_since_cutoff += 1
        if len(self.breaches) < self.SAMPLE:
            self.breaches.append(BreachSeen(connector, ticket_id, clock, cycle, fate))

    def note_helpdesk_failure(self, connector: str, error: str, released: int) -> None:
        """Record that ``connector``'s helpdesk failed and its work stopped for this pass."""
        self.connectors_failed += 1
        self.helpdesk_failures.append(HelpdeskFailure(connector, error, released))

    def note_skip(self, reason: str) -> None:
        """Count a skipped action under ``reason``."""
        self.skipped += 1
        reason = reason.strip() or "no reason given"
        if reason not in self.skipped_by and len(self.skipped_by) >= MAX_REASONS:
            reason = OTHER_REASONS
        self.skipped_by[reason] = self.skipped_by.get(reason, 0) + 1

    def note_written(self, action: Action) -> None:
        """Count a write (or a delivered notification) and keep what planned it."""
        self.applied += 1
        if len(self.written) < self.SAMPLE:
            self.written.append(Written.of(action))

    @property
    def actions_lost(self) -> int:
        """Actions this pass that will not be applied without a human: failed for good
        (an unmapped field, an unknown group...) or parked as dead letters."""
        return self.failed + self.dead_lettered

    def failure_note(self) -> str | None:
        """What to do about `actions_lost`, or None when there are none."""
        if not self.actions_lost:
            return None
        parts = []
        if self.failed:
            parts.append(
                f"{self.failed} action(s) failed for good: see `slaplug outbox list --failed`, "
                "fix the cause (a field mapping, a group, a channel), then "
                "`slaplug outbox retry --failed`"
            )
        if self.dead_lettered:
            parts.append(
                f"{self.dead_lettered} action(s) became dead letters: see `slaplug outbox list`, "
                "then `slaplug outbox retry --all`"
            )
        return "sync: " + "; ".join(parts)
