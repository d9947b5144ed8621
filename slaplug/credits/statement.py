"""A credit statement: one contract's period result with a plain-text rendering, for write-back.

``slaplug credits --deliver`` hands each statement to the ``on_credit_statement`` plugins,
which can post it as an internal note, mail it to the account manager, or book it.
"""

from __future__ import annotations

from dataclasses import dataclass

from slaplug.credits.model import PeriodResult, customer_name

__all__ = [
    "CreditStatement",
    "customers_text",
    "rules_line",
    "several_customers",
    "statement_for",
]


@dataclass(frozen=True)
class CreditStatement:
    """What is delivered through ``on_credit_statement``.

    Attributes:
        result: The period's result (frozen when ``result.frozen``).
        text: The statement as plain text, ready for an internal note.
        key: ``credit:<contract>:<period>:<revision>`` (``...:<organization>`` for one
            customer's statement), stable across retries: a plugin that can look up earlier
            notes uses it to deliver each revision once.
    """

    result: PeriodResult
    text: str
    key: str


def rules_line(result: PeriodResult) -> str:
    """Which rules versions a result rests on: ``Rules: measures under v1 (37), v2 (3);
    contract terms of v1.`` (each measure under the version in force when its cycle started)."""
    parts = []
    if result.rules_versions:
        shown = ", ".join(f"{label} ({n})" for label, n in result.rules_versions)
        parts.append(f"measures under {shown}")
    if result.terms_version:
        parts.append(f"contract terms of {result.terms_version}")
    return "Rules: " + "; ".join(parts) + "."


def several_customers(result: PeriodResult) -> bool:
    """Whether ``result`` is a contract's whole over tickets of several organizations."""
    return result.customer is None and len(result.customers) > 1


def customers_text(result: PeriodResult) -> str:
    """``Acme Corp, Globex``: the organizations whose tickets the result counts."""
    return ", ".join(customer_name(c) for c in result.customers)


def statement_for(result: PeriodResult) -> CreditStatement:
    """The statement of ``result``: totals first, then the reasons, one line each."""
    cur = f" {result.currency}" if result.currency else ""
    who = f" for {customer_name(result.customer)}" if result.customer is not None else ""
    head = f"Service credit {result.contract} {result.period}{who}: {result.credit.normalize():f} %"
    if result.amount is not None:
        head += f" = {result.amount}{cur}"
    state = f"frozen (revision {result.revision})" if result.frozen else _unfrozen(result)
    lines = [head, f"Status: {state}; {len(result.breaches)} breach(es) counted."]
    if several_customers(result):
        lines.append(
            f"Customers: {customers_text(result)}: several; not a statement for one customer."
        )
    if result.rules_versions or result.terms_version:
        lines.append(rules_line(result))
    lines.append("")
    lines += [f"- {w}" for w in result.why]
    key = f"credit:{result.contract}:{result.period}:{result.revision}"
    if result.customer is not None:
        key += f":{result.customer}"
    return CreditStatement(result=result, text="\n".join(lines), key=key)


def _unfrozen(result: PeriodResult) -> str:
    """An unfrozen result's status: the period is open, or ended and shown as a preview."""
    if result.computed_at >= result.end:
        return "preview (the period has ended; not frozen yet, nothing stored)"
    return "provisional"
