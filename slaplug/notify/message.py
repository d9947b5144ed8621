"""The message a person gets: what happened, to which ticket, where to click, what it means.

A rule's ``notify.message`` says what the team wants said; this adds what every SLA message
needs to be acted on: the ticket's link on its own helpdesk, the clock's state, its deadline
and the time over, in the calendar's own zone, and why the escalation fired. Plain text for
chat and pagers; HTML (every ticket field escaped) for e-mail.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slaplug.model import Action, MeasureState, SlaMeasure, Ticket
from slaplug.rules.engines.fields import human_duration

__all__ = ["SUBJECT_FIELDS", "Message", "build_message", "reference", "render_subject"]

#: The names a channel's ``subject`` template may use.
SUBJECT_FIELDS = frozenset(
    {
        "connector",
        "ticket.id",
        "ticket.subject",
        "ticket.priority",
        "ticket.status",
        "measure.metric",
        "measure.policy",
        "measure.state",
        "escalation",
        "level",
    }
)
_TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
DEFAULT_SUBJECT = "[SLA] {{ connector }} #{{ ticket.id }}: {{ measure.metric }} {{ measure.state }}"


@dataclass(frozen=True)
class Message:
    """A rendered notification.

    Attributes:
        subject: One line: an e-mail subject, a chat title.
        text: The plain-text body.
        html: The same body as HTML, every value escaped.
    """

    subject: str
    text: str
    html: str


def reference(action_key: str) -> str:
    """A short, stable reference for a notification: printed in it, and passed as the
    de-duplication key to services that take one (PagerDuty ``dedup_key``, Opsgenie ``alias``)."""
    return "slaplug-" + hashlib.sha256(action_key.encode()).hexdigest()[:32]


def unknown_subject_fields(template: str) -> list[str]:
    """The names in ``template`` that a subject cannot use."""
    return [n for n in _TEMPLATE.findall(template) if n not in SUBJECT_FIELDS]


def render_subject(template: str | None, values: Mapping[str, str]) -> str:
    """``template`` with each ``{{ name }}`` replaced; one line, at most 200 characters."""
    text = _TEMPLATE.sub(lambda m: values.get(m.group(1), ""), template or DEFAULT_SUBJECT)
    return " ".join(text.split())[:200]


def _state(m: SlaMeasure) -> str:
    if m.state is MeasureState.BREACHED or (m.breached and m.state is not MeasureState.ACHIEVED):
        return "breached"
    return m.state.value


def _local(t: datetime | None, zone: ZoneInfo | None) -> str:
    if t is None:
        return "none while paused"
    local = t.astimezone(zone) if zone is not None else t
    return (
        f"{local:%a %d %b %Y %H:%M} {local.tzname() or ''} ({zone.key if zone else 'UTC'})".replace(
            "  ", " "
        )
    )


def build_message(
    action: Action,
    *,
    ticket: Ticket | None,
    measure: SlaMeasure | None,
    link: str | None,
    zone: ZoneInfo | None,
    subject: str | None = None,
) -> Message:
    """The message for a ``notify`` action.

    Args:
        action: The action (``params["message"]`` is the rule's rendered text).
        ticket: The ticket as last synced, if the store has it.
        measure: The clock the escalation fired on, as it stands now, if known.
        link: The ticket's page on its helpdesk (`Connector.ticket_url`).
        zone: The calendar's time zone, for deadlines people read.
        subject: The channel's subject template; None for the default.
    """
    said = str(action.params.get("message", ""))
    rows: list[tuple[str, str]] = []
    title = f" {ticket.subject!r}" if ticket is not None and ticket.subject else ""
    priority = f" (priority {ticket.priority})" if ticket is not None and ticket.priority else ""
    rows.append(("Ticket", f"{action.connector} #{action.ticket_id}{title}{priority}"))
    if link:
        rows.append(("Link", link))
    if measure is not None:
        rows.append(
            (
                "Clock",
                f"{measure.metric.value}, cycle {measure.cycle}, policy {measure.policy}: "
                f"{_state(measure)}, {human_duration(measure.elapsed)} of "
                f"{human_duration(measure.target)} ({measure.percent:.0f}%)",
            )
        )
        rows.append(("Deadline", _local(measure.breached_at or measure.deadline, zone)))
        if measure.remaining.total_seconds() < 0:
            rows.append(("Over by", f"{human_duration(-measure.remaining)} of business time"))
        else:
            rows.append(("Time left", f"{human_duration(measure.remaining)} of business time"))
    matched = action.explanation.get("matched")
    why = ", ".join(f"{k}={v}" for k, v in matched.items()) if isinstance(matched, Mapping) else ""
    rows.append(
        (
            "Why",
            f"escalation {action.escalation!r}, level {action.level}" + (f": {why}" if why else ""),
        )
    )
    rows.append(("Ref", reference(action.key)))
    width = max(len(k) for k, _ in rows) + 1
    text = "\n".join([said, "", *(f"{k + ':':<{width}} {v}" for k, v in rows)])
    # Lines with <br>, not a table: apprise derives the e-mail's plain-text part from this
    # HTML, and lines survive that conversion where table cells do not.
    lines = "<br>".join(
        f"<b>{html.escape(k)}:</b> "
        + (
            f"<a href='{html.escape(v, quote=True)}'>{html.escape(v)}</a>"
            if k == "Link"
            else html.escape(v)
        )
        for k, v in rows
    )
    body = f"<p>{html.escape(said)}</p><p>{lines}</p>"
    values = {
        "connector": action.connector,
        "ticket.id": action.ticket_id,
        "ticket.subject": ticket.subject or "" if ticket is not None else "",
        "ticket.priority": (ticket.priority or "") if ticket is not None else "",
        "ticket.status": ticket.status if ticket is not None else "",
        "measure.metric": action.metric.value if action.metric else "",
        "measure.policy": action.policy or "",
        "measure.state": _state(measure) if measure is not None else "",
        "escalation": action.escalation,
        "level": str(action.level),
    }
    return Message(render_subject(subject, values), text, body)
