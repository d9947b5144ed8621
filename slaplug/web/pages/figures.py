"""Compliance and credits for the web pages: the computation of ``slaplug report``, called.

One pass measures every stored ticket under the rules (`ContractBook.samples`, what
``report`` and ``credits`` measure with); the contracts' figures for a period then come from
`slaplug.credits.freeze.settle` given those samples, as ``slaplug report`` gets them (a frozen
period is read back, another computed by `slaplug.credits.compute.compute`), except that the
pages never store anything: freezing a period stays the job of ``credits`` and ``report``.
Figures of a part of a contract (one team's tickets, one organization's) come from the same
`compute` over that part's samples; they are never stored.

The pass is the expensive part: `Sampling` holds it for the configured refresh interval.
A period that has ended is measured as of its end, as ``report`` and ``credits`` measure it
(`settle`): `ended_wanted` says which periods a page needs so measured, `take_ended` measures
them (once per refresh, on the rules engine's thread) into `Sampling.ended`, and the figures
of such a period come from those samples instead of the refresh's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slaplug.credits.compute import compute
from slaplug.credits.freeze import measure_samples, settle
from slaplug.credits.model import BreachLine, Contract, PeriodResult, Sample
from slaplug.credits.periods import Period, parse_period, period_containing
from slaplug.credits.source import ContractBook
from slaplug.errors import ConfigError
from slaplug.model import Ticket
from slaplug.store import Store

__all__ = [
    "PartResult",
    "Sampling",
    "TicketFacts",
    "breaches_since",
    "contract_results",
    "current_label",
    "ended_wanted",
    "labels_back",
    "part_results",
    "take_ended",
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
        ended: The decided measures of a contract's period that ended before ``at``, as of
            its end, by (version of terms, contract name, the period's end); filled by
            `take_ended` as pages need them.
    """

    at: datetime
    samples: Mapping[str, Mapping[str, Sequence[Sample]]]
    tickets: Mapping[str, TicketFacts]
    ended: dict[tuple[str, str, datetime], Sequence[Sample]] = field(
        default_factory=dict, compare=False
    )

    def of(self, version: str, name: str, period: Period) -> Sequence[Sample]:
        """Contract ``name``'s samples for ``period`` under terms ``version``: as of the
        period's end once it has ended (when `take_ended` took them), else as of ``at``."""
        if period.end < self.at:
            found = self.ended.get((version, name, period.end))
            if found is not None:
                return found
        return self.samples.get(version, {}).get(name, ())


def ended_wanted(
    store: Store,
    book: ContractBook,
    sampling: Sampling,
    label: str | None,
    *,
    only: str | None = None,
    frozen_too: bool = False,
) -> set[tuple[str, str, datetime]]:
    """The keys of `Sampling.ended` that the figures of period ``label`` (None: the current
    periods, none ended) need and that are not taken yet: each contract's period ``label``
    that ended before ``sampling.at``. A frozen period is read back, not measured: left out
    unless ``frozen_too`` (a team's figures are computed whether or not it is frozen). A
    label that is not a period, or not of a contract's kind, wants nothing here (`settle`
    says why)."""
    out: set[tuple[str, str, datetime]] = set()
    if label is None:
        return out
    for c in book.contracts:
        if only is not None and c.name != only:
            continue
        try:
            if book.kind_mismatch(c.name, label) is not None:
                continue
            found = book.period(c.name, label)
        except ConfigError:
            return set()
        if found is None:
            continue
        _, version, period = found
        key = (version, c.name, period.end)
        if period.end >= sampling.at or key in sampling.ended:
            continue
        if not frozen_too and store.credit_period(c.name, period.label) is not None:
            continue
        out.add(key)
    return out


def take_ended(
    book: ContractBook,
    tickets: Callable[[], Iterable[Ticket]],
    sampling: Sampling,
    wanted: set[tuple[str, str, datetime]],
) -> None:
    """Measure the tickets as of the ends in ``wanted`` (`ended_wanted`) into
    ``sampling.ended``, as `settle` measures a period that has ended (uses the rules engine:
    run on its thread)."""
    names = {name: (version, end) for version, name, end in wanted}
    if len(names) < len(wanted):  # one contract at two ends: one call per end
        for key in wanted:
            take_ended(book, tickets, sampling, {key})
        return
    got = measure_samples(book, names, tickets)
    for version, name, end in wanted:
        sampling.ended[(version, name, end)] = got.get(name, [])


def _given(
    book: ContractBook, sampling: Sampling, label: str
) -> Mapping[str, Mapping[str, Sequence[Sample]]]:
    """`settle`'s ``samples`` for period ``label``: each contract's as of the period's end
    where `Sampling.ended` holds them, else the refresh's."""
    if not sampling.ended:
        return sampling.samples
    merged = {version: dict(by) for version, by in sampling.samples.items()}
    for c in book.contracts:
        try:
            found = book.period(c.name, label)
        except ConfigError:
            return sampling.samples  # settle says why
        if found is None:
            continue
        _, version, period = found
        got = sampling.ended.get((version, c.name, period.end))
        if got is not None and period.end < sampling.at:
            merged.setdefault(version, {})[c.name] = got
    return merged


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
    revision 0 until then: as of its end, from `Sampling.ended` (take them first with
    `ended_wanted` and `take_ended`; without them, as of ``sampling.at``).
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
            samples=_given(book, sampling, label),
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
    `settle` takes them); empty when no version in force then declares the contract. A
    period that has ended is measured as of its end where `Sampling.ended` holds it.

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
    for s in sampling.of(version, name, period):
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
