"""The job functions, and the context they run in (a store, a rules pack, connectors).

Each function is safe to run in several processes at once: what two runs could both do is
claimed in the store first (outbox and inbox leases, due leases), the cursor is written by
compare-and-set, and the ledger drops an action planned twice. The engines add lanes on top
(one running job per ``lane``), so a connector's work is not even *tried* twice at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slaplug.runtime import Runtime
from slaplug.store.tickets import DUE_BUCKETS
from slaplug.sync import Summary, Sync
from slaplug.web.worker import Worker

__all__ = ["JOBS", "JobContext", "deliver", "drain", "due", "lanes", "pull"]

log = logging.getLogger("slaplug.jobs")


@dataclass
class JobContext:
    """What the jobs of one process share: its runtime (store, pack, connectors).

    Sync objects are cheap and hold per-pass state, so each job makes its own; the rules
    pack is used by one job at a time (``lock``): a worker process runs one job at a time
    unless told otherwise, and its CPU-bound evaluation gains nothing from threads anyway.

    Attributes:
        runtime: The opened runtime.
        clock: The current time (tests move it).
        lock: Held while a job evaluates.
        make_sync: Where the jobs get their `Sync`; None: a fresh one per job, configured
            as ``slaplug sync`` is. ``slaplug sync`` passes its own (dry run, progress,
            ``--escalate-from``...; `slaplug.jobs.local.SyncPass`).
        summary: A summary every job counts into (one pass of ``slaplug sync``: a clock
            breached in a pull and re-evaluated in a due job is counted once); None: each
            job returns its own.
    """

    runtime: Runtime
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    lock: threading.Lock = field(default_factory=threading.Lock)
    make_sync: Callable[[], Sync] | None = None
    summary: Summary | None = None
    #: Where the drain job gets its webhook `Worker`; None: a fresh one per job. The
    #: embedded ``slaplug serve`` worker passes itself (its metrics, its leases' owner).
    make_worker: Callable[[], Worker] | None = None
    #: Inbox batches one drain job takes at most; None: until none waits (10,000 at most).
    #: The embedded worker takes one, so the explain view's calls wait one batch, not a
    #: whole burst.
    drain_batches: int | None = None

    def sync(self) -> Sync:
        """The `Sync` a job runs: `make_sync`'s, else one configured as ``slaplug sync`` is."""
        if self.make_sync is not None:
            return self.make_sync()
        s = self.runtime.settings
        return Sync(
            self.runtime.store,
            self.runtime.pack,
            self.runtime.connectors,
            batch=s.sync.batch,
            claim_batch=s.outbox.batch,
            clock=self.clock,
            channels=s.notify,
            escalate_from=s.escalate_from,
        )

    def worker(self) -> Worker:
        """The drain job's webhook `Worker`: `make_worker`'s, else a fresh one (its batch
        processing only; no thread is started)."""
        if self.make_worker is not None:
            return self.make_worker()
        s = self.runtime.settings
        return Worker(
            self.runtime.store,
            self.runtime.pack,
            self.runtime.connectors,
            claim_batch=s.outbox.batch,
            clock=self.clock,
            channels=s.notify,
            escalate_from=s.escalate_from,
        )


def pull(ctx: JobContext, connector: str) -> Summary:
    """Read ``connector``'s changed tickets from its cursor, evaluate, deliver.

    The only job writing the cursor; its lane runs one at a time, and even two runs at once
    (a lane lock lost with a killed worker) cannot move it back (compare-and-set).
    """
    with ctx.lock:
        return ctx.sync().pull(connector, summary=ctx.summary)


def drain(ctx: JobContext, connector: str, *, limit: int = 10_000) -> int:
    """Process ``connector``'s waiting webhook deliveries (coalesced: all of them, in batches).

    Returns:
        How many deliveries were claimed.
    """
    with ctx.lock:
        worker = ctx.worker()
        total = 0
        batches = 0
        while total < limit and (ctx.drain_batches is None or batches < ctx.drain_batches):
            done = worker.drain(connector=connector)
            if not done:
                return total
            total += done
            batches += 1
        return total


def deliver(ctx: JobContext, connector: str) -> Summary:
    """Apply ``connector``'s due outbox actions (retries included), under its budget."""
    with ctx.lock:
        return ctx.sync().process(connector, [], summary=ctx.summary)


def due(ctx: JobContext, bucket: int) -> Summary:
    """Re-evaluate the passed thresholds in one bucket of the due index, then deliver."""
    if not 0 <= bucket < DUE_BUCKETS:
        raise ValueError(f"due bucket {bucket} is out of range 0..{DUE_BUCKETS - 1}")
    with ctx.lock:
        return ctx.sync().reevaluate_due(bucket=bucket, summary=ctx.summary)


#: The jobs by name, as the engines run them: ``name -> function(ctx, arg)``.
JOBS: dict[str, Callable[[JobContext, Any], Any]] = {
    "pull": pull,
    "drain": drain,
    "deliver": deliver,
    "due": due,
}


def lanes(job: str, arg: object) -> str:
    """A job's lane: one running job per lane, at most one more waiting."""
    return f"slaplug:{job}:{arg}"
