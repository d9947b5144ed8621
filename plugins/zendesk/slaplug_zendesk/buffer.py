"""A buffer of audits by ticket that spills to a temporary file, so memory stays flat.

A first read takes the whole ticket-events export before the ticket pages it belongs to: for a
large account that is millions of audits. Past a threshold they move to a temporary SQLite
file (deleted when the buffer closes); `pop` takes one ticket's audits back out.
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

    def add(self, audit: Audit) -> None:
        """Keep ``audit`` under its ticket."""
        self._memory[audit.ticket_id].append(audit)
        self._count += 1
        if self._count >= self._limit:
            self._spill()

    def pop(self, ticket_id: int) -> list[Audit]:
        """Take out and return the audits of ``ticket_id`` (empty if none)."""
        found = self._memory.pop(ticket_id, [])
        if self._db is not None:
            rows = self._db.execute(
                "SELECT audits FROM buffered WHERE ticket_id = ? ORDER BY seq", (ticket_id,)
            ).fetchall()
            if rows:
                self._db.execute("DELETE FROM buffered WHERE ticket_id = ?", (ticket_id,))
                spilled = [a for (blob,) in rows for a in pickle.loads(blob)]
                found = spilled + found
        return found

    def ticket_ids(self) -> Iterator[int]:
        """The ids of tickets with audits still buffered, ascending."""
        ids = set(self._memory)
        if self._db is not None:
            ids.update(i for (i,) in self._db.execute("SELECT DISTINCT ticket_id FROM buffered"))
        return iter(sorted(ids))

    def close(self) -> None:
        """Drop everything, and the temporary file with it."""
        self._memory.clear()
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
