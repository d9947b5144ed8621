"""The pages' shell: escaping, layout, the stylesheet and the security headers.

Pages are plain strings built with `e` around every value that is not the page's own markup:
no template engine, so nothing in a ticket (``{{7*7}}``, ``{% ... %}``, ``<script>``) is ever
evaluated, only shown. The Content-Security-Policy allows no script at all and styles only
from ``/static/slaplug.css``; frames are refused (no clickjacking of a logged-in manager).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse

__all__ = [
    "CSP",
    "CSS",
    "SECURITY_HEADERS",
    "duration",
    "e",
    "html_page",
    "json_page",
    "link",
    "page",
    "table",
    "when",
]

#: No script, no plugin, no frame, no form; styles and images from this server only.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
#: Sent with every page and JSON document of the dashboard and customer pages.
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # The figures are a customer's business: no shared cache keeps them.
    "Cache-Control": "no-store",
}

CSS = """
:root{--ink:#1f2328;--mute:#59636e;--line:#d8dee4;--bad:#b42318;--warn:#9a6700;--ok:#1a7f37}
body{font:14px/1.45 system-ui,sans-serif;color:var(--ink);margin:0;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#fff}header .at{margin-left:auto;color:#d0d7de;font-size:.9em}
main{max-width:1200px;margin:0 auto;padding:1em 1.2em}
h1{font-size:1.4em;margin:.4em 0}h2{font-size:1.15em;margin:1.6em 0 .4em}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.6em 1em;margin:.8em 0}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.3em .5em;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--mute)}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.breached,.missed{color:var(--bad);font-weight:600}.at_risk{color:var(--warn);font-weight:600}
.met{color:var(--ok)}.paused,.mute{color:var(--mute)}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{flex:1;min-width:10em}
.card b{display:block;font-size:1.8em}
.timeline{width:100%;height:auto}.breachmark{stroke:#b42318;stroke-width:4}.counted{fill:#0969da}.pausedbar{fill:#bf8700}.closed{fill:#d0d7de}
nav.pages a{margin-right:1em}.chart{max-width:100%;height:auto}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.4em .8em;border-radius:6px}
"""


def e(value: object) -> str:
    """``value`` as HTML text, quotes included (safe in an element and in an attribute)."""
    return escape("" if value is None else str(value), quote=True)


def link(href: str | None, text: object) -> str:
    """``<a>`` to ``href`` if it is an http(s) URL or a path of this server, else the text.

    A ticket's URL comes from its helpdesk: ``javascript:`` and other schemes are not linked.
    """
    if href and (href.startswith(("https://", "http://")) or href.startswith("/")):
        if href.startswith("//"):
            return e(text)
        return f'<a href="{e(href)}">{e(text)}</a>'
    return e(text)


def when(t: datetime | None, zone: tzinfo | None = None) -> str:
    """``2026-11-04 15:30`` in ``zone`` (the time's own zone by default), or ``-``."""
    if t is None:
        return "-"
    return (t.astimezone(zone) if zone is not None else t).strftime("%Y-%m-%d %H:%M %Z").strip()


def duration(d: timedelta | None) -> str:
    """``2h 05m``, ``-1d 3h`` (overdue), or ``-`` for none."""
    if d is None:
        return "-"
    sign = "-" if d < timedelta(0) else ""
    s = int(abs(d.total_seconds()))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "none") -> str:
    """A table; ``headers`` are escaped, cells are markup already (escape values with `e`).

    A header starting with ``#`` is a number column (right-aligned), shown without the ``#``.
    """
    heads = "".join(
        f'<th class="n">{e(h[1:])}</th>' if h.startswith("#") else f"<th>{e(h)}</th>"
        for h in headers
    )
    numeric = [h.startswith("#") for h in headers]
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{c}</td>' if num else f"<td>{c}</td>"
            for c, num in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="mute">{e(empty)}</td></tr>')
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(
    title: str, body: str, *, nav: str = "", at: datetime | None = None, refresh: int | None = None
) -> str:
    """A whole page: head with the stylesheet (and a reload every ``refresh`` s), the body."""
    meta = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    stamp = f'<span class="at">figures as of {e(when(at))}</span>' if at is not None else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'{meta}<meta name="referrer" content="no-referrer">'
        f'<title>{e(title)}</title><link rel="stylesheet" href="/static/slaplug.css"></head>'
        f"<body><header><strong>slaplug</strong>{nav}{stamp}</header>"
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )


def html_page(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """An HTML response with the security headers."""
    return HTMLResponse(text, status, headers={**SECURITY_HEADERS, **(headers or {})})


def json_page(doc: Any, status: int = 200) -> JSONResponse:
    """A JSON response with the security headers."""
    return JSONResponse(doc, status, headers=SECURITY_HEADERS)
