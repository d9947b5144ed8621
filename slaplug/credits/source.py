"""Decided measures per contract, from stored ticket snapshots re-measured under the rules.

Why snapshots, not the measures history: the history records a measure when a sync *sees* its
state change, which for a clock stopped at 23:59 on the 31st may be the next month, and it holds
no ticket fields, which contracts match on (organization, requester, tags). A snapshot holds
the ticket's whole event history, so measuring it again gives each measure's exact breach or
stop instant, under the customer-pause exclusions of the contract, and under *any* pack: the
same function replays history for `slaplug backtest`. Results of closed periods are frozen
(`slaplug.credits.freeze`), so later edits of policies or calendars do not change them; with
effective-dated rules, a new version does not change open periods' earlier cycles either (each
measure is the one of the version in force when its cycle started).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from slaplug.credits.model import Contract, Sample
from slaplug.credits.periods import (
    Period,
    label_kind,
    labels_of_kind,
    parse_period,
    period_containing,
)
from slaplug.model import MeasureState, SlaMeasure, Ticket
from slaplug.rules.engines.facts import normalize
from slaplug.rules.engines.fields import TICKET_FIELDS, ticket_fact
from slaplug.rules.engines.python import Predicate, compile_condition
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedAssessment, VersionedPack
from slaplug.sla.policy import SlaPolicy

__all__ = ["ContractBook", "rules_digest"]


def rules_digest(
    paths: Iterable[str | Path], versions: Iterable[tuple[str, datetime | None]] = ()
) -> str:
    """sha256 over the rules files' contents, in order: which rules a result was computed with.

    ``versions`` (label, effective date) are hashed too: the same files under other dates
    measure differently.
    """
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
        h.update(b"\0")
    for label, since in versions:
        h.update(f"{label}@{since.isoformat() if since else ''}".encode())
        h.update(b"\0")
    return h.hexdigest()


class _Terms:
    """One rules version's contracts and how tickets are matched to them."""

    def __init__(self, pack: RulePack) -> None:
        src = pack.source
        zones = {name: cal.zone for name, cal in src.calendars.items()}
        self.contracts: list[Contract] = [Contract.from_spec(c, zones) for c in src.contracts]
        self._types = {**TICKET_FIELDS, **src.types}
        self._match: list[Predicate | None] = [
            compile_condition(c) if c is not None else None for c in src.contract_match
        ]

    def contract_of(self, ticket: Ticket) -> Contract | None:
        fact = normalize(ticket_fact(ticket), self._types)
        for contract, match in zip(self.contracts, self._match, strict=True):
            if match is None or match(fact):
                return contract
        return None


