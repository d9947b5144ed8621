"""Cursors, ticket snapshots and the due index: what the sync job reads and writes per page."""

from __future__ import annotations

import dataclasses
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final

from sqlalchemy import Connection, and_, delete, or_, select, text, tuple_, update

from slaplug.model import Ticket
from slaplug.store._base import BATCH, StoreBase, aware, chunks, default_worker_id
from slaplug.store.codec import merge_events, snapshot_hash, ticket_from_json, ticket_to_json
from slaplug.store.schema import cursors, due, snapshots

__all__ = ["DUE_BUCKETS", "DueTicket", "Saved", "TicketsMixin", "due_bucket"]

#: The due index is split into this many buckets, by a hash of (connector, ticket id): the
#: distributed engine runs one ``due(bucket)`` job per bucket, so several workers share the
#: due thresholds without two of them claiming the same rows (each row is leased too).
DUE_BUCKETS: Final = 16


def due_bucket(connector: str, ticket_id: str) -> int:
    """The bucket of a ticket's due row: stable across processes and releases (CRC-32)."""
    return zlib.crc32(f"{connector}\0{ticket_id}".encode()) % DUE_BUCKETS


class Saved(StrEnum):
    """What `TicketsMixin.store_snapshots` did with one ticket."""

    #: New, or changed and at least as recent as the stored one: written.
    WRITTEN = "written"
    #: The same content as stored: nothing written.
    SAME = "same"
    #: Older than the stored one (``updated_at``): refused, the newer one stays.
    STALE = "stale"


class _Unset(Enum):
    UNSET = 0


#: `commit_cursor` without ``expected``: an unconditional write (tools, tests, resets).
_UNSET: Final = _Unset.UNSET


@dataclass(frozen=True)
class DueTicket:
    """A ticket whose next SLA threshold has passed.

    Attributes:
        connector: The connector that owns it.
        ticket_id: Its id there.
        due_at: The threshold time that passed.
    """

    connector: str
    ticket_id: str
    due_at: datetime


#: Rows written between two ``ANALYZE`` of the snapshots table at least (PostgreSQL).
_ANALYZE_EVERY = 5000


