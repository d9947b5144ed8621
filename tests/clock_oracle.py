"""The first, plain implementation of slaplug's SLA clocks, kept as their specification.

One generator per metric, datetimes throughout, a history read again for every policy: easy to
check against the rules in slaplug/sla/clock.py's docstring and docs/concepts/sla-clock.md,
and too slow for the engine. tests/test_clock_oracle.py holds the two equal on random
histories. Do not optimize this file; change it only when the rules change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from slaplug.model import EventKind, MeasureState, Metric, SlaMeasure, Ticket, TicketEvent
from slaplug.sla.calendar import epoch_us, from_epoch_us
from slaplug.sla.policy import SlaPolicy

__all__ = ["measure"]


@dataclass(frozen=True, slots=True)
class _Run:
    """One run of one clock: when it started and, if it has, when it stopped."""

    metric: Metric
    cycle: int
    start: datetime
    stop: datetime | None


class _History:
    """A ticket's history up to ``now``, indexed for the clocks."""

    def __init__(self, ticket: Ticket, now: datetime) -> None:
        self.ticket = ticket
        self.now = now
        self.now_us = now_us = epoch_us(now)
        # Instants as integers: comparing aware datetimes asks both for their UTC offset.
        timed = [(e.at_us, e) for e in ticket.events]
        self.events: list[TicketEvent] = [e for us, e in timed if us <= now_us]
        self.status_changes = [e for e in self.events if e.kind is EventKind.STATUS_CHANGED]
        self.priority_changes: list[tuple[int, str | None]] = [
            (us, e.value)
            for us, e in timed
            if us <= now_us and e.kind is EventKind.PRIORITY_CHANGED
        ]

    def priority_segments(self, start: int, end: int) -> list[tuple[int, str | None]]:
        """``[(from, priority), ...]`` covering ``[start, end]`` (epoch microseconds).

        Before the first recorded change the ticket's current priority applies: connectors
        report the initial priority as a change at creation time when they know it.
        """
        changes = self.priority_changes
        current = self.ticket.priority
        if not changes:
            return [(start, current)]
        for at, value in changes:
            if at > start:
                break
            current = value
        segments = [(start, current)]
        for at, value in changes:
            if start < at <= end and value != segments[-1][1]:
                segments.append((at, value))
        return segments

    def pauses(self, statuses: frozenset[str]) -> list[tuple[datetime, datetime]]:
        """Wall-clock intervals spent in a pause status, up to ``now``."""
        if not statuses:
            return []
        if not self.status_changes:
            # No history of statuses: the current one is the only one we know.
            created = self.ticket.created_at
            return [(created, self.now)] if self.ticket.status in statuses else []
        spans: list[tuple[datetime, datetime]] = []
        paused_since: datetime | None = None
        for e in self.status_changes:
            if e.value in statuses:
                if paused_since is None:
                    paused_since = e.at
            elif paused_since is not None:
                spans.append((paused_since, e.at))
                paused_since = None
        if paused_since is not None:
            spans.append((paused_since, self.now))
        return spans

    def runs(self, metric: Metric) -> Iterator[_Run]:
        """Every run of ``metric`` the history contains, in order."""
        kinds = EventKind
        if metric is Metric.RESOLUTION:
            cycle, start = 1, self.ticket.created_at
            open_ = True
            for e in self.events:
                if e.kind is kinds.SOLVED and open_:
                    yield _Run(metric, cycle, start, e.at)
                    open_ = False
                elif e.kind is kinds.REOPENED and not open_:
                    cycle, start, open_ = cycle + 1, e.at, True
            if open_:
                yield _Run(metric, cycle, start, None)
        elif metric is Metric.FIRST_RESPONSE:
            stop = next(
                (e.at for e in self.events if e.kind in (kinds.AGENT_REPLY, kinds.SOLVED)), None
            )
            yield _Run(metric, 1, self.ticket.created_at, stop)
        elif metric is Metric.NEXT_REPLY:
            cycle, start, replied = 0, None, False
            for e in self.events:
                if e.kind in (kinds.AGENT_REPLY, kinds.SOLVED):
                    if start is not None:
                        yield _Run(metric, cycle, start, e.at)
                        start = None
                    replied = replied or e.kind is kinds.AGENT_REPLY
                elif e.kind is kinds.REQUESTER_MESSAGE and replied and start is None:
                    cycle, start = cycle + 1, e.at
            if start is not None:
                yield _Run(metric, cycle, start, None)
        elif metric is Metric.PERIODIC_UPDATE:
            cycle, start = 0, None
            for e in self.events:
                if e.kind in (kinds.AGENT_REPLY, kinds.SOLVED) and start is not None:
                    yield _Run(metric, cycle, start, e.at)
                    start = None
                if e.kind is kinds.AGENT_REPLY:
                    cycle, start = cycle + 1, e.at
                elif e.kind is kinds.REOPENED:
                    start = None
            if start is not None:
                yield _Run(metric, cycle, start, None)


