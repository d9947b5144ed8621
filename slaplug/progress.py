"""Progress and summaries for long syncs: a live line on a terminal, log lines elsewhere."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

import click

from slaplug.model import Action
from slaplug.sync import Summary

__all__ = ["go_live_lines", "log_summary", "planned_json", "print_summary", "reporter"]

log = logging.getLogger("slaplug.sync")


def reporter(
    stream: TextIO | None = None, min_interval: float = 0.2
) -> Callable[[str, Summary], None]:
    """A progress callback for `Sync`.

    On a terminal it rewrites one status line (at most every ``min_interval`` seconds);
    otherwise (cron, systemd, Kubernetes) it logs ``key=value`` lines that log collectors parse.
    """
    out = stream or sys.stderr
    tty = out.isatty()
    last = [0.0]

    def report(message: str, s: Summary) -> None:
        now = time.monotonic()
        if tty:
            if now - last[0] < min_interval:
                return
            last[0] = now
            out.write(
                f"\r\033[K{message} | planned {s.planned}, applied {s.applied}, failed {s.failed}"
            )
            out.flush()
        else:
            log.info(
                "progress connector=%s tickets_read=%d planned=%d applied=%d failed=%d",
                message.split(":", maxsplit=1)[0],
                s.tickets_read,
                s.planned,
                s.applied,
                s.failed,
            )

    return report


def log_summary(s: Summary, *, dry_run: bool = False) -> None:
    """The end of a pass as one ``key=value`` log line, for cron and log collectors.

    The printed summary goes to standard output, which cron mails or discards; this line
    goes with the other log lines, so one file holds each pass's progress and its result.
    """
    counters = " ".join(f"{k}={v}" for k, v in s.as_dict().items())
    log.info("%s %s", "dry_run_done" if dry_run else "sync_done", counters)


def print_summary(
    s: Summary, *, as_json: bool = False, dry_run: bool = False, go_live: bool = True
) -> None:
    """The end-of-run summary: counts, then what was breached and written where.

    Args:
        go_live: Print the go-live block even when all its counts are 0 (the first pass of
            a run: it says the cutoffs); later passes print it only when it counts something.
    """
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    counters = s.as_dict()
    if as_json:
        doc: dict[str, object] = {
            "dry_run": dry_run,
            **counters,
            "skipped_by": s.skipped_by,
            "cutoffs": s.cutoffs,
            "helpdesk_failures": [f.as_dict() for f in s.helpdesk_failures],
            "cutoff_moves": {
                n: {"from": was, "to": s.cutoffs.get(n)} for n, was in s.cutoff_moves.items()
            },
        }
        if dry_run:
            doc["would_plan"] = [planned_json(a) for a in s.would_plan]
            doc["would_plan_truncated"] = len(s.would_plan) < s.planned
        click.echo(json.dumps(doc, default=str))
        return
    title = "Dry run: nothing written" if dry_run else "Sync done"
    failed = ""
    if s.helpdesk_failures:
        names = ", ".join(f.connector for f in s.helpdesk_failures)
        failed = f" ({names} failed; its error is on standard error)"
    if dry_run:
        # A dry run saves no snapshot and records no measure: it has no "changed" to count.
        read = f"{s.tickets_read} tickets read ({s.reevaluated} re-evaluated from snapshots)"
    else:
        read = (
            f"{s.tickets_read} tickets read ({s.tickets_changed} changed, {s.reevaluated} "
            f"re-evaluated from snapshots), {s.measures_changed} measures changed"
        )
    click.echo(f"{title} in {s.seconds:.1f}s{failed}: {read}")
    click.echo(
        f"  actions: {s.planned} planned, {s.applied} applied, {s.already} already there, "
        f"{s.skipped} skipped, {s.failed} failed, {s.conflicts} conflicts, "
        f"{s.retried_later} to retry, {s.dead_lettered} dead-lettered, {s.shadow} shadow"
    )
    for reason, n in sorted(s.skipped_by.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"    skipped {n}: {reason}")
    if s.breached_clocks:
        click.echo(
            f"  breached clocks: {s.breached_clocks} ({s.breached_since_cutoff} since the cutoff "
            f"on open tickets, escalated by the rules; {s.breached_before_cutoff} before the "
            f"cutoff, history only; {s.breached_ticket_done} on solved or closed tickets, "
            "nothing written)"
        )
    click.echo(f"  API calls: {s.api_reads} reads, {s.api_writes} writes")
    for line in go_live_lines(s, dry_run=dry_run, quiet=not go_live):
        click.echo(line)
    for line in cutoff_move_lines(s, dry_run=dry_run):
        click.echo(line)
    if s.quarantined:
        click.echo(f"  {s.quarantined} ticket(s) quarantined: see `slaplug quarantine list`")
    if dry_run and s.would_plan:
        click.echo("  would plan:")
        for a in s.would_plan:
            params = " ".join(f"{k}={v}" for k, v in a.params.items())
            click.echo(
                f"    {a.connector}:{a.ticket_id} {a.escalation} L{a.level}: {a.kind.value} {params}"
            )
        if len(s.would_plan) < s.planned:
            click.echo(
                f"    ... {s.planned - len(s.would_plan)} more not listed "
                f"(a pass keeps the first {len(s.would_plan)}; --plan FILE writes them all)"
            )


def planned_json(a: Action) -> dict[str, object]:
    """One planned action of a dry run, for ``--json`` and ``--plan FILE``."""
    return {
        "connector": a.connector,
        "ticket_id": a.ticket_id,
        "key": a.key,
        "escalation": a.escalation,
        "level": a.level,
        "kind": a.kind.value,
        "params": dict(a.params),
        "policy": a.policy,
        "metric": a.metric.value,
        "shadow": a.shadow,
    }


def go_live_lines(s: Summary, *, dry_run: bool = False, quiet: bool = False) -> list[str]:
    """What the go-live rules kept from the helpdesk this pass (`slaplug.golive`).

    Args:
        quiet: Nothing when every count is 0 (a steady ``sync --every`` pass: the cutoffs
            were said on the first pass, and 60 passes of zeros say nothing).
    """
    if not s.cutoffs:
        return []
    counts = (s.past_breaches, s.held_before_cutoff, s.past_crossings, s.held_done)
    if quiet and not any(counts):
        return []
    cutoffs = ", ".join(f"{name} {at}" for name, at in s.cutoffs.items())
    record, hold = (
        ("would be recorded", "would be held back") if dry_run else ("recorded", "held back")
    )
    return [
        f"  go-live: cutoff {cutoffs} (nothing is written for a threshold crossed before it)",
        f"    {_n(s.past_breaches, 'breach', 'breaches')} from before the cutoff {record}, "
        "not escalated",
        f"    {_n(s.held_before_cutoff, 'action')} {hold}: "
        f"{_n(s.past_crossings, 'escalation level')} crossed before the cutoff",
        f"    {_n(s.held_done, 'action')} {hold}: ticket solved or closed",
    ]


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """``1 action``, ``2 actions``."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def cutoff_move_lines(s: Summary, *, dry_run: bool = False) -> list[str]:
    """The connectors whose cutoff moved since the one last in force, and what it means."""
    lines: list[str] = []
    backfill = False
    for name, was in s.cutoff_moves.items():
        now = s.cutoffs.get(name, was)
        if datetime.fromisoformat(now) < datetime.fromisoformat(was):
            backfill = True
            lines.append(f"  cutoff moved earlier: {name} {was} -> {now} (a backfill)")
        else:
            lines.append(
                f"  cutoff moved later: {name} {was} -> {now}: thresholds crossed before it "
                f"{'would be' if dry_run else 'are'} held back from now on; nothing already "
                "planned or written is undone"
            )
    if backfill:
        lines.append(
            f"    {s.cutoff_reevaluated} stored open tickets re-evaluated from their snapshots "
            "(no helpdesk read): thresholds crossed since the new cutoff "
            f"{'would be' if dry_run else 'are'} escalated, once each"
        )
    return lines
