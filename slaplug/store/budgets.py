"""Request budgets shared by every worker: token buckets in the store (version 8).

`slaplug.connectors.budget` explains the budgets; this is where their state lives. One row
per bucket holds the tokens left at a time; a take refills the row for the time passed (at
the bucket's rate, up to its burst) and reserves one token, in one short transaction that
locks the row (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so two
processes taking at once are serialized and never both spend the last token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update

from slaplug.store._base import StoreBase, aware
from slaplug.store.schema import request_budgets

__all__ = ["BudgetsMixin", "StoreBudget"]


class _Bucket(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def per_minute(self) -> float: ...
    @property
    def burst(self) -> float: ...


class BudgetsMixin(StoreBase):
    """Token buckets for the connectors' requests."""

    def take_budget(
        self,
        name: str,
        per_minute: float,
        burst: float,
        *,
        max_wait: float = 60.0,
        now: datetime | None = None,
        tokens: float = 1.0,
    ) -> float | None:
        """Reserve one request in bucket ``name``; the seconds to wait before sending it.

        The reservation may take the bucket below zero: the caller waits until its token
        has refilled, and the next caller waits behind it, so requests leave in order and at
        the bucket's rate whatever the number of workers.

        Args:
            name: The bucket (``connector`` or ``connector:endpoint``).
            per_minute: Its rate.
            burst: The tokens it holds at most (requests sent at once after a quiet spell).
            max_wait: A longer wait is not reserved.
            now: The current time.
            tokens: The credits the request takes (`RateLimits.cost`).

        Returns:
            Seconds to wait (0: send now), or None when the wait would exceed ``max_wait``
            (nothing reserved: the caller should give the work back and retry later).
        """
        at = aware(now)
        rate = per_minute / 60.0
        table = request_budgets
        with self._write() as conn:
            query = select(table.c.tokens, table.c.updated_at).where(table.c.name == name)
            row = conn.execute(query.with_for_update()).one_or_none()
            if row is None:
                conn.execute(
                    self._insert(table)
                    .values(name=name, tokens=burst, updated_at=at, granted=0, waited=0)
                    .on_conflict_do_nothing(index_elements=[table.c.name])
                )
                row = conn.execute(query.with_for_update()).one()
            # Hosts' clocks differ a little: time never runs backwards for a bucket.
            last = row.updated_at
            at = max(at, last)
            held = min(burst, row.tokens + (at - last).total_seconds() * rate) - tokens
            wait = float(max(0.0, -held / rate))
            if wait > max_wait:
                return None
            conn.execute(
                update(table)
                .where(table.c.name == name)
                .values(
                    tokens=held,
                    updated_at=at,
                    granted=table.c.granted + 1,
                    waited=table.c.waited + (1 if wait > 0 else 0),
                )
            )
        return wait

    def budget_stats(self) -> dict[str, dict[str, float]]:
        """Each bucket's tokens left (at its last take), requests granted and made to wait."""
        t = request_budgets
        with self._read() as conn:
            return {
                r.name: {"tokens": r.tokens, "granted": r.granted, "waited": r.waited}
                for r in conn.execute(select(t.c.name, t.c.tokens, t.c.granted, t.c.waited))
            }


class StoreBudget:
    """A `slaplug.connectors.budget.RequestBudget` kept in the store, shared by all workers."""

    def __init__(self, store: BudgetsMixin) -> None:
        self.store = store

    def take(self, bucket: _Bucket, *, max_wait: float, tokens: float = 1.0) -> float | None:
        """See `RequestBudget.take`."""
        return self.store.take_budget(
            bucket.name, bucket.per_minute, bucket.burst, max_wait=max_wait, tokens=tokens
        )