class TicketsMixin(StoreBase):
    """Cursors, snapshots and the due index."""

    # Snapshot rows written since this store last analyzed the table, and the table's size
    # then (PostgreSQL only; see _maybe_analyze).
    _snapshot_writes = 0
    _snapshot_rows = 0

    # -- cursors ---------------------------------------------------------------------------

    def get_cursor(self, connector: str) -> str | None:
        """The cursor to resume ``connector``'s incremental read from; None before the first."""
        with self._read() as conn:
            return conn.execute(
                select(cursors.c.cursor).where(cursors.c.connector == connector)
            ).scalar_one_or_none()

    def commit_cursor(
        self,
        connector: str,
        cursor: str,
        *,
        now: datetime | None = None,
        expected: str | _Unset | None = _UNSET,
    ) -> bool:
        """Record ``cursor`` for ``connector``; with ``expected``, only if nobody moved it.

        Call it only once the tickets the cursor covers are durably processed (snapshots saved,
        actions planned, measures recorded): a crash before this call re-reads them, which is
        harmless; a cursor stored before them would skip them for good.

        Cursors are opaque (a token, a time, a page link), so "forward" cannot be judged by
        comparing two of them. It is kept by compare-and-set instead: a reader passes the
        cursor it started from (then the one it committed last) as ``expected``, and the
        write happens only if the stored cursor is still that one. A slower process that
        read the same pages as a faster one finds the cursor moved past its start, and its
        commit is refused instead of moving the cursor back.

        Args:
            connector: The connector.
            cursor: The new cursor.
            now: The time to record.
            expected: The cursor this reader believes is stored (None: none yet). Left out,
                the write is unconditional.

        Returns:
            True if ``cursor`` is stored now; False if another reader moved the cursor.
        """
        at = aware(now)
        with self._write() as conn:
            if expected is _UNSET:
                stmt = self._insert(cursors).values(
                    connector=connector, cursor=cursor, updated_at=at
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=[cursors.c.connector],
                    set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
                )
                conn.execute(stmt)
                return True
            if expected is None:
                stmt = (
                    self._insert(cursors)
                    .values(connector=connector, cursor=cursor, updated_at=at)
                    .on_conflict_do_nothing(index_elements=[cursors.c.connector])
                    .returning(cursors.c.connector)
                )
                if conn.execute(stmt).first() is not None:
                    return True
            else:
                # One statement: PostgreSQL locks the row, SQLite holds the write lock, so
                # two readers committing at once cannot both see ``expected``.
                moved = conn.execute(
                    update(cursors)
                    .where(cursors.c.connector == connector, cursors.c.cursor == expected)
                    .values(cursor=cursor, updated_at=at)
                ).rowcount
                if moved:
                    return True
            # Refused, unless the stored cursor already is this one (a harmless repeat).
            stored = conn.execute(
                select(cursors.c.cursor).where(cursors.c.connector == connector)
            ).scalar_one_or_none()
            return stored == cursor

    # -- snapshots -------------------------------------------------------------------------

    def save_snapshots(
        self, tickets: Iterable[Ticket], *, now: datetime | None = None
    ) -> list[bool]:
        """Store each ticket's normalized state and history, writing only those that changed.

        A ticket is unchanged when its canonical JSON hashes to the stored hash; unchanged
        tickets cost one read and no write. A ticket older than the stored one (its
        ``updated_at`` is earlier) is not written either: see `store_snapshots`. All tickets
        are saved in one transaction.

        Args:
            tickets: The tickets, e.g. one `TicketPage` (merged with `merge_histories` first
                when the page's histories are partial).
            now: The time to record as ``saved_at``.

        Returns:
            For each ticket, in order, whether it was written (new, or changed and not
            older): the caller re-evaluates those, and may skip the others.
        """
        return [s is Saved.WRITTEN for s in self.store_snapshots(tickets, now=now)]

    def store_snapshots(
        self, tickets: Iterable[Ticket], *, now: datetime | None = None
    ) -> list[Saved]:
        """`save_snapshots`, telling apart the tickets refused because they are older.

        The version check is part of the UPSERT itself (``ON CONFLICT DO UPDATE ... WHERE
        stored.ticket_updated_at <= new.ticket_updated_at``), so it holds between processes:
        a slow reader that saves a page read before a faster reader's newer one leaves the
        newer snapshot in place. A ticket without ``updated_at`` (or stored without one) is
        written: there is nothing to compare.

        Returns:
            For each ticket, in order: `Saved.WRITTEN`, `Saved.SAME` or `Saved.STALE`.
        """
        at = aware(now)
        items = [(t, ticket_to_json(t)) for t in tickets]
        hashes = [snapshot_hash(text) for _, text in items]
        with self._write() as conn:
            stored = self._hashes(conn, [(t.connector, t.id) for t, _ in items])
            changed: list[bool] = []
            rows: dict[tuple[str, str], dict[str, object]] = {}
            for (t, text), h in zip(items, hashes, strict=True):
                ident = (t.connector, t.id)
                is_changed = stored.get(ident) != h
                changed.append(is_changed)
                if is_changed:
                    stored[ident] = h  # the same ticket twice in one batch: the last one wins
                    rows[ident] = {
                        "connector": t.connector,
                        "ticket_id": t.id,
                        "body": text,
                        "content_hash": h,
                        "ticket_updated_at": t.updated_at,
                        "saved_at": at,
                    }
            written: set[tuple[str, str]] = set()
            if rows:
                stmt = self._insert(snapshots)
                stored_at = snapshots.c.ticket_updated_at
                stmt = stmt.on_conflict_do_update(
                    index_elements=[snapshots.c.connector, snapshots.c.ticket_id],
                    set_={
                        col: stmt.excluded[col]
                        for col in ("body", "content_hash", "ticket_updated_at", "saved_at")
                    },
                    where=or_(
                        stored_at.is_(None),
                        stmt.excluded.ticket_updated_at.is_(None),
                        stored_at <= stmt.excluded.ticket_updated_at,
                    ),
                ).returning(snapshots.c.connector, snapshots.c.ticket_id)
                # Sorted, so two processes saving overlapping pages lock rows in one order.
                result = conn.execute(stmt, [rows[k] for k in sorted(rows)])
                written = {(r.connector, r.ticket_id) for r in result}
        self._maybe_analyze(len(written))
        out: list[Saved] = []
        for (t, _), is_changed in zip(items, changed, strict=True):
            if not is_changed:
                out.append(Saved.SAME)
            elif (t.connector, t.id) in written:
                out.append(Saved.WRITTEN)
            else:
                out.append(Saved.STALE)
        return out

    def _maybe_analyze(self, written: int) -> None:
        """Refresh PostgreSQL's statistics of the snapshots table once it has grown a lot.

        PostgreSQL plans the snapshot look-ups from statistics that autovacuum refreshes
        only now and then. A first import of tens of thousands of tickets outruns it, and
        the look-ups of each page keep being planned for an empty table (measured on the
        50,000-ticket sync benchmark: a first pass several times slower until ``ANALYZE``).
        So after every ``max(5000, half the table)`` rows written here, analyze it.
        """
        if self.dialect != "postgresql" or written == 0:
            return
        self._snapshot_writes += written
        if self._snapshot_writes < max(_ANALYZE_EVERY, self._snapshot_rows // 2):
            return
        with self.engine.connect() as conn, conn.begin():
            conn.execute(text(f"ANALYZE {snapshots.name}"))
            rows = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                {"t": snapshots.name},
            ).scalar()
        self._snapshot_rows = max(int(rows or 0), 0)
        self._snapshot_writes = 0

    def _hashes(
        self, conn: Connection, idents: list[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        by_connector: dict[str, list[str]] = defaultdict(list)
        for connector, ticket_id in idents:
            by_connector[connector].append(ticket_id)
        out: dict[tuple[str, str], str] = {}
        for connector, ids in by_connector.items():
            for part in chunks(sorted(set(ids))):
                for row in conn.execute(
                    select(snapshots.c.ticket_id, snapshots.c.content_hash).where(
                        snapshots.c.connector == connector, snapshots.c.ticket_id.in_(part)
                    )
                ):
                    out[(connector, row.ticket_id)] = row.content_hash
        return out

    def snapshot_hashes(self, connector: str, ticket_ids: Iterable[str]) -> dict[str, str]:
        """The stored content hash of each known ticket among ``ticket_ids``."""
        with self._read() as conn:
            found = self._hashes(conn, [(connector, i) for i in ticket_ids])
        return {ticket_id: h for (_, ticket_id), h in found.items()}

    def load_snapshot(self, connector: str, ticket_id: str) -> Ticket | None:
        """The stored ticket, or None if it was never saved."""
        return self.load_snapshots(connector, [ticket_id]).get(ticket_id)

    def load_snapshots(self, connector: str, ticket_ids: Iterable[str]) -> dict[str, Ticket]:
        """The stored tickets among ``ticket_ids``, by id (unknown ids are left out)."""
        out: dict[str, Ticket] = {}
        with self._read() as conn:
            for part in chunks(sorted(set(ticket_ids))):
                for row in conn.execute(
                    select(snapshots.c.ticket_id, snapshots.c.body).where(
                        snapshots.c.connector == connector, snapshots.c.ticket_id.in_(part)
                    )
                ):
                    out[row.ticket_id] = ticket_from_json(row.body)
        return out

    def iter_snapshots(
        self, connector: str | None = None, *, batch: int = BATCH
    ) -> Iterator[Ticket]:
        """Every stored ticket (of one connector, or all), ``batch`` rows at a time.

        Pages by keyset on the primary key, each page in its own short transaction: memory
        stays flat in the number of tickets, and no transaction stays open while the caller
        works on a ticket. Tickets saved during the iteration may or may not be seen.
        """
        last: tuple[str, str] | None = None
        key = tuple_(snapshots.c.connector, snapshots.c.ticket_id)
        while True:
            query = select(snapshots.c.connector, snapshots.c.ticket_id, snapshots.c.body)
            if connector is not None:
                query = query.where(snapshots.c.connector == connector)
            if last is not None:
                query = query.where(key > tuple_(*last))
            query = query.order_by(snapshots.c.connector, snapshots.c.ticket_id).limit(batch)
            with self._read() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield ticket_from_json(row.body)
            if len(rows) < batch:
                return
            last = (rows[-1].connector, rows[-1].ticket_id)

    def merge_history(self, ticket: Ticket) -> Ticket:
        """``ticket`` with its stored events merged in (see `merge_histories`)."""
        return self.merge_histories([ticket])[0]

    def merge_histories(self, tickets: Iterable[Ticket]) -> list[Ticket]:
        """Complete tickets whose ``events`` are only those since the cursor.

        For a `TicketPage` with ``complete_history`` False: each ticket gets the union of its
        stored events and the new ones, de-duplicated by (kind, at, value). Tickets never
        stored come back as they are. Nothing is written; save the result.
        """
        tickets = list(tickets)
        by_connector: dict[str, list[str]] = defaultdict(list)
        for t in tickets:
            by_connector[t.connector].append(t.id)
        stored = {
            (connector, ticket_id): snap
            for connector, ids in by_connector.items()
            for ticket_id, snap in self.load_snapshots(connector, ids).items()
        }
        out = []
        for t in tickets:
            old = stored.get((t.connector, t.id))
            out.append(
                t
                if old is None
                else dataclasses.replace(t, events=merge_events(old.events, t.events))
            )
        return out

    def delete_snapshot(self, connector: str, ticket_id: str) -> None:
        """Forget a ticket deleted on its platform: its snapshot and its due entry."""
        with self._write() as conn:
            for table in (snapshots, due):
                conn.execute(
                    delete(table).where(
                        table.c.connector == connector, table.c.ticket_id == ticket_id
                    )
                )

    # -- due index -------------------------------------------------------------------------

    def set_due(self, connector: str, ticket_id: str, due_at: datetime | None) -> None:
        """Record when the ticket's next SLA threshold passes; None once it has none left."""
        self.set_due_many([(connector, ticket_id, due_at)])

    def set_due_many(self, entries: Iterable[tuple[str, str, datetime | None]]) -> None:
        """`set_due` for many tickets in one transaction (a page's worth)."""
        latest = {(c, i): d for c, i, d in entries}
        upserts = [
            {
                "connector": c,
                "ticket_id": i,
                "due_at": aware(d),
                "bucket": due_bucket(c, i),
                "lease_owner": None,
                "lease_until": None,
            }
            for (c, i), d in sorted(latest.items())
            if d is not None
        ]
        removals = sorted(k for k, d in latest.items() if d is None)
        with self._write() as conn:
            if upserts:
                stmt = self._insert(due)
                # A new threshold ends any claim on the row: it was just evaluated.
                stmt = stmt.on_conflict_do_update(
                    index_elements=[due.c.connector, due.c.ticket_id],
                    set_={
                        "due_at": stmt.excluded.due_at,
                        "bucket": stmt.excluded.bucket,
                        "lease_owner": None,
                        "lease_until": None,
                    },
                )
                conn.execute(stmt, upserts)
            for part in chunks(removals):
                conn.execute(
                    delete(due).where(tuple_(due.c.connector, due.c.ticket_id).in_(list(part)))
                )

    def mark_due(self, connector: str, ticket_ids: Iterable[str], at: datetime) -> int:
        """Make the tickets due at ``at``, so the due path re-evaluates them from snapshots.

        A row due later (or no row) is set to ``at``; a row already due at or before it keeps
        its time; leases are left as they are (a worker evaluating the ticket now records
        its next threshold as usual). For a cutoff moved earlier (`slaplug.sync`).

        Returns:
            How many tickets were given (each is due at ``at`` at the latest now).
        """
        when = aware(at)
        rows = [
            {
                "connector": connector,
                "ticket_id": i,
                "due_at": when,
                "bucket": due_bucket(connector, i),
            }
            for i in sorted(set(ticket_ids))
        ]
        if not rows:
            return 0
        with self._write() as conn:
            for part in chunks(rows):
                stmt = self._insert(due)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[due.c.connector, due.c.ticket_id],
                    set_={"due_at": stmt.excluded.due_at},
                    where=due.c.due_at > stmt.excluded.due_at,
                )
                conn.execute(stmt, list(part))
        return len(rows)

    def due_before(
        self, now: datetime | None = None, limit: int = BATCH, *, connector: str | None = None
    ) -> list[DueTicket]:
        """Tickets whose next threshold is at or before ``now``, earliest first.

        The caller re-evaluates each from its snapshot (no API read) and then calls `set_due`
        with the ticket's new next threshold, or None, which takes it off this list.
        """
        query = select(due.c.connector, due.c.ticket_id, due.c.due_at).where(
            due.c.due_at <= aware(now)
        )
        if connector is not None:
            query = query.where(due.c.connector == connector)
        query = query.order_by(due.c.due_at, due.c.connector, due.c.ticket_id).limit(limit)
        with self._read() as conn:
            return [DueTicket(r.connector, r.ticket_id, r.due_at) for r in conn.execute(query)]

    def claim_due(
        self,
        now: datetime | None = None,
        limit: int = BATCH,
        *,
        connector: str | None = None,
        bucket: int | None = None,
        worker_id: str | None = None,
    ) -> list[DueTicket]:
        """Lease up to ``limit`` passed thresholds to this worker, earliest first.

        Like `OutboxMixin.claim`: no two workers hold the same row (PostgreSQL skips rows
        another transaction locked, SQLite runs one writer at a time), so a due ticket is
        evaluated by one worker, not by every process that looks at the index. The lease ends
        when the worker records the ticket's next threshold (`set_due_many`, which also
        clears it) or `release_due`; a worker that dies leaves the rows to be claimed again
        once the lease lapses.

        Args:
            now: The current time; the lease runs from it.
            limit: At most this many.
            connector: Only this connector's rows.
            bucket: Only this bucket's rows (`due_bucket`; the ``due(bucket)`` job).
            worker_id: Who holds the lease; defaults to ``host:pid``.
        """
        at = aware(now)
        c = due.c
        query = select(c.connector, c.ticket_id, c.due_at).where(
            c.due_at <= at, or_(c.lease_until.is_(None), c.lease_until <= at)
        )
        if connector is not None:
            query = query.where(c.connector == connector)
        if bucket is not None:
            query = query.where(c.bucket == bucket)
        query = (
            query.order_by(c.due_at, c.connector, c.ticket_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn:
            rows = conn.execute(query).all()
            idents = [(r.connector, r.ticket_id) for r in rows]
            for part in chunks(idents):
                conn.execute(
                    update(due)
                    .where(tuple_(c.connector, c.ticket_id).in_(list(part)))
                    .values(
                        lease_owner=worker_id or default_worker_id(),
                        lease_until=at + self.settings.lease,
                    )
                )
        return [DueTicket(r.connector, r.ticket_id, r.due_at) for r in rows]

    def due_connectors(self, now: datetime | None = None, *, bucket: int | None = None) -> set[str]:
        """The connectors with a passed threshold (in ``bucket``): the ``due`` job visits only
        those, not every configured connector."""
        query = select(due.c.connector).where(due.c.due_at <= aware(now)).distinct()
        if bucket is not None:
            query = query.where(due.c.bucket == bucket)
        with self._read() as conn:
            return set(conn.execute(query).scalars())

    def extend_due_leases(
        self, idents: Iterable[tuple[str, str]], worker_id: str, *, now: datetime | None = None
    ) -> int:
        """Push the due leases ``worker_id`` holds on ``(connector, ticket id)`` pairs.

        Returns:
            How many were extended (rows evaluated meanwhile have no lease left).
        """
        until = aware(now) + self.settings.lease
        count = 0
        with self._write() as conn:
            for part in chunks(sorted(set(idents))):
                count += conn.execute(
                    update(due)
                    .where(
                        tuple_(due.c.connector, due.c.ticket_id).in_(list(part)),
                        and_(due.c.lease_owner == worker_id, due.c.lease_until.is_not(None)),
                    )
                    .values(lease_until=until)
                ).rowcount
        return count

    def release_due(self, idents: Iterable[tuple[str, str]], worker_id: str) -> int:
        """Give back due leases without a new threshold (the ticket could not be evaluated).

        Returns:
            How many leases were released.
        """
        count = 0
        with self._write() as conn:
            for part in chunks(sorted(set(idents))):
                count += conn.execute(
                    update(due)
                    .where(
                        tuple_(due.c.connector, due.c.ticket_id).in_(list(part)),
                        due.c.lease_owner == worker_id,
                    )
                    .values(lease_owner=None, lease_until=None)
                ).rowcount
        return count

    @contextmanager
    def due_lease_heartbeat(
        self,
        idents: Iterable[tuple[str, str]],
        worker_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Iterator[None]:
        """Keep extending the due leases on ``idents`` while the ``with`` block runs."""
        held = sorted(set(idents))
        with self._heartbeat(
            lambda: self.extend_due_leases(held, worker_id, now=clock() if clock else None),
            "due",
            len(held),
        ):
            yield
