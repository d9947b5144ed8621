"""The managers' pages: the at-risk queue, breaches, compliance, a ticket's timeline, activity.

Rendering only: the routes (`slaplug.web.pages.routes`) hand in what `slaplug.views`, the
credits computation and the store answered. Every value from a ticket goes through `e`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from slaplug.credits.model import PeriodResult, percent_text
from slaplug.store.activity import ActionRecord, SendRecord
from slaplug.views import ClockRow
from slaplug.web.pages.figures import PartResult
from slaplug.web.pages.html import duration, e, link, table, when

__all__ = [
    "NAV",
    "activity_section",
    "cards",
    "compliance_section",
    "queue_section",
    "team_section",
    "ticket_body",
    "ticket_path",
]

NAV = (
    '<nav class="pages"><a href="/dashboard">Dashboard</a>'
    '<a href="/dashboard/compliance">Compliance</a>'
    '<a href="/dashboard/activity">Written and notified</a></nav>'
)


def ticket_path(connector: str, ticket_id: str) -> str:
    """The dashboard's page of one ticket (its timeline)."""
    return f"/dashboard/tickets/{quote(connector, safe='')}/{quote(ticket_id, safe='')}"


def cards(counts: dict[str, int], today: int, period: int, period_label: str) -> str:
    """The headline numbers: open clocks by state, breaches today and this period."""
    items = [
        ("breached", "open clocks breached", counts.get("breached", 0)),
        ("at_risk", "at risk", counts.get("at_risk", 0)),
        ("paused", "paused", counts.get("paused", 0)),
        ("running", "running", counts.get("running", 0)),
        ("breached", "breaches today", today),
        ("breached", f"breaches in {period_label}", period),
    ]
    return (
        '<section class="cards">'
        + "".join(
            f'<div class="card"><b class="{cls}">{n}</b>{e(text)}</div>' for cls, text, n in items
        )
        + "</section>"
    )


def queue_section(
    rows: Sequence[ClockRow],
    *,
    matched: int,
    page: int,
    per_page: int,
    filters: dict[str, str],
    zone: ZoneInfo,
) -> str:
    """The at-risk queue: least time left first, a link to each ticket's timeline and page."""
    body = []
    for r in rows:
        t, m = r.ticket, r.measure
        body.append(
            [
                # data-left: the seconds left, for scripts and tests reading the page.
                f'<span class="{e(r.state.value)}" data-left="{_seconds(r.time_left)}">'
                f"{e(duration(r.time_left))}</span>",
                f'<span class="{e(r.state.value)}">{e(r.state.value.replace("_", " "))}</span>',
                link(ticket_path(t.connector, t.id), t.key),
                e(t.subject),
                e(t.priority or "-"),
                f"{e(m.policy)} / {e(m.metric.value)}",
                e(when(r.due, zone)),
                e(t.group or "-"),
                e(t.organization or r.contract or "-"),
                link(r.link, "open") if r.link else "-",
            ]
        )
    pages = []
    if page > 1:
        pages.append(link(_query("/dashboard", {**filters, "page": str(page - 1)}), "previous"))
    if page * per_page < matched:
        pages.append(link(_query("/dashboard", {**filters, "page": str(page + 1)}), "next"))
    shown = f"{(page - 1) * per_page + len(rows)} of {matched}" if rows else f"0 of {matched}"
    active = ", ".join(f"{k}={v}" for k, v in sorted(filters.items()) if k != "page")
    return (
        f'<section><h2>At-risk queue</h2><p class="mute">Clocks breached or due within the '
        f"at-risk horizon, least time left first; {e(shown)}"
        f"{' (' + e(active) + ')' if active else ''}. Filter with ?connector=, state=, team=, "
        "customer=, policy=.</p>"
        + table(
            [
                "Time left",
                "State",
                "Ticket",
                "Subject",
                "Priority",
                "Clock",
                "Due",
                "Team",
                "Customer",
                "Helpdesk",
            ],
            body,
            empty="nothing at risk",
        )
        + f'<nav class="pages">{" ".join(pages)}</nav></section>'
    )


def _seconds(d: timedelta | None) -> str:
    return "" if d is None else str(int(d.total_seconds()))


def _query(path: str, params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(sorted(kept.items()))}" if kept else path


def _objective_rows(r: PeriodResult) -> list[list[str]]:
    rows = []
    for o in r.objectives:
        c = o.compliance
        cls = "mute" if c is None else ("missed" if o.missed else "met")
        rows.append(
            [
                e(o.severity),
                e(o.metric.value),
                e(f"{o.target.normalize():f} %"),
                e(o.counted),
                e(o.met),
                f'<span class="{cls}">{e("-" if c is None else percent_text(c))}</span>',
                e(f"{o.credit.normalize():f} %"),
            ]
        )
    return rows


