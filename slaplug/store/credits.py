"""Frozen credit periods: each computation of a closed period, kept by revision, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from slaplug.store._base import StoreBase, aware
from slaplug.store.schema import credit_periods

__all__ = ["CreditPeriodRow", "CreditsMixin"]


@dataclass(frozen=True)
class CreditPeriodRow:
    """One stored revision of a contract's period.

    Attributes:
        body: The result as JSON text; `slaplug.credits.freeze` reads it.
    """

    contract: str
    period: str
    revision: int
    computed_at: datetime
    reason: str
    body: str


class CreditsMixin(StoreBase):
    """Frozen credit periods."""

    def credit_period(
        self, contract: str, period: str, revision: int | None = None
    ) -> CreditPeriodRow | None:
        """The latest revision stored for ``contract`` and ``period`` (or the one asked for)."""
        c = credit_periods.c
        query = select(credit_periods).where(c.contract == contract, c.period == period)
        if revision is not None:
            query = query.where(c.revision == revision)
        query = query.order_by(c.revision.desc()).limit(1)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return CreditPeriodRow(
            row.contract, row.period, row.revision, row.computed_at, row.reason, row.body
        )

    def add_credit_period(
        self,
        contract: str,
        period: str,
        body: str,
        *,
        reason: str,
        expect_revision: int,
        now: datetime | None = None,
    ) -> CreditPeriodRow:
        """Store a new revision, if the latest stored is ``expect_revision - 1``.

        Two processes freezing the same period at once both try revision 1; the primary key
        lets one win, and the other gets the winner's row back, so every reader sees one result.

        Returns:
            The row now latest: the one added, or the one that won the race.
        """
        c = credit_periods.c
        when = aware(now)
        try:
            with self._write() as conn:
                latest = conn.execute(
                    select(func.coalesce(func.max(c.revision), 0)).where(
                        c.contract == contract, c.period == period
                    )
                ).scalar_one()
                if latest == expect_revision - 1:
                    conn.execute(
                        credit_periods.insert().values(
                            contract=contract,
                            period=period,
                            revision=expect_revision,
                            computed_at=when,
                            reason=reason,
                            body=body,
                        )
                    )
        except IntegrityError:
            pass  # another process stored this revision first: theirs stands
        row = self.credit_period(contract, period)
        assert row is not None
        return row
