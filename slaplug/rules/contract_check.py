"""Checks on ``contracts:`` that need the whole pack: calendars, policies, targets, tiers.

Each problem is reported at the ``file:line:col`` of the value at fault, like every other rules
problem. Tiers are held to one shape, so that every compliance figure maps to exactly one
outcome: sorted from the top, they tile ``[0, target)`` without a gap or an overlap (compliance
at or above the target owes nothing).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaplug.rules.conditions import Condition
from slaplug.rules.contract_spec import ContractSpec, ObjectiveSpec, TierSpec
from slaplug.rules.schema import PolicySpec
from slaplug.sla.policy import ANY_PRIORITY
from slaplug.yamlpos import Path as YPath

__all__ = ["check_contract", "check_tiers"]


class _Reporter(Protocol):
    def error(self, path: YPath, message: str, at_key: bool = False) -> None: ...


def _pct(d: Decimal) -> str:
    return f"{d.normalize():f} %"


def check_tiers(tiers: Sequence[TierSpec], target: Decimal) -> list[tuple[int | None, str]]:
    """Problems with ``tiers`` for an objective of ``target`` percent.

    Returns:
        ``(tier index or None, message)`` pairs; empty when the tiers tile ``[0, target)``.
    """
    out: list[tuple[int | None, str]] = []
    for i, t in enumerate(tiers):
        if t.at_least >= t.below:
            out.append((i, f"at_least {_pct(t.at_least)} is not below {_pct(t.below)}: empty tier"))
    if out:
        return out
    order = sorted(range(len(tiers)), key=lambda i: tiers[i].below, reverse=True)
    top = tiers[order[0]]
    if top.below < target:
        out.append(
            (
                order[0],
                f"gap: compliance in [{_pct(top.below)}, {_pct(target)}) misses the target "
                f"but falls in no tier; make the top tier's below {_pct(target)}",
            )
        )
    elif top.below > target:
        out.append(
            (
                order[0],
                f"overlap: compliance in [{_pct(target)}, {_pct(top.below)}) meets the target "
                f"yet falls in a tier; make the top tier's below {_pct(target)}",
            )
        )
    for upper_i, lower_i in pairwise(order):
        upper, lower = tiers[upper_i], tiers[lower_i]
        if lower.below < upper.at_least:
            out.append(
                (
                    lower_i,
                    f"gap: compliance in [{_pct(lower.below)}, {_pct(upper.at_least)}) falls in "
                    "no tier; make this tier's below equal the next tier's at_least",
                )
            )
        elif lower.below > upper.at_least:
            out.append(
                (
                    lower_i,
                    f"overlap: compliance in [{_pct(upper.at_least)}, {_pct(lower.below)}) falls "
                    "in two tiers; make this tier's below equal the next tier's at_least",
                )
            )
    bottom = tiers[order[-1]]
    if bottom.at_least > 0:
        out.append(
            (
                order[-1],
                f"gap: compliance below {_pct(bottom.at_least)} falls in no tier; "
                "drop at_least from the lowest tier (it then starts at 0 %)",
            )
        )
    return out


def check_contract(
    contract: ContractSpec,
    path: YPath,
    ctx: _Reporter,
    *,
    calendars: Sequence[str],
    policies: Sequence[PolicySpec],
    condition: Callable[[Any, YPath], Condition | None],
    priorities: Collection[str],
    unchecked: Collection[str] = (),
) -> Condition | None:
    """Report every problem of one contract; return its compiled ``match`` (None: every ticket).

    ``priorities`` are the priority names the pack knows (built in and declared): a severity
    outside them would never count a measure, even where a ``"*"`` target measures it.
    ``unchecked`` names policies declared with problems (reported already): a contract that
    names one, or whose objectives only such a policy could measure, is not told more.
    """
    match = condition(contract.match, (*path, "match")) if contract.match else None
    if contract.timezone is not None and contract.calendar is not None:
        ctx.error(path, "give timezone or calendar (whose zone is used), not both")
    if contract.calendar is not None and contract.calendar not in calendars:
        ctx.error(
            (*path, "calendar"),
            f'unknown calendar "{contract.calendar}"; use one of {", ".join(sorted(calendars))}',
        )
    if contract.timezone is not None:
        try:
            ZoneInfo(contract.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            ctx.error(
                (*path, "timezone"),
                f'"{contract.timezone}" is not an IANA time zone; use a name like "Europe/Berlin"',
            )
    by_name = {p.name: p for p in policies}
    if contract.policies is None:
        scope = [p for p in policies if p.kind == "sla"]
    else:
        scope = []
        for i, name in enumerate(contract.policies):
            if name in by_name:
                scope.append(by_name[name])
            elif name not in unchecked:
                known = ", ".join(sorted(by_name)) or "none declared"
                ctx.error((*path, "policies", i), f'unknown policy "{name}"; known: {known}')
    # A policy in scope may have failed to validate: what it measures is unknown.
    maybe_more = (
        bool(unchecked)
        if contract.policies is None
        else any(n in unchecked for n in contract.policies)
    )
    if not contract.objectives:
        ctx.error((*path, "objectives"), "a contract needs at least one objective")
    seen: set[tuple[str, str]] = set()
    for i, obj in enumerate(contract.objectives):
        opath: YPath = (*path, "objectives", i)
        key = (obj.severity, obj.metric.value)
        if key in seen:
            ctx.error(opath, f"{obj.severity} {obj.metric.value} is promised twice; merge them")
        seen.add(key)
        if obj.severity not in priorities:
            ctx.error((*opath, "severity"), _unknown_severity(obj.severity, priorities))
        elif not maybe_more:
            _check_measured(obj, opath, ctx, scope)
        tiers = obj.tiers if obj.tiers is not None else contract.tiers
        tpath: YPath = (*opath, "tiers") if obj.tiers is not None else (*path, "tiers")
        if obj.target == 0:
            continue  # nothing is promised, nothing is owed
        if not tiers:
            ctx.error(opath, "no credit tiers: give this objective tiers, or the contract tiers")
            continue
        for ti, message in check_tiers(tiers, obj.target):
            where = tpath if ti is None else (*tpath, ti)
            ctx.error(where, f"{obj.severity} {obj.metric.value}: {message}")
        top_credit = max(t.credit for t in tiers)
        if contract.cap is not None and contract.cap < top_credit:
            ctx.error(
                (*path, "cap"),
                f"cap {_pct(contract.cap)} is below the {_pct(top_credit)} tier of "
                f"{obj.severity} {obj.metric.value}: that tier could never be paid; "
                "raise the cap or lower the tier",
            )
    for i, window in enumerate(contract.exclusions.maintenance):
        if (window.start.tzinfo is None) != (window.end.tzinfo is None):
            ctx.error(
                (*path, "exclusions", "maintenance", i),
                "give both start and end an offset, or neither (the contract's zone)",
            )
        elif window.end <= window.start:
            ctx.error((*path, "exclusions", "maintenance", i, "end"), "end is not after start")
    return match


def _unknown_severity(name: str, priorities: Collection[str]) -> str:
    """An objective's severity no helpdesk delivers: it would never count a measure."""
    close = difflib.get_close_matches(name, sorted(priorities), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), sorted(priorities), n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return (
        f'unknown severity "{name}"{hint}; it would never count a measure: use one of '
        f"{', '.join(sorted(priorities))}, or declare your helpdesk's own names under "
        "priorities: (e.g. priorities: [P1, P2])"
    )


def _check_measured(
    obj: ObjectiveSpec, path: YPath, ctx: _Reporter, scope: Sequence[PolicySpec]
) -> None:
    """An objective no policy in scope measures could never have a measure: say so."""
    measured = [p for p in scope if obj.metric in p.targets]
    if not measured:
        names = ", ".join(p.name for p in scope) or "none"
        ctx.error(
            (*path, "metric"),
            f"no policy of this contract measures {obj.metric.value} (policies: {names})",
        )
        return
    if not any(
        obj.severity in p.targets[obj.metric] or ANY_PRIORITY in p.targets[obj.metric]
        for p in measured
    ):
        known = sorted({k for p in measured for k in p.targets[obj.metric]})
        ctx.error(
            (*path, "severity"),
            f'no policy sets a {obj.metric.value} target for "{obj.severity}"; '
            f"targets exist for {', '.join(known)}",
        )
