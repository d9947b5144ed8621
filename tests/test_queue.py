"""The leased queue the outbox and the webhook inbox share (`slaplug.store.queue`), through
each one's own methods, on SQLite and PostgreSQL.

Every test runs four times: outbox and inbox, SQLite and PostgreSQL. The same sequence of
claims, failures and retries must leave both queues in the same states, with the same
attempts, due times, leases and dead letters: they are one mechanism, not two copies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from store_worker import T0, action
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.store import Store, StoreSettings
from slaplug.store import inbox as inbox_module
from slaplug.store import outbox as outbox_module
from slaplug.store.schema import inbox, outbox

SETTINGS = StoreSettings(
    max_attempts=3,
    inbox_max_attempts=3,
    backoff_base=timedelta(seconds=10),
    backoff_cap=timedelta(seconds=25),
    lease=timedelta(minutes=1),
)


@dataclass
class Queue:
    """One of the two queues, driven through its own public methods."""

    kind: str
    store: Store

    def put(self, n: int, now: datetime) -> None:
        """Queue ``n`` items, the ``i``-th due at ``now + i`` seconds."""
        for i in range(n):
            at = now + timedelta(seconds=i)
            if self.kind == "outbox":
                self.store.plan([action(f"{i}/warn")], now=at)
            else:
                self.store.inbox_put("zd", f"d-{i}", {}, b"{}", now=at)

    def claim(self, now: datetime, worker: str = "w1", limit: int = 50) -> list[tuple[Any, int]]:
        """(id, attempts) of the items leased now, in the queue's order."""
        if self.kind == "outbox":
            claims = self.store.outbox_claim("zd", limit, now=now, worker_id=worker)
            return [(c.key, c.attempts) for c in claims]
        items = self.store.inbox_claim(limit, now=now, worker_id=worker)
        return [(i.id, i.attempts) for i in items]

    def fail(self, item: Any, error: str, now: datetime, retry_after: float | None = None) -> Any:
        if self.kind == "outbox":
            return self.store.outbox_fail(item, error, retry_after=retry_after, now=now)
        return self.store.inbox_fail(item, error, retry_after=retry_after, now=now)

    def retry_dead(self, ids: list[Any] | None, now: datetime) -> int:
        if self.kind == "outbox":
            return self.store.outbox_retry_dead(ids, now=now)
        return self.store.inbox_retry_dead(ids, now=now)

    def extend(self, ids: list[Any], worker: str, now: datetime) -> int:
        if self.kind == "outbox":
            return self.store.outbox_extend_leases(ids, worker, now=now)
        return self.store.inbox_extend_leases(ids, worker, now=now)

    def heartbeat(self, ids: list[Any], worker: str, clock: Any) -> Any:
        if self.kind == "outbox":
            return self.store.outbox_lease_heartbeat(ids, worker, clock=clock)
        return self.store.inbox_lease_heartbeat(ids, worker, clock=clock)

    def dead(self) -> list[tuple[Any, int, str | None, datetime | None]]:
        """(id, attempts, last error, dead at) of each dead letter, oldest first."""
        if self.kind == "outbox":
            return [
                (d.key, d.attempts, d.last_error, d.dead_at)
                for d in self.store.outbox_dead_letters()
            ]
        return [
            (e.id, e.attempts, e.last_error, e.dead_at)
            for e in self.store.inbox_list(states=("dead",))
        ]

    def stats(self) -> dict[str, int]:
        """Items by state, states without items left out."""
        if self.kind == "outbox":
            s = self.store.outbox_stats()
            counts = {"pending": s.pending, "leased": s.leased, "dead": s.dead}
            return {k: v for k, v in counts.items() if v}
        return self.store.inbox_stats()

    def lease_until(self, item: Any) -> datetime:
        table, col = (outbox, outbox.c.key) if self.kind == "outbox" else (inbox, inbox.c.id)
        with self.store.engine.connect() as conn:
            value: datetime = conn.execute(
                select(table.c.lease_until).where(col == item)
            ).scalar_one()
        return value


@pytest.fixture(params=["outbox", "inbox"])
def queue(request: pytest.FixtureRequest, url: str) -> Iterator[Queue]:  # noqa: F811
    with Store.open(url, settings=SETTINGS) as store:
        yield Queue(request.param, store)


