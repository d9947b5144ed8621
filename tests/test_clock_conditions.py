"""Cancelled clocks, custom start / pause / stop / cancel conditions per metric, and their checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from slaplug.credits.compute import compute
from slaplug.credits.periods import period_containing
from slaplug.credits.source import ContractBook
from slaplug.model import EventKind, MeasureState, Metric, Ticket, TicketEvent
from slaplug.rules.pack import RulePack

T = datetime(2026, 10, 6, 9, tzinfo=UTC)
NOW = datetime(2026, 10, 20, tzinfo=UTC)

CANCEL_PACK = """\
version: 1
policies:
  - name: customer-sla
    stop_when: {tags: no_sla}
    targets:
      resolution: {urgent: 2h}
contracts:
  - name: enterprise
    timezone: UTC
    freeze_after: 0h
    fee: 10000
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {below: 100%, credit: 10%}
"""


def urgent(n: int, solved_after: float | None, tags: tuple[str, ...] = (), **kw) -> Ticket:
    events = [TicketEvent(EventKind.CREATED, T)]
    if solved_after is not None:
        events.append(TicketEvent(EventKind.SOLVED, T + timedelta(hours=solved_after)))
    return Ticket(
        id=str(n),
        connector="zd",
        created_at=T,
        status="solved" if solved_after is not None else "open",
        priority="urgent",
        tags=frozenset(tags),
        events=tuple(events),
        updated_at=kw.pop("updated_at", T + timedelta(hours=solved_after or 1)),
        **kw,
    )


def test_a_cancelled_clock_is_left_out_of_compliance_and_credits(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(CANCEL_PACK, encoding="utf-8")
    tickets = [
        urgent(1, 1.0),  # met
        urgent(2, 3.0),  # breached
        # Tagged no_sla at its last update, 5 hours in: out of SLA, so neither met nor missed.
        urgent(3, None, tags=("no_sla",), updated_at=T + timedelta(hours=5)),
    ]
    with RulePack.load([path], engine="python") as pack:
        (m3,) = pack.assess(tickets[2], NOW).measures
        assert m3.state is MeasureState.CANCELLED and not m3.breached
        assert m3.stopped_at == T + timedelta(hours=5)
        book = ContractBook(pack)
        samples = [s for _, s in book.samples(tickets, NOW)]
        assert sorted(s.ticket_key for s in samples) == ["zd:1", "zd:2"]
        contract = book.contracts[0]
        r = compute(contract, period_containing(T, contract.zone), samples, computed_at=NOW)
    o = r.objectives[0]
    assert (o.counted, o.met, o.credit) == (2, 1, Decimal(10))