_OBJECTIVE_HEADERS = ["Severity", "Metric", "#Target", "#Counted", "#Met", "#Compliance", "#Credit"]


def owed_text(r: PeriodResult) -> str:
    """``"15 % of the fee = 1800.00 EUR"``."""
    text = f"{r.credit.normalize():f} %"
    if r.amount is not None:
        text += f" of the fee = {r.amount}{' ' + r.currency if r.currency else ''}"
    return text


def compliance_section(results: Sequence[PeriodResult], title: str) -> str:
    """Per contract (customer): compliance per severity against target, credit owed."""
    parts = [f"<section><h2>{e(title)}</h2>"]
    if not results:
        parts.append('<p class="mute">The rules declare no contracts.</p>')
    for r in results:
        if r.frozen:
            status = f"frozen, revision {r.revision}"
        elif r.end <= r.computed_at:
            status = "closed, not frozen yet: slaplug credits or report freezes it"
        else:
            status = "open: figures so far"
        parts.append(
            f"<h3>{e(r.contract)} {e(r.period)}</h3><p>Credit owed: <b>{e(owed_text(r))}</b> "
            f'<span class="mute">({e(status)}; {len(r.breaches)} breach(es))</span></p>'
        )
        parts.append(table(_OBJECTIVE_HEADERS, _objective_rows(r)))
    parts.append("</section>")
    return "".join(parts)


def team_section(parts: Sequence[tuple[str, PartResult]], title: str) -> str:
    """Per team and contract: compliance per severity against the contract's targets."""
    rows = []
    for contract, p in parts:
        for o, row in zip(p.result.objectives, _objective_rows(p.result), strict=True):
            if not o.counted:
                continue  # a team with no decided measure of this objective: nothing to say
            rows.append([e(p.part or "(no team)"), e(contract), *row[:2], *row[2:6]])
    return (
        f"<section><h2>{e(title)}</h2>"
        + table(
            [
                "Team",
                "Contract",
                "Severity",
                "Metric",
                "#Target",
                "#Counted",
                "#Met",
                "#Compliance",
            ],
            rows,
            empty="no decided measures yet",
        )
        + "</section>"
    )


def _action_rows(actions: Sequence[ActionRecord], zone: ZoneInfo) -> list[list[str]]:
    rows = []
    for a in actions:
        what = a.params.get("channel") if a.kind == "notify" else None
        detail = a.detail
        if a.kind == "notify":
            detail = f"reached {len(a.sends)} service(s)" + (f"; {detail}" if detail else "")
        state = a.status if a.outbox_state is None else f"{a.status} ({a.outbox_state})"
        written = "" if a.kind == "notify" else _shown(a.params)
        rows.append(
            [
                e(when(a.done_at or a.planned_at, zone)),
                link(ticket_path(a.connector, a.ticket_id), f"{a.connector}:{a.ticket_id}"),
                e(a.kind) + (f" {e(what)}" if what else ""),
                e(written[:200] + ("..." if len(written) > 200 else "")),
                f"{e(a.escalation)} level {e(a.level)}" + (" [shadow]" if a.shadow else ""),
                e(state),
                e(detail[:300]),
            ]
        )
    return rows


def activity_section(
    actions: Sequence[ActionRecord], sends: Sequence[SendRecord], zone: ZoneInfo, title: str
) -> str:
    """What slaplug wrote to the helpdesks and which notifications it sent, newest first."""
    send_rows = [
        [
            e(when(s.sent_at, zone)),
            link(ticket_path(s.connector, s.ticket_id), f"{s.connector}:{s.ticket_id}")
            if s.connector and s.ticket_id
            else e("(digest)"),
            e(s.channel or "-"),
            e(s.target[:12]),
        ]
        for s in sends
    ]
    return (
        f"<section><h2>{e(title)}</h2><h3>Written</h3>"
        + table(
            ["When", "Ticket", "Action", "What", "Escalation", "Outcome", "Detail"],
            _action_rows(actions, zone),
            empty="nothing written yet",
        )
        + "<h3>Notified</h3>"
        + table(["When", "Ticket", "Channel", "Service (hash)"], send_rows, empty="none sent")
        + "</section>"
    )


