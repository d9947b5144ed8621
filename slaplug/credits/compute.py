"""Compliance and credit of one contract for one period: a pure function of decided measures.

The rules, in the order they apply (docs/concepts/service-credits.md works one example by hand):

1. A measure counts in the period holding the instant its outcome became known: its breach,
   or its clock stopping within target. Running clocks count later, once decided. Cancelled
   clocks (a ``cancel_when`` or a policy's ``stop_when``: the target did not apply) never
   count, met or missed: they are listed among the exclusions.
2. Exclusions: a ticket with an excluded tag is left out; a measure whose clock started, or
   whose breach fell, inside an announced maintenance window is left out. Time waiting on the
   customer was already taken off the contract's clock before this step (`slaplug.credits.
   source`); a breach that this turns into a met target is counted as met, and listed.
3. Per objective (severity and metric): compliance is ``met / counted``, exactly. At or above
   the target nothing is owed; below it, the one tier with ``at_least <= compliance < below``
   gives the credit. No measure counted: nothing is owed.
4. The contract owes the sum of its objectives' credits, at most the cap, in percent of the
   fee; the amount is rounded half up to the cent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from slaplug.credits.model import (
    BreachLine,
    Contract,
    ExclusionLine,
    Objective,
    ObjectiveResult,
    PeriodResult,
    Sample,
    Tier,
    money,
    percent_text,
)
from slaplug.credits.periods import Period

__all__ = ["CANCELLED", "compute", "exclusion_reason", "objective_result"]

#: Why a cancelled clock is left out.
CANCELLED = "clock cancelled: the target did not apply"


def exclusion_reason(contract: Contract, sample: Sample) -> str | None:
    """Why ``sample`` is left out of ``contract``'s figures, or None if it counts."""
    tags = sorted(contract.excluded_tags & sample.tags)
    if tags:
        return f"ticket tagged {tags[0]}"
    for w in contract.maintenance:
        note = f" ({w.note})" if w.note else ""
        if w.start <= sample.start < w.end:
            return f"clock started in maintenance window {w.start.isoformat()}{note}"
        if sample.breached and w.start <= sample.decided_at < w.end:
            return f"breached in maintenance window {w.start.isoformat()}{note}"
    return None


def _tier_for(tiers: Iterable[Tier], compliance: Fraction) -> Tier | None:
    return next((t for t in tiers if t.holds(compliance)), None)


def objective_result(objective: Objective, counted: int, met: int) -> ObjectiveResult:
    """Compliance, tier and credit of one objective from its two counts."""
    name = f"{objective.severity} {objective.metric.value}"
    target = f"{objective.target.normalize():f} %"
    if counted == 0:
        return ObjectiveResult(
            objective.severity,
            objective.metric,
            objective.target,
            0,
            0,
            None,
            Decimal(0),
            f"{name}: no measures decided in the period, nothing owed",
        )
    compliance = Fraction(met, counted)
    shown = f"{met} of {counted} met = {percent_text(compliance)}"
    if compliance * 100 >= Fraction(objective.target):
        return ObjectiveResult(
            objective.severity,
            objective.metric,
            objective.target,
            counted,
            met,
            None,
            Decimal(0),
            f"{name}: {shown}, target {target} met, nothing owed",
        )
    tier = _tier_for(objective.tiers, compliance)
    credit = tier.credit if tier is not None else Decimal(0)
    where = f"tier {tier.text()}" if tier is not None else "no tier (check the rules)"
    return ObjectiveResult(
        objective.severity,
        objective.metric,
        objective.target,
        counted,
        met,
        tier,
        credit,
        f"{name}: {shown}, below the target {target}: {where}",
    )


