"""The quarantine: tickets slaplug cannot process, set aside with the reason.

One bad ticket (text that is not valid Unicode, a date out of range, an evaluation that
raises) must not stop the sync or a webhook batch for every other ticket. The runners set it
aside here and go on; ``slaplug quarantine list`` shows what is waiting and why. A ticket
leaves the quarantine when a later read of it is processed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from slaplug.connectors.redact import scrub
from slaplug.store._base import StoreBase, aware, chunks
from slaplug.store.schema import due, quarantine

__all__ = ["QuarantineMixin", "QuarantinedTicket", "storable"]

#: Stages a ticket can be set aside at.
STAGES = frozenset({"read", "check", "enrich", "evaluate"})
_REASON_CHARS = 2000


def storable(text: str) -> str:
    """``text`` with anything that is not valid Unicode (a lone surrogate) written as an escape.

    A database driver refuses to encode a lone UTF-16 surrogate, so an id or a reason that
    quotes one is stored as ``\\ud800`` instead.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class QuarantinedTicket:
    """A ticket set aside.

    Attributes:
        connector: The configured connector.
        ticket_id: Its id there (invalid characters escaped).
        stage: Where it failed: ``read``, ``check``, ``enrich`` or ``evaluate``.
        reason: What is wrong, naming the field, and what to fix.
        first_seen: When it was first set aside.
        last_seen: When it was last met.
        times: How many times it was met since it was first set aside.
    """

    connector: str
    ticket_id: str
    stage: str
    reason: str
    first_seen: datetime
    last_seen: datetime
    times: int

    def as_dict(self) -> dict[str, object]:
        """The JSON form (``slaplug quarantine list --json``)."""
        return {
            "connector": self.connector,
            "ticket_id": self.ticket_id,
            "stage": self.stage,
            "reason": self.reason,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "times": self.times,
        }


class QuarantineMixin(StoreBase):
    """Set tickets aside, list them, let them go."""

    def quarantine(
        self,
        entries: Iterable[tuple[str, str, str, str]],
        *,
        now: datetime | None = None,
    ) -> int:
        """Set tickets aside, in one transaction; a ticket already there is updated.

        Its due entry is removed too: a ticket that cannot be evaluated must not come back
        from the due index on every pass.

        Args:
            entries: ``(connector, ticket_id, stage, reason)`` per ticket.
            now: The time to record.

        Returns:
            How many tickets were set aside.

        Raises:
            ValueError: An unknown stage.
        """
        at = aware(now)
        rows: dict[tuple[str, str], dict[str, object]] = {}
        for connector, ticket_id, stage, reason in entries:
            if stage not in STAGES:
                raise ValueError(f"quarantine stage {stage!r} is not one of {sorted(STAGES)}")
            ident = (storable(connector), storable(ticket_id))
            rows[ident] = {
                "connector": ident[0],
                "ticket_id": ident[1],
                "stage": stage,
                # Scrubbed: a reason can quote an exception, which can quote an API answer.
                "reason": storable(scrub(reason))[:_REASON_CHARS],
                "first_seen": at,
                "last_seen": at,
                "times": 1,
            }
        if not rows:
            return 0
        stmt = self._insert(quarantine)
        stmt = stmt.on_conflict_do_update(
            index_elements=[quarantine.c.connector, quarantine.c.ticket_id],
            set_={
                "stage": stmt.excluded.stage,
                "reason": stmt.excluded.reason,
                "last_seen": stmt.excluded.last_seen,
                "times": quarantine.c.times + 1,
            },
        )
        with self._write() as conn:
            conn.execute(stmt, [rows[k] for k in sorted(rows)])
            for connector, ticket_id in sorted(rows):
                conn.execute(
                    delete(due).where(due.c.connector == connector, due.c.ticket_id == ticket_id)
                )
        return len(rows)

    def release(self, connector: str, ticket_ids: Iterable[str]) -> int:
        """Take tickets out of the quarantine (they were processed); returns how many left."""
        ids = sorted({storable(i) for i in ticket_ids})
        if not ids:
            return 0
        count = 0
        with self._write() as conn:
            for part in chunks(ids):
                count += conn.execute(
                    delete(quarantine).where(
                        quarantine.c.connector == connector, quarantine.c.ticket_id.in_(part)
                    )
                ).rowcount
        return count

    def quarantined_ids(self, connector: str) -> set[str]:
        """The ids of ``connector``'s quarantined tickets (usually none)."""
        with self._read() as conn:
            return set(
                conn.execute(
                    select(quarantine.c.ticket_id).where(quarantine.c.connector == connector)
                ).scalars()
            )

    def quarantined(
        self, connector: str | None = None, limit: int = 1000
    ) -> list[QuarantinedTicket]:
        """The quarantined tickets (of one connector, or all), most recently met first."""
        query = select(quarantine)
        if connector is not None:
            query = query.where(quarantine.c.connector == connector)
        query = query.order_by(
            quarantine.c.last_seen.desc(), quarantine.c.connector, quarantine.c.ticket_id
        ).limit(limit)
        with self._read() as conn:
            return [
                QuarantinedTicket(
                    r.connector, r.ticket_id, r.stage, r.reason, r.first_seen, r.last_seen, r.times
                )
                for r in conn.execute(query)
            ]

    def quarantine_count(self) -> int:
        """How many tickets are quarantined, across connectors."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(quarantine)).scalar_one())
