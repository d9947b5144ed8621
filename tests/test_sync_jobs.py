"""``slaplug sync``'s pass made of the job functions (`slaplug.jobs.local.SyncPass`).

Against the tinydesk fake over real HTTP and a SQLite store: the pass runs pull, every due
bucket and deliver per connector through the same functions procrastinate's workers run, and
counts what `Sync.run_once` (the pass before the jobs) counted, on a first read and on a later
pass whose thresholds came due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_jobs import Urgent, _runtime, _writes
from tinydesk import WEBHOOK_SECRET, TinyFake

from slaplug.connectors.base import Capability
from slaplug.jobs import JOBS, JobContext
from slaplug.jobs.local import SyncPass
from slaplug.runtime import Runtime
from slaplug.store.tickets import DUE_BUCKETS, due_bucket
from slaplug.summary import Summary
from slaplug.sync import Sync

#: After every tinydesk ticket was opened (March 1-5): clocks running, thresholds ahead.
FIRST = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
#: Weeks later: every threshold ahead at FIRST has passed (the due index fires).
LATER = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TinyFake, TinyFake]]:
    monkeypatch.setenv("TINY_TOKEN", "tiny-s3cret-token-0042")
    monkeypatch.setenv("TINY_HOOK", WEBHOOK_SECRET)
    with TinyFake() as a, TinyFake() as b:
        yield a, b


def _counted(s: Summary) -> dict[str, Any]:
    """Everything a summary reports but its duration."""
    counters = s.as_dict()
    counters.pop("seconds")
    return {
        **counters,
        "cutoffs": s.cutoffs,
        "skipped_by": s.skipped_by,
        "breaches": sorted(s.breaches),
        "written": sorted((w.ticket_id, w.kind, w.why) for w in s.written),
    }


def _two_passes(run: Callable[[datetime], Summary]) -> list[dict[str, Any]]:
    return [_counted(run(FIRST)), _counted(run(LATER))]


def test_a_sync_pass_of_jobs_counts_what_the_single_pass_counted(
    fakes: tuple[TinyFake, TinyFake], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_fake, new_fake = fakes
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = _runtime(f"sqlite:///{tmp_path / 'old' / 's.db'}", old_fake, "embedded", tmp_path / "old")
    new = _runtime(f"sqlite:///{tmp_path / 'new' / 's.db'}", new_fake, "embedded", tmp_path / "new")
    ran: list[tuple[str, Any]] = []
    for name, fn in list(JOBS.items()):

        def traced(ctx: JobContext, arg: Any, _fn: Any = fn, _name: str = name) -> Any:
            ran.append((_name, arg))
            return _fn(ctx, arg)

        monkeypatch.setitem(JOBS, name, traced)
    now = [FIRST]
    try:
        single = Sync(
            old.store, old.pack, old.connectors, clock=lambda: now[0], escalate_from=_cutoffs(old)
        )
        jobs = SyncPass(new, clock=lambda: now[0], escalate_from=_cutoffs(new))

        def by_single(at: datetime) -> Summary:
            now[0] = at
            return single.run_once()

        def by_jobs(at: datetime) -> Summary:
            now[0] = at
            return jobs.run_once()

        expected = _two_passes(by_single)
        assert ran == []  # the single pass runs no job
        got = _two_passes(by_jobs)
        diffs = [
            {k: (g[k], e[k]) for k in e if g[k] != e[k]} for g, e in zip(got, expected, strict=True)
        ]
        assert diffs == [{}, {}]
        first, later = got
        assert first["tickets_read"] == 5 and first["applied"] > 0
        assert later["reevaluated"] > 0 and later["applied"] > 0  # the due thresholds fired
        # Each pass: the connector's pull, every due bucket, then its deliver.
        one_pass = [
            ("pull", "tiny"),
            *(("due", b) for b in range(DUE_BUCKETS)),
            ("deliver", "tiny"),
        ]
        assert ran == one_pass * 2
        assert _writes(new_fake) == _writes(old_fake)
        assert max(_writes(new_fake).values()) == 1
    finally:
        for rt in (old, new):
            rt.store.close()
            rt.pack.close()


def test_a_dry_pass_evaluates_each_due_ticket_once_across_the_buckets(
    fakes: tuple[TinyFake, TinyFake], tmp_path: Path
) -> None:
    fake, _ = fakes
    # Twenty tickets opened on March 5 like ticket 5: each has a threshold ahead at FIRST,
    # and their due rows fall in several buckets.
    for i in range(6, 26):
        fake.tickets[str(i)] = {**fake.tickets["5"], "id": i, "tags": [], "comments": []}
    rt = _runtime(f"sqlite:///{tmp_path / 's.db'}", fake, "embedded", tmp_path)
    try:
        SyncPass(rt, clock=lambda: FIRST, escalate_from=_cutoffs(rt)).run_once()
        due = rt.store.due_before(LATER, 1000, connector="tiny")
        assert len({due_bucket("tiny", d.ticket_id) for d in due}) > 1  # several buckets
        dry = SyncPass(rt, dry_run=True, clock=lambda: LATER, escalate_from=_cutoffs(rt))
        summary = dry.run_once()
        # Sixteen due jobs, one look at the index: each due ticket evaluated once.
        assert summary.reevaluated == len(due)
    finally:
        rt.store.close()
        rt.pack.close()


class Writer(Urgent):
    """A connector that writes and cannot read (no read capability)."""

    capabilities = frozenset({Capability.WRITE_BACK})


def test_a_pull_job_reads_nothing_from_a_connector_that_cannot_read(
    fakes: tuple[TinyFake, TinyFake], tmp_path: Path
) -> None:
    fake, _ = fakes
    rt = _runtime(f"sqlite:///{tmp_path / 's.db'}", fake, "embedded", tmp_path)
    conn = rt.connectors["tiny"]
    writer = Writer(conn.config, instance="tiny")
    rt = Runtime(settings=rt.settings, store=rt.store, pack=rt.pack, connectors={"tiny": writer})
    try:
        summary = JOBS["pull"](JobContext(rt), "tiny")
        assert summary.tickets_read == 0
        assert writer.http.stats.reads == 0
        assert rt.store.get_cursor("tiny") is None
    finally:
        rt.store.close()
        rt.pack.close()


def _cutoffs(rt: Runtime) -> dict[str, datetime | None]:
    return dict(rt.settings.escalate_from)


def test_the_embedded_webhook_worker_runs_due_and_deliver_through_the_jobs(
    fakes: tuple[TinyFake, TinyFake], tmp_path: Path
) -> None:
    from slaplug.web.worker import Worker

    fake, _ = fakes
    rt = _runtime(f"sqlite:///{tmp_path / 's.db'}", fake, "embedded", tmp_path)
    try:
        SyncPass(rt, clock=lambda: FIRST, escalate_from=_cutoffs(rt)).run_once()
        before = _writes(fake)
        assert rt.store.due_before(LATER, 1000, connector="tiny")  # a threshold ahead
        worker = Worker(
            rt.store,
            rt.pack,
            rt.connectors,
            clock=lambda: LATER,
            escalate_from=_cutoffs(rt),
            outbox_every=0,
        )
        ran: list[tuple[str, Any]] = []
        ctx = JobContext(rt, make_sync=lambda: worker.sync, make_worker=lambda: worker)

        def run(job: str, arg: Any) -> Any:
            ran.append((job, arg))
            return JOBS[job](ctx, arg)

        worker.use_jobs(run, due_every=0)
        assert worker._round() == 0  # no delivery waiting
        assert ran == [
            ("drain", "tiny"),
            ("deliver", "tiny"),
            *(("due", b) for b in range(DUE_BUCKETS)),
        ]
        # The threshold that passed is evaluated and escalated without a sync.
        assert rt.store.due_before(LATER, 1000, connector="tiny") == []
        after = _writes(fake)
        assert after != before and max(after.values()) == 1
    finally:
        rt.store.close()
        rt.pack.close()


def _two_connectors(rt: Runtime, first: TinyFake, second: TinyFake) -> Runtime:
    """``rt`` with connectors ``a`` (on ``first``) and ``b`` (on ``second``), in that order."""
    from dataclasses import replace

    from tinydesk import TinyConfig

    conns = {
        name: Urgent(TinyConfig(base_url=f.base_url, api_token_env="TINY_TOKEN"), instance=name)
        for name, f in (("a", first), ("b", second))
    }
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    settings = replace(rt.settings, escalate_from={"a": cutoff, "b": cutoff})
    return replace(rt, settings=settings, connectors=conns)


def test_a_due_bucket_goes_on_past_a_connector_whose_helpdesk_fails(
    fakes: tuple[TinyFake, TinyFake], tmp_path: Path
) -> None:
    """The distributed ``due(bucket)`` job spans connectors: one helpdesk refusing its writes
    must not keep the others' due tickets (and their writes) waiting behind it."""
    from slaplug.errors import ConnectorError

    failing, working = fakes
    for fake in fakes:  # tickets like ticket 5, with thresholds ahead at FIRST: many buckets
        for i in range(6, 26):
            fake.tickets[str(i)] = {**fake.tickets["5"], "id": i, "tags": [], "comments": []}
    rt = _two_connectors(
        _runtime(f"sqlite:///{tmp_path / 's.db'}", failing, "embedded", tmp_path),
        failing,
        working,
    )
    try:
        SyncPass(rt, clock=lambda: FIRST, escalate_from=_cutoffs(rt)).run_once()
        due = {n: rt.store.due_before(LATER, 1000, connector=n) for n in ("a", "b")}
        shared = {due_bucket("a", d.ticket_id) for d in due["a"]} & {
            due_bucket("b", d.ticket_id) for d in due["b"]
        }
        assert shared, "no bucket holds both connectors' due tickets: the test shows nothing"
        before = _writes(working)
        failing.set_faults(1.0, [401])  # a's credentials revoked: every write refused
        ctx = JobContext(rt, clock=lambda: LATER)  # a worker's context: every connector
        errors: list[str] = []
        for bucket in range(DUE_BUCKETS):
            try:
                JOBS["due"](ctx, bucket)
            except ConnectorError as exc:
                errors.append(str(exc))
        # b's due tickets were all evaluated and their escalations written...
        assert rt.store.due_before(LATER, 1000, connector="b") == []
        assert _writes(working) != before
        # ...and each bucket job that met a's failure was failed with a's error (retried).
        assert errors and all("'a'" in e for e in errors), errors
    finally:
        rt.store.close()
        rt.pack.close()
