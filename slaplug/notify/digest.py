"""A digest: the tickets at risk across every helpdesk, sent to a channel once a day.

``slaplug notify digest team-lead`` (from cron, e.g. every weekday at 08:00) measures every
stored ticket from its snapshot, lists the clocks that are breached and still running or due
within ``--within``, earliest deadline first, and sends the list to the channel. A digest is
sent once per channel and day: a second run the same day sends nothing (``--force`` to resend).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from slaplug.connectors.base import Connector
from slaplug.model import Ticket
from slaplug.notify.channels import Channel, ChannelTarget
from slaplug.notify.deliver import send_apprise, target_id
from slaplug.notify.message import Message
from slaplug.rules.engines.fields import human_duration
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.store import Store
from slaplug.views.clocks import ClockQuery, ClockRow, ClockState, measure_tickets, select

__all__ = ["AtRisk", "at_risk", "digest_message", "send_digest"]

#: Lines listed in one digest; the rest are counted.
MAX_LINES = 200


#: One clock in the digest: a `slaplug.views.ClockRow` (ticket, measure, link, due).
AtRisk = ClockRow


def at_risk(
    tickets: Iterable[Ticket],
    pack: RulePack | VersionedPack,
    now: datetime,
    within: timedelta,
    links: Callable[[Ticket], str | None] = lambda t: None,
) -> list[AtRisk]:
    """Clocks still open that are breached, or whose deadline falls within ``within`` of
    ``now``, earliest first: the ``breached`` and ``at_risk`` rows of `slaplug.views`, the
    same computation ``slaplug status --state at-risk --state breached`` lists.

    Paused clocks not yet breached (no deadline) and stopped ones are left out.
    """
    rows = measure_tickets(tickets, pack, now, within=within, links=links)
    wanted = ClockQuery(states=frozenset({ClockState.BREACHED, ClockState.AT_RISK}))
    return select(rows, wanted)


def digest_message(rows: list[AtRisk], now: datetime, within: timedelta) -> Message:
    """The digest as one message: a line per clock, earliest deadline first."""
    breached = sum(r.measure.breached_at is not None for r in rows)
    subject = (
        f"[SLA digest] {breached} breached, {len(rows) - breached} due within "
        f"{human_duration(within)}"
    )
    lines = []
    for r in rows[:MAX_LINES]:
        m = r.measure
        when = (
            f"breached, {human_duration(-m.remaining)} over"
            if m.breached_at is not None
            else f"{human_duration(m.remaining)} left, due {r.due:%Y-%m-%d %H:%M} UTC"
        )
        title = f" {r.ticket.subject[:60]!r}" if r.ticket.subject else ""
        lines.append(
            (
                f"{r.ticket.connector} #{r.ticket.id}{title}: {m.policy}/{m.metric.value} {when}",
                r.link,
            )
        )
    more = len(rows) - MAX_LINES
    head = f"As of {now:%Y-%m-%d %H:%M} UTC: {len(rows)} clock(s) need attention."
    text = "\n".join(
        [head, "", *(f"- {line}" + (f"\n  {link}" if link else "") for line, link in lines)]
        + ([f"... and {more} more"] if more > 0 else [])
    )
    items = "".join(
        "<li>"
        + (
            f"<a href='{html.escape(link, quote=True)}'>{html.escape(line)}</a>"
            if link
            else html.escape(line)
        )
        + "</li>"
        for line, link in lines
    )
    body = f"<p>{html.escape(head)}</p><ul>{items}</ul>" + (
        f"<p>... and {more} more</p>" if more > 0 else ""
    )
    return Message(subject, text, body)


def send_digest(
    store: Store,
    pack: RulePack | VersionedPack,
    channel: Channel,
    connectors: Mapping[str, Connector],
    *,
    now: datetime,
    within: timedelta,
    force: bool = False,
    send: Callable[[ChannelTarget, Message, str | None], None] = send_apprise,
) -> tuple[int, int]:
    """Send today's digest to ``channel``, once per day and service.

    Returns:
        The clocks listed, and the services sent to now (0 when today's digest went out).
    """

    def link(t: Ticket) -> str | None:
        conn = connectors.get(t.connector)
        return conn.ticket_url(t.id) if conn is not None else None

    rows = at_risk(store.iter_snapshots(), pack, now, within, link)
    key = f"digest:{channel.name}:{now:%Y-%m-%d}"
    done = set() if force else store.sent_targets(key)
    pending = [t for t in channel.targets if target_id(t) not in done]
    if not pending:
        return len(rows), 0
    message = digest_message(rows, now, within)
    for target in pending:
        send(target, message, None)
        store.record_sent(key, target_id(target), now=now)
    return len(rows), len(pending)
