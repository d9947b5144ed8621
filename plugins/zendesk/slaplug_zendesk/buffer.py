"""A buffer of audits by ticket that spills to a temporary file, so memory stays flat.

A first read takes the whole ticket-events export before the ticket pages it belongs to: for a
large account that is millions of audits. Past a threshold they move to a temporary SQLite
file (deleted when the buffer closes); `take` hands one ticket's audits out.

A ticket can come twice in one read: written back (by slaplug, or anyone) after an early
page, it reappears on a later page once the export's one-minute lag has passed. A complete
read must give it its whole history both times (the store replaces a complete history
rather than merging it), so `take` keeps what it hands out; it only marks the ticket as
handed out, so `pending` lists the tickets never handed out.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterator

from slaplug_zendesk.events import Audit

__all__ = ["AuditBuffer"]


class AuditBuffer:
    """Audits grouped by ticket id; in memory up to ``limit`` audits, on disk past it."""

    def __init__(self, limit: int = 20_000) -> None:
        self._limit = limit
        self._memory: dict[int, list[Audit]] = defaultdict(list)
        self._count = 0
        self._db: sqlite3.Connection | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._handed: set[int] = set()

    def add(self, audit: Audit) -> None:
        """Keep ``audit`` under its ticket."""
        self._memory[audit.ticket_id].append(audit)
        self._count += 1
        if self._count >= self._limit:
            self._spill()

    def take(self, ticket_id: int) -> list[Audit]:
        """The audits of ``ticket_id`` (empty if none), in the order added; they stay
        buffered, so a ticket that comes again gets them again (see the module docstring)."""
        self._handed.add(ticket_id)
        found = list(self._memory.get(ticket_id, ()))
        if self._db is not None:
            rows = self._db.execute(
                "SELECT audits FROM buffered WHERE ticket_id = ? ORDER BY seq", (ticket_id,)
            ).fetchall()
            if rows:
                spilled = [a for (blob,) in rows for a in pickle.loads(blob)]
                found = spilled + found
        return found

    def pending(self) -> Iterator[int]:
        """The ids of tickets with audits never handed out by `take`, ascending."""
        ids = set(self._memory)
        if self._db is not None:
            ids.update(i for (i,) in self._db.execute("SELECT DISTINCT ticket_id FROM buffered"))
        return iter(sorted(ids - self._handed))

    def close(self) -> None:
        """Drop everything, and the temporary file with it."""
        self._memory.clear()
        self._handed.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _spill(self) -> None:
        if self._db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="slaplug-zendesk-")
            self._db = sqlite3.connect(f"{self._tmp.name}/audits.db")
            self._db.execute(
                "CREATE TABLE buffered (seq INTEGER PRIMARY KEY, ticket_id INTEGER, audits BLOB)"
            )
            self._db.execute("CREATE INDEX buffered_ticket ON buffered (ticket_id)")
        self._db.executemany(
            "INSERT INTO buffered (ticket_id, audits) VALUES (?, ?)",
            ((tid, pickle.dumps(audits)) for tid, audits in self._memory.items()),
        )
        self._memory.clear()
        self._count = 0
