"""A customer's own page: compliance per severity for this period and the ones before, against
target; its open tickets' SLA state; the credits owed. Only what the credential names.

What a customer sees of a ticket is its key, subject, priority and its clocks: no assignee,
no group, no agent-side link, no escalation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slaplug.credits.freeze import result_to_dict
from slaplug.credits.model import PeriodResult, percent_text
from slaplug.store.access import AccessToken
from slaplug.views import ClockRow
from slaplug.web.pages.html import duration, e, table, when
from slaplug.web.pages.manager import owed_text

__all__ = ["customer_body", "customer_doc", "customer_rows", "open_clock_dict"]


def customer_rows(
    rows: Sequence[ClockRow], who: AccessToken, policies: Collection[str]
) -> list[ClockRow]:
    """The open clocks of the credential's own tickets: its contract and, if it names one,
    its organization, compared exactly (never by a loose match that could reach a neighbour);
    only clocks of ``policies``, the contract's (an internal OLA is not the customer's)."""
    return [
        r
        for r in rows
        if r.contract == who.contract
        and (not who.organization or (r.ticket.organization or "") == who.organization)
        and r.measure.policy in policies
    ]


def open_clock_dict(r: ClockRow) -> dict[str, Any]:
    """What a customer's JSON says of one open clock."""
    left = r.time_left
    return {
        "ticket": r.ticket.key,
        "subject": r.ticket.subject,
        "priority": r.ticket.priority,
        "status": r.ticket.status,
        "policy": r.measure.policy,
        "metric": r.measure.metric.value,
        "state": r.state.value,
        "due": None if r.due is None else r.due.isoformat(),
        "time_left_s": None if left is None else left.total_seconds(),
    }


def customer_doc(
    who: AccessToken, results: Sequence[PeriodResult], rows: Sequence[ClockRow]
) -> dict[str, Any]:
    """The customer page as JSON (``/customer/<token>/figures.json``)."""
    return {
        "contract": who.contract,
        "organization": who.organization or None,
        "periods": [result_to_dict(r) for r in results],
        "open_clocks": [open_clock_dict(r) for r in rows],
    }


def _period(r: PeriodResult, at: datetime) -> str:
    rows = []
    for o in r.objectives:
        c = o.compliance
        cls = "mute" if c is None else ("missed" if o.missed else "met")
        shown = "no measures" if c is None else percent_text(c)
        rows.append(
            [
                e(o.severity),
                e(o.metric.value.replace("_", " ")),
                f'<span class="{cls}">{e(shown)}</span>',
                e(f"{o.target.normalize():f} %"),
                e(f"{o.met} of {o.counted}"),
                e(f"{o.credit.normalize():f} %"),
            ]
        )
    if r.frozen:
        state = "final"
    elif r.end <= at:
        state = "closed; final once frozen"
    else:
        state = "so far: the period is still open"
    return (
        f'<h3>{e(r.period)} <span class="mute">({e(state)})</span></h3>'
        + table(["Severity", "Target on", "#Compliance", "#Target", "#Met", "#Credit"], rows)
        + f"<p>Credit owed for {e(r.period)}: <b>{e(owed_text(r))}</b>; "
        f"{len(r.breaches)} target(s) missed.</p>"
    )


def customer_body(
    who: AccessToken,
    results: Sequence[PeriodResult],
    rows: Sequence[ClockRow],
    zone: ZoneInfo,
    at: datetime,
) -> str:
    """The page's body: periods newest first (the current one, and earlier ones with figures),
    then the open tickets."""
    clocks = [
        [
            e(r.ticket.key),
            e(r.ticket.subject),
            e(r.ticket.priority or "-"),
            e(r.measure.metric.value.replace("_", " ")),
            f'<span class="{e(r.state.value)}">{e(r.state.value.replace("_", " "))}</span>',
            e(duration(r.time_left)),
            e(when(r.due, zone)),
        ]
        for r in rows
    ]
    shown = [
        r
        for i, r in enumerate(results)
        if i == 0 or r.breaches or any(o.counted for o in r.objectives)
    ]
    periods = "".join(_period(r, at) for r in shown) or "<p>No figures yet.</p>"
    return (
        '<section><h2>Compliance per severity</h2><p class="mute">The share of service-level '
        "targets met, per severity, counted in the period each target was met or missed; "
        "rounded down to two decimals.</p>"
        + periods
        + "</section><section><h2>Open tickets</h2>"
        + table(
            ["Ticket", "Subject", "Priority", "Target", "State", "#Time left", "Due"],
            clocks,
            empty="no open ticket",
        )
        + "</section>"
    )
