"""The acknowledgement path's store writes: deliveries stored in batches, one commit each.

Every ``202`` waits for its delivery to be durable, so the cost of a commit (a round trip and
an fsync on PostgreSQL, the one write lock and an fsync on SQLite) is paid before each answer.
Paying it once per request made the request threads queue for pool connections and for the
lock, and that queue was the acknowledgement's tail latency.

`InboxWriter` is one thread that owns the inbox inserts of this process. Request threads hand
it their delivery and wait; it takes everything that arrived while its previous commit ran and
stores it with `Store.inbox_put_many` in one transaction (group commit). Nothing waits on a
timer: a lone delivery is written at once, and under load a batch is what piled up during one
commit, so the batch grows exactly as much as the load needs.

On SQLite the worker (another process) shares the one write lock. SQLite's own busy handler
sleeps in growing steps (1, 2, 5, 10... up to 100 ms) before each new try, so a delivery that
met the worker's transaction would wait far longer than the transaction. The writer therefore
holds a connection of its own, taken from the store's pool with `Store.dedicated` and set to
no busy timeout, and tries again every millisecond: the lock goes to the acknowledgement as
soon as the worker's transaction ends. Held for the writer's life, that connection also never
waits for the pool behind the request threads' reads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from slaplug.store import Store

__all__ = ["InboxWriter"]

log = logging.getLogger("slaplug.web")

#: Deliveries stored in one transaction at most (a burst is split into several commits).
MAX_BATCH = 200


@dataclass
class _Pending:
    connector: str
    delivery_id: str
    headers: Mapping[str, str]
    body: bytes
    now: datetime | None
    future: Future[bool]


def _locked(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


class InboxWriter:
    """Stores webhook deliveries in batches on one thread; `inbox_put` blocks until durable.

    Args:
        store: The server's store. On a SQLite file the writer's thread holds one of its
            connections, without a busy timeout (see the module docstring), until `stop`.
        lock_timeout: SQLite: how long a batch tries to get the write lock before its
            deliveries fail (the sender gets 503 and retries).
        max_batch: Deliveries per transaction at most.
    """

    def __init__(self, store: Store, *, lock_timeout: float = 10.0, max_batch: int = MAX_BATCH):
        self._lock_timeout = lock_timeout
        self._max_batch = max_batch
        self._store = store
        # An in-memory database is one connection already, and PostgreSQL has no lock to spin on.
        self._spin = store.dialect == "sqlite" and store.engine.url.database not in (
            None,
            "",
            ":memory:",
        )
        # The writer thread's own: the held connection, opened on its first batch.
        self._held: Store | None = None
        self._resources = ExitStack()
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="slaplug-inbox-writer", daemon=True)
        self._stopped = False
        self._thread.start()

    def submit(
        self,
        connector: str,
        delivery_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> Future[bool]:
        """Queue a delivery; its future says True once stored, False if the id was stored
        before, or raises what the store raised.

        Raises:
            RuntimeError: The writer is stopped.
        """
        future: Future[bool] = Future()
        if self._stopped:
            raise RuntimeError("the inbox writer is stopped")
        self._queue.put(_Pending(connector, delivery_id, headers, body, now, future))
        return future

    def inbox_put(
        self,
        connector: str,
        delivery_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> bool:
        """`Store.inbox_put`, batched with whatever else is being stored (blocks until then)."""
        return self.submit(connector, delivery_id, headers, body, now=now).result()

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then stop the thread (which lets its connection go)."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        with self._resources:
            self._loop()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: Sequence[_Pending]) -> None:
        # One time for the batch: deliveries stored together are received together.
        now = batch[0].now or datetime.now(UTC)
        rows = [(p.connector, p.delivery_id, p.headers, p.body) for p in batch]
        try:
            results = self._with_lock(lambda: self._target().inbox_put_many(rows, now=now))
        except Exception:
            if len(batch) == 1:
                batch[0].future.set_exception(_safe_error())
                log.exception("the inbox could not store a delivery")
                return
            # One bad delivery must not refuse the others: store them one by one.
            log.warning("a batch of %d deliveries failed; storing them one by one", len(batch))
            for p in batch:
                self._write([p])
            return
        for p, stored in zip(batch, results, strict=True):
            p.future.set_result(stored)

    def _target(self) -> Store:
        # Opened here, in the writer's thread and inside its error handling: a store that
        # cannot be reached fails the batch (503s), and the next batch tries again.
        if not self._spin:
            return self._store
        if self._held is None:
            self._held = self._resources.enter_context(self._store.dedicated(busy_timeout_s=0))
        return self._held

    def _with_lock(self, write: Callable[[], list[bool]]) -> list[bool]:
        if not self._spin:
            return write()
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                return write()
            except OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.001)


def _safe_error() -> RuntimeError:
    # The store's exception may quote the statement's parameters (a delivery's headers); the
    # request thread only needs to know that storing failed. The log has the details.
    return RuntimeError("the inbox could not store the delivery")