class ContractBook:
    """The rules' contracts, and which contract each ticket belongs to (the first that matches).

    With rules versions (`VersionedPack`), contracts version with the files that declare them:

    - a period's terms (objectives, tiers, fee, cap, exclusions, which tickets a contract
      matches) are those of the version in force at the period's start (`terms`);
    - each measure counted is the one of the version in force when its cycle started (its
      targets, calendar and pauses), and the contract's customer pauses are taken off the
      clock under that same version; `Sample.version` names it.
    """

    def __init__(self, pack: RulePack | VersionedPack) -> None:
        self.rules = VersionedPack.of(pack)
        self._terms = {v.label: _Terms(v.pack) for v in self.rules.versions}
        newest = self._terms[self.rules.newest.label].contracts
        # Contracts of the newest version first, then those only older versions declare
        # (a contract dropped in v2 still settles the periods v1 was in force for).
        older = [
            c for v in reversed(self.rules.versions[:-1]) for c in self._terms[v.label].contracts
        ]
        self.contracts: list[Contract] = list(newest)
        for c in older:
            if all(c.name != k.name for k in self.contracts):
                self.contracts.append(c)
        #: Per version: policy name -> the policy (its own pause statuses), and its kind.
        self._policies = {
            v.label: {p.name: p for p in v.pack.sla_policies} for v in self.rules.versions
        }
        self._kinds = {
            v.label: {p.name: p.kind for p in v.pack.policies} for v in self.rules.versions
        }

    def get(self, name: str) -> Contract | None:
        """The contract called ``name`` (as the newest version that declares it has it)."""
        return next((c for c in self.contracts if c.name == name), None)

    def terms(self, name: str, at: datetime) -> tuple[Contract, str] | None:
        """Contract ``name`` as the version in force at ``at`` declares it, with its label;
        None when that version has no such contract."""
        label = self.rules.version_at(at).label
        found = next((c for c in self._terms[label].contracts if c.name == name), None)
        return None if found is None else (found, label)

    def period(self, name: str, label: str) -> tuple[Contract, str, Period] | None:
        """Period ``label`` of contract ``name``: its terms, their version's label, its bounds.

        The terms are those of the version in force at the period's start; the bounds are in
        their zone and period kind. Where the version in force changed the contract's zone
        (its calendar's, or ``timezone``) or period kind since the period before, this period
        starts where that one ends: periods follow each other with no gap and no overlap, so
        a measure decided between the two zones' midnights counts once, in this period.
        None when the version in force at the start has no such contract.
        """
        found = self._bounds(name, label)
        if found is None:
            return None
        contract, version, period = found
        before = period_containing(
            period.start - timedelta(microseconds=1), contract.zone, contract.period_kind
        )
        previous = self._bounds(name, before.label)
        if previous is not None and previous[2].end != period.start:
            period = replace(period, start=previous[2].end.astimezone(contract.zone))
        return contract, version, period

    def kind_mismatch(self, name: str, label: str) -> str | None:
        """Why contract ``name`` has no period ``label`` (a quarter of a contract billed
        monthly, a month of one billed quarterly), naming the labels it takes; None when the
        label is of its kind (or the contract has no terms for it).

        Raises:
            ConfigError: ``label`` is not a period.
        """
        kind = label_kind(label)
        found = self.period(name, label)
        if found is None or found[0].period_kind == kind:
            return None
        contract, version, _ = found
        billed = "monthly" if contract.period_kind == "month" else "quarterly"
        under = f" under rules {version}" if self.rules.labelled and version else ""
        labels = labels_of_kind(label, contract.period_kind)
        shown = ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]
        return f"{name} is billed {billed}{under}: use --period {shown}"

    def _bounds(self, name: str, label: str) -> tuple[Contract, str, Period] | None:
        """`period` without the join to the period before."""
        newest = self.get(name)
        if newest is None:
            return None
        period = parse_period(label, newest.zone, newest.period_kind)
        found = self.terms(name, period.start)
        if found is None:
            return None
        contract, version = found
        if (contract.zone, contract.period_kind) != (newest.zone, newest.period_kind):
            period = parse_period(label, contract.zone, contract.period_kind)
        return contract, version, period

    def contract_of(self, ticket: Ticket, terms: str | None = None) -> Contract | None:
        """The first contract whose ``match`` holds for ``ticket``, under version ``terms``
        (default the newest)."""
        return self._terms[self.rules.newest.label if terms is None else terms].contract_of(ticket)

    def samples(
        self,
        tickets: Iterable[Ticket],
        now: datetime,
        batch: int = 500,
        terms: str | None = None,
    ) -> Iterator[tuple[Contract, Sample]]:
        """Every decided measure of every ticket that belongs to a contract, as of ``now``.

        Args:
            tickets: The tickets.
            now: The time to measure at.
            batch: Tickets assessed together.
            terms: The version whose contracts match tickets (default the newest).
        """
        chunk: list[tuple[Ticket, Contract]] = []
        for t in tickets:
            c = self.contract_of(t, terms)
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
        assessments = self.rules.assess_many([t for t, _ in chunk], now)
        for (ticket, contract), a in zip(chunk, assessments, strict=True):
            ms = [
                m
                for m in a.measures
                if (
                    contract.policies is None
                    and self._kinds[a.version_of(m)].get(m.policy) == "sla"
                )
                or (contract.policies is not None and m.policy in contract.policies)
            ]
            for m, excused in self._contract_view(ticket, contract, a, ms, now):
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
                        version=a.version_of(m),
                        organization=ticket.organization or "",
                    ),
                )

    def _contract_view(
        self,
        ticket: Ticket,
        contract: Contract,
        a: VersionedAssessment,
        ms: list[SlaMeasure],
        now: datetime,
    ) -> Iterator[tuple[SlaMeasure, bool]]:
        """Each measure on the contract's clock: re-measured where the contract pauses on
        statuses the policy does not, paired with "a breach this turned into a met target".

        The re-measure runs under the version that measured the clock (its own policy)."""
        by_policy: dict[tuple[str, str], list[SlaMeasure]] = {}
        for m in ms:
            by_policy.setdefault((a.version_of(m), m.policy), []).append(m)
        for (label, name), measures in by_policy.items():
            policy = self._policies[label][name]
            extra = contract.customer_statuses - policy.pause_statuses
            if not extra:
                for m in measures:
                    yield m, False
                continue
            again = self._remeasure(ticket, label, policy, extra, now)
            for m in measures:
                c = again.get((m.metric, m.cycle), m)
                yield c, m.breached and not c.breached

    def _remeasure(
        self, ticket: Ticket, label: str, policy: SlaPolicy, extra: frozenset[str], now: datetime
    ) -> dict[tuple[object, int], SlaMeasure]:
        # The version's own measuring, conditions and history included, with more pauses.
        again = self.rules.get(label).pack.measure_policy(ticket, now, policy.name, extra)
        return {(m.metric, m.cycle): m for m in again}
