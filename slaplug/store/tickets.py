"""Cursors, ticket snapshots and the due index: what the sync job reads and writes per page."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, text, tuple_

from slaplug.model import Ticket
from slaplug.store._base import BATCH, StoreBase, aware, chunks
from slaplug.store.codec import merge_events, snapshot_hash, ticket_from_json, ticket_to_json
from slaplug.store.schema import cursors, due, snapshots

__all__ = ["DueTicket", "TicketsMixin"]


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

    def commit_cursor(self, connector: str, cursor: str, *, now: datetime | None = None) -> None:
        """Record ``cursor`` for ``connector``.

        Call it only once the tickets the cursor covers are durably processed (snapshots saved,
        actions planned, measures recorded): a crash before this call re-reads them, which is
        harmless; a cursor stored before them would skip them for good.
        """
        stmt = self._insert(cursors).values(
            connector=connector, cursor=cursor, updated_at=aware(now)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[cursors.c.connector],
            set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    # -- snapshots -------------------------------------------------------------------------

    def save_snapshots(
        self, tickets: Iterable[Ticket], *, now: datetime | None = None
    ) -> list[bool]:
        """Store each ticket's normalized state and history, writing only those that changed.

        A ticket is unchanged when its canonical JSON hashes to the stored hash; unchanged
        tickets cost one read and no write. All tickets are saved in one transaction.

        Args:
            tickets: The tickets, e.g. one `TicketPage` (merged with `merge_histories` first
                when the page's histories are partial).
            now: The time to record as ``saved_at``.

        Returns:
            For each ticket, in order, whether it was new or changed: the caller re-evaluates
            those, and may skip the others.
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
            if rows:
                stmt = self._insert(snapshots)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[snapshots.c.connector, snapshots.c.ticket_id],
                    set_={
                        col: stmt.excluded[col]
                        for col in ("body", "content_hash", "ticket_updated_at", "saved_at")
                    },
                )
                # Sorted, so two processes saving overlapping pages lock rows in one order.
                conn.execute(stmt, [rows[k] for k in sorted(rows)])
        self._maybe_analyze(len(rows))
        return changed

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
            {"connector": c, "ticket_id": i, "due_at": aware(d)}
            for (c, i), d in sorted(latest.items())
            if d is not None
        ]
        removals = sorted(k for k, d in latest.items() if d is None)
        with self._write() as conn:
            if upserts:
                stmt = self._insert(due)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[due.c.connector, due.c.ticket_id],
                    set_={"due_at": stmt.excluded.due_at},
                )
                conn.execute(stmt, upserts)
            for part in chunks(removals):
                conn.execute(
                    delete(due).where(tuple_(due.c.connector, due.c.ticket_id).in_(list(part)))
                )

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
