"""The jobs on procrastinate: a PostgreSQL-native queue, in the store's own database.

Why procrastinate (MIT, maintained): slaplug's store is already PostgreSQL when several
processes share it, so the queue adds no broker to run; a job can be queued in the same
transaction as the store's writes; ``lock`` gives one running job per lane and
``queueing_lock`` at most one waiting, which is exactly the coalescing a connector's pull,
drain and deliver need; periodic tasks replace ``sync --every`` loops and the home-made
supervisor. Celery or Dramatiq would bring a broker (Redis, RabbitMQ) for none of that.

Install with ``pip install 'slaplug[distributed]'``. Its tables live in the store's
database, in the schema the URL's ``search_path`` names (``public`` by default);
`apply_schema` creates them once, idempotently, under an advisory lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import make_url

from slaplug.config import Settings
from slaplug.durations import parse_duration
from slaplug.errors import ConfigError, ConnectorError, helpdesk_message
from slaplug.jobs.units import JOBS, JobContext, lanes
from slaplug.store.tickets import DUE_BUCKETS
from slaplug.summary import Summary

__all__ = [
    "PRIORITY",
    "QUEUE",
    "Enqueuer",
    "JobTally",
    "apply_schema",
    "build_app",
    "conninfo",
    "cron",
    "delete_ended_jobs",
    "describe",
]

log = logging.getLogger("slaplug.jobs.engine")

#: The queue every slaplug job goes to.
QUEUE = "slaplug"

#: Jobs a worker takes first (higher first): webhooks are what a user waits for, and a pull
#: can spend seconds waiting on its helpdesk's export budget; it must not starve them.
PRIORITY = {"drain": 30, "deliver": 20, "due": 20, "pull": 0}

#: Serializes concurrent `apply_schema` calls ("slaplugq" in ASCII).
_SCHEMA_LOCK = 0x736C61706C756771

_INSTALL_HINT = "install the distributed engine with: pip install 'slaplug[distributed]'"


def conninfo(store_url: str) -> str:
    """The libpq URI of the store's database, for procrastinate's psycopg pool."""
    url = make_url(store_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            "the procrastinate engine needs the store on PostgreSQL (store: postgresql://...)"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def apply_schema(info: str) -> bool:
    """Create procrastinate's tables if they are missing; safe from several processes.

    Returns:
        True if the schema was created now, False if it was there already.
    """
    try:
        # The optional extra: imported when used, so the embedded default never needs it.
        import psycopg  # noqa: PLC0415
        from procrastinate.schema import SchemaManager  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ConfigError(f"{exc}; {_INSTALL_HINT}") from None
    with psycopg.connect(info) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found is not None and found[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())
    log.info("procrastinate's schema created in the store's database")
    return True


def cron(seconds: float) -> str:
    """A procrastinate cron running about every ``seconds``.

    procrastinate (croniter) takes seconds as an optional *sixth* column, after the usual
    five: ``* * * * * */30`` is every 30 seconds (``*/30 * * * * *`` would be every second
    of every thirtieth minute).
    """
    s = max(1, int(seconds))
    if s < 60:
        return f"* * * * * */{s}"
    minutes = max(1, s // 60)
    if minutes < 60:
        return f"*/{minutes} * * * * 0"
    return "0 * * * * 0"


def build_app(
    settings: Settings,
    context: Callable[[], JobContext],
    *,
    info: str | None = None,
    periodic: bool = True,
    tally: JobTally | None = None,
) -> Any:
    """A procrastinate ``App`` with slaplug's jobs and periodic ticks.

    Args:
        settings: The install's settings (connectors, intervals).
        context: Returns this process's `JobContext` (opened once, on the first job).
        info: The database's libpq URI; default the store's (`conninfo`).
        periodic: Register the periodic ticks (a ``--burst`` worker runs without them;
            ``slaplug serve`` only queues jobs: without them too).
        tally: Counts the jobs this app's worker runs (``slaplug worker --burst`` says how
            many ran, or that nothing was queued).
    """
    try:
        import procrastinate  # noqa: PLC0415  (the optional extra)
    except ImportError as exc:
        raise ConfigError(f"{exc}; {_INSTALL_HINT}") from None

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=info or conninfo(settings.store))
    )
    for name, fn in JOBS.items():

        def run(arg: Any, _fn: Callable[[JobContext, Any], Any] = fn, _name: str = name) -> None:
            started = time.monotonic()
            try:
                result = _fn(context(), arg)
            except Exception as exc:
                if tally is not None:
                    tally.add(failed=True)
                # procrastinate logs the traceback after it (its logger, at error).
                log.error(
                    "job %s(%s) failed after %.2fs: %s",
                    _name,
                    arg,
                    time.monotonic() - started,
                    _error_text(exc),
                )
                raise
            if tally is not None:
                tally.add()
            counters = describe(result)
            # A job that found nothing to do (sixteen due buckets every work.due_every, on
            # an idle install) logs at debug: at info, only the jobs that did something.
            log.log(
                logging.INFO if counters else logging.DEBUG,
                "job %s(%s) done in %.2fs: %s",
                _name,
                arg,
                time.monotonic() - started,
                counters or "nothing to do",
            )

        app.task(name=f"slaplug.{name}", queue=QUEUE, pass_context=False)(run)

    connectors = list(settings.connectors)

    def tick_pull(timestamp: int) -> None:
        enqueuer = Enqueuer(app)
        for c in connectors:
            enqueuer.defer("pull", c)
            enqueuer.defer("deliver", c)
            enqueuer.defer("drain", c)  # retries whose backoff ended, lapsed leases

    def tick_due(timestamp: int) -> None:
        enqueuer = Enqueuer(app)
        for b in range(DUE_BUCKETS):
            enqueuer.defer("due", b)

    stalled_after = _seconds(settings.work.stalled_after)

    async def recover(timestamp: int) -> None:
        """Give back the jobs of workers that died (SIGKILL, a lost host).

        A killed worker's job stays "doing" and keeps its lane's lock, which would stop the
        lane for good. Once its worker missed its heartbeats for ``work.stalled_after``, the
        job is retried; its work is safe to repeat (leases, ledger, compare-and-set cursor).
        """
        from procrastinate.exceptions import UniqueViolation  # noqa: PLC0415
        from procrastinate.jobs import Status  # noqa: PLC0415

        for job in await app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=stalled_after
        ):
            try:
                await app.job_manager.retry_job(job)
                log.warning("job %s of a dead worker is retried", job.call_string)
            except UniqueViolation:
                # Its lane has a job waiting already, which does the same work: end this one
                # (as failed, kept work.keep_failed_jobs for inspection) and free the lane's
                # lock for it.
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log.warning(
                    "job %s of a dead worker is dropped: the same job waits already",
                    job.call_string,
                )

    keep_hours = max(1, round(_seconds(settings.work.keep_failed_jobs) / 3600))

    async def prune(timestamp: int) -> None:
        """Delete the jobs that ended more than ``work.keep_failed_jobs`` ago.

        Successful jobs are deleted as they end (``delete_jobs="successful"``); failed ones
        stay for inspection (``procrastinate`` CLI, or SQL), but not for ever.
        """
        await delete_ended_jobs(app, keep_hours)

    if not periodic:
        return app
    app.periodic(cron="17 * * * *", periodic_id="prune")(
        app.task(name="slaplug.prune", queue=QUEUE, pass_context=False, queueing_lock="prune")(
            prune
        )
    )
    app.periodic(cron=cron(max(1.0, stalled_after / 3)), periodic_id="recover")(
        app.task(name="slaplug.recover", queue=QUEUE, pass_context=False, queueing_lock="recover")(
            recover
        )
    )
    app.periodic(cron=cron(settings.sync.interval_seconds()), periodic_id="pull")(
        app.task(name="slaplug.tick_pull", queue=QUEUE, pass_context=False)(tick_pull)
    )
    due_every = _seconds(settings.work.due_every)
    app.periodic(cron=cron(due_every), periodic_id="due")(
        app.task(name="slaplug.tick_due", queue=QUEUE, pass_context=False)(tick_due)
    )
    return app


async def delete_ended_jobs(app: Any, keep_hours: int) -> None:
    """Delete slaplug's jobs that ended (succeeded, failed, cancelled, aborted) more than
    ``keep_hours`` ago (the ``prune`` job, hourly)."""
    await app.job_manager.delete_old_jobs(
        nb_hours=keep_hours,
        queue=QUEUE,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )


def _seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


def describe(result: Any) -> str:
    """A job's result as ``key=value`` counters (the ones not zero); "" if all are zero.

    One form for every job, as the ``job NAME(ARG) done in S.SSs: ...`` log line shows it:
    a `Summary`'s counters (``tickets_read=60 planned=3 applied=3 api_reads=2``; its
    ``seconds`` are the line's own), a drain's count of deliveries (``deliveries=6``).
    """
    if isinstance(result, Summary):
        counters = {k: v for k, v in result.as_dict().items() if k != "seconds"}
    elif isinstance(result, int):  # drain: the deliveries it claimed
        counters = {"deliveries": result}
    elif result is None:
        counters = {}
    else:
        counters = {"result": result}
    return " ".join(f"{k}={v}" for k, v in counters.items() if v)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ConnectorError):
        return helpdesk_message(exc)
    return f"{type(exc).__name__}: {exc}"


class JobTally:
    """How many slaplug jobs this process ran, and how many of them failed (thread-safe:
    procrastinate runs a sync job in a thread)."""

    def __init__(self) -> None:
        self.ran = 0
        self.failed = 0
        self._lock = threading.Lock()

    def add(self, *, failed: bool = False) -> None:
        """Count one job that ended (``failed``: by raising)."""
        with self._lock:
            self.ran += 1
            self.failed += failed


class Enqueuer:
    """Defers slaplug jobs on procrastinate with their lane locks.

    Also what ``slaplug serve`` hands its app instead of worker processes: a stored
    delivery queues its connector's ``drain`` (coalesced: one waiting per connector).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def defer(self, job: str, arg: Any) -> bool:
        """Queue ``job(arg)`` in its lane; False when one already waits there."""
        from procrastinate.exceptions import AlreadyEnqueued  # noqa: PLC0415

        lane = lanes(job, arg)
        try:
            self.app.configure_task(
                f"slaplug.{job}",
                lock=lane,
                queueing_lock=lane,
                queue=QUEUE,
                priority=PRIORITY.get(job, 0),
            ).defer(arg=arg)
        except AlreadyEnqueued:
            return False
        return True

    def defer_many(self, jobs: Iterable[tuple[str, Any]]) -> int:
        """`defer` each; returns how many were queued (the rest already waited)."""
        return sum(self.defer(job, arg) for job, arg in jobs)

    # -- what `slaplug.web.app` needs from "workers running elsewhere" --------------------

    alive = True
    count = 0
    running = 0

    def wake(self) -> None:
        """Nothing to wake: deliveries queue their lane's job (`wake_lane`)."""

    def wake_lane(self, connector: str) -> None:
        """A delivery was stored: queue its connector's ``drain`` (coalesced)."""
        try:
            self.defer("drain", connector)
        except Exception as exc:  # the delivery is stored: the next tick drains it
            log.warning("queueing drain(%s) failed; the next round takes it: %s", connector, exc)

    def start(self) -> None:
        """Nothing to start: ``slaplug worker`` processes run the jobs."""

    def stop(self) -> None:
        """Nothing to stop."""
