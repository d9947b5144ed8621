"""The webhook inbox: deliveries stored before the 202, de-duplicated, processed at least once.

The web handler calls `inbox_put` and answers 202 only after it returns, so an accepted
delivery survives a crash; a platform's retry of the same delivery (same id) is recognised
and dropped. Workers then claim, process and mark items done, with leases and retries as in
the outbox. Done items are kept (their ids keep catching late retries) until `inbox_purge`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select, update

from slaplug.store._base import StoreBase, aware, chunks, default_worker_id
from slaplug.store.codec import dumps
from slaplug.store.queue import LeasedQueue
from slaplug.store.schema import inbox

__all__ = ["InboxEntry", "InboxItem", "InboxMixin"]

#: The inbox's claims, leases, retries and dead letters: the queue the outbox shares.
QUEUE: LeasedQueue[int] = LeasedQueue(
    inbox, inbox.c.id, "inbox", lambda settings: settings.inbox_max_attempts
)


@dataclass(frozen=True)
class InboxItem:
    """A stored webhook delivery, claimed for processing.

    Attributes:
        id: The inbox row's id (pass it to `inbox_done` or `inbox_fail`).
        connector: The connector the delivery came to.
        delivery_id: The platform's delivery id.
        headers: The request headers as stored.
        body: The raw request body.
        received_at: When it was stored.
        attempts: This claim included.
    """

    id: int
    connector: str
    delivery_id: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    attempts: int


@dataclass(frozen=True)
class InboxEntry:
    """A stored delivery as `inbox_list` shows it: where it stands, never its body.

    Attributes:
        id: The inbox row's id.
        connector: The connector the delivery came to.
        delivery_id: The platform's delivery id.
        state: pending, leased, done or dead.
        attempts: Processing attempts so far.
        received_at: When it was stored.
        last_error: Why the last attempt failed (None if none did).
        dead_at: When it was parked (dead only).
    """

    id: int
    connector: str
    delivery_id: str
    state: str
    attempts: int
    received_at: datetime
    last_error: str | None
    dead_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, times in ISO 8601."""
        return {
            "id": self.id,
            "connector": self.connector,
            "delivery_id": self.delivery_id,
            "state": self.state,
            "attempts": self.attempts,
            "received_at": self.received_at.isoformat(),
            "last_error": self.last_error,
            "dead_at": self.dead_at.isoformat() if self.dead_at else None,
        }


