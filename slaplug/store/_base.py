"""What every part of the `Store` shares: the engine, settings, transactions, leases."""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from slaplug.errors import TimeError
from slaplug.store.engine import WRITE

__all__ = ["StoreBase", "StoreSettings", "chunks", "default_worker_id"]

T = TypeVar("T")

log = logging.getLogger("slaplug.store")

#: The shortest pause between two lease extensions, in seconds.
_MIN_HEARTBEAT = 0.05

#: Rows per statement for batched reads and IN lists (SQLite allows 32766 parameters).
BATCH = 500


@dataclass(frozen=True)
class StoreSettings:
    """How the outbox and inbox retry, and how long a claim is held.

    Attributes:
        max_attempts: Claims of one action before it becomes a dead letter.
        backoff_base: The wait after the first failure; it doubles with each attempt.
        backoff_cap: The longest wait between two attempts.
        lease: How long a claimed row stays with its worker. A worker that dies holding it
            makes the row claimable again once the lease expires, so choose it longer than
            the slowest apply (and than the clock skew between hosts).
        inbox_max_attempts: Processing attempts of one webhook delivery before it is dead.
    """

    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    inbox_max_attempts: int = 8

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait before the next try, after ``attempts`` tries.

        Exponential (``base * 2**(attempts-1)``, capped), but never shorter than the
        platform's ``Retry-After``: the platform knows when it will accept us again.
        """
        # The exponent is bounded: timedelta overflows long before anyone waits that long.
        exp: timedelta = self.backoff_base * (2 ** min(max(attempts - 1, 0), 30))
        wait: timedelta = min(exp, self.backoff_cap)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


def default_worker_id() -> str:
    """``host:pid``: names the process holding a lease in `dead_letters` and logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def aware(now: datetime | None) -> datetime:
    """``now``, or the current time; a naive time is refused."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise TimeError(f"{now.isoformat()} has no time zone; pass an aware datetime")
    return now


class StoreBase:
    """The engine and the helpers the store's parts build on.

    Args:
        engine: From `slaplug.store.engine.make_engine`.
        settings: Retry and lease settings.
    """

    #: The one connection every transaction of this store runs on (see `dedicated`); None
    #: for a store that takes a connection of its pool for each transaction.
    _held: Connection | None = None

    def __init__(self, engine: Engine, settings: StoreSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or StoreSettings()
        self.dialect = engine.dialect.name

    @contextmanager
    def dedicated(self, *, busy_timeout_s: float | None = None) -> Iterator[Self]:
        """This store, running every transaction on one connection of its pool, held for the
        ``with`` block: for a thread that must never queue for the pool.

        The acknowledgement path's inbox writer (`slaplug.web.inbox_writer`) holds one. It is
        for one thread at a time, like the connection it holds, and shares this store's
        engine: the block's end lets the connection go; closing it would close this store.

        Args:
            busy_timeout_s: SQLite: this busy timeout on the held connection instead of the
                store's (0: a write that meets another process's lock fails at once, so the
                caller can try again sooner than SQLite's busy handler would). The
                connection is then closed at the end instead of going back to the pool, so
                no other caller gets it with that timeout. Ignored on PostgreSQL.
        """
        with self.engine.connect() as conn:
            retimed = busy_timeout_s is not None and self.dialect == "sqlite"
            if retimed:
                # On the driver's connection: through SQLAlchemy the PRAGMA would begin a
                # transaction (autobegin) that this connection would then have to end.
                raw = conn.connection.driver_connection
                assert raw is not None  # a fresh checkout is connected
                raw.execute(f"PRAGMA busy_timeout={int((busy_timeout_s or 0) * 1000)}")
            view = copy.copy(self)
            view._held = conn
            try:
                yield view
            finally:
                if retimed:
                    conn.invalidate()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction that writes; on SQLite it holds the write lock from its start."""
        if self._held is not None:
            self._held.execution_options(**{WRITE: True})
            with self._held.begin():
                yield self._held
            return
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: one consistent view, no write lock."""
        if self._held is not None:
            self._held.execution_options(**{WRITE: False})
            with self._held.begin():
                yield self._held
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _heartbeat(self, extend: Callable[[], int], what: str, held: int) -> Iterator[None]:
        """Call ``extend`` every third of the lease while the ``with`` block runs.

        A background thread keeps a batch's leases alive, so a lease lapses only if this
        process stops (killed, frozen) for longer than two thirds of it. The block runs on
        if an extension fails (the store is briefly busy): the next one tries again.

        Args:
            extend: Extends the leases; returns how many it extended.
            what: Names the leases in logs (outbox, inbox, due).
            held: How many leases the batch holds.
        """
        interval = max(self.settings.lease.total_seconds() / 3, _MIN_HEARTBEAT)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval):
                try:
                    extended = extend()
                except Exception as exc:  # the next beat tries again
                    log.warning("extending %d %s leases failed: %s", held, what, exc)
                    continue
                if extended < held:
                    # Finished rows lose their lease, so fewer is normal near the end.
                    log.debug("%s heartbeat: %d of %d leases still held", what, extended, held)

        thread = threading.Thread(target=beat, name=f"slaplug-{what}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/update``."""
        # Typed Any: the two dialects' Insert classes share these methods but no base class.
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
