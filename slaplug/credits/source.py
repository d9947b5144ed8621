"""Decided measures per contract, from stored ticket snapshots re-measured under a rules pack.

Why snapshots, not the measures history: the history records a measure when a sync *sees* its
state change, which for a clock stopped at 23:59 on the 31st may be the next month, and it holds
no ticket fields, which contracts match on (organization, requester, tags). A snapshot holds
the ticket's whole event history, so measuring it again gives each measure's exact breach or
stop instant, under the customer-pause exclusions of the contract, and under *any* pack: the
same function replays history for `slaplug backtest`. Results of closed periods are frozen
(`slaplug.credits.freeze`), so later edits of policies or calendars do not change them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from slaplug.credits.model import Contract, Sample
from slaplug.model import MeasureState, SlaMeasure, Ticket
from slaplug.rules.engines.facts import normalize
from slaplug.rules.engines.fields import TICKET_FIELDS, ticket_fact
from slaplug.rules.engines.python import Predicate, compile_condition
from slaplug.rules.pack import RulePack
from slaplug.sla.policy import SlaPolicy

__all__ = ["ContractBook", "rules_digest"]


def rules_digest(paths: Iterable[str | Path]) -> str:
    """sha256 over the rules files' contents, in order: which rules a result was computed with."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


class ContractBook:
    """A pack's contracts, and which contract each ticket belongs to (the first that matches)."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        src = pack.source
        zones = {name: cal.zone for name, cal in src.calendars.items()}
        self.contracts: list[Contract] = [Contract.from_spec(c, zones) for c in src.contracts]
        self._types = {**TICKET_FIELDS, **src.types}
        self._match: list[Predicate | None] = [
            compile_condition(c) if c is not None else None for c in src.contract_match
        ]
        self._policies = {p.name: (i, p) for i, p in enumerate(pack.sla_policies)}
        self._stops: list[Predicate | None] = [
            compile_condition(c) if c is not None else None for c in src.policy_stop
        ]

    def get(self, name: str) -> Contract | None:
        """The contract called ``name``, if the pack has one."""
        return next((c for c in self.contracts if c.name == name), None)

    def contract_of(self, ticket: Ticket) -> Contract | None:
        """The first contract whose ``match`` holds for ``ticket``."""
        fact = normalize(ticket_fact(ticket), self._types)
        for contract, match in zip(self.contracts, self._match, strict=True):
            if match is None or match(fact):
                return contract
        return None

    def samples(
        self, tickets: Iterable[Ticket], now: datetime, batch: int = 500
    ) -> Iterator[tuple[Contract, Sample]]:
        """Every decided measure of every ticket that belongs to a contract, as of ``now``."""
        chunk: list[tuple[Ticket, Contract]] = []
        for t in tickets:
            c = self.contract_of(t)
            if c is not None:
                chunk.append((t, c))
            if len(chunk) >= batch:
                yield from self._samples(chunk, now)
                chunk = []
        if chunk:
            yield from self._samples(chunk, now)

    def _samples(
        self, chunk: Sequence[tuple[Ticket, Contract]], now: datetime
    ) -> Iterator[tuple[Contract, Sample]]:
        kinds = {p.name: p.kind for p in self.pack.policies}
        assessments = self.pack.assess_many([t for t, _ in chunk], now)
        for (ticket, contract), a in zip(chunk, assessments, strict=True):
            ms = [
                m
                for m in a.measures
                if (contract.policies is None and kinds.get(m.policy) == "sla")
                or (contract.policies is not None and m.policy in contract.policies)
            ]
            for m, excused in self._contract_view(ticket, contract, ms, now):
                decided = m.breached_at or m.stopped_at
                if decided is None:
                    continue  # still running: it counts in the period it is decided in
                yield (
                    contract,
                    Sample(
                        ticket_key=ticket.key,
                        url=ticket.url,
                        subject=ticket.subject,
                        severity=m.priority,
                        metric=m.metric,
                        policy=m.policy,
                        cycle=m.cycle,
                        start=m.start,
                        decided_at=decided,
                        breached=m.breached,
                        overdue=(m.elapsed - m.target) if m.breached else timedelta(0),
                        tags=ticket.tags,
                        excused_by_customer=excused,
                        # Not applicable: neither met nor breached; compute lists, never counts it.
                        cancelled=m.state is MeasureState.CANCELLED,
                    ),
                )

    def _contract_view(
        self, ticket: Ticket, contract: Contract, ms: list[SlaMeasure], now: datetime
    ) -> Iterator[tuple[SlaMeasure, bool]]:
        """Each measure on the contract's clock: re-measured where the contract pauses on
        statuses the policy does not, paired with "a breach this turned into a met target"."""
        by_policy: dict[str, list[SlaMeasure]] = {}
        for m in ms:
            by_policy.setdefault(m.policy, []).append(m)
        for name, measures in by_policy.items():
            index, policy = self._policies[name]
            extra = contract.customer_statuses - policy.pause_statuses
            if not extra:
                for m in measures:
                    yield m, False
                continue
            again = self._remeasure(ticket, index, policy, extra, now)
            for m in measures:
                c = again.get((m.metric, m.cycle), m)
                yield c, m.breached and not c.breached

    def _remeasure(
        self, ticket: Ticket, index: int, policy: SlaPolicy, extra: frozenset[str], now: datetime
    ) -> dict[tuple[object, int], SlaMeasure]:
        # The pack's own measuring, conditions and history included, with more pauses.
        again = self.pack.measure_policy(ticket, now, policy.name, extra)
        return {(m.metric, m.cycle): m for m in again}
