"""`LocalExecutor`: the jobs run in this process (the embedded default; no broker).

The same lane rules as the distributed engine: a job waits in a queue keyed by its lane,
at most one waiting per lane (deferring again while one waits coalesces), and the jobs run
one at a time, in order. ``slaplug sync`` keeps its single pass; this executor is what runs
the job functions in-process (tests cover both engines with the same scenarios).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from slaplug.jobs.units import JOBS, JobContext, lanes
from slaplug.store.tickets import DUE_BUCKETS

__all__ = ["LocalExecutor"]

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

    def run_pending(self) -> int:
        """Run the waiting jobs, in the order queued, until none waits; returns how many ran.

        A job that raises is logged and recorded in `failures`; the next one runs (its work
        is in the store: leases lapse, and the next round takes it again).
        """
        count = 0
        while self._waiting:
            _, (job, arg) = self._waiting.popitem(last=False)
            try:
                JOBS[job](self.ctx, arg)
            except Exception as exc:
                log.warning("job %s(%s) failed; the next round retries it: %s", job, arg, exc)
                self.failures.append((job, arg, str(exc)))
            self.ran.append((job, arg))
            count += 1
        return count