class InboxMixin(StoreBase):
    """Webhook inbox."""

    def inbox_put(
        self,
        connector: str,
        delivery_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Store a verified delivery, durably, before answering the sender.

        Returns:
            True if stored; False if a delivery with this id was stored before (a retry).
        """
        at = aware(now)
        stmt = (
            self._insert(inbox)
            .values(
                connector=connector,
                delivery_id=delivery_id,
                headers=dumps(dict(headers)),
                body=bytes(body),
                received_at=at,
                state="pending",
                attempts=0,
                next_try_at=at,
            )
            .on_conflict_do_nothing(index_elements=[inbox.c.connector, inbox.c.delivery_id])
            .returning(inbox.c.id)
        )
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def inbox_put_many(
        self,
        deliveries: Sequence[tuple[str, str, Mapping[str, str], bytes]],
        *,
        now: datetime | None = None,
    ) -> list[bool]:
        """Store several verified deliveries in one transaction (one commit, one fsync).

        Args:
            deliveries: ``(connector, delivery_id, headers, body)`` each.

        Returns:
            For each delivery, in order, what `inbox_put` would have returned: True if it was
            stored, False if its id was stored before, or earlier in ``deliveries``.
        """
        at = aware(now)
        first: dict[tuple[str, str], int] = {}
        rows = []
        for i, (connector, delivery_id, headers, body) in enumerate(deliveries):
            if (connector, delivery_id) in first:
                continue
            first[(connector, delivery_id)] = i
            rows.append(
                {
                    "connector": connector,
                    "delivery_id": delivery_id,
                    "headers": dumps(dict(headers)),
                    "body": bytes(body),
                    "received_at": at,
                    "state": "pending",
                    "attempts": 0,
                    "next_try_at": at,
                }
            )
        stored: set[int] = set()
        if rows:
            # An executemany: SQLAlchemy compiles it once (cached) and sends the rows as
            # multi-row VALUES batches; RETURNING names the rows that were new.
            stmt = (
                self._insert(inbox)
                .on_conflict_do_nothing(index_elements=[inbox.c.connector, inbox.c.delivery_id])
                .returning(inbox.c.connector, inbox.c.delivery_id)
            )
            with self._write() as conn:
                result = conn.execute(stmt, rows)
                stored.update(first[(r.connector, r.delivery_id)] for r in result)
        return [i in stored for i in range(len(deliveries))]

    def inbox_claim(
        self,
        limit: int = 50,
        *,
        connector: str | None = None,
        now: datetime | None = None,
        worker_id: str | None = None,
    ) -> list[InboxItem]:
        """Lease up to ``limit`` deliveries to process, oldest first (see
        `OutboxMixin.outbox_claim`)."""
        at = aware(now)
        where = [] if connector is None else [inbox.c.connector == connector]
        with self._write() as conn:
            ids = QUEUE.claim(
                self, conn, where, limit=limit, now=at, worker_id=worker_id or default_worker_id()
            )
            if not ids:
                return []
            rows = conn.execute(select(inbox).where(inbox.c.id.in_(ids)).order_by(inbox.c.id)).all()
        return [
            InboxItem(
                r.id,
                r.connector,
                r.delivery_id,
                json.loads(r.headers),
                r.body,
                r.received_at,
                r.attempts,
            )
            for r in rows
        ]

    def inbox_done(self, item_id: int, *, now: datetime | None = None) -> None:
        """Mark a delivery processed."""
        self.inbox_done_many([item_id], now=now)

    def inbox_done_many(self, item_ids: Iterable[int], *, now: datetime | None = None) -> int:
        """Mark deliveries processed, in one transaction (one commit for a whole batch).

        A commit per delivery made a burst of webhooks cost a commit (an fsync on SQLite,
        and the write lock the acknowledgements also need) for every delivery.

        Returns:
            How many rows were marked.
        """
        ids = sorted(set(item_ids))
        if not ids:
            return 0
        count = 0
        with self._write() as conn:
            for part in chunks(ids):
                count += conn.execute(
                    update(inbox)
                    .where(inbox.c.id.in_(part))
                    .values(state="done", done_at=aware(now), lease_owner=None, lease_until=None)
                ).rowcount
        return count

    def inbox_extend_leases(
        self, item_ids: Iterable[int], worker_id: str, *, now: datetime | None = None
    ) -> int:
        """Push the leases ``worker_id`` still holds on inbox items (see
        `OutboxMixin.outbox_extend_leases`).

        Returns:
            How many were extended.
        """
        return QUEUE.extend_leases(self, item_ids, worker_id, now=now)

    @contextmanager
    def inbox_lease_heartbeat(
        self,
        item_ids: Iterable[int],
        worker_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Iterator[None]:
        """Keep extending the leases on claimed inbox items while the ``with`` block runs.

        A batch slower than its lease (a helpdesk answering slowly) would otherwise be claimed
        again by another worker and its tickets read a second time.
        """
        with QUEUE.heartbeat(self, item_ids, worker_id, clock=clock):
            yield

    def inbox_fail(
        self,
        item_id: int,
        error: str,
        *,
        retry_after: float | None = None,
        now: datetime | None = None,
    ) -> Literal["pending", "dead"] | None:
        """Record a failed processing: retry with backoff, or park it after the last attempt.

        Returns:
            "pending", "dead", or None if the item is unknown or already done.
        """
        return QUEUE.fail(self, item_id, error, retry_after=retry_after, now=now)

    def inbox_retry_dead(
        self, ids: Sequence[int] | None = None, *, now: datetime | None = None
    ) -> int:
        """Requeue dead deliveries with fresh attempts: those of ``ids``, or every one.

        Returns:
            How many were requeued (an id that is not dead is not counted).
        """
        return QUEUE.retry_dead(self, ids, now=now)

    def inbox_purge(self, before: datetime, *, dead: bool = False) -> int:
        """Delete deliveries done before ``before`` (and, with ``dead``, those parked
        before it); returns how many.

        Keep them longer than the platforms retry (Zendesk and Jira retry for hours, not
        days): a retry arriving after its item was purged would be processed again, which is
        harmless (the ledger stops duplicate actions) but wasted work. Dead deliveries are
        kept until asked for: each is a webhook that was never processed.
        """
        at = aware(before)
        done = (inbox.c.state == "done") & (inbox.c.done_at < at)
        cond = done | ((inbox.c.state == "dead") & (inbox.c.dead_at < at)) if dead else done
        with self._write() as conn:
            return conn.execute(delete(inbox).where(cond)).rowcount

    def inbox_list(
        self,
        *,
        states: Sequence[str] = ("dead",),
        connector: str | None = None,
        limit: int | None = None,
    ) -> list[InboxEntry]:
        """Stored deliveries in these states, oldest first (the body is not read)."""
        query = (
            select(
                inbox.c.id,
                inbox.c.connector,
                inbox.c.delivery_id,
                inbox.c.state,
                inbox.c.attempts,
                inbox.c.received_at,
                inbox.c.last_error,
                inbox.c.dead_at,
            )
            .where(inbox.c.state.in_(list(states)))
            .order_by(inbox.c.received_at, inbox.c.id)
        )
        if connector is not None:
            query = query.where(inbox.c.connector == connector)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [InboxEntry(*row) for row in conn.execute(query)]

    def inbox_scrub_headers(self, keep: Callable[[str, str], bool], *, batch: int = 500) -> int:
        """Drop from stored deliveries every header ``keep(connector, name)`` refuses.

        For stores written before the header allow-list (issue 14), which kept every header
        but three, credentials such as ``X-Api-Key`` included. Reads the rows in id order,
        ``batch`` at a time, and rewrites only those that change, each batch in its own short
        transaction (the acknowledgements share the write lock on SQLite).

        Returns:
            How many deliveries were rewritten.
        """
        last, changed = 0, 0
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    select(inbox.c.id, inbox.c.connector, inbox.c.headers)
                    .where(inbox.c.id > last)
                    .order_by(inbox.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return changed
            last = rows[-1].id
            updates = []
            for row in rows:
                headers = json.loads(row.headers)
                kept = {k: v for k, v in headers.items() if keep(row.connector, k.lower())}
                if len(kept) != len(headers):
                    updates.append((row.id, dumps(kept)))
            if updates:
                with self._write() as conn:
                    for item_id, text in updates:
                        conn.execute(
                            update(inbox).where(inbox.c.id == item_id).values(headers=text)
                        )
                changed += len(updates)

    def inbox_stats(self) -> dict[str, int]:
        """Deliveries by state (pending, leased, done, dead)."""
        with self._read() as conn:
            return QUEUE.counts(conn)
