"""Credit periods as CSV: one table, a ``row`` column tells objectives, totals and breaches apart.

One table, not three files, so that a spreadsheet filter on ``row`` shows any of them; every
row names its contract, period, status (frozen, preview, provisional) and customer (the
organization a ``--organization`` report is for; else every organization the figures count,
separated by ``; ``) so that several contracts can be pasted together. Overdue business time
reads as elsewhere in slaplug (``33h 23m``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from slaplug.credits.model import PeriodResult, customer_name, percent_text
from slaplug.credits.statement import rules_line
from slaplug.rules.engines.fields import human_duration

__all__ = ["COLUMNS", "render_csv"]

COLUMNS = (
    "row",
    "contract",
    "period",
    "severity",
    "metric",
    "target_percent",
    "counted",
    "met",
    "compliance_percent",
    "credit_percent",
    "amount",
    "currency",
    "ticket",
    "url",
    "at",
    "detail",
    "status",
    "customer",
)


def render_csv(results: Sequence[PeriodResult]) -> str:
    """Rows ``objective``, ``total``, ``breach`` and ``excluded`` per contract, in that order."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in results:
        base = {
            "contract": r.contract,
            "period": r.period,
            "status": r.status,
            "customer": customer_name(r.customer)
            if r.customer is not None
            else "; ".join(customer_name(c) for c in r.customers),
        }
        for o in r.objectives:
            c = o.compliance
            w.writerow(
                {
                    **base,
                    "row": "objective",
                    "severity": o.severity,
                    "metric": o.metric.value,
                    "target_percent": str(o.target),
                    "counted": o.counted,
                    "met": o.met,
                    "compliance_percent": "" if c is None else percent_text(c)[:-2],
                    "credit_percent": str(o.credit),
                    "detail": o.why,
                }
            )
        w.writerow(
            {
                **base,
                "row": "total",
                "credit_percent": str(r.credit),
                "amount": "" if r.amount is None else str(r.amount),
                "currency": r.currency,
                "detail": "; ".join(
                    [*r.why, rules_line(r)] if r.rules_versions or r.terms_version else r.why
                ),
            }
        )
        for b in r.breaches:
            w.writerow(
                {
                    **base,
                    "row": "breach",
                    "severity": b.severity,
                    "metric": b.metric.value,
                    "ticket": b.ticket_key,
                    "url": b.url or "",
                    "at": b.breached_at.isoformat(),
                    "detail": f"overdue {human_duration(b.overdue)}",
                }
            )
        for e in r.exclusions:
            w.writerow(
                {
                    **base,
                    "row": "excluded",
                    "severity": e.severity,
                    "metric": e.metric.value,
                    "ticket": e.ticket_key,
                    "url": e.url or "",
                    "detail": e.reason,
                }
            )
    return out.getvalue()