def compute(
    contract: Contract,
    period: Period,
    samples: Iterable[Sample],
    *,
    computed_at: datetime,
    rules_digest: str = "",
    by_customer: bool = False,
    customer: str | None = None,
) -> PeriodResult:
    """What ``contract`` owes for ``period`` given the decided measures of its tickets.

    Args:
        contract: The contract.
        period: The period, in the contract's zone.
        samples: Decided measures of the contract's tickets (any period; others are ignored).
        computed_at: When this is computed, recorded in the result.
        rules_digest: Fingerprint of the rules used, recorded in the result.
        by_customer: Also compute each customer's (ticket organization's) part, from its
            tickets' measures only (`PeriodResult.parts`).
        customer: The organization ``samples`` are limited to, recorded in the result.
    """
    wanted = {(o.severity, o.metric) for o in contract.objectives}
    samples = [
        s
        for s in samples
        if s.decided_at in period and s.severity is not None and (s.severity, s.metric) in wanted
    ]
    customers = tuple(sorted({s.organization for s in samples}))
    counted: Counter[tuple[str, str]] = Counter()
    met: Counter[tuple[str, str]] = Counter()
    breaches: list[BreachLine] = []
    exclusions: list[ExclusionLine] = []
    reasons: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    excused = 0
    for s in samples:
        assert s.severity is not None  # kept above
        key = (s.severity, s.metric.value)
        reason = CANCELLED if s.cancelled else exclusion_reason(contract, s)
        if reason is not None:
            exclusions.append(
                ExclusionLine(s.ticket_key, s.url, s.severity, s.metric, s.cycle, reason)
            )
            reasons[reason] += 1
            continue
        counted[key] += 1
        versions[s.version] += 1
        if s.breached:
            breaches.append(
                BreachLine(
                    s.ticket_key,
                    s.url,
                    s.subject,
                    s.severity,
                    s.metric,
                    s.cycle,
                    s.decided_at,
                    s.overdue,
                )
            )
        else:
            met[key] += 1
            if s.excused_by_customer:
                excused += 1
                exclusions.append(
                    ExclusionLine(
                        s.ticket_key,
                        s.url,
                        s.severity,
                        s.metric,
                        s.cycle,
                        "counted as met: time waiting on the customer taken off the clock",
                    )
                )
    results = tuple(
        objective_result(
            o, counted[(o.severity, o.metric.value)], met[(o.severity, o.metric.value)]
        )
        for o in contract.objectives
    )
    credit_sum = sum((r.credit for r in results), Decimal(0))
    credit = min(credit_sum, contract.cap) if contract.cap is not None else credit_sum
    amount = money(contract.fee, credit) if contract.fee is not None else None
    why = [r.why for r in results]
    why.append(_total_line(contract, results, credit_sum, credit, amount))
    for reason, n in sorted(reasons.items()):
        why.append(f"left out: {n} measure(s), {reason}")
    if excused:
        statuses = ", ".join(sorted(contract.customer_statuses))
        why.append(
            f"{excused} breach(es) counted as met: time waiting on the customer ({statuses}) "
            "taken off the clock"
        )
    return PeriodResult(
        contract=contract.name,
        period=period.label,
        start=period.start,
        end=period.end,
        timezone=str(contract.zone),
        objectives=results,
        breaches=tuple(sorted(breaches, key=lambda b: (b.breached_at, b.ticket_key))),
        exclusions=tuple(sorted(exclusions, key=lambda e: (e.ticket_key, e.metric, e.cycle))),
        credit_sum=credit_sum,
        cap=contract.cap,
        credit=credit,
        fee=contract.fee,
        currency=contract.currency,
        amount=amount,
        why=tuple(why),
        computed_at=computed_at,
        rules_digest=rules_digest,
        # Which rules versions the counted measures rest on (none to name without versions).
        rules_versions=tuple(sorted(versions.items())) if any(versions) else (),
        customer=customer,
        customers=customers,
        parts=_parts(contract, period, samples, computed_at, rules_digest) if by_customer else None,
    )


def _parts(
    contract: Contract,
    period: Period,
    samples: list[Sample],
    computed_at: datetime,
    rules_digest: str,
) -> tuple[PeriodResult, ...]:
    """Each customer's result: the same computation over its tickets' measures only."""
    by_org: dict[str, list[Sample]] = {}
    for s in samples:
        by_org.setdefault(s.organization, []).append(s)
    return tuple(
        compute(
            contract,
            period,
            mine,
            computed_at=computed_at,
            rules_digest=rules_digest,
            customer=org,
        )
        for org, mine in sorted(by_org.items())
    )


def _total_line(
    contract: Contract,
    results: tuple[ObjectiveResult, ...],
    credit_sum: Decimal,
    credit: Decimal,
    amount: Decimal | None,
) -> str:
    owed = [r for r in results if r.credit > 0]
    parts = " + ".join(f"{r.credit.normalize():f} %" for r in owed) or "0 %"
    line = f"objectives owe {parts} = {credit_sum.normalize():f} %"
    if contract.cap is not None and credit_sum > contract.cap:
        line += f", capped at {contract.cap.normalize():f} %"
    line += f"; credit {credit.normalize():f} %"
    if amount is not None and contract.fee is not None:
        cur = f" {contract.currency}" if contract.currency else ""
        line += f" of the fee {contract.fee.normalize():f}{cur} = {amount}{cur}"
    return line
