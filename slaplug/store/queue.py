"""The leased work queue the outbox and the webhook inbox share.

Both tables hold work that workers claim with a lease, try, and either finish, retry after a
backoff, or park as a dead letter after the last attempt. They share the columns this module
works on: ``state`` (pending, leased, dead; the inbox adds done), ``attempts``,
``next_try_at``, ``lease_owner``, ``lease_until``, ``last_error`` and ``dead_at``. What one of
them alone has stays in its own module: the outbox's ledger, live-field ordering and hook
lanes (`slaplug.store.outbox`), the inbox's de-duplication, done rows and purge
(`slaplug.store.inbox`).

A `LeasedQueue` describes one such table; its operations take the store, which supplies the
transactions and the retry and lease settings, so one description serves every store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Column, Connection, Table, and_, func, or_, select, update

from slaplug.store._base import StoreBase, StoreSettings, aware, chunks

__all__ = ["LeasedQueue"]

#: The id type of a queue's rows: the outbox's idempotency keys, the inbox's row ids.
K = TypeVar("K", str, int)

#: The states in which a row still waits for work (the others are dead and, inbox, done).
_OPEN = ("pending", "leased")


@dataclass(frozen=True)
class LeasedQueue(Generic[K]):
    """A table of leased work, and the operations on it both queues run the same way.

    Attributes:
        table: The table (``outbox`` or ``inbox``), with the columns the module names.
        id_col: Its key column.
        name: Names its leases in logs and its heartbeat thread ("outbox", "inbox").
        max_attempts: Picks the claims a row gets before it is dead from the settings.
    """

    table: Table
    id_col: Column[K]
    name: str
    max_attempts: Callable[[StoreSettings], int]

    def claim(
        self,
        store: StoreBase,
        conn: Connection,
        where: Iterable[Any],
        *,
        limit: int,
        now: datetime,
        worker_id: str,
    ) -> list[K]:
        """Lease up to ``limit`` due rows matching ``where`` to ``worker_id``; returns their ids.

        Runs in the caller's write transaction ``conn``, so the caller can read what it needs
        of the rows (the outbox's ledger entry) in the same one. Due means pending with
        ``next_try_at`` passed, or leased with the lease expired (its worker died). Rows
        whose expired lease used the last attempt become dead letters instead: a row that
        kills its worker every time must not kill workers forever. Oldest ``next_try_at``
        first.

        On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent workers take disjoint rows
        without waiting for each other; on SQLite the caller's ``BEGIN IMMEDIATE`` already
        makes this transaction the only writer (SQLAlchemy leaves FOR UPDATE out there).
        """
        c = self.table.c
        max_attempts = self.max_attempts(store.settings)
        candidates = conn.execute(
            select(self.id_col, c.attempts, c.state)
            .where(
                *where,
                or_(
                    and_(c.state == "pending", c.next_try_at <= now),
                    and_(c.state == "leased", c.lease_until <= now),
                ),
            )
            .order_by(c.next_try_at, self.id_col)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        dead = {
            row[0] for row in candidates if row.state == "leased" and row.attempts >= max_attempts
        }
        take: list[K] = [row[0] for row in candidates if row[0] not in dead]
        if dead:
            conn.execute(
                update(self.table)
                .where(self.id_col.in_(dead))
                .values(
                    state="dead",
                    dead_at=now,
                    lease_owner=None,
                    lease_until=None,
                    last_error=f"the lease of attempt {max_attempts} (the last) expired: "
                    "the worker stopped while holding it",
                )
            )
        if take:
            conn.execute(
                update(self.table)
                .where(self.id_col.in_(take))
                .values(
                    state="leased",
                    lease_owner=worker_id,
                    lease_until=now + store.settings.lease,
                    attempts=c.attempts + 1,
                )
            )
        return take

    def fail(
        self,
        store: StoreBase,
        item_id: K,
        error: str,
        *,
        retry_after: float | None = None,
        now: datetime | None = None,
    ) -> Literal["pending", "dead"] | None:
        """Record a failed attempt: due again after the backoff, or dead after the last one.

        The wait is `StoreSettings.backoff` of the attempts made (claims count them), never
        less than ``retry_after``. ``error`` is stored as it is: the caller scrubs it.

        Returns:
            "pending" when it will be retried, "dead" when it is (or already was) parked,
            None when the row is gone or finished (the inbox's done).
        """
        at = aware(now)
        c = self.table.c
        with store._write() as conn:
            row = conn.execute(
                select(c.attempts, c.state).where(self.id_col == item_id).with_for_update()
            ).one_or_none()
            if row is None:
                return None
            if row.state not in _OPEN:
                return "dead" if row.state == "dead" else None
            cleared = {"lease_owner": None, "lease_until": None, "last_error": error}
            this = update(self.table).where(self.id_col == item_id)
            if row.attempts >= self.max_attempts(store.settings):
                conn.execute(this.values(state="dead", dead_at=at, **cleared))
                return "dead"
            wait = store.settings.backoff(row.attempts, retry_after)
            conn.execute(this.values(state="pending", next_try_at=at + wait, **cleared))
            return "pending"

    def retry_dead(
        self, store: StoreBase, ids: Iterable[K] | None = None, *, now: datetime | None = None
    ) -> int:
        """Requeue dead rows with fresh attempts, due at ``now``: those of ``ids``, or all.

        Returns:
            How many were requeued (an id that is not dead is not counted).
        """
        values = {"state": "pending", "attempts": 0, "next_try_at": aware(now), "dead_at": None}
        dead = self.table.c.state == "dead"
        with store._write() as conn:
            if ids is None:
                return int(conn.execute(update(self.table).where(dead).values(**values)).rowcount)
            count = 0
            for part in chunks(sorted(set(ids))):
                count += conn.execute(
                    update(self.table).where(dead, self.id_col.in_(part)).values(**values)
                ).rowcount
            return count

    def extend_leases(
        self, store: StoreBase, ids: Iterable[K], worker_id: str, *, now: datetime | None = None
    ) -> int:
        """Push the leases ``worker_id`` still holds on ``ids`` to ``now`` + the lease.

        Rows finished meanwhile, or whose lease lapsed and went to another worker, are left
        alone.

        Returns:
            How many leases were extended.
        """
        until = aware(now) + store.settings.lease
        c = self.table.c
        count = 0
        with store._write() as conn:
            for part in chunks(sorted(set(ids))):
                count += conn.execute(
                    update(self.table)
                    .where(self.id_col.in_(part), c.state == "leased", c.lease_owner == worker_id)
                    .values(lease_until=until)
                ).rowcount
        return count

    @contextmanager
    def heartbeat(
        self,
        store: StoreBase,
        ids: Iterable[K],
        worker_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Iterator[None]:
        """Keep extending the leases on ``ids`` while the ``with`` block runs.

        A background thread calls `extend_leases` every third of the lease (see
        `StoreBase._heartbeat`): a batch slower than its lease would otherwise be claimed
        again by another worker while this one still works on it.
        """
        held = sorted(set(ids))
        with store._heartbeat(
            lambda: self.extend_leases(store, held, worker_id, now=clock() if clock else None),
            self.name,
            len(held),
        ):
            yield

    def release_leases(
        self, store: StoreBase, worker_id: str, *, now: datetime | None = None
    ) -> int:
        """Give back every lease ``worker_id`` holds, due at ``now``; the attempts are kept.

        Returns:
            How many leases were released.
        """
        c = self.table.c
        with store._write() as conn:
            result = conn.execute(
                update(self.table)
                .where(c.state == "leased", c.lease_owner == worker_id)
                .values(state="pending", lease_owner=None, lease_until=None, next_try_at=aware(now))
            )
        return int(result.rowcount or 0)

    def counts(self, conn: Connection) -> dict[str, int]:
        """Rows by state, in the caller's transaction; states without rows are left out."""
        state = self.table.c.state
        return {row[0]: row[1] for row in conn.execute(select(state, func.count()).group_by(state))}
