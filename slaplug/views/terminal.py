"""`StatusView` for people: a table with rich where the terminal is a tty, plain aligned text
everywhere else (pipes, files, cron mail).

Every ticket field is shown as text, never as markup: a subject such as ``[red]x[/red]`` or
one holding terminal escape sequences prints as the characters it holds, with control
characters replaced, so a ticket cannot restyle or take over the terminal of whoever lists it.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, tzinfo
from typing import IO

from slaplug.rules.engines.fields import human_duration
from slaplug.views.clocks import ClockRow, ClockState
from slaplug.views.status import StatusView

__all__ = ["COLUMNS", "cells", "clean", "render_plain", "render_rich", "summary_lines"]

#: The table's columns, in order.
COLUMNS = (
    "TICKET",
    "STATE",
    "TIME LEFT",
    "DUE",
    "POLICY / METRIC",
    "PRIORITY",
    "TEAM",
    "CUSTOMER",
    "SUBJECT",
)

#: Subjects are cut to this many characters in plain text (rich folds them instead).
SUBJECT_WIDTH = 60

_STYLES = {
    ClockState.BREACHED: "bold red",
    ClockState.AT_RISK: "yellow",
    ClockState.PAUSED: "cyan",
    ClockState.RUNNING: "green",
    ClockState.MET: "dim",
    ClockState.CANCELLED: "dim",
}


def clean(text: object) -> str:
    """``text`` made safe to print: control characters (escape sequences, newlines, bells)
    become a space or ``?``; None becomes ``-``."""
    if text is None:
        return "-"
    out = []
    for ch in str(text):
        if ch in "\n\r\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _when(t: datetime | None, zone: tzinfo) -> str:
    return "-" if t is None else t.astimezone(zone).strftime("%a %d %b %H:%M")


def _left(row: ClockRow) -> str:
    left = row.time_left
    if left is not None:
        return human_duration(left)
    if row.state is ClockState.PAUSED:
        # No deadline while paused: the business time left when the clock runs again.
        return f"({human_duration(row.measure.remaining)})"
    return "-"


def cells(row: ClockRow, zone: tzinfo) -> list[str]:
    """One row's cells, in `COLUMNS` order, already `clean`."""
    t, m = row.ticket, row.measure
    due = m.stopped_at if row.state in (ClockState.MET, ClockState.CANCELLED) else row.due
    return [
        clean(t.key),
        row.state.value.replace("_", " "),
        _left(row),
        _when(due, zone),
        clean(f"{m.policy} {m.metric.value}" + (f" #{m.cycle}" if m.cycle > 1 else "")),
        clean(t.priority),
        clean(t.name_of("group") or t.name_of("assignee")),
        clean(t.name_of("organization")),
        clean(t.subject),
    ]


def summary_lines(view: StatusView, zone: tzinfo) -> list[str]:
    """The lines above the table: when, counts by state, breaches today and this period."""
    c, b = view.counts, view.breaches
    open_total = sum(v for k, v in c.items() if k not in ("met", "cancelled"))
    states = ", ".join(
        f"{c[s.value]} {s.value.replace('_', ' ')}"
        for s in (ClockState.BREACHED, ClockState.AT_RISK, ClockState.PAUSED, ClockState.RUNNING)
    )
    at = view.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return [
        f"SLA status at {at}: {open_total} open clock(s): {states}",
        f"Breaches: {len(b.today)} today, {len(b.this_period)} this period ({b.period.label})",
    ]


def _footer(view: StatusView, zone: tzinfo) -> list[str]:
    lines = []
    if view.tickets == 0:
        lines.append("The store holds no synced ticket yet: run `slaplug sync` first.")
    elif not view.rows:
        lines.append("No clock matches.")
    elif view.matched > len(view.rows):
        lines.append(f"Showing {len(view.rows)} of {view.matched}; raise --limit to see more.")
    if any(r.state is ClockState.PAUSED for r in view.rows):
        lines.append("(paused: business time left when the clock runs again)")
    lines.append(f"Times in {view.at.astimezone(zone).tzname()}.")
    return lines


def render_plain(view: StatusView, zone: tzinfo) -> str:
    """The view as plain text: summary, a table aligned with spaces, footer."""
    rows = [cells(r, zone) for r in view.rows]
    for r in rows:
        if len(r[-1]) > SUBJECT_WIDTH:
            r[-1] = r[-1][: SUBJECT_WIDTH - 3] + "..."
    lines = summary_lines(view, zone)
    if rows:
        widths = [max(len(x[i]) for x in [list(COLUMNS), *rows]) for i in range(len(COLUMNS))]
        lines.append("")
        for r in [list(COLUMNS), *rows]:
            lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    lines.append("")
    lines.extend(_footer(view, zone))
    return "\n".join(lines) + "\n"


def render_rich(view: StatusView, zone: tzinfo, file: IO[str] | None = None) -> None:
    """Print the view as a rich table (colours by state, ticket ids linked to the helpdesk)."""
    # Imported here: piped output (cron, scripts) never needs rich.
    from rich.console import Console  # noqa: PLC0415
    from rich.style import Style  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    console = Console(file=file, highlight=False, soft_wrap=False)
    for line in summary_lines(view, zone):
        console.print(Text(line))
    if view.rows:
        table = Table(header_style="bold", pad_edge=False, expand=False)
        for name in COLUMNS:
            table.add_column(name, overflow="fold", no_wrap=name != "SUBJECT")
        for row in view.rows:
            values = cells(row, zone)
            style = _STYLES[row.state]
            # A link is text from the helpdesk too: cleaned, and passed as a value, not parsed.
            ticket = Text(values[0], style=Style(link=clean(row.link)) if row.link else "")
            table.add_row(
                ticket,
                Text(values[1], style=style),
                Text(values[2], style=style),
                *(Text(v) for v in values[3:]),
            )
        console.print(table)
    for line in _footer(view, zone):
        console.print(Text(line, style="dim"))
