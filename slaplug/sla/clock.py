"""SLA clocks: from a ticket's event history to one `SlaMeasure` per metric and cycle.

The rules, documented with worked examples in docs/concepts/sla-clock.md:

* ``first_response`` runs once per ticket, from creation to the first public agent reply.
* ``resolution`` runs from creation to solved; each reopening starts a new cycle, and earlier
  cycles stay on record as they ended.
* ``next_reply`` starts at a requester message that follows an agent reply (earlier messages
  are covered by ``first_response``) and runs to the next public agent reply. Further
  requester messages while it runs do not restart it: it measures the oldest unanswered one.
* ``periodic_update`` starts at each public agent reply and runs to the next one.
* Every clock stops when the ticket is solved, and pauses while the ticket's status is one of
  the policy's pause statuses.
* A priority change re-targets a running clock and keeps the elapsed time: the deadline
  becomes ``start + new target`` (in business time, less pauses). If the new target is already
  used up, the clock breaches at the moment of the change, not retroactively.
* Once breached, a clock stays breached, whatever the priority does later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from slaplug._records import builder
from slaplug.model import EventKind, MeasureState, Metric, SlaMeasure, Ticket, TicketEvent
from slaplug.sla.calendar import epoch_us, from_epoch_us
from slaplug.sla.policy import ANY_PRIORITY, SlaPolicy

__all__ = ["FOREVER", "Gates", "MetricGates", "Spans", "TicketClocks", "measure"]

# The engine builds millions of measures; see slaplug._records for why not SlaMeasure(...).
_new_measure = builder(SlaMeasure)

_AGENT_REPLY = EventKind.AGENT_REPLY
_SOLVED = EventKind.SOLVED
_REOPENED = EventKind.REOPENED
_REQUESTER = EventKind.REQUESTER_MESSAGE
_STATUS = EventKind.STATUS_CHANGED
_PRIORITY = EventKind.PRIORITY_CHANGED
_RUNNING, _PAUSED = MeasureState.RUNNING, MeasureState.PAUSED
_ACHIEVED, _BREACHED = MeasureState.ACHIEVED, MeasureState.BREACHED
_CANCELLED = MeasureState.CANCELLED
_FIELD = EventKind.FIELD_CHANGED
_METRICS = tuple(Metric)  # measures come in this order, as documented

#: One run of one clock: (cycle, start, start in epoch µs, stop or None, stop in epoch µs or 0).
_Run = tuple[int, datetime, int, datetime | None, int]
#: A stretch of one priority: (from in epoch µs, priority).
_Segment = tuple[int, str | None]
#: A wall-clock pause: (from, to, from in epoch µs, to in epoch µs).
_Pause = tuple[datetime, datetime, int, int]


def measure(
    ticket: Ticket, policy: SlaPolicy, now: datetime, stop_at: datetime | None = None
) -> list[SlaMeasure]:
    """Every SLA measure of ``ticket`` under ``policy`` as of ``now``.

    Events after ``now`` are ignored, so the same call answers "what did the clocks say at
    time T" for any past T. Metrics without a target for the ticket's priority are left out.
    ``stop_at`` cancels every clock still running at that time (a policy's ``stop_when``
    on a ticket without recorded history of the fields it reads): the measure's state is
    ``cancelled``, neither met nor breached.
    To measure one ticket under several policies, `TicketClocks` reads its history once.

    Returns:
        Measures ordered by metric (in `Metric` order), then cycle.
    """
    return TicketClocks(ticket, now).measure(policy, stop_at)


class TicketClocks:
    """One ticket's history up to ``now``, read once, measured under any number of policies.

    The history is read in a single pass into the runs of every metric (the rules are in
    this module's docstring), the status and priority changes; each instant is kept both as
    the datetime the measures report and as epoch microseconds, which the calendar works in.
    """

    __slots__ = (
        "_pauses",
        "_priority_changes",
        "_runs",
        "_status_changes",
        "field_changes",
        "later_field_changes",
        "now",
        "now_us",
        "ticket",
        "ticket_created_us",
    )

    def __init__(self, ticket: Ticket, now: datetime, now_us: int | None = None) -> None:
        """Read ``ticket``'s history up to ``now`` (``now_us``: the same in epoch µs, if the
        caller has it: a batch converts its one ``now`` once)."""
        self.ticket = ticket
        self.now = now
        self.now_us = now_us = epoch_us(now) if now_us is None else now_us
        events = ticket.events  # sorted by time on construction
        #: Field changes after ``now``: the values before them tell what the fields were.
        self.later_field_changes: list[TicketEvent] = []
        if events and events[-1].at_us > now_us:
            self.later_field_changes = [e for e in events if e.at_us > now_us and e.kind is _FIELD]
            events = tuple(e for e in events if e.at_us <= now_us)
        created = ticket.created_at
        self.ticket_created_us = created_us = epoch_us(created)
        status: list[tuple[int, datetime, str | None]] = []
        priority: list[tuple[int, str | None]] = []
        resolution: list[_Run] = []
        next_reply: list[_Run] = []
        periodic: list[_Run] = []
        first_stop: tuple[datetime, int] | None = None
        fields: list[TicketEvent] = []
        # Resolution: one cycle per reopening. Next reply: runs from the oldest requester
        # message after an agent reply. Periodic update: runs from each public agent reply.
        r_cycle, r_start, r_start_us, r_open = 1, created, created_us, True
        n_cycle, n_start, n_start_us, replied = 0, None, 0, False
        p_cycle, p_start, p_start_us = 0, None, 0
        for e in events:
            kind, at, us = e.kind, e.at, e.at_us
            if kind is _STATUS:
                status.append((us, at, e.value))
            elif kind is _PRIORITY:
                priority.append((us, e.value))
            elif kind is _AGENT_REPLY or kind is _SOLVED:
                if first_stop is None:
                    first_stop = (at, us)
                if n_start is not None:
                    next_reply.append((n_cycle, n_start, n_start_us, at, us))
                    n_start = None
                if p_start is not None:
                    periodic.append((p_cycle, p_start, p_start_us, at, us))
                    p_start = None
                if kind is _AGENT_REPLY:
                    replied = True
                    p_cycle, p_start, p_start_us = p_cycle + 1, at, us
                elif r_open:
                    resolution.append((r_cycle, r_start, r_start_us, at, us))
                    r_open = False
            elif kind is _REQUESTER:
                if replied and n_start is None:
                    n_cycle, n_start, n_start_us = n_cycle + 1, at, us
            elif kind is _REOPENED:
                p_start = None
                if not r_open:
                    r_cycle, r_start, r_start_us, r_open = r_cycle + 1, at, us, True
            elif kind is _FIELD:
                fields.append(e)
        if r_open:
            resolution.append((r_cycle, r_start, r_start_us, None, 0))
        if n_start is not None:
            next_reply.append((n_cycle, n_start, n_start_us, None, 0))
        if p_start is not None:
            periodic.append((p_cycle, p_start, p_start_us, None, 0))
        first = (
            (1, created, created_us, first_stop[0], first_stop[1])
            if first_stop is not None
            else (1, created, created_us, None, 0)
        )
        self._runs: dict[Metric, list[_Run]] = {
            Metric.FIRST_RESPONSE: [first],
            Metric.NEXT_REPLY: next_reply,
            Metric.RESOLUTION: resolution,
            Metric.PERIODIC_UPDATE: periodic,
        }
        self._status_changes = status
        self._priority_changes = priority
        #: The ``field_changed`` events up to ``now``, in time order.
        self.field_changes = fields
        self._pauses: dict[frozenset[str], list[_Pause]] = {}

    def measure(self, policy: SlaPolicy, stop_at: datetime | None = None) -> list[SlaMeasure]:
        """Every measure under ``policy``; see `measure`."""
        pauses = self._pauses_in(policy.pause_statuses)
        paused_status = self._in_pause_status(policy.pause_statuses)
        stop_us = epoch_us(stop_at) if stop_at is not None else 0
        measures: list[SlaMeasure] = []
        targets = policy.targets
        for metric in _METRICS:
            if metric not in targets:
                continue
            for cycle, start, s, ended, e in self._runs[metric]:
                stop = ended
                cancelled = False
                if stop_at is not None and ended is None:
                    stop, e = (stop_at, stop_us) if stop_us >= s else (start, s)  # noqa: PLW2901
                    cancelled = True
                m = self._measure_run(
                    policy, metric, cycle, start, s, stop, e, pauses, paused_status, cancelled
                )
                if m is not None:
                    measures.append(m)
        return measures

    @property
    def status_changes(self) -> list[tuple[int, datetime, str | None]]:
        """``(epoch µs, at, new status)`` of every status change up to ``now``."""
        return self._status_changes

    @property
    def priority_changes(self) -> list[tuple[int, str | None]]:
        """``(epoch µs, new priority)`` of every priority change up to ``now``."""
        return self._priority_changes

    def measure_gated(self, policy: SlaPolicy, gates: Gates) -> list[SlaMeasure]:
        """Every measure under ``policy``, each run shaped by ``gates``: the stretches of the
        ticket's history in which the policy applied and its conditions held.

        The rules (docs/concepts/sla-clock.md works examples):

        * ``starts_in`` (an SLA chosen by ``match`` over time): a run is this policy's when it
          starts inside; the policy of a cycle is the one that matched when it started.
        * ``within`` (an OLA's stints with its team): each run is cut to each stint; a piece
          starts at the handoff (or the run's start), ends when the ticket leaves (stopped:
          met unless breached) or when the run ends; each piece is a cycle of its own, numbered
          in time order.
        * per metric ``start``: a piece starts at the first instant at or after its start at
          which the condition holds; none before it ends: no measure.
        * ``stop`` / ``cancel`` (and the policy's ``cancel``): the clock stops (met unless
          breached) or is cancelled at the first instant the condition holds after the start.
          A natural end at the same instant wins, then stop, then cancel.
        * ``pause`` spans and ``pause_statuses`` (the metric's own or the policy's) pause the
          clock; their union counts.
        """
        measures: list[SlaMeasure] = []
        now_us = self.now_us
        tz = self.ticket.created_at.tzinfo
        for metric in _METRICS:
            if metric not in policy.targets:
                continue
            mg = gates.metrics.get(metric, _NO_GATES)
            statuses = policy.pause_statuses if mg.pause_statuses is None else mg.pause_statuses
            pauses = self._pauses_in(statuses)
            paused_status = bool(statuses) and self._in_pause_status(statuses)
            if mg.pause:
                pauses, paused_status = self._with_spans(pauses, paused_status, mg.pause, tz)
            cancel = _union(mg.cancel, gates.cancel)
            number = 0
            for cycle, start, s, ended, e in self._runs[metric]:
                if gates.starts_in is not None and not _inside(gates.starts_in, s):
                    continue
                end_nat = e if ended is not None else FOREVER
                pieces = (
                    [(s, end_nat)]
                    if gates.within is None
                    else [
                        (max(s, a), min(end_nat, b))
                        for a, b in gates.within
                        if (a < end_nat and b > s) or (a <= s < b and s == end_nat)
                    ]
                )
                for pa, pb in pieces:
                    if mg.start is not None:
                        t0 = _first_at_or_after(mg.start, pa)
                        if t0 is None or t0 > now_us or (t0 >= pb and pb != pa):
                            continue
                        pa = t0  # noqa: PLW2901
                    end, how = pb, 0  # 0: natural end (or running), 1: stopped, 2: cancelled
                    if pb != end_nat:
                        how = 1  # left the team: the team's clock stops
                    for spans, kind in ((mg.stop, 1), (cancel, 2)):
                        if spans:
                            t = _first_at_or_after(spans, pa)
                            if t is not None and t <= now_us and t < end:
                                end, how = t, kind
                    number += 1
                    if end >= FOREVER or end > now_us:
                        stop_dt, stop_us = None, 0
                    else:
                        stop_dt = (
                            ended if end == e and ended is not None else from_epoch_us(end, tz)
                        )
                        stop_us = end
                    start_dt = start if pa == s else from_epoch_us(pa, tz)
                    m = self._measure_run(
                        policy,
                        metric,
                        cycle if gates.within is None else number,
                        start_dt,
                        pa,
                        stop_dt,
                        stop_us,
                        pauses,
                        paused_status,
                        how == 2,
                    )
                    if m is not None:
                        measures.append(m)
        return measures

    def _with_spans(
        self, pauses: list[_Pause], paused_status: bool, spans: Spans, tz: tzinfo | None
    ) -> tuple[list[_Pause], bool]:
        """``pauses`` together with the condition's pause ``spans`` (up to ``now``), merged."""
        now_us = self.now_us
        merged: list[tuple[int, int]] = sorted(
            [(au, bu) for _, _, au, bu in pauses]
            + [(a, min(b, now_us)) for a, b in spans if a < now_us]
        )
        out: list[tuple[int, int]] = []
        for a, b in merged:
            if out and a <= out[-1][1]:
                if b > out[-1][1]:
                    out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        paused_now = paused_status or any(a <= now_us < b for a, b in spans)
        return [(from_epoch_us(a, tz), from_epoch_us(b, tz), a, b) for a, b in out], paused_now

    def _pauses_in(self, statuses: frozenset[str]) -> list[_Pause]:
        """Wall-clock intervals spent in one of ``statuses``, up to ``now`` (cached)."""
        found = self._pauses.get(statuses)
        if found is not None:
            return found
        spans: list[_Pause] = []
        if not statuses:
            pass
        elif not self._status_changes:
            # No history of statuses: the current one is the only one we know.
            t = self.ticket
            if t.status in statuses:
                spans.append((t.created_at, self.now, epoch_us(t.created_at), self.now_us))
        else:
            since: tuple[datetime, int] | None = None
            for us, at, value in self._status_changes:
                if value in statuses:
                    if since is None:
                        since = (at, us)
                elif since is not None:
                    spans.append((since[0], at, since[1], us))
                    since = None
            if since is not None:
                spans.append((since[0], self.now, since[1], self.now_us))
        self._pauses[statuses] = spans
        return spans

    def _in_pause_status(self, statuses: frozenset[str]) -> bool:
        if self._status_changes:
            return self._status_changes[-1][2] in statuses
        return self.ticket.status in statuses

    def _priority_segments(self, start: int, end: int) -> tuple[str | None, list[_Segment] | None]:
        """The priority at ``end`` and, if it changed within ``[start, end]``, the stretches
        ``[(from, priority), ...]`` covering it (epoch microseconds); None when it did not.

        Before the first recorded change the ticket's current priority applies: connectors
        report the initial priority as a change at creation time when they know it.
        """
        current = self.ticket.priority
        segments: list[_Segment] | None = None
        for at, value in self._priority_changes:  # in time order
            if at <= start:
                current = value
            elif at <= end:
                if segments is None:
                    segments = [(start, current)]
                if value != segments[-1][1]:
                    segments.append((at, value))
            else:
                break
        if segments is None or len(segments) == 1:
            return current, None
        return segments[-1][1], segments

    def _measure_run(
        self,
        policy: SlaPolicy,
        metric: Metric,
        cycle: int,
        start: datetime,
        s: int,
        stop: datetime | None,
        stop_us: int,
        all_pauses: list[_Pause],
        paused_status: bool,
        cancelled: bool = False,
    ) -> SlaMeasure | None:
        running = stop is None
        e = self.now_us if running else stop_us
        per_priority = policy.targets[metric]
        priority, segments = self._priority_segments(s, e)
        target = _target(per_priority, priority)
        if target is None:
            return None
        target_us = _us(target)
        cal = policy.calendar
        clipped = [p for p in all_pauses if p[3] > s and p[2] < e]
        if clipped:
            end = self.now if stop is None else stop
            clipped = [
                (a if au >= s else start, b if bu <= e else end, max(au, s), min(bu, e))
                for a, b, au, bu in clipped
            ]
        pauses_us = [(au, bu) for _, _, au, bu in clipped]

        due = cal.add_us(s, target_us, pauses_us)
        elapsed_us = cal.elapsed_us(s, e, pauses_us)
        # A clock stopped exactly at its deadline made it; a running one at its deadline has
        # no time left, and a priority change at that instant comes too late.
        breached_us: int | None = None
        if segments is None:
            if due <= e if running else due < e:
                breached_us = due
        else:
            breached_us = self._breach_across(
                segments, per_priority, policy, s, e, running, pauses_us
            )

        paused_now = running and paused_status and bool(clipped) and clipped[-1][3] == e
        tz = start.tzinfo
        if cancelled:
            # Not applicable: neither met nor breached, whatever the target said before.
            state, breached_us = _CANCELLED, None
        elif not running:
            state = _ACHIEVED if breached_us is None else _BREACHED
        elif breached_us is not None:
            state = _BREACHED
        else:
            state = _PAUSED if paused_now else _RUNNING
        elapsed = timedelta(0, 0, elapsed_us)  # positional: a third cheaper than by keyword
        return _new_measure(
            policy.name,
            metric,
            cycle,
            state,
            target,
            start,
            None if paused_now else from_epoch_us(due, tz),
            elapsed,
            target - elapsed,
            round(100.0 * elapsed_us / target_us, 2) if target_us else 100.0,
            from_epoch_us(breached_us, tz) if breached_us is not None else None,
            stop,
            cal.name,
            priority,
            tuple([(a, b) for a, b, _, _ in clipped]) if clipped else (),
        )

    def _breach_across(
        self,
        segments: list[_Segment],
        per_priority: Mapping[str, timedelta],
        policy: SlaPolicy,
        s: int,
        e: int,
        running: bool,
        pauses_us: list[tuple[int, int]],
    ) -> int | None:
        """When a clock whose priority changed while it ran breached, if it has.

        Each stretch of one priority is held to that priority's deadline (``start + target``,
        less pauses); the first stretch that reaches its deadline breaches, at the deadline
        or, if the deadline had already passed, at the change.
        """
        cal = policy.calendar
        due_by_target: dict[timedelta, int] = {}
        last_i = len(segments) - 1
        for i, (seg_start, seg_priority) in enumerate(segments):
            seg_target = _target(per_priority, seg_priority)
            if seg_target is None:
                continue
            seg_end = e if i == last_i else segments[i + 1][0]
            due = due_by_target.get(seg_target)
            if due is None:
                due = due_by_target[seg_target] = cal.add_us(s, _us(seg_target), pauses_us)
            if due <= seg_end if (running or i != last_i) else due < seg_end:
                return max(due, seg_start)
        return None


def _target(table: Mapping[str, timedelta], priority: str | None) -> timedelta | None:
    """`SlaPolicy.target` for one metric's table (inlined here: it runs for every clock)."""
    if not table:
        return None
    if priority is not None:
        found = table.get(priority)
        if found is not None:
            return found
    return table.get(ANY_PRIORITY)


def _us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


#: Spans of time in epoch microseconds: sorted, disjoint, half-open ``[from, to)``; an open
#: end is `FOREVER`.
Spans = tuple[tuple[int, int], ...]
#: The open end of a span: later than any instant a ticket has.
FOREVER = 2**62


@dataclass(frozen=True, slots=True)
class MetricGates:
    """Where one metric's own conditions held over the ticket's history (None: no condition).

    Attributes:
        start: The clock starts at the first instant at or after its natural start in these.
        pause: The clock is paused in these, besides its pause statuses.
        stop: The clock stops (met unless breached) at the first instant in these.
        cancel: The clock is cancelled (not applicable) at the first instant in these.
        pause_statuses: The metric's own pause statuses, replacing the policy's.
    """

    start: Spans | None = None
    pause: Spans | None = None
    stop: Spans | None = None
    cancel: Spans | None = None
    pause_statuses: frozenset[str] | None = None


_NO_GATES = MetricGates()


@dataclass(frozen=True, slots=True)
class Gates:
    """Where one policy applied and its conditions held, over one ticket's history.

    Attributes:
        starts_in: An SLA's stretches as the chosen policy; a run is its if it starts inside.
        within: An OLA's stints with its team; runs are cut to them.
        cancel: The policy's ``stop_when``: every clock is cancelled at its first instant.
        metrics: Each metric's own conditions.
    """

    starts_in: Spans | None = None
    within: Spans | None = None
    cancel: Spans | None = None
    metrics: Mapping[Metric, MetricGates] = field(default_factory=dict)


def _inside(spans: Spans, t: int) -> bool:
    return any(a <= t < b for a, b in spans)


def _first_at_or_after(spans: Spans, t: int) -> int | None:
    """The first instant at or after ``t`` inside ``spans``, or None."""
    for a, b in spans:
        if b > t:
            return max(a, t)
    return None


def _union(x: Spans | None, y: Spans | None) -> Spans | None:
    if not x:
        return y
    if not y:
        return x
    out: list[tuple[int, int]] = []
    for a, b in sorted(x + y):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return tuple(out)
