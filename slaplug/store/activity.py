"""What slaplug wrote and notified, newest first: the dashboard's read-only queries.

Every query is bounded (``limit``) and walks an index: the ledger by ``done_at`` or by ticket,
the sends by ``sent_at`` (both indexes added in version 9), so a page costs the same with a
thousand actions as with ten million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from slaplug.store._base import StoreBase
from slaplug.store.schema import ledger, notification_sends, outbox

__all__ = ["ActionRecord", "ActivityMixin", "SendRecord"]


@dataclass(frozen=True)
class ActionRecord:
    """One planned action and what became of it.

    Attributes:
        status: The ledger's: pending, applied, already, skipped or failed.
        outbox_state: While pending: pending, leased or dead (None once final).
        detail: The connector's or the outbox's last word (an error, "already there").
        sends: When each notified service was reached (notify actions).
    """

    key: str
    connector: str
    ticket_id: str
    kind: str
    escalation: str
    level: int
    policy: str
    metric: str
    params: dict[str, Any]
    shadow: bool
    status: str
    detail: str
    planned_at: datetime
    done_at: datetime | None
    outbox_state: str | None = None
    attempts: int = 0
    sends: tuple[datetime, ...] = field(default=())


@dataclass(frozen=True)
class SendRecord:
    """One notification reaching one service (its target is a hash: no URL, no secret)."""

    key: str
    target: str
    sent_at: datetime
    connector: str | None
    ticket_id: str | None
    channel: str | None


def _record(row: Any, sends: tuple[datetime, ...] = ()) -> ActionRecord:
    doc = json.loads(row.action)
    return ActionRecord(
        key=row.key,
        connector=row.connector,
        ticket_id=row.ticket_id,
        kind=str(doc.get("kind", "")),
        escalation=str(doc.get("escalation", "")),
        level=int(doc.get("level", 0)),
        policy=str(doc.get("policy", "")),
        metric=str(doc.get("metric", "")),
        params=dict(doc.get("params") or {}),
        shadow=bool(doc.get("shadow", False)),
        status=row.status,
        detail=row.detail or row.last_error or "",
        planned_at=row.planned_at,
        done_at=row.done_at,
        outbox_state=row.state,
        attempts=row.attempts or 0,
        sends=sends,
    )


_COLUMNS = (
    ledger.c.key,
    ledger.c.connector,
    ledger.c.ticket_id,
    ledger.c.action,
    ledger.c.status,
    ledger.c.detail,
    ledger.c.planned_at,
    ledger.c.done_at,
    outbox.c.state,
    outbox.c.attempts,
    outbox.c.last_error,
)


class ActivityMixin(StoreBase):
    """Recent writes and notifications, bounded."""

    def recent_actions(self, limit: int = 50) -> list[ActionRecord]:
        """Actions that reached an outcome, newest first (at most ``limit``)."""
        query = (
            select(*_COLUMNS)
            .outerjoin(outbox, outbox.c.key == ledger.c.key)
            .where(ledger.c.done_at.is_not(None))
            .order_by(ledger.c.done_at.desc(), ledger.c.key)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
            sends = self._sends_of(conn, [r.key for r in rows])
        return [_record(r, sends.get(r.key, ())) for r in rows]

    def ticket_actions(
        self, connector: str, ticket_id: str, limit: int = 200
    ) -> list[ActionRecord]:
        """Every action planned for one ticket, oldest first (at most ``limit``)."""
        query = (
            select(*_COLUMNS)
            .outerjoin(outbox, outbox.c.key == ledger.c.key)
            .where(ledger.c.connector == connector, ledger.c.ticket_id == ticket_id)
            .order_by(ledger.c.planned_at, ledger.c.key)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
            sends = self._sends_of(conn, [r.key for r in rows])
        return [_record(r, sends.get(r.key, ())) for r in rows]

    def recent_sends(self, limit: int = 50) -> list[SendRecord]:
        """Notifications sent, newest first; a digest's key names no ticket."""
        query = (
            select(
                notification_sends.c.key,
                notification_sends.c.target,
                notification_sends.c.sent_at,
                ledger.c.connector,
                ledger.c.ticket_id,
                ledger.c.action,
            )
            .outerjoin(ledger, ledger.c.key == notification_sends.c.key)
            .order_by(notification_sends.c.sent_at.desc(), notification_sends.c.key)
            .limit(limit)
        )
        with self._read() as conn:
            out = []
            for r in conn.execute(query):
                channel = None
                if r.action is not None:
                    channel = (json.loads(r.action).get("params") or {}).get("channel")
                out.append(
                    SendRecord(r.key, r.target, r.sent_at, r.connector, r.ticket_id, channel)
                )
        return out

    @staticmethod
    def _sends_of(conn: Any, keys: list[str]) -> dict[str, tuple[datetime, ...]]:
        if not keys:
            return {}
        found: dict[str, list[datetime]] = {}
        rows = conn.execute(
            select(notification_sends.c.key, notification_sends.c.sent_at)
            .where(notification_sends.c.key.in_(keys))
            .order_by(notification_sends.c.sent_at)
        )
        for key, at in rows:
            found.setdefault(key, []).append(at)
        return {k: tuple(v) for k, v in found.items()}
