"""Two small charts as inline SVG, drawn by hand: no library, no script, no network.

Inline SVG keeps the report one file that any browser (and a printer) renders as it is; each
chart carries a ``<title>`` and a text label per bar, so it also reads without colour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from html import escape
from zoneinfo import ZoneInfo

from slaplug.credits.model import BreachLine, ObjectiveResult, percent_text

__all__ = ["breaches_chart", "compliance_chart"]

_MET, _MISSED, _NONE, _INK = "#2e7d32", "#c62828", "#9e9e9e", "#222"


def compliance_chart(objectives: Sequence[ObjectiveResult], title: str) -> str:
    """Horizontal bars, one per objective: compliance, with the target as a tick."""
    row, label_w, bar_w = 30, 190, 360
    height = row * len(objectives) + 40
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {label_w + bar_w + 90} {height}" width="{label_w + bar_w + 90}" '
        f'height="{height}"><title>{escape(title)}</title>'
    ]
    for i, o in enumerate(objectives):
        y = 10 + i * row
        c = o.compliance
        pct = float(c * 100) if c is not None else 0.0
        colour = _NONE if c is None else (_MISSED if o.missed else _MET)
        text = "no measures" if c is None else percent_text(c)
        target_x = label_w + bar_w * float(o.target) / 100
        parts += [
            f'<text x="0" y="{y + 15}" fill="{_INK}">{escape(o.severity)} '
            f"{escape(o.metric.value)}</text>",
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="20" fill="#eee"/>',
            f'<rect class="bar" x="{label_w}" y="{y}" width="{bar_w * pct / 100:.1f}" '
            f'height="20" fill="{colour}"><title>{escape(o.why)}</title></rect>',
            f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{y - 3}" y2="{y + 23}" '
            f'stroke="{_INK}" stroke-width="2"/>',
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" fill="{_INK}">{escape(text)}</text>',
        ]
    parts.append(
        f'<text x="{label_w}" y="{height - 6}" fill="#555" font-size="11">bar: share met; '
        "tick: target</text></svg>"
    )
    return "".join(parts)


def breaches_chart(
    breaches: Sequence[BreachLine], start: datetime, end: datetime, zone: ZoneInfo, title: str
) -> str:
    """Vertical bars, one per local day of the period: breaches counted that day."""
    first = start.astimezone(zone).date()
    days = (end.astimezone(zone) - timedelta(microseconds=1)).date()
    n = (days - first).days + 1
    per_day = Counter((b.breached_at.astimezone(zone).date() - first).days for b in breaches)
    top = max(per_day.values(), default=0)
    col, h, left = 16, 120, 30
    width = left + n * col + 10
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {h + 40}" width="{width}" height="{h + 40}">'
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" x2="{width - 10}" y1="{h + 10}" y2="{h + 10}" stroke="{_INK}"/>',
        f'<text x="0" y="20" fill="{_INK}" font-size="11">{top}</text>',
        f'<text x="0" y="{h + 10}" fill="{_INK}" font-size="11">0</text>',
    ]
    for d in range(n):
        count = per_day.get(d, 0)
        x = left + d * col
        if count:
            bh = float(Fraction(count, top)) * (h - 10)
            day = first + timedelta(days=d)
            parts.append(
                f'<rect class="bar" x="{x + 2}" y="{h + 10 - bh:.1f}" width="{col - 4}" '
                f'height="{bh:.1f}" fill="{_MISSED}"><title>{day.isoformat()}: {count} '
                "breach(es)</title></rect>"
            )
        if d % 5 == 0:
            label = (first + timedelta(days=d)).strftime("%d %b")
            parts.append(f'<text x="{x}" y="{h + 28}" fill="{_INK}" font-size="10">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
