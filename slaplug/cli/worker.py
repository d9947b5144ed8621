"""``slaplug worker``: run the jobs on the distributed engine (procrastinate)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from slaplug.cli._common import CONFIG_OPTION, friendly_errors, sigterm_as_interrupt
from slaplug.logs import logging_options

if TYPE_CHECKING:
    from slaplug.config import Settings

log = logging.getLogger("slaplug.worker")


@click.command()
@CONFIG_OPTION
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Jobs run at once in this process. Evaluation is CPU-bound: scale with processes "
    "(one per core) rather than with this.",
)
@click.option(
    "--burst",
    is_flag=True,
    help="Run the jobs waiting now, then exit (no periodic ticks; for cron, tests, backfills).",
)
@click.option(
    "--tick",
    is_flag=True,
    help="Queue one round first: pull, deliver and drain for each connector, every due bucket.",
)
@logging_options
@friendly_errors
def worker(
    config_path: str | None,
    concurrency: int,
    burst: bool,
    tick: bool,
    log_level: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Run slaplug's jobs (pull, drain, deliver, due) queued in the store's PostgreSQL.

    Needs work.engine: procrastinate in slaplug.yaml and pip install 'slaplug[distributed]'.
    Start as many as the helpdesks keep busy, on any host that reaches the store
    (docs/operations/scaling.md); each connector's jobs run one at a time whatever the count.
    """
    from slaplug.config import load_settings
    from slaplug.durations import parse_duration
    from slaplug.errors import ConfigError
    from slaplug.jobs import JobContext
    from slaplug.jobs.engine import (
        QUEUE,
        Enqueuer,
        JobTally,
        apply_schema,
        build_app,
        conninfo,
    )
    from slaplug.logs import resolve_level, setup_logging
    from slaplug.runtime import open_runtime
    from slaplug.store.tickets import DUE_BUCKETS

    setup_logging(resolve_level(log_level, verbose), log_format)
    settings = load_settings(config_path)
    settings.require_credentials()
    if settings.work.engine != "procrastinate":
        raise ConfigError(
            f"{settings.path}: slaplug worker runs the distributed engine; set work.engine: "
            "procrastinate (with the store on PostgreSQL), or keep the embedded default and "
            "run `slaplug serve` / `slaplug sync --every`"
        )
    # The rules, channels and connectors are checked (open_runtime) before procrastinate's
    # tables are created: a configuration that cannot run leaves the database as it was.
    with open_runtime(settings) as rt:
        apply_schema(conninfo(settings.store))
        ctx = JobContext(rt)
        tally = JobTally()
        app = build_app(settings, lambda: ctx, periodic=not burst, tally=tally)
        with app.open():
            if tick:
                queued = Enqueuer(app).defer_many(
                    [(job, c) for c in rt.connectors for job in ("pull", "deliver", "drain")]
                    + [("due", b) for b in range(DUE_BUCKETS)]
                )
                click.echo(f"worker: {queued} job(s) queued", err=True)
        _log_start(settings, concurrency, burst)
        with sigterm_as_interrupt():
            try:
                app.run_worker(
                    queues=[QUEUE],
                    concurrency=concurrency,
                    wait=not burst,
                    delete_jobs="successful",
                    # Beats at a third of work.stalled_after: a live worker is never taken
                    # for dead, a killed one is found within stalled_after.
                    update_heartbeat_interval=max(
                        1.0, parse_duration(settings.work.stalled_after).total_seconds() / 3
                    ),
                )
            except KeyboardInterrupt:
                sys.exit(130)
        if burst:
            click.echo(_burst_result(tally.ran, tally.failed, tick), err=True)
        else:  # stopped by a signal, after its running jobs ended
            log.info("worker stopped: %d job(s) ran, %d failed", tally.ran, tally.failed)


def _log_start(settings: Settings, concurrency: int, burst: bool) -> None:
    """One line: what this worker runs (procrastinate's own shows only with -v)."""
    connectors = ", ".join(settings.connectors) or "none"
    if burst:
        log.info(
            "worker started (--burst): runs the jobs waiting now, then exits; concurrency=%d; "
            "connectors: %s",
            concurrency,
            connectors,
        )
        return
    log.info(
        "worker started: concurrency=%d; queues pull, deliver and drain per connector every "
        "%s (sync.every), due every %s (work.due_every); connectors: %s",
        concurrency,
        settings.sync.every,
        settings.work.due_every,
        connectors,
    )


def _burst_result(ran: int, failed: int, tick: bool) -> str:
    """What a ``--burst`` worker did, for its last line on standard error."""
    if ran == 0 and tick:
        return "worker: nothing ran: other workers took the jobs queued"
    if ran == 0:
        return (
            "worker: nothing queued, nothing ran; add --tick to queue a round first "
            "(pull, deliver and drain per connector, every due bucket)"
        )
    failures = f", {failed} failed (their errors are logged above)" if failed else ""
    return f"worker: {ran} job(s) ran{failures}"
