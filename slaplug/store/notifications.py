"""Which services each notification reached: one row per send, written right after it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from slaplug.store._base import StoreBase, aware
from slaplug.store.schema import notification_sends

__all__ = ["NotificationsMixin"]


class NotificationsMixin(StoreBase):
    """Per-service send records of notifications (and digests)."""

    def sent_targets(self, key: str) -> set[str]:
        """The targets ``key`` was already sent to."""
        with self._read() as conn:
            rows = conn.execute(
                select(notification_sends.c.target).where(notification_sends.c.key == key)
            )
            return set(rows.scalars())

    def record_sent(self, key: str, target: str, *, now: datetime | None = None) -> bool:
        """Record that ``key`` reached ``target``; False if it was recorded already."""
        with self._write() as conn:
            stmt = (
                self._insert(notification_sends)
                .values(key=key, target=target, sent_at=aware(now))
                .on_conflict_do_nothing(index_elements=["key", "target"])
            )
            return bool(conn.execute(stmt).rowcount)

    def sends(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """The targets each of ``keys`` reached."""
        wanted = list(keys)
        out: dict[str, set[str]] = {k: set() for k in wanted}
        with self._read() as conn:
            rows = conn.execute(
                select(notification_sends.c.key, notification_sends.c.target).where(
                    notification_sends.c.key.in_(wanted)
                )
            )
            for key, target in rows:
                out[key].add(target)
        return out
