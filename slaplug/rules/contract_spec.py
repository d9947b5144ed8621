"""The YAML shape of ``contracts:``: what a contract promises and what it pays when it misses.

::

    contracts:
      - name: enterprise
        match: {organization: [acme, globex]}
        calendar: support-berlin        # the period's time zone (or timezone: Europe/Berlin)
        fee: 10000
        currency: EUR
        cap: 20%
        objectives:
          - severity: urgent
            metric: resolution
            target: 100%
            tiers:
              - {at_least: 95%, below: 100%, credit: 10%}
              - {below: 95%, credit: 30%}
        exclusions:
          tags: [sla_excluded]
          customer_pauses: [pending]
          maintenance:
            - {start: "2026-10-10T22:00", end: "2026-10-11T02:00", note: database upgrade}

This module only checks the shape; `slaplug.rules.compile` checks what needs the whole pack
(known calendars and policies, tiers that tile ``[0, target)``), `slaplug.credits` computes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from slaplug.durations import parse_duration
from slaplug.model import Metric

__all__ = [
    "ContractSpec",
    "ExclusionsSpec",
    "MaintenanceSpec",
    "ObjectiveSpec",
    "Percent",
    "TierSpec",
    "parse_percent",
]


def parse_percent(value: object) -> Decimal:
    """``95``, ``99.5``, ``"99.5%"`` or ``"99.5 %"`` -> ``Decimal("99.5")``, between 0 and 100.

    Decimal, not float: tier bounds are compared exactly, so 95 % met is in the tier
    "at least 95 %" however the count was reached.

    Raises:
        ValueError: Not a percentage from 0 to 100.
    """
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a percentage; write it like 95 or 99.5%")
    else:
        text = str(value).strip().removesuffix("%").strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f'"{value}" is not a percentage; write it like 95 or 99.5%') from None
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        raise ValueError(f"{shown} is not between 0 and 100 %")
    return number


#: A percentage from 0 to 100, written ``95``, ``99.5`` or ``"99.5%"``.
Percent = Annotated[Decimal, BeforeValidator(parse_percent)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierSpec(_Strict):
    """A credit owed while compliance is in ``[at_least, below)``: half-open, so bounds meet."""

    below: Percent = Field(description="Compliance below this (exclusive) falls in the tier.")
    at_least: Percent = Field(
        default=Decimal(0), description="Compliance at least this (inclusive); 0 when absent."
    )
    credit: Percent = Field(description="Credit owed, in percent of the period's fee.")


class ObjectiveSpec(_Strict):
    """A promised share of measures met, for one severity and metric."""

    severity: str = Field(
        description="The priority whose measures count: urgent, high, normal, medium, low, or "
        "a name declared under priorities:."
    )
    metric: Metric = Field(description="The metric measured.")
    target: Percent = Field(description="Share of measures that must meet their SLA target.")
    tiers: list[TierSpec] | None = Field(
        default=None,
        description="Credit tiers for this objective; default: the contract's tiers. They must "
        "tile [0, target) exactly, without gaps or overlaps.",
    )


class MaintenanceSpec(_Strict):
    """An announced maintenance window: measures started or breached inside it are excluded."""

    start: datetime = Field(description="Start (inclusive); without offset, the contract's zone.")
    end: datetime = Field(description="End (exclusive); without offset, the contract's zone.")
    note: str = Field(default="", description="What it was, shown in reports.")


class ExclusionsSpec(_Strict):
    """What does not count against the contract."""

    tags: list[str] = Field(
        default_factory=list, description="Tickets with any of these tags are left out."
    )
    customer_pauses: list[str] = Field(
        default_factory=list,
        description="Statuses in which the ticket waits on the customer; their time is taken "
        "off the contract's clocks even where the policy's clocks kept running.",
    )
    maintenance: list[MaintenanceSpec] = Field(
        default_factory=list, description="Announced maintenance windows."
    )


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _default_exclusions() -> ExclusionsSpec:
    return ExclusionsSpec()


class ContractSpec(_Strict):
    """A customer contract: objectives per severity and metric, credit tiers, cap, exclusions."""

    name: str = Field(description="Unique name; reports and frozen periods are kept by it.")
    description: str = ""
    match: dict[str, Any] | None = Field(
        default=None,
        description="Condition on ticket fields (organization, requester, ...); the first "
        "matching contract takes the ticket. Absent: every ticket.",
    )
    timezone: str | None = Field(
        default=None, description="IANA zone periods are laid out in; default UTC."
    )
    calendar: str | None = Field(
        default=None, description="Or: take the time zone of this calendar."
    )
    period: Literal["month", "quarter"] = Field(
        default="month", description="The credit period, in calendar months or quarters."
    )
    policies: list[str] | None = Field(
        default=None, description="Policies whose measures count; default every sla policy."
    )
    fee: Decimal | None = Field(
        default=None, ge=0, description="The fee per period, to turn credit percent into money."
    )
    currency: str = Field(default="", description="Shown beside amounts, e.g. EUR.")
    cap: Percent | None = Field(
        default=None, description="The most credit owed in one period, in percent of the fee."
    )
    tiers: list[TierSpec] = Field(
        default_factory=list, description="Default credit tiers for objectives without their own."
    )
    objectives: list[ObjectiveSpec] = Field(description="What the contract promises.")
    exclusions: ExclusionsSpec = Field(
        default_factory=_default_exclusions, description="What does not count."
    )
    freeze_after: Annotated[str, AfterValidator(_check_duration)] = Field(
        default="24h",
        description="Wall-clock time after a period ends before its result is frozen, so that "
        "late syncs still count.",
    )
