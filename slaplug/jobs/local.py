"""`LocalExecutor`: the jobs run in this process (the embedded default; no broker).

The same lane rules as the distributed engine: a job waits in a queue keyed by its lane,
at most one waiting per lane (deferring again while one waits coalesces), and the jobs run
one at a time, in order. `SyncPass` is ``slaplug sync``'s pass made of those jobs: per
connector ``pull``, ``due`` (every bucket), ``deliver``, run by a `LocalExecutor`, so the
embedded default runs the very functions procrastinate's workers run.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from slaplug.errors import ConnectorError, helpdesk_message
from slaplug.jobs.units import JOBS, JobContext, lanes
from slaplug.model import Action
from slaplug.runtime import Runtime
from slaplug.store.tickets import DUE_BUCKETS
from slaplug.summary import Summary
from slaplug.sync import Progress, Sync

__all__ = ["LocalExecutor", "SyncPass"]

log = logging.getLogger("slaplug.jobs.local")


class LocalExecutor:
    """Queues and runs jobs in this process.

    Args:
        ctx: The runtime the jobs use.

    Attributes:
        ran: ``(job, arg)`` of every job run, in order (for summaries and tests).
        failures: ``(job, arg, error)`` of the jobs that raised; the others went on.
    """

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._waiting: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self.ran: list[tuple[str, Any]] = []
        self.failures: list[tuple[str, Any, str]] = []

    def defer(self, job: str, arg: Any) -> bool:
        """Queue ``job(arg)``; False when the same job already waits (coalesced).

        Raises:
            KeyError: No such job.
        """
        if job not in JOBS:
            raise KeyError(f"no job named {job!r}; jobs: {', '.join(sorted(JOBS))}")
        lane = lanes(job, arg)
        if lane in self._waiting:
            return False
        self._waiting[lane] = (job, arg)
        return True

    def tick(self, connectors: Iterable[str]) -> None:
        """Queue a round of every periodic job: pull, deliver, drain per connector, every due
        bucket (what the distributed engine's periodic task defers)."""
        for name in connectors:
            self.defer("pull", name)
            self.defer("deliver", name)
            self.defer("drain", name)
        for bucket in range(DUE_BUCKETS):
            self.defer("due", bucket)

    def run_pending(self, *, stop_on_error: bool = False) -> int:
        """Run the waiting jobs, in the order queued, until none waits; returns how many ran.

        A job that raises is logged and recorded in `failures`; the next one runs (its work
        is in the store: leases lapse, and the next round takes it again).

        Args:
            stop_on_error: Raise a job's error instead, and drop the jobs still waiting
                (`SyncPass`: a helpdesk that fails ends that connector's turn in the pass;
                the next pass queues its jobs again).
        """
        count = 0
        while self._waiting:
            _, (job, arg) = self._waiting.popitem(last=False)
            try:
                JOBS[job](self.ctx, arg)
            except BaseException as exc:
                if stop_on_error or not isinstance(exc, Exception):
                    self._waiting.clear()
                    raise
                log.warning("job %s(%s) failed: %s; the next round retries it", job, arg, exc)
                self.failures.append((job, arg, str(exc)))
            self.ran.append((job, arg))
            count += 1
        return count


class SyncPass:
    """``slaplug sync``'s pass as jobs, run in this process by a `LocalExecutor`.

    Per connector, in the order configured: ``pull(connector)`` (read, evaluate, deliver),
    ``due(bucket)`` for every bucket (the passed thresholds, from snapshots), then
    ``deliver(connector)`` (left out of a dry run): what `Sync.run_once` did, through the job
    functions procrastinate's workers run. A connector whose helpdesk fails is recorded in
    the summary (`Summary.helpdesk_failures`) and the next connector's turn comes as usual. Each connector's jobs run over a `Sync` of its own
    (so a due job reaches only the connector just read: its thresholds are evaluated after
    its read, never from a snapshot older than the helpdesk's current state), and every job
    of a pass counts into one `Summary`.

    Args:
        runtime: The opened runtime (store, rules, connectors).
        dry_run: Plan and report, write nothing, commit no cursor.
        progress: Called with a short message and the pass's running summary.
        clock: The current time (``SLAPLUG_NOW`` pins it).
        escalate_from: Explicit cutoffs by connector name.
        plan_sink: For a dry run: called with every action it would plan.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        escalate_from: Mapping[str, datetime | None] | None = None,
        plan_sink: Callable[[Action], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.dry_run = dry_run
        self.progress = progress
        self.clock = clock
        self.escalate_from = dict(escalate_from or {})
        self.plan_sink = plan_sink
        self._syncs: dict[str, Sync] = {}
        self._current: Sync | None = None
        #: The pass's counters when the connector at work started (per-connector progress).
        self._base = _Counts()
        self.ctx = JobContext(runtime, clock=clock, make_sync=self._sync)
        self.executor = LocalExecutor(self.ctx)

    def _sync(self) -> Sync:
        assert self._current is not None, "a job ran outside a connector's turn"
        return self._current

    def sync_for(self, name: str) -> Sync:
        """Connector ``name``'s `Sync`, made on first use and kept (go-lives read once)."""
        found = self._syncs.get(name)
        if found is None:
            s = self.runtime.settings
            found = self._syncs[name] = Sync(
                self.runtime.store,
                self.runtime.pack,
                {name: self.runtime.connectors[name]},
                dry_run=self.dry_run,
                batch=s.sync.batch,
                claim_batch=s.outbox.batch,
                progress=self._report,
                clock=self.clock,
                channels=s.notify,
                escalate_from=self.escalate_from,
                plan_sink=self.plan_sink,
            )
        return found

    def run_once(self, only: str | None = None) -> Summary:
        """One full pass over every connector (or ``only`` the one named).

        Each connector is handled on its own: a helpdesk that fails (unreachable, timing
        out, 5xx once its retries are spent, credentials refused) stops that connector's
        jobs for this pass, gives back the outbox actions they had claimed, and is recorded
        in `Summary.helpdesk_failures`; the next connectors' passes run as usual. Work done
        stays done; the next pass starts the failed connector again from its cursor.

        Raises:
            Exception: Anything that is not a helpdesk's failure (the store, the rules
                engine, a bug) still stops the pass.
        """
        started = time.monotonic()
        summary = Summary()
        self.ctx.summary = summary
        names = [only] if only else list(self.runtime.connectors)
        try:
            for name in names:
                self._current = self.sync_for(name)
                self._base = _Counts.of(summary)
                self.executor.defer("pull", name)
                for bucket in range(DUE_BUCKETS):
                    self.executor.defer("due", bucket)
                if not self.dry_run:
                    self.executor.defer("deliver", name)
                try:
                    # A job that raises drops the connector's jobs still waiting: a due job
                    # after a failed read would evaluate snapshots older than the helpdesk.
                    self.executor.run_pending(stop_on_error=True)
                except ConnectorError as exc:
                    released = self._current.release_leases()  # the next pass need not wait
                    summary.note_helpdesk_failure(name, helpdesk_message(exc), released)
        finally:
            self._current = None
            self.ctx.summary = None
        summary.seconds = round(time.monotonic() - started, 3)
        return summary

    def _report(self, message: str, running: Summary) -> None:
        """Progress, counted for the connector at work (the pass's summary runs on)."""
        if self.progress is None:
            return
        name, _, what = message.partition(": ")
        counts = _Counts.of(running).minus(self._base)
        view = Summary(
            tickets_read=counts.tickets_read,
            planned=counts.planned,
            applied=counts.applied,
            failed=counts.failed,
        )
        # Sync's messages carry the pass's running totals: say this connector's.
        if what.endswith(" tickets read"):
            message = f"{name}: {counts.tickets_read} tickets read"
        elif what.endswith(" actions applied"):
            message = f"{name}: {counts.applied} actions applied"
        self.progress(message, view)

    def release_leases(self) -> int:
        """Give back the outbox leases this pass's jobs hold, due at once; how many."""
        return sum(s.release_leases() for s in self._syncs.values())


class _Counts(NamedTuple):
    """The counters progress lines show."""

    tickets_read: int = 0
    planned: int = 0
    applied: int = 0
    failed: int = 0

    @classmethod
    def of(cls, s: Summary) -> _Counts:
        return cls(s.tickets_read, s.planned, s.applied, s.failed)

    def minus(self, base: _Counts) -> _Counts:
        return _Counts(*(a - b for a, b in zip(self, base, strict=True)))
