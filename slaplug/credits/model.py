"""The records of service credits: a contract ready to compute, its inputs, its frozen results.

Everything is frozen. Percentages and money are `Decimal` and compliance is an exact fraction
(``met / counted``), so a figure on a report is what a customer gets by dividing two counts, and
a compliance of exactly 95 % falls in the tier "at least 95 %" however it was reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from slaplug.durations import parse_duration
from slaplug.model import Metric
from slaplug.rules.contract_spec import ContractSpec, TierSpec

__all__ = [
    "BreachLine",
    "Contract",
    "ExclusionLine",
    "Objective",
    "ObjectiveResult",
    "PeriodResult",
    "Sample",
    "Tier",
    "Window",
    "customer_name",
    "money",
    "percent_text",
]

_CENT = Decimal("0.01")


def percent_text(value: Fraction | Decimal) -> str:
    """``Fraction(37, 39)`` -> ``"94.87 %"``: two decimals, rounded *down*.

    Down, never to nearest: 94.999 % shown as "95.00 %" would contradict the tier it is in.
    """
    number = (
        Decimal(value.numerator * 100) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else value
    )
    return f"{number.quantize(_CENT, rounding=ROUND_DOWN)} %"


@dataclass(frozen=True)
class Tier:
    """Credit owed while compliance is in ``[at_least, below)`` percent."""

    at_least: Decimal
    below: Decimal
    credit: Decimal

    def holds(self, compliance: Fraction) -> bool:
        """Whether ``compliance`` (a fraction of 1) falls in this tier."""
        pct = compliance * 100
        return Fraction(self.at_least) <= pct < Fraction(self.below)

    def text(self) -> str:
        """``"[95 %, 100 %) → 10 %"``."""
        return f"[{_num(self.at_least)} %, {_num(self.below)} %) → {_num(self.credit)} %"


@dataclass(frozen=True)
class Objective:
    """A promised share of one severity's measures of one metric met."""

    severity: str
    metric: Metric
    target: Decimal
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class Window:
    """An announced maintenance window, ``[start, end)``."""

    start: datetime
    end: datetime
    note: str = ""


@dataclass(frozen=True)
class Contract:
    """A contract ready to compute: zone resolved, windows made aware, tiers as decimals.

    Attributes:
        policies: The policies whose measures count; None means every sla policy.
        customer_statuses: Statuses waiting on the customer, taken off the contract's clocks.
    """

    name: str
    zone: ZoneInfo
    period_kind: str
    objectives: tuple[Objective, ...]
    policies: frozenset[str] | None = None
    fee: Decimal | None = None
    currency: str = ""
    cap: Decimal | None = None
    excluded_tags: frozenset[str] = frozenset()
    customer_statuses: frozenset[str] = frozenset()
    maintenance: tuple[Window, ...] = ()
    freeze_after: timedelta = timedelta(hours=24)

    @classmethod
    def from_spec(cls, spec: ContractSpec, calendar_zones: dict[str, ZoneInfo]) -> Contract:
        """Build from a checked `ContractSpec` (see `slaplug.rules.contract_check`).

        Args:
            spec: The contract as declared.
            calendar_zones: The zone of each calendar of the pack, by name.
        """
        if spec.calendar is not None:
            zone = calendar_zones[spec.calendar]
        else:
            zone = ZoneInfo(spec.timezone or "UTC")

        def tiers_of(own: list[TierSpec] | None) -> tuple[Tier, ...]:
            chosen = spec.tiers if own is None else own
            tiers = (Tier(t.at_least, t.below, t.credit) for t in chosen)
            return tuple(sorted(tiers, key=lambda t: t.below, reverse=True))

        return cls(
            name=spec.name,
            zone=zone,
            period_kind=spec.period,
            objectives=tuple(
                Objective(o.severity, o.metric, o.target, tiers_of(o.tiers))
                for o in spec.objectives
            ),
            policies=frozenset(spec.policies) if spec.policies is not None else None,
            fee=spec.fee,
            currency=spec.currency,
            cap=spec.cap,
            excluded_tags=frozenset(spec.exclusions.tags),
            customer_statuses=frozenset(spec.exclusions.customer_pauses),
            maintenance=tuple(
                Window(
                    w.start if w.start.tzinfo else w.start.replace(tzinfo=zone),
                    w.end if w.end.tzinfo else w.end.replace(tzinfo=zone),
                    w.note,
                )
                for w in spec.exclusions.maintenance
            ),
            freeze_after=parse_duration(spec.freeze_after),
        )


