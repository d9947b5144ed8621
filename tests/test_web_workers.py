"""The acknowledgement path's batching inbox writer and the worker-process supervisor.

* `InboxWriter` stores what arrives together in one transaction, answers each delivery as
  `Store.inbox_put` would (duplicates within a batch included), keeps one bad delivery from
  refusing the rest, and on SQLite takes the write lock as soon as another process frees it.
* `WorkerSupervisor` starts its workers, wakes them, restarts one that dies (without the crash
  point that killed it), and stops them with itself.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from slaplug.store import Store
from slaplug.web.inbox_writer import InboxWriter
from slaplug.web.processes import READY_FD_ENV, WorkerSupervisor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'slaplug.db'}") as s:
        yield s


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
    return result


def test_inbox_put_many_answers_each_delivery_like_inbox_put(store: Store) -> None:
    assert store.inbox_put("z", "a", {}, b"0")
    got = store.inbox_put_many(
        [
            ("z", "a", {}, b"1"),
            ("z", "b", {"x": "y"}, b"2"),
            ("z", "b", {}, b"3"),
            ("j", "b", {}, b"4"),
        ]
    )
    assert got == [False, True, False, True]
    assert store.inbox_put_many([]) == []
    bodies = sorted(item.body for item in store.inbox_claim(10))
    assert bodies == [b"0", b"2", b"4"], "the first of each id is kept"


def test_writer_batches_concurrent_deliveries_and_dedupes_them(store: Store) -> None:
    writer = InboxWriter(store)
    try:
        ids = [f"d-{i % 150}" for i in range(200)]  # 50 of them repeat an earlier id
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda d: writer.inbox_put("z", d, {}, d.encode()), ids))
        assert sum(results) == 150
        for delivery_id in set(ids):
            answers = [r for d, r in zip(ids, results, strict=True) if d == delivery_id]
            assert answers.count(True) == 1, (delivery_id, answers)
        assert store.inbox_stats() == {"pending": 150}
    finally:
        writer.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        writer.inbox_put("z", "late", {}, b"")


def test_one_bad_delivery_does_not_refuse_the_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = InboxWriter(store)
    real = Store.inbox_put_many

    def picky(self: Store, deliveries: Any, **kw: Any) -> list[bool]:
        if any(d[1] == "poison" for d in deliveries):
            raise ValueError("secret-looking detail that must not reach the caller")
        return real(self, deliveries, **kw)

    monkeypatch.setattr(Store, "inbox_put_many", picky)
    try:
        futures = [writer.submit("z", d, {}, b"") for d in ("ok-1", "poison", "ok-2")]
        assert futures[0].result(10) is True and futures[2].result(10) is True
        with pytest.raises(RuntimeError) as caught:
            futures[1].result(10)
        assert "secret" not in str(caught.value)
    finally:
        writer.stop()


def test_writer_takes_the_sqlite_lock_as_soon_as_another_process_frees_it(
    store: Store, tmp_path: Path
) -> None:
    writer = InboxWriter(store)
    other = sqlite3.connect(tmp_path / "slaplug.db", isolation_level=None, check_same_thread=False)
    try:
        assert writer.inbox_put("z", "warm-up", {}, b"")
        other.execute("BEGIN IMMEDIATE")  # a worker's transaction holds the write lock
        released: list[float] = []

        def release() -> None:
            time.sleep(0.3)
            other.execute("COMMIT")
            released.append(time.monotonic())

        threading.Thread(target=release).start()
        assert writer.inbox_put("z", "waiting", {}, b"")
        stored_at = time.monotonic()
        assert released, "stored while the lock was held"
        # SQLite's own busy handler would sleep up to 100 ms between tries.
        assert stored_at - released[0] < 0.05
    finally:
        writer.stop()
        other.close()


def test_writer_holds_one_connection_of_the_stores_own_pool(store: Store) -> None:
    # Not an engine of its own: one connection of the store's pool, without a busy timeout,
    # held while the writer runs and closed (never handed back to others) when it stops.
    def busy_timeout() -> int:
        with store.engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())

    writer = InboxWriter(store)
    try:
        assert writer.inbox_put("z", "a", {}, b"")
        assert store.engine.pool.checkedout() == 1
        assert busy_timeout() == 30_000  # the pool's other connections keep the store's
    finally:
        writer.stop()
    assert store.engine.pool.checkedout() == 0
    assert [busy_timeout() for _ in range(3)] == [30_000] * 3


# -- the supervisor -----------------------------------------------------------------------------

#: A stand-in worker: says it is ready, records each wake-up, stops when its stdin closes.
FAKE_WORKER = f"""
import os, sys
out = open(sys.argv[1], "a")
out.write("start crash=%s\\n" % os.environ.get("SLAPLUG_CRASH_AT", "-"))
out.flush()
fd = os.environ.get("{READY_FD_ENV}")
if fd:
    os.write(int(fd), b"ready")
while data := os.read(0, 4096):
    out.write("wake\\n")
    out.flush()
out.write("eof\\n")
"""


def _log(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_supervisor_wakes_restarts_and_stops_its_workers(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "SLAPLUG_CRASH_AT": "inbox-claimed"}
    sup = WorkerSupervisor(
        [sys.executable, "-c", FAKE_WORKER, str(log)], 1, env=env, restart_delay=0.05
    )
    sup.start()
    try:
        _wait_for(lambda: sup.running == 1, 10, "the worker to be ready")
        assert sup.alive
        sup.wake()
        _wait_for(lambda: "wake" in _log(log), 10, "the wake-up")

        [pid] = sup.pids
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: sup.pids and sup.pids != [pid], 10, "the restart")
        _wait_for(lambda: sup.running == 1, 10, "the restarted worker to be ready")
        assert sup.restarts == 1
        # The crash point simulated one crash: the replacement runs without it.
        assert [line for line in _log(log) if line.startswith("crash=")] == [
            "crash=inbox-claimed",
            "crash=-",
        ]
    finally:
        sup.stop()
    assert sup.running == 0 and sup.pids == []
    assert not sup.alive


def test_supervisor_backs_off_a_worker_that_keeps_dying(tmp_path: Path) -> None:
    sup = WorkerSupervisor(
        [sys.executable, "-c", "raise SystemExit(3)"], 1, restart_delay=0.05, max_restart_delay=0.4
    )
    sup.start()
    try:
        time.sleep(1.5)
    finally:
        sup.stop()
    # Delays 0.05, 0.1, 0.2, 0.4, 0.4...: a handful of restarts, not one per check.
    assert 2 <= sup.restarts <= 8, sup.restarts


def test_no_workers_means_nothing_to_supervise() -> None:
    sup = WorkerSupervisor(["false"], 0)
    sup.start()
    assert sup.alive and sup.running == 0 and sup.pids == []
    sup.wake()
    sup.stop()
    with pytest.raises(ValueError):
        WorkerSupervisor(["false"], -1)
