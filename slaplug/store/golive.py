"""Each connector's go-live: the start of its first sync, recorded once and never moved.

Kept as rows of the ``install`` table (``go_live:<connector>``, an ISO 8601 time), so no
schema change is needed: like the markers' secret it is made once, by whichever process
asks first, and read back by every later one.

Beside it, the cutoff last in force for the connector (``cutoff:<connector>``): the go-live
or an explicit ``escalate_from``. Unlike the go-live it follows the configuration; a sync
compares it with its own to find a cutoff that moved (`slaplug.sync.Sync.cutoff`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, exists, select

from slaplug.store._base import StoreBase, aware, chunks
from slaplug.store.schema import cursors, install, ledger, measure_heads

__all__ = ["ALREADY_LIVE", "GoLiveMixin"]

#: The go-live recorded for a connector that synced before slaplug recorded go-lives: its
#: history was escalated then, so it keeps escalating as before (no cutoff).
ALREADY_LIVE = datetime(1970, 1, 1, tzinfo=UTC)

#: A head of the measures history: (ticket key, policy, metric, cycle).
Head = tuple[str, str, str, int]


def _name(connector: str) -> str:
    return f"go_live:{connector}"


def _cutoff_name(connector: str) -> str:
    return f"cutoff:{connector}"


class GoLiveMixin(StoreBase):
    """Per-connector go-live times, and the breaches already recorded (for dry runs)."""

    def go_live(self, connector: str, *, now: datetime | None = None) -> datetime:
        """The connector's go-live, recorded as ``now`` on the first call for it.

        A connector that already has a cursor or ledger entries (it synced under a slaplug
        that did not record go-lives) is recorded as `ALREADY_LIVE`. Two processes asking
        at once get the same value: the first insert wins and the other reads it back.
        """
        at = aware(now)
        with self._write() as conn:
            found = self._read_go_live(conn, connector)
            if found is not None:
                return found
            synced = conn.execute(
                select(
                    exists().where(cursors.c.connector == connector)
                    | exists().where(ledger.c.connector == connector)
                )
            ).scalar_one()
            value = ALREADY_LIVE if synced else at
            stmt = self._insert(install).values(
                name=_name(connector), value=value.isoformat(), created_at=at
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            stored = self._read_go_live(conn, connector)
        assert stored is not None  # inserted above, or by the process that won the race
        return stored

    def peek_go_live(self, connector: str) -> datetime | None:
        """The connector's go-live if recorded, without recording one (dry runs)."""
        with self._read() as conn:
            return self._read_go_live(conn, connector)

    def recorded_cutoff(self, connector: str) -> datetime | None:
        """The cutoff last recorded in force for the connector (`record_cutoff`); None when
        none was (a store from before slaplug recorded them, or no sync yet)."""
        with self._read() as conn:
            value = conn.execute(
                select(install.c.value).where(install.c.name == _cutoff_name(connector))
            ).scalar_one_or_none()
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)

    def record_cutoff(
        self, connector: str, cutoff: datetime, *, now: datetime | None = None
    ) -> None:
        """Record ``cutoff`` as the one in force for the connector (replacing the last)."""
        at = aware(now)
        stmt = self._insert(install).values(
            name=_cutoff_name(connector), value=aware(cutoff).isoformat(), created_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": stmt.excluded.value, "created_at": at}
        )
        with self._write() as conn:
            conn.execute(stmt)

    def recorded_breaches(self, heads: Iterable[Head]) -> set[Head]:
        """Those of ``heads`` the measures history already holds as breached."""
        wanted = sorted(set(heads))
        found: set[Head] = set()
        with self._read() as conn:
            for part in chunks(sorted({h[0] for h in wanted})):
                rows = conn.execute(
                    select(
                        measure_heads.c.ticket_key,
                        measure_heads.c.policy,
                        measure_heads.c.metric,
                        measure_heads.c.cycle,
                    ).where(measure_heads.c.ticket_key.in_(part), measure_heads.c.breached)
                )
                found.update((r[0], r[1], r[2], int(r[3])) for r in rows)
        return found & set(wanted)

    @staticmethod
    def _read_go_live(conn: Connection, connector: str) -> datetime | None:
        value = conn.execute(
            select(install.c.value).where(install.c.name == _name(connector))
        ).scalar_one_or_none()
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)
