"""The audit buffer keeps memory flat on a first read: past its limit, audits go to disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from slaplug_zendesk.buffer import AuditBuffer
from slaplug_zendesk.events import Audit, Child


def audit(i: int, ticket: int) -> Audit:
    return Audit(
        i,
        ticket,
        datetime(2026, 3, 2, 9, i % 60, tzinfo=UTC),
        7,
        (Child("Comment", public=True, author_id=7),),
    )


def test_spilled_and_in_memory_audits_come_back_in_order_per_ticket() -> None:
    buf = AuditBuffer(limit=3)
    for i in range(10):
        buf.add(audit(i, ticket=100 + i % 2))
    assert list(buf.pending()) == [100, 101]
    assert [a.id for a in buf.take(100)] == [0, 2, 4, 6, 8]
    assert list(buf.pending()) == [101]
    assert [a.id for a in buf.take(101)] == [1, 3, 5, 7, 9]
    assert list(buf.pending()) == []
    buf.close()


def test_a_ticket_handed_out_twice_gets_its_whole_history_twice() -> None:
    # Issue 14, item 1: a ticket that reappears later in the same complete first read (it
    # was written back after an early page) must not come back with an empty history.
    buf = AuditBuffer(limit=3)
    for i in range(6):
        buf.add(audit(i, ticket=100 + i % 2))
    first = [a.id for a in buf.take(100)]
    assert first == [0, 2, 4]
    assert [a.id for a in buf.take(100)] == first
    buf.close()


def test_the_temporary_file_goes_away_on_close() -> None:
    buf = AuditBuffer(limit=1)
    buf.add(audit(1, ticket=5))
    folder = Path(buf._tmp.name)  # type: ignore[union-attr]
    assert folder.exists()
    buf.close()
    assert not folder.exists()
