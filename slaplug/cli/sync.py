"""``slaplug sync``: the scheduled job, once or every interval."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    ENGINE_OPTION,
    friendly_errors,
    parse_time,
    sigterm_as_interrupt,
)
from slaplug.exitcodes import ExitCode
from slaplug.logs import logging_options

MIN_INTERVAL_SECONDS = 10.0
#: What ``--every`` given without a value stands for: ``sync.every`` from the configuration.
_EVERY_FROM_CONFIG = "__config__"


def _interval(value: str, where: str) -> float:
    """Seconds between passes from ``--every`` or ``sync.every``; a clear error otherwise."""
    from slaplug.durations import parse_duration

    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(
            f"{exc} (accepted forms: 90s, 10m, 1h, 1h30m)", param_hint=where
        ) from None
    if seconds < MIN_INTERVAL_SECONDS:
        raise click.BadParameter(
            f"{value!r} is shorter than the {MIN_INTERVAL_SECONDS:.0f}s floor; a shorter loop "
            "only polls the helpdesk harder (use e.g. 60s)",
            param_hint=where,
        )
    return seconds


@click.command()
@CONFIG_OPTION
@click.option("--once", "once", is_flag=True, help="One pass, then exit (the default).")
@click.option(
    "--every",
    "every",
    is_flag=False,
    flag_value=_EVERY_FROM_CONFIG,
    metavar="[DURATION]",
    help="Run a pass every DURATION (e.g. 60s, 5m; at least 10s) until stopped; without a "
    "value, sync.every from the configuration.",
)
@click.option("--dry-run", is_flag=True, help="Plan and print; write nothing, move no cursor.")
@click.option("--connector", "only", help="Sync only this configured connector.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
@click.option(
    "--escalate-from",
    "escalate_from",
    metavar="WHEN",
    help="Write escalations for thresholds crossed from WHEN on (a date such as 2026-11-01, "
    "or a time with its zone): a backfill. Overrides escalate_from in the configuration; "
    "first-sync restores the default (each connector's first sync).",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="With --dry-run: write every action it would plan to FILE, one JSON object a line "
    "(the summary lists the first 1000).",
)
@ENGINE_OPTION
@logging_options
@friendly_errors
def sync(
    config_path: str | None,
    once: bool,
    every: str | None,
    dry_run: bool,
    only: str | None,
    as_json: bool,
    escalate_from: str | None,
    plan_path: str | None,
    engine: str | None,
    log_level: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Read changed tickets, evaluate them, write results back exactly once.

    The first sync of a connector measures its whole history but writes nothing for
    thresholds crossed before it started (see --escalate-from), nor on solved or closed
    tickets.

    Each connector is synced on its own: a helpdesk that is down or refuses us stops only
    its connector's pass, and the others' go on.

    Exits 0 when every action went through, 3 when a helpdesk failed (after the other
    connectors were synced), 4 when some actions failed (see docs/cli.md for every exit
    code), 130 when stopped by Ctrl-C or SIGTERM.
    """
    import time

    from slaplug.config import load_settings
    from slaplug.errors import ConfigError
    from slaplug.golive import parse_escalate_from
    from slaplug.jobs.local import SyncPass
    from slaplug.logs import resolve_level, setup_logging
    from slaplug.progress import log_summary, print_summary, reporter
    from slaplug.runtime import open_runtime

    setup_logging(resolve_level(log_level, verbose), log_format)
    if once and every:
        raise click.UsageError("choose --once or --every, not both")
    if plan_path is not None and not dry_run:
        raise click.UsageError("--plan writes what a dry run would plan: add --dry-run")
    if plan_path is not None and every is not None:
        raise click.UsageError("--plan is for one dry run: drop --every")
    interval = None
    if every is not None and every != _EVERY_FROM_CONFIG:
        interval = _interval(every, "--every")  # before the configuration: a typo fails fast
    settings = load_settings(config_path)
    # Only the synced connectors' API credentials: no webhook secret (only serve checks them).
    settings.require_credentials(None if only is None else [only])
    if every == _EVERY_FROM_CONFIG:
        interval = _interval(settings.sync.every, f"sync.every in {settings.path}")
    cutoffs = dict(settings.escalate_from)
    if escalate_from is not None:
        try:
            forced = parse_escalate_from(escalate_from, where="--escalate-from")
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--escalate-from") from None
        cutoffs = dict.fromkeys(settings.connectors, forced)
    # SLAPLUG_NOW pins the evaluation instant: for tests and benchmarks that compare two
    # passes over the same moment. Unset (always, in production), it is the real time.
    pinned = parse_time(os.environ["SLAPLUG_NOW"]) if os.environ.get("SLAPLUG_NOW") else None
    clock = (lambda: pinned) if pinned else (lambda: datetime.now(UTC))
    failed_actions = False
    helpdesk_failed = False
    show = reporter()
    log = logging.getLogger("slaplug.sync")

    with (
        sigterm_as_interrupt(),
        open_runtime(settings, engine=engine, only=only) as rt,  # type: ignore[arg-type]
        _plan_file(plan_path) as plan_sink,
    ):
        # The pass runs the job functions the distributed engine's workers run (pull, due,
        # deliver per connector), in this process: the embedded default (slaplug.jobs.local).
        # Each connector on its own: a helpdesk that fails stops only its connector's turn.
        job = SyncPass(
            rt,
            dry_run=dry_run,
            progress=show,
            clock=clock,
            escalate_from=cutoffs,
            plan_sink=plan_sink,
        )
        passes = PassCount()
        try:
            while True:
                summary = job.run_once(only)
                passes.done(summary)
                print_summary(summary, as_json=as_json, dry_run=dry_run, go_live=passes.total == 1)
                log_summary(summary, dry_run=dry_run)
                note = summary.failure_note()
                if note:
                    # Through the log handler: in the chosen format, with the other lines.
                    log.warning("%s", note)
                _report_helpdesk_failures(
                    summary, rt.store, list(rt.connectors), logged=interval is not None
                )
                helpdesk_failed = bool(summary.helpdesk_failures)
                failed_actions = bool(note or summary.failed or summary.dead_lettered)
                failed_actions |= bool(summary.retried_later)
                if interval is None:
                    failed = {f.connector for f in summary.helpdesk_failures}
                    if dry_run and _writes_that_would_fail(settings, only, skip=failed):
                        failed_actions = True
                    break
                # Said before the wait, so a log shows the loop is alive and idle, not stuck.
                # A helpdesk that failed does not end the loop: the next pass tries it again.
                log.info("next pass in %gs", interval)
                time.sleep(interval)
        except KeyboardInterrupt:
            _stop_interrupted(job, rt.store, passes, logged=interval is not None)
            sys.exit(ExitCode.INTERRUPTED)
    # A helpdesk that failed (the others' passes ran) outranks actions that failed.
    if helpdesk_failed:
        sys.exit(ExitCode.HELPDESK)
    if failed_actions:
        sys.exit(ExitCode.ACTIONS_FAILED)