def measure(
    ticket: Ticket, policy: SlaPolicy, now: datetime, stop_at: datetime | None = None
) -> list[SlaMeasure]:
    """Every SLA measure of ``ticket`` under ``policy`` as of ``now``.

    Events after ``now`` are ignored, so the same call answers "what did the clocks say at
    time T" for any past T. Metrics without a target for the ticket's priority are left out.
    ``stop_at`` cancels every clock still running at that time (a policy's ``stop_when``).

    Returns:
        Measures ordered by metric (in `Metric` order), then cycle.
    """
    history = _History(ticket, now)
    # Wall-clock pauses, with their epoch-microsecond form: the calendar works on integers, so
    # each instant is converted once per ticket rather than once per calendar call.
    pauses = [(a, b, epoch_us(a), epoch_us(b)) for a, b in history.pauses(policy.pause_statuses)]
    measures: list[SlaMeasure] = []
    for metric in (m for m in Metric if m in policy.targets):
        for found in history.runs(metric):
            run = found
            cancelled = stop_at is not None and found.stop is None
            if cancelled:
                run = _Run(found.metric, found.cycle, found.start, max(stop_at, found.start))
            m = _measure_run(history, policy, run, pauses)
            if m is not None and cancelled:
                # Not applicable: neither met nor breached.
                m = dataclasses.replace(m, state=MeasureState.CANCELLED, breached_at=None)
            if m is not None:
                measures.append(m)
    return measures


_Pause = tuple[datetime, datetime, int, int]


def _measure_run(
    history: _History, policy: SlaPolicy, run: _Run, all_pauses: list[_Pause]
) -> SlaMeasure | None:
    start = run.start
    s = epoch_us(start)
    e = epoch_us(run.stop) if run.stop is not None else history.now_us
    segments = history.priority_segments(s, e)
    priority = segments[-1][1]
    target = policy.target(run.metric, priority)
    if target is None:
        return None
    cal = policy.calendar
    end = run.stop if run.stop is not None else history.now
    clipped = [
        (a if au >= s else start, b if bu <= e else end, max(au, s), min(bu, e))
        for a, b, au, bu in all_pauses
        if bu > s and au < e
    ]
    pauses_us = [(au, bu) for _, _, au, bu in clipped]

    breached_us: int | None = None
    due_by_target: dict[timedelta, int] = {}  # the common case has one target: one add
    for i, (seg_start, seg_priority) in enumerate(segments):
        seg_target = policy.target(run.metric, seg_priority)
        if seg_target is None:
            continue
        last = i == len(segments) - 1
        seg_end = e if last else segments[i + 1][0]
        due = due_by_target.get(seg_target)
        if due is None:
            due = due_by_target[seg_target] = cal.add_us(s, _us(seg_target), pauses_us)
        # A clock stopped exactly at its deadline made it; a running one at its deadline has
        # no time left, and a priority change at that instant comes too late.
        missed = due < seg_end if (last and run.stop is not None) else due <= seg_end
        if missed:
            breached_us = max(due, seg_start)
            break

    elapsed = timedelta(microseconds=cal.elapsed_us(s, e, pauses_us))
    paused_now = (
        run.stop is None
        and bool(clipped)
        and clipped[-1][3] == e
        and _in_pause_status(history, policy)
    )
    deadline = None
    if not paused_now:
        due = due_by_target.get(target)
        deadline = from_epoch_us(
            due if due is not None else cal.add_us(s, _us(target), pauses_us), start.tzinfo
        )
    if run.stop is not None:
        state = MeasureState.BREACHED if breached_us is not None else MeasureState.ACHIEVED
    elif breached_us is not None:
        state = MeasureState.BREACHED
    else:
        state = MeasureState.PAUSED if paused_now else MeasureState.RUNNING
    target_s = target.total_seconds()
    return SlaMeasure(
        policy=policy.name,
        metric=run.metric,
        cycle=run.cycle,
        state=state,
        target=target,
        start=start,
        deadline=deadline,
        elapsed=elapsed,
        remaining=target - elapsed,
        percent=round(100.0 * elapsed.total_seconds() / target_s, 2) if target_s else 100.0,
        breached_at=from_epoch_us(breached_us, start.tzinfo) if breached_us is not None else None,
        stopped_at=run.stop,
        calendar=cal.name,
        priority=priority,
        pauses=tuple((a, b) for a, b, _, _ in clipped),
    )


def _us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _in_pause_status(history: _History, policy: SlaPolicy) -> bool:
    if history.status_changes:
        return history.status_changes[-1].value in policy.pause_statuses
    return history.ticket.status in policy.pause_statuses