@dataclass(frozen=True)
class Sample:
    """One decided SLA measure of one ticket, as the contract sees it (compute's input).

    Attributes:
        decided_at: When its outcome became known: the breach, or the clock stopping in time.
            The measure counts in the period holding this instant, and only there.
        breached: Missed, on the contract's clock (customer pauses taken off).
        excused_by_customer: Missed on the policy's clock, met once the time waiting on the
            customer is taken off.
        cancelled: The clock was cancelled (the target did not apply): listed among the
            exclusions, never counted.
        version: The label of the rules version that measured it (empty without versions).
        organization: The ticket's organization (the customer; empty when it has none).
    """

    ticket_key: str
    url: str | None
    subject: str
    severity: str | None
    metric: Metric
    policy: str
    cycle: int
    start: datetime
    decided_at: datetime
    breached: bool
    overdue: timedelta = timedelta(0)
    tags: frozenset[str] = frozenset()
    excused_by_customer: bool = False
    cancelled: bool = False
    version: str = ""
    organization: str = ""


@dataclass(frozen=True)
class ObjectiveResult:
    """Compliance and credit of one objective in one period."""

    severity: str
    metric: Metric
    target: Decimal
    counted: int
    met: int
    tier: Tier | None
    credit: Decimal
    why: str

    @property
    def compliance(self) -> Fraction | None:
        """``met / counted``, exactly; None when nothing was counted."""
        return Fraction(self.met, self.counted) if self.counted else None

    @property
    def missed(self) -> bool:
        """Whether compliance is below the target."""
        c = self.compliance
        return c is not None and c * 100 < Fraction(self.target)


@dataclass(frozen=True)
class BreachLine:
    """A counted breach, for reports: which ticket, which clock, when, by how much."""

    ticket_key: str
    url: str | None
    subject: str
    severity: str
    metric: Metric
    cycle: int
    breached_at: datetime
    overdue: timedelta


@dataclass(frozen=True)
class ExclusionLine:
    """A measure left out (or counted as met), and why."""

    ticket_key: str
    url: str | None
    severity: str
    metric: Metric
    cycle: int
    reason: str


@dataclass(frozen=True)
class PeriodResult:
    """What one contract owes for one period, with every figure needed to check it.

    Attributes:
        credit_sum: The objectives' credits added up, before the cap.
        credit: The credit owed, in percent of the fee (after the cap).
        amount: ``fee * credit / 100``, to the cent, when the contract has a fee.
        revision: 0 for a live (open, or not yet frozen) result; 1 for the first frozen one,
            2 and up for explicit recalculations.
        rules_digest: sha256 of the rules files it was computed with.
        rules_versions: With rules versions: ``(label, measures counted)`` per version the
            counted measures were measured under, in the versions' order; empty without.
        terms_version: With rules versions: the version whose contract terms applied (the
            one in force at the period's start).
        customer: The organization this result is for (its tickets only); None for the
            contract's whole result, all its customers together.
        customers: The organizations whose tickets' measures the period holds (counted or
            left out), sorted; ``""`` for tickets without one.
        parts: The contract's result per customer, one per ``customers`` entry (each with its
            ``customer`` set), computed and frozen with the whole; None where it was not
            computed (a part itself; a period frozen before slaplug kept parts).
    """

    contract: str
    period: str
    start: datetime
    end: datetime
    timezone: str
    objectives: tuple[ObjectiveResult, ...]
    breaches: tuple[BreachLine, ...]
    exclusions: tuple[ExclusionLine, ...]
    credit_sum: Decimal
    cap: Decimal | None
    credit: Decimal
    fee: Decimal | None
    currency: str
    amount: Decimal | None
    why: tuple[str, ...]
    computed_at: datetime
    rules_digest: str = ""
    revision: int = 0
    recalculation_of: int | None = field(default=None)
    rules_versions: tuple[tuple[str, int], ...] = ()
    terms_version: str = ""
    customer: str | None = None
    customers: tuple[str, ...] = ()
    parts: tuple[PeriodResult, ...] | None = None

    @property
    def frozen(self) -> bool:
        """Whether this result is stored and no longer changes by itself."""
        return self.revision > 0

    @property
    def measured(self) -> bool:
        """Whether any measure of the contract's tickets fell in the period (counted or left
        out): False for a period before the store's first data, in the future, or without
        tickets."""
        return any(o.counted for o in self.objectives) or bool(self.exclusions)

    @property
    def status(self) -> str:
        """``frozen``, ``preview`` (ended, not frozen yet) or ``provisional`` (still open)."""
        if self.frozen:
            return "frozen"
        return "preview" if self.computed_at >= self.end else "provisional"

    def part(self, customer: str) -> PeriodResult | None:
        """The part for ``customer`` (None when no measure of its tickets is in the period)."""
        return next((p for p in self.parts or () if p.customer == customer), None)


def customer_name(organization: str) -> str:
    """An organization as reports name it (``(no organization)`` for tickets without one)."""
    return organization or "(no organization)"


def _num(d: Decimal) -> str:
    return f"{d.normalize():f}"


def money(fee: Decimal, credit: Decimal) -> Decimal:
    """``fee * credit / 100``, rounded half up to the cent (as an invoice line is)."""
    return (fee * credit / Decimal(100)).quantize(_CENT, rounding=ROUND_HALF_UP)