def test_claims_lease_each_item_to_one_worker_until_the_lease_lapses(queue: Queue) -> None:
    queue.put(3, T0)
    first = queue.claim(T0 + timedelta(seconds=1), "w1", limit=1)
    assert [attempts for _, attempts in first] == [1]
    # Only due items, oldest first: the third is due at T0 + 2 s.
    second = queue.claim(T0 + timedelta(seconds=1), "w2")
    assert len(second) == 1 and second[0][0] != first[0][0]
    assert queue.stats() == {"pending": 1, "leased": 2}
    lease = SETTINGS.lease
    # Only the holder extends a lease; the other worker's extension is a no-op.
    [(held, _)] = first
    assert queue.extend([held], "w2", T0 + timedelta(seconds=30)) == 0
    assert queue.extend([held], "w1", T0 + timedelta(seconds=30)) == 1
    # At T0 + lease the second item's lease has lapsed, the first (extended) holds.
    later = queue.claim(T0 + lease + timedelta(seconds=1), "w3")
    assert [attempts for _, attempts in later] == [2, 1]  # the lapsed one, then the third
    assert later[0][0] == second[0][0] and held not in [item for item, _ in later]
    assert queue.claim(T0 + timedelta(seconds=31) + lease, "w4") == [(held, 2)]


def test_failures_back_off_then_park_and_dead_letters_come_back(queue: Queue) -> None:
    queue.put(1, T0)
    [(item, _)] = queue.claim(T0)
    assert queue.fail(item, "503", T0) == "pending"
    assert queue.stats() == {"pending": 1}
    assert queue.claim(T0 + timedelta(seconds=9)) == []  # backoff: 10 s after attempt 1
    t1 = T0 + timedelta(seconds=10)
    assert queue.claim(t1) == [(item, 2)]
    # The backoff would be 20 s; the platform asked for 100.
    assert queue.fail(item, "429", t1, retry_after=100) == "pending"
    assert queue.claim(t1 + timedelta(seconds=99)) == []
    t2 = t1 + timedelta(seconds=100)
    assert queue.claim(t2) == [(item, 3)]
    assert queue.fail(item, "timeout", t2) == "dead"  # the third of three attempts
    assert queue.fail(item, "again", t2) == "dead"  # parked stays parked, error kept
    assert queue.claim(t2 + timedelta(days=30)) == []
    assert queue.dead() == [(item, 3, "timeout", t2)]
    assert queue.stats() == {"dead": 1}
    other = "nope/warn" if queue.kind == "outbox" else 10**9
    assert queue.fail(other, "x", t2) is None
    assert queue.retry_dead([other], t2) == 0
    # Any number of ids (SQLite allows 32,766 parameters a statement, PostgreSQL 65,535).
    many = [f"{i}/x" for i in range(70_000)] if queue.kind == "outbox" else list(range(70_000))
    assert queue.retry_dead([*many, item], t2) == 1
    assert queue.claim(t2) == [(item, 1)]  # fresh attempts, due at once
    assert queue.fail(item, "still down", t2) == "pending"
    assert queue.retry_dead(None, t2) == 0  # nothing dead now


def test_a_lapsed_lease_on_the_last_attempt_is_a_dead_letter(queue: Queue) -> None:
    queue.put(1, T0)
    now = T0
    for attempt in (1, 2, 3):  # the worker dies holding each lease
        [(item, attempts)] = queue.claim(now, f"dies-{attempt}")
        assert attempts == attempt
        now += SETTINGS.lease
    assert queue.claim(now, "heir") == []
    [(dead, attempts, error, dead_at)] = queue.dead()
    assert (dead, attempts, dead_at) == (item, 3, now)
    assert error is not None and "lease of attempt 3 (the last) expired" in error


def test_the_heartbeat_keeps_extending_the_holders_leases(url: str) -> None:  # noqa: F811
    # A real thread on a real clock: a lease of 0.3 s is extended every 0.1 s.
    settings = StoreSettings(lease=timedelta(seconds=0.3))
    later = T0 + timedelta(hours=1)
    with Store.open(url, settings=settings) as store:
        for kind in ("outbox", "inbox"):
            queue = Queue(kind, store)
            queue.put(1, T0)
            [(item, _)] = queue.claim(T0, "w1")
            with queue.heartbeat([item], "w1", clock=lambda: later):
                deadline = time.monotonic() + 10
                while queue.lease_until(item) != later + settings.lease:
                    assert time.monotonic() < deadline, "no extension within 10 s"
                    time.sleep(0.02)
                assert queue.claim(later, "w2") == []  # still held
            assert queue.claim(later + settings.lease, "w2") == [(item, 2)]


def test_concurrent_claims_skip_rows_another_claim_holds(queue: Queue) -> None:
    store = queue.store
    if store.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time; skipping locked rows is PostgreSQL's")
    leased = outbox_module.QUEUE if queue.kind == "outbox" else inbox_module.QUEUE
    queue.put(4, T0)
    now = T0 + timedelta(seconds=10)  # all four due
    holding, release = threading.Event(), threading.Event()
    taken: list[Any] = []

    def hold() -> None:
        with store._write() as conn:  # a claim whose transaction has not committed yet
            taken.extend(leased.claim(store, conn, [], limit=2, now=now, worker_id="a"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        other = queue.claim(now, "b")
        assert time.monotonic() - started < 5, "the second claim waited for the first"
    finally:
        release.set()
        thread.join(10)
    assert len(taken) == 2 and len(other) == 2
    assert not {item for item, _ in other} & set(taken)
