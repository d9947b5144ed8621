"""The history of SLA measures: one row each time a measure's state, breach or cycle changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_

from slaplug.model import SlaMeasure
from slaplug.store._base import BATCH, StoreBase, aware, chunks
from slaplug.store.codec import measure_from_json, measure_to_json
from slaplug.store.schema import measure_heads, measures

__all__ = ["MeasureRecord", "MeasuresMixin", "VersionOf"]

#: Names the rules version that measured a measure (`VersionedAssessment.version_of`).
VersionOf = Callable[[SlaMeasure], str]


@dataclass(frozen=True)
class MeasureRecord:
    """One entry of the measures history.

    Attributes:
        ticket_key: `Ticket.key` (``connector:id``).
        at: When the change was recorded.
        measure: The measure as it was then.
        version: The label of the rules version that measured it; None when the rules
            declare no versions (or the row predates them).
    """

    ticket_key: str
    at: datetime
    measure: SlaMeasure
    version: str | None = None


class MeasuresMixin(StoreBase):
    """Measures history."""

    def record_measures(
        self, ticket_key: str, measures_now: Iterable[SlaMeasure], at: datetime | None = None
    ) -> int:
        """Append the measures whose state, breach or cycle changed since last recorded.

        Each measure is compared with the last one recorded for the same ticket, policy, metric
        and cycle (a new cycle is a change by itself). The comparison and the update are one
        upsert whose WHERE clause holds only on a change, so two processes recording the same
        change at once append it once.

        Returns:
            How many measures were appended.
        """
        return self.record_measures_many([(ticket_key, measures_now)], at=at)

    def record_measures_many(
        self,
        items: Iterable[tuple[str, Iterable[SlaMeasure]]],
        at: datetime | None = None,
    ) -> int:
        """`record_measures` for many tickets in one transaction (one commit per batch).

        Args:
            items: ``(ticket_key, measures)`` per ticket.
            at: The time to record.

        Returns:
            How many measures were appended, in all.
        """
        return len(self.record_measure_changes(items, at=at))

    def record_measure_changes(
        self,
        items: Iterable[tuple[str, Iterable[SlaMeasure]]],
        at: datetime | None = None,
        *,
        versions: Mapping[str, VersionOf] | None = None,
    ) -> list[tuple[str, SlaMeasure]]:
        """`record_measures_many`, returning the ``(ticket_key, measure)`` pairs appended.

        A measure that turns breached is appended exactly once (a breach never changes state
        again), so callers can tell new breaches from ones seen before.

        Args:
            items: ``(ticket_key, measures)`` per ticket.
            at: The time to record.
            versions: Per ticket key, what names the rules version of each of its measures
                (recorded with each row appended; an empty label is recorded as NULL).
        """
        when = aware(at)
        stmt = self._insert(measure_heads)
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                measure_heads.c.ticket_key,
                measure_heads.c.policy,
                measure_heads.c.metric,
                measure_heads.c.cycle,
            ],
            set_={
                "state": stmt.excluded.state,
                "breached": stmt.excluded.breached,
                "at": stmt.excluded.at,
            },
            where=(measure_heads.c.state != stmt.excluded.state)
            | (measure_heads.c.breached != stmt.excluded.breached),
        ).returning(
            measure_heads.c.ticket_key,
            measure_heads.c.policy,
            measure_heads.c.metric,
            measure_heads.c.cycle,
        )
        # The latest measure per head; one head twice in a batch counts once, as it stands
        # last (one multi-row upsert may not touch a row twice).
        latest: dict[tuple[str, str, str, int], SlaMeasure] = {}
        for ticket_key, measures_now in items:
            for m in measures_now:
                latest[(ticket_key, m.policy, m.metric.value, m.cycle)] = m
        rows = [_head_row(head, m, when) for head, m in sorted(latest.items())]
        changes: list[tuple[str, SlaMeasure]] = []
        if not rows:
            return changes
        with self._write() as conn:
            # One upsert for the batch (sorted rows: two processes lock heads in one order);
            # RETURNING names the heads it inserted or changed, and only those.
            changed = {
                (r.ticket_key, r.policy, r.metric, r.cycle)
                for part in chunks(rows)
                for r in conn.execute(stmt, part)
            }
            appended: list[dict[str, Any]] = []
            for head, m in sorted(latest.items()):
                if head in changed:
                    name = versions.get(head[0]) if versions else None
                    label = (name(m) or None) if name is not None else None
                    appended.append(
                        {
                            **_head_row(head, m, when),
                            "body": measure_to_json(m),
                            "rules_version": label,
                        }
                    )
                    changes.append((head[0], m))
            if appended:
                conn.execute(measures.insert(), appended)
        return changes

    def measures_between(
        self, start: datetime, end: datetime, *, ticket_key: str | None = None, batch: int = BATCH
    ) -> Iterator[MeasureRecord]:
        """The history recorded in ``[start, end)``, oldest first, read ``batch`` rows at a time.

        Keyset paging on (at, id), each page its own short transaction: memory stays flat
        however long the period.
        """
        lo, hi = aware(start), aware(end)
        last: tuple[datetime, int] | None = None
        order = tuple_(measures.c.at, measures.c.id)
        while True:
            query = select(
                measures.c.id,
                measures.c.ticket_key,
                measures.c.at,
                measures.c.body,
                measures.c.rules_version,
            ).where(measures.c.at >= lo, measures.c.at < hi)
            if ticket_key is not None:
                query = query.where(measures.c.ticket_key == ticket_key)
            if last is not None:
                query = query.where(order > tuple_(*last))
            query = query.order_by(measures.c.at, measures.c.id).limit(batch)
            with self._read() as conn:
                rows = conn.execute(query).all()
            for r in rows:
                yield MeasureRecord(r.ticket_key, r.at, measure_from_json(r.body), r.rules_version)
            if len(rows) < batch:
                return
            last = (rows[-1].at, rows[-1].id)

    def measure_versions(self, ticket_key: str) -> dict[tuple[str, str, int], str | None]:
        """The rules version last recorded for each of a ticket's clocks.

        Returns:
            ``(policy, metric, cycle)`` -> the label (None: recorded without versions).
        """
        query = (
            select(measures.c.policy, measures.c.metric, measures.c.cycle, measures.c.rules_version)
            .where(measures.c.ticket_key == ticket_key)
            .order_by(measures.c.at, measures.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return {(r.policy, r.metric, r.cycle): r.rules_version for r in rows}


def _head_row(head: tuple[str, str, str, int], m: SlaMeasure, when: datetime) -> dict[str, Any]:
    ticket_key, policy, metric, cycle = head
    return {
        "ticket_key": ticket_key,
        "policy": policy,
        "metric": metric,
        "cycle": cycle,
        "state": m.state.value,
        "breached": m.breached,
        "at": when,
    }