def _timeline_svg(
    segments: Sequence[dict[str, Any]], title: str, breached_at: str | None = None
) -> str:
    """The clock's run as one bar: counted, paused and closed stretches to scale, and a red
    mark where the target ran out."""
    if not segments:
        return ""
    start = datetime.fromisoformat(segments[0]["from"])
    end = datetime.fromisoformat(segments[-1]["to"])
    span = max((end - start).total_seconds(), 1.0)
    width = 1000.0
    cls = {"counted": "counted", "paused": "pausedbar", "closed": "closed"}
    rects = []
    for seg in segments:
        a = (datetime.fromisoformat(seg["from"]) - start).total_seconds() / span * width
        b = (datetime.fromisoformat(seg["to"]) - start).total_seconds() / span * width
        label = f"{seg['kind']} {seg['from']} .. {seg['to']} {seg['duration']}"
        if seg.get("why"):
            label += f" ({seg['why']})"
        rects.append(
            f'<rect class="{e(cls.get(seg["kind"], "closed"))}" x="{a:.1f}" y="0" '
            f'width="{max(b - a, 0.5):.1f}" height="24"><title>{e(label)}</title></rect>'
        )
    if breached_at:
        x = (datetime.fromisoformat(breached_at) - start).total_seconds() / span * width
        if 0 <= x <= width:
            rects.append(
                f'<line class="breachmark" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="24">'
                f"<title>{e('breached at ' + breached_at)}</title></line>"
            )
    return (
        f'<svg class="timeline" role="img" viewBox="0 0 {width:.0f} 24" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{e(title)}</title>{''.join(rects)}</svg>"
    )


def ticket_body(doc: dict[str, Any], actions: Sequence[ActionRecord], zone: ZoneInfo) -> str:
    """A ticket's explain view: its clocks with their timelines, history, escalations, and
    what was written and notified for it."""
    t = doc["ticket"]
    parts = [
        "<section>",
        f"<p><b>{e(t['subject'])}</b></p>",
        f"<p>{e(t['connector'])}:{e(t['id'])}, status {e(t['status'])}, priority "
        f"{e(t['priority'] or '-')}; policies: {e(', '.join(doc['policies']) or 'none matched')}"
        f"{'; ' + link(doc.get('link'), 'open on the helpdesk') if doc.get('link') else ''}</p>",
        f'<p class="mute">Measured at {e(_t(doc["at"]))}.</p></section>',
    ]
    for c in doc["clocks"]:
        target = duration(timedelta(seconds=c["target_s"]))
        elapsed = duration(timedelta(seconds=c["elapsed_s"]))
        title = f"{c['policy']} / {c['metric']} (cycle {c['cycle']})"
        facts = [
            f'<span class="{e(c["state"])}">{e(c["state"].upper())}</span>',
            f"{e(elapsed)} of {e(target)} ({e(format(c['percent'], 'g'))} %)",
            f"calendar {e(c['calendar'])}",
            f"started {e(_t(c['start']))}",
            f"deadline {e(_t(c['deadline']) if c['deadline'] else 'none while paused')}",
        ]
        if c["breached_at"]:
            facts.append(f'<span class="breached">breached at {e(_t(c["breached_at"]))}</span>')
        if c["stopped_at"]:
            facts.append(f"stopped at {e(_t(c['stopped_at']))}")
        seg_rows = [
            [
                e(s["kind"]),
                e(_t(s["from"])),
                e(_t(s["to"])),
                e(s["duration"]),
                e(s.get("why") or ""),
            ]
            for s in c["timeline"]
        ]
        parts.append(
            f"<section><h2>{e(title)}</h2><p>{'; '.join(facts)}</p>"
            + _timeline_svg(c["timeline"], f"Timeline of {title}", c["breached_at"])
            + '<p class="mute">Blue: counted; amber: paused; grey: closed (outside working '
            "hours or a holiday); red line: the target ran out.</p>"
            + table(["Stretch", "From", "To", "Duration", "Why"], seg_rows, empty="not started")
            + "</section>"
        )
    history = [
        [
            e(_t(h["at"])),
            e(h["field"]),
            e(_shown(h["old"])),
            e(_shown(h["value"])),
            e(h.get("actor") or ""),
        ]
        for h in doc.get("history", [])
    ]
    parts.append(
        "<section><h2>Field history</h2>"
        + table(["At", "Field", "From", "To", "By"], history, empty="no recorded changes")
        + "</section>"
    )
    escalations = [
        [
            e(a["escalation"]),
            e(a["level"]),
            e(a["kind"]) + (" [shadow]" if a["shadow"] else ""),
            e(_shown(a["params"])),
            e((a.get("explanation") or {}).get("matched", "")),
        ]
        for a in doc["actions"]
    ]
    parts.append(
        "<section><h2>Escalations that would fire now</h2>"
        + table(
            ["Escalation", "Level", "Action", "Parameters", "Because"],
            escalations,
            empty="none would fire",
        )
        + "</section>"
    )
    parts.append(
        "<section><h2>Written and notified for this ticket</h2>"
        + table(
            ["When", "Ticket", "Action", "What", "Escalation", "Outcome", "Detail"],
            _action_rows(actions, zone),
            empty="nothing planned for this ticket",
        )
        + "</section>"
    )
    return "".join(parts)


def _t(text: str | None) -> str:
    """An ISO time of the explain view as ``2026-12-02 09:36 +01:00`` (minutes are enough)."""
    if not text:
        return "-"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return text
    return t.strftime("%Y-%m-%d %H:%M %z")


def _shown(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_shown(x)}" for k, x in v.items())
    return str(v)
