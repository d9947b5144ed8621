"""Compliance and credits for the web pages: the computation of ``slaplug report``, called.

One pass measures every stored ticket under the rules (`ContractBook.samples`, what
``report`` and ``credits`` measure with); the contracts' figures for a period then come from
`slaplug.credits.freeze.settle` given those samples, as ``slaplug report`` gets them (a frozen
period is read back, another computed by `slaplug.credits.compute.compute`), except that the
pages never store anything: freezing a period stays the job of ``credits`` and ``report``.
Figures of a part of a contract (one team's tickets, one organization's) come from the same
`compute` over that part's samples; they are never stored.

The pass is the expensive part: `Sampling` holds it for the configured refresh interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slaplug.credits.compute import compute
from slaplug.credits.freeze import settle
from slaplug.credits.model import BreachLine, Contract, PeriodResult, Sample
from slaplug.credits.periods import Period, parse_period, period_containing
from slaplug.credits.source import ContractBook
from slaplug.model import Ticket
from slaplug.store import Store

__all__ = [
    "PartResult",
    "Sampling",
    "TicketFacts",
    "breaches_since",
    "contract_results",
    "current_label",
    "labels_back",
    "part_results",
    "take_samples",
]


@dataclass(frozen=True)
class TicketFacts:
    """What the pages show of a ticket that belongs to a contract."""

    key: str
    organization: str
    team: str


@dataclass(frozen=True)
class Sampling:
    """Every decided measure of every contract's tickets as of ``at``.

    Attributes:
        samples: By version of the contracts' terms (a rules version's label; one, unless
            the rules are versioned), then by contract name: `settle`'s ``samples``.
        tickets: The contracts' tickets' facts, by ticket key.
    """

    at: datetime
    samples: Mapping[str, Mapping[str, Sequence[Sample]]]
    tickets: Mapping[str, TicketFacts]


def take_samples(
    book: ContractBook, tickets: Callable[[], Iterable[Ticket]], now: datetime
) -> Sampling:
    """Measure the tickets once per version of terms under the book's rules (uses the rules
    engine: run on its thread)."""
    facts: dict[str, TicketFacts] = {}
    members: set[str] = set()
    by_terms: dict[str, dict[str, list[Sample]]] = {}
    for version in book.rules.versions:
        by_contract: dict[str, list[Sample]] = {}
        for contract, sample in book.samples(tickets(), now, terms=version.label):
            by_contract.setdefault(contract.name, []).append(sample)
            members.add(sample.ticket_key)
        by_terms[version.label] = by_contract
    for t in tickets():
        if t.key in members:
            facts[t.key] = TicketFacts(t.key, t.organization or "", t.group or "")
    return Sampling(now, by_terms, facts)


def current_label(contract: Contract, now: datetime) -> str:
    """The label of the period ``now`` falls in, for ``contract`` (``2026-12``, ``2026-Q4``)."""
    return period_containing(now, contract.zone, contract.period_kind).label


def labels_back(contract: Contract, now: datetime, count: int) -> list[str]:
    """The current period's label and the ``count - 1`` before it, newest first."""
    period = period_containing(now, contract.zone, contract.period_kind)
    out = [period.label]
    while len(out) < count:
        period = period_containing(
            period.start - timedelta(seconds=1), contract.zone, contract.period_kind
        )
        out.append(period.label)
    return out


def contract_results(
    store: Store,
    book: ContractBook,
    sampling: Sampling,
    label: str | None,
    *,
    digest: str,
    only: str | None = None,
) -> list[PeriodResult]:
    """Each contract's result for ``label`` (None: each contract's current period), as
    ``slaplug report --period LABEL --at <sampling.at>`` computes it.

    Read-only: a frozen period is read back as ``report`` reads it; a closed one that nobody
    froze yet (``slaplug credits``/``report`` freeze it) is computed, not stored, and shows as
    revision 0 until then.
    """
    out: list[PeriodResult] = []
    if label is not None:
        settled = settle(
            store,
            book,
            label,
            now=sampling.at,
            digest=digest,
            only=only,
            samples=sampling.samples,
            freeze=False,
        )
        return [s.result for s in settled]
    for c in book.contracts:
        if only is not None and c.name != only:
            continue
        settled = settle(
            store,
            book,
            current_label(c, sampling.at),
            now=sampling.at,
            digest=digest,
            only=c.name,
            samples=sampling.samples,
            freeze=False,
        )
        out.extend(s.result for s in settled)
    return out


@dataclass(frozen=True)
class PartResult:
    """A contract's figures over part of its tickets (a team's, an organization's)."""

    part: str
    result: PeriodResult


def part_results(
    book: ContractBook,
    sampling: Sampling,
    name: str,
    label: str | None,
    by: str,
    *,
    digest: str = "",
    only: str | None = None,
) -> list[PartResult]:
    """Contract ``name``'s figures for period ``label`` (None: the current one) per team
    (``by="team"``) or organization, under the terms in force at the period's start (as
    `settle` takes them); empty when no version in force then declares the contract.

    Args:
        only: Just this team or organization (also when it has no ticket: all zero).

    Raises:
        ConfigError: ``label`` is not a period.
    """
    newest = book.get(name)
    if newest is None:
        return []
    found = book.period(
        name, label or period_containing(sampling.at, newest.zone, newest.period_kind).label
    )
    if found is None:
        return []
    contract, version, period = found
    groups: dict[str, list[Sample]] = {}
    if only is not None:
        groups[only] = []
    for s in sampling.samples.get(version, {}).get(name, ()):
        facts = sampling.tickets.get(s.ticket_key)
        part = (facts.team if by == "team" else facts.organization) if facts else ""
        if only is not None and part != only:
            continue
        groups.setdefault(part, []).append(s)
    return [
        PartResult(
            part,
            compute(contract, period, samples, computed_at=sampling.at, rules_digest=digest),
        )
        for part, samples in sorted(groups.items())
    ]


def period_of(contract: Contract, label: str) -> Period:
    """``label`` as a period of ``contract``."""
    return parse_period(label, contract.zone, contract.period_kind)


def breaches_since(result: PeriodResult, since: datetime) -> list[BreachLine]:
    """The result's breaches at or after ``since``."""
    return [b for b in result.breaches if b.breached_at >= since]
