"""The job functions on both engines: in-process (embedded) and procrastinate (distributed).

One scenario, run by each engine against the tinydesk fake over real HTTP: a round of jobs
(pull, deliver, drain per connector, every due bucket) reads every ticket once, writes each
escalation once, commits the cursor; a second round reads one page and writes nothing.
procrastinate runs on the test PostgreSQL, its tables in a schema of their own.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_store import pg_database  # noqa: F401  (fixture: a database for this run)
from tinydesk import WEBHOOK_SECRET, TinyConfig, TinyConnector, TinyFake

from slaplug.config import Settings, WorkOptions
from slaplug.connectors import sign
from slaplug.jobs import JobContext
from slaplug.jobs.engine import QUEUE, Enqueuer, apply_schema, build_app, conninfo, cron
from slaplug.jobs.local import LocalExecutor
from slaplug.model import Ticket
from slaplug.rules.pack import RulePack
from slaplug.runtime import Runtime
from slaplug.store import Store
from slaplug.store.tickets import DUE_BUCKETS

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "default.yaml"
ROUND = [("pull", "tiny"), ("deliver", "tiny"), ("drain", "tiny")] + [
    ("due", b) for b in range(DUE_BUCKETS)
]


@pytest.fixture
def pg_url(pg_database: str) -> str:  # noqa: F811
    """A store URL in a fresh schema (procrastinate's tables go there too)."""
    import psycopg

    # A random name: ``id(object())`` of a freed object comes back, and two tests of one
    # process then asked for the same schema (DuplicateSchema).
    schema = f"jobs_{os.getpid()}_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[TinyFake]:
    monkeypatch.setenv("TINY_TOKEN", "tiny-s3cret-token-0042")
    monkeypatch.setenv("TINY_HOOK", WEBHOOK_SECRET)
    with TinyFake() as f:
        yield f


class Urgent(TinyConnector):
    """Tinydesk tickets are all urgent here, so the shipped rules measure them."""

    def _ticket(self, raw: Any) -> Ticket:
        return replace(super()._ticket(raw), priority="urgent")


def _runtime(url: str, fake: TinyFake, engine: str, tmp_path: Path) -> Runtime:
    settings = Settings(
        path=tmp_path / "slaplug.yaml",
        store=url,
        rules=[RULES],
        engine="python",
        work=WorkOptions(engine=engine),  # type: ignore[arg-type]
        # Backfill: escalate what the tinydesk tickets crossed in March (not only from now).
        escalate_from={"tiny": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    config = TinyConfig(
        base_url=fake.base_url, api_token_env="TINY_TOKEN", webhook_secret_env=["TINY_HOOK"]
    )
    return Runtime(
        settings=settings,
        store=Store.open(url),
        pack=RulePack.load([RULES], engine="python"),
        connectors={"tiny": Urgent(config, instance="tiny")},
    )


def _writes(fake: TinyFake) -> Counter[str]:
    """Every write the fake received, by (ticket, what): a count above 1 is a duplicate."""
    seen: Counter[str] = Counter()
    for t in fake.tickets.values():
        seen.update(f"{t['id']}:tag:{tag}" for tag in t["tags"])
        seen.update(f"{t['id']}:comment:{c['key']}" for c in t["comments"])
    return seen


def _check_round(fake: TinyFake, rt: Runtime, run: Any) -> None:
    run()
    first = _writes(fake)
    assert first, "the default rules escalate the tinydesk tickets"
    assert max(first.values()) == 1
    assert rt.store.get_cursor("tiny") is not None
    reads = rt.connectors["tiny"].http.stats.reads
    run()
    assert _writes(fake) == first  # nothing new, nothing twice
    assert rt.store.outbox_stats().pending == 0
    # One page from the cursor; no ticket re-read, the due thresholds come from snapshots.
    assert rt.connectors["tiny"].http.stats.reads - reads == 1


def test_the_embedded_engine_runs_a_round_in_process(fake: TinyFake, tmp_path: Path) -> None:
    rt = _runtime(f"sqlite:///{tmp_path / 's.db'}", fake, "embedded", tmp_path)
    executor = LocalExecutor(JobContext(rt))

    def run() -> None:
        executor.tick(["tiny"])
        assert executor.defer("pull", "tiny") is False  # one waiting per lane: coalesced
        assert executor.run_pending() == len(ROUND)

    try:
        _check_round(fake, rt, run)
        assert executor.failures == []
    finally:
        rt.store.close()
        rt.pack.close()


def test_procrastinate_runs_the_same_round_with_one_job_waiting_per_lane(
    fake: TinyFake, tmp_path: Path, pg_url: str
) -> None:
    pytest.importorskip("procrastinate")
    rt = _runtime(pg_url, fake, "procrastinate", tmp_path)
    ctx = JobContext(rt)
    info = conninfo(pg_url)
    assert apply_schema(info) is True
    assert apply_schema(info) is False  # idempotent: a second worker starting finds it
    app = build_app(rt.settings, lambda: ctx, info=info)

    def run() -> None:
        with app.open():
            enqueuer = Enqueuer(app)
            assert enqueuer.defer_many(ROUND) == len(ROUND)
            assert enqueuer.defer("pull", "tiny") is False  # its lane has one waiting
        app.run_worker(
            queues=[QUEUE], wait=False, install_signal_handlers=False, delete_jobs="never"
        )

    try:
        _check_round(fake, rt, run)
        import psycopg

        with psycopg.connect(info) as conn:
            statuses = dict(
                conn.execute(
                    "SELECT status, count(*) FROM procrastinate_jobs GROUP BY status"
                ).fetchall()
            )
        # Every job succeeded (the periodic ticks, which the worker also ran, queue more).
        assert set(statuses) == {"succeeded"} and statuses["succeeded"] >= 2 * len(ROUND)
    finally:
        rt.store.close()
        rt.pack.close()


def test_a_stored_delivery_queues_its_connectors_drain_once(
    fake: TinyFake, tmp_path: Path, pg_url: str
) -> None:
    pytest.importorskip("procrastinate")
    rt = _runtime(pg_url, fake, "procrastinate", tmp_path)
    info = conninfo(pg_url)
    apply_schema(info)
    app = build_app(rt.settings, lambda: JobContext(rt), info=info)
    body = json.dumps({"id": "d-1", "ticket_id": "2", "type": "ticket.updated"}).encode()
    headers = {"X-Tiny-Signature": "sha256=" + sign(WEBHOOK_SECRET, body, encoding="hex")}
    try:
        assert rt.store.inbox_put("tiny", "d-1", headers, body)
        with app.open():
            pool = Enqueuer(app)
            pool.wake_lane("tiny")
            pool.wake_lane("tiny")  # a burst of deliveries: one drain waits
        app.run_worker(queues=[QUEUE], wait=False, install_signal_handlers=False)
        assert rt.store.inbox_stats() == {"done": 1}
    finally:
        rt.store.close()
        rt.pack.close()


def test_periodic_ticks_follow_the_configured_intervals() -> None:
    from croniter import croniter

    def gaps(expr: str) -> set[float]:
        it = croniter(expr, 0)
        times = [it.get_next(float) for _ in range(5)]
        return {b - a for a, b in itertools.pairwise(times)}

    assert gaps(cron(30)) == {30.0}
    assert gaps(cron(300)) == {300.0}
    assert gaps(cron(7200)) == {3600.0}  # at most hourly
    assert gaps(cron(0.2)) == {1.0}


def test_slaplug_worker_refuses_the_embedded_engine_and_sqlite(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from slaplug.cli import main

    config = tmp_path / "slaplug.yaml"
    config.write_text(f"store: sqlite:///{tmp_path / 's.db'}\nrules: [{RULES}]\n")
    result = CliRunner().invoke(main, ["worker", "--config", str(config)])
    assert result.exit_code == 2
    assert "set work.engine: procrastinate" in result.output
    assert "Traceback" not in result.output
    config.write_text(
        f"store: sqlite:///{tmp_path / 's.db'}\nrules: [{RULES}]\nwork:\n  engine: procrastinate\n"
    )
    result = CliRunner().invoke(main, ["worker", "--config", str(config)])
    assert result.exit_code == 2
    assert "slaplug.yaml:4:" in result.output and "postgresql://" in result.output


def test_a_failed_job_is_kept_for_inspection_then_pruned(
    fake: TinyFake, tmp_path: Path, pg_url: str
) -> None:
    """Successful jobs are deleted as they end; failed ones (an error, or a dead worker's job
    dropped by ``recover``) stay ``work.keep_failed_jobs``, then the hourly ``prune`` job
    deletes them, so ``procrastinate_jobs`` does not grow for ever."""
    pytest.importorskip("procrastinate")
    import asyncio

    import psycopg

    from slaplug.jobs.engine import delete_ended_jobs

    rt = _runtime(pg_url, fake, "procrastinate", tmp_path)
    info = conninfo(pg_url)
    apply_schema(info)
    app = build_app(rt.settings, lambda: JobContext(rt), info=info, periodic=False)

    def failed() -> int:
        with psycopg.connect(info) as conn:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'"
            ).fetchone()
        return int(row[0]) if row else 0

    async def prune() -> None:
        async with app.open_async():
            await delete_ended_jobs(app, 168)

    try:
        with app.open():
            assert Enqueuer(app).defer("due", DUE_BUCKETS)  # out of range: the job fails
        app.run_worker(
            queues=[QUEUE], wait=False, install_signal_handlers=False, delete_jobs="successful"
        )
        assert failed() == 1
        asyncio.run(prune())
        assert failed() == 1, "a failed job younger than keep_failed_jobs stays"
        with psycopg.connect(info) as conn:  # as if it had failed eight days ago
            conn.execute("UPDATE procrastinate_events SET at = at - interval '8 days'")
        asyncio.run(prune())
        assert failed() == 0
    finally:
        rt.store.close()
        rt.pack.close()
    # The worker's periodic jobs include the hourly prune.
    assert "slaplug.prune" in build_app(rt.settings, lambda: JobContext(rt), info=info).tasks
