"""Credit periods as one self-contained HTML page a customer can read and check.

Self-contained: inline CSS and inline SVG, no script, and a Content-Security-Policy that
forbids every fetch, so the page shows the same offline, in a mail attachment or in ten years,
and a resource that slipped in would be refused (and show up as a console error in the
headless-browser test).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from slaplug.credits.model import PeriodResult, customer_name, percent_text
from slaplug.credits.statement import customers_text, rules_line, several_customers
from slaplug.reports.charts import breaches_chart, compliance_chart
from slaplug.rules.engines.fields import human_duration

__all__ = ["render_html"]

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;color:#222;max-width:960px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.6em 0}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .5em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.owed{font-size:1.25em;font-weight:600}.missed{color:#c62828}.met{color:#2e7d32}
.chart{max-width:100%;height:auto;font-family:system-ui,sans-serif;font-size:12px}
.why li{margin:.2em 0}.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:.4em .6em}footer{color:#666;font-size:.85em;margin-top:3em}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _contract(r: PeriodResult) -> str:
    zone = ZoneInfo(r.timezone)
    cur = f" {escape(r.currency)}" if r.currency else ""
    owed = f"{r.credit.normalize():f} %"
    if r.amount is not None:
        owed += f" of the fee = {r.amount}{cur}"
    status = {
        "frozen": f"frozen, revision {r.revision}",
        "preview": "preview: the period has ended and is not frozen yet",
        "provisional": "provisional: the period is still open",
    }[r.status]
    notes = []
    if r.customer is not None:
        notes.append(f"<p>Customer: <strong>{escape(customer_name(r.customer))}</strong>.</p>")
    elif len(r.customers) == 1 and r.customers[0]:
        notes.append(f"<p>Customer: <strong>{escape(r.customers[0])}</strong>.</p>")
    elif several_customers(r):
        notes.append(
            f'<p class="warn">These figures cover several customers: '
            f"{escape(customers_text(r))}. They are not a statement for any one of them.</p>"
        )
    if not r.measured:
        notes.append('<p class="warn">No ticket was measured in this period.</p>')
    rows = []
    for o in r.objectives:
        c = o.compliance
        cls = "missed" if o.missed else "met"
        rows.append(
            f"<tr><td>{escape(o.severity)}</td><td>{escape(o.metric.value)}</td>"
            f'<td class="n">{o.target.normalize():f} %</td><td class="n">{o.counted}</td>'
            f'<td class="n">{o.met}</td>'
            f'<td class="n {cls}">{"-" if c is None else percent_text(c)}</td>'
            f'<td class="n">{o.credit.normalize():f} %</td></tr>'
        )
    breaches = [
        f'<tr><td><a href="{escape(b.url)}">{escape(b.ticket_key)}</a></td>'
        if b.url
        else f"<tr><td>{escape(b.ticket_key)}</td>"
        for b in r.breaches
    ]
    breach_rows = [
        f"{link}<td>{escape(b.subject)}</td><td>{escape(b.severity)}</td>"
        f"<td>{escape(b.metric.value)}</td>"
        f"<td>{b.breached_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')}</td>"
        f"<td>{escape(human_duration(b.overdue))}</td></tr>"
        for link, b in zip(breaches, r.breaches, strict=True)
    ]
    excluded = [
        f"<li>{escape(e.ticket_key)} {escape(e.severity)} {escape(e.metric.value)}: "
        f"{escape(e.reason)}</li>"
        for e in r.exclusions
    ]
    who = f" for {customer_name(r.customer)}" if r.customer is not None else ""
    title = f"{r.contract} {r.period}{who}"
    rules = (
        f'\n<p class="rules">{escape(rules_line(r))}</p>'
        if r.rules_versions or r.terms_version
        else ""
    )
    return f"""
<section class="contract" id="{escape(r.contract)}">
<h2>{escape(r.contract)}: {escape(r.period)}{escape(who)}</h2>
<p>{r.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")} to
{r.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")} ({escape(r.timezone)}), {escape(status)}.</p>
{"".join(notes)}<p class="owed">Credit owed: {escape(owed)}</p>{rules}
<h3>Compliance per severity</h3>
{compliance_chart(r.objectives, f"Compliance per severity, {title}")}
<table><thead><tr><th>Severity</th><th>Metric</th><th>Target</th><th>Counted</th><th>Met</th>
<th>Compliance</th><th>Credit</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<h3>Why</h3><ul class="why">{"".join(f"<li>{escape(w)}</li>" for w in r.why)}</ul>
<h3>Breaches over time</h3>
{breaches_chart(r.breaches, r.start, r.end, zone, f"Breaches per day, {title}")}
<h3>Breaches ({len(r.breaches)})</h3>
<table><thead><tr><th>Ticket</th><th>Subject</th><th>Severity</th><th>Metric</th>
<th>Breached</th><th>Overdue (business time)</th></tr></thead><tbody>{"".join(breach_rows)}</tbody></table>
<h3>Left out or counted as met ({len(r.exclusions)})</h3>
<ul>{"".join(excluded) or "<li>none</li>"}</ul>
</section>"""


def render_html(results: Sequence[PeriodResult]) -> str:
    """One page for every contract's result; compliance and breach charts in inline SVG."""
    periods = ", ".join(sorted({r.period for r in results})) or "no period"
    customers = {r.customer for r in results}
    if results and len(customers) == 1 and None not in customers:
        periods = f"{customer_name(results[0].customer or '')} {periods}"
    digest = ", ".join(sorted({r.rules_digest[:12] for r in results if r.rules_digest}))
    body = "".join(_contract(r) for r in results) or "<p>No contracts in the rules.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service report {escape(periods)}</title><style>{_CSS}</style></head>
<body><h1>Service report {escape(periods)}</h1>
<p>Compliance is the share of SLA measures met, counted in the period their outcome became
known; percentages are rounded down to two decimals.</p>
{body}
<footer>Generated by slaplug; rules {escape(digest or "-")}.</footer>
</body></html>
"""