class PassCount:
    """The passes a ``sync`` ran, and how many of them met a failing helpdesk."""

    def __init__(self) -> None:
        self.total = 0
        self.with_failures = 0

    def done(self, summary: Any) -> None:
        self.total += 1
        if summary.helpdesk_failures:
            self.with_failures += 1


def _report_helpdesk_failures(summary: Any, store: Any, names: list[str], *, logged: bool) -> None:
    """Each connector whose helpdesk failed: what stopped, what waits, then the error.

    ``sync --once`` prints them on standard error as its last words (``error: ...``, as
    every command ends on an error); ``--every`` logs them, in ``--log-format``, with the
    loop's other lines.
    """
    if not summary.helpdesk_failures:
        return
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    failed = [f.connector for f in summary.helpdesk_failures]
    others = [n for n in names if n not in failed]
    went_on = f"; the other connectors ({', '.join(others)}) were synced" if others else ""
    pending = store.outbox_stats().pending
    log = logging.getLogger("slaplug.sync")
    for f in summary.helpdesk_failures:
        stopped = (
            f"{f.connector}: stopped by its helpdesk; {_n(f.released, 'claimed action')} "
            f"released, {_n(pending, 'action')} pending in the outbox for the next sync, "
            f"nothing done is lost{went_on}"
        )
        if logged:
            log.warning("%s", stopped)
            log.error("%s; the next pass tries it again", f.error)
        else:
            click.echo(stopped, err=True)
            click.echo(f"error: {f.error}", err=True)


def _n(count: int, noun: str) -> str:
    """``1 action``, ``2 actions``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@contextmanager
def _plan_file(path: str | None) -> Iterator[Callable[[Any], None] | None]:
    """``--plan FILE``: a sink writing each planned action as a JSON line, or None."""
    if path is None:
        yield None
        return
    import json

    from slaplug.progress import planned_json

    with open(path, "w", encoding="utf-8") as out:

        def write(action: Any) -> None:
            out.write(json.dumps(planned_json(action), default=str) + "\n")

        yield write
    click.echo(f"wrote the plan to {path}", err=True)


def _stop_interrupted(job: Any, store: Any, passes: PassCount, *, logged: bool) -> None:
    """After Ctrl-C or SIGTERM: give back the claimed batch and say, in one line, what is left."""
    import signal

    # A second Ctrl-C must not cut the release short: the leases would then hold the
    # actions for the whole lease time (5 minutes by default).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    released = job.release_leases()
    stats = store.outbox_stats()
    failed = ""
    if passes.with_failures:
        failed = f" ({passes.with_failures} with a helpdesk that failed)"
    said = (
        f"interrupted after {passes.total} complete pass(es){failed}: {released} claimed "
        f"action(s) released, {stats.pending} pending in the outbox for the next sync; "
        "nothing is lost"
    )
    if logged:  # ``--every``: a service, whose standard error is its log
        logging.getLogger("slaplug.sync").warning("%s", said)
    else:
        click.echo(said, err=True)


def _writes_that_would_fail(settings: Any, only: str | None, *, skip: set[str]) -> int:
    """For ``sync --dry-run``: the doctor's failing checks (every field, group, user, status,
    priority and channel the rules write, at the rule's file:line:col), on stderr; their count.

    The connectors in ``skip`` (their helpdesk just failed) are not asked again.
    """
    from slaplug.doctor import CheckStatus, run_checks

    failing = [
        c for c in run_checks(settings, only=only, skip=skip) if c.status is CheckStatus.FAIL
    ]
    for check in failing:
        # The check's subject and what it found: "would fail" says the status already.
        line = f"would fail: {check.subject} {check.name}: {check.detail}"
        if check.fix:
            line += f"\n      -> {check.fix}"
        click.echo(line, err=True)
    return len(failing)
