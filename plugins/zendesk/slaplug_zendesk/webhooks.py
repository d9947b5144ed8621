"""Zendesk webhooks, sans I/O: check a delivery's signature, then read what it names.

Signature (https://developer.zendesk.com/documentation/webhooks/verifying/)::

    X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(key=secret as UTF-8, msg=TIMESTAMP + BODY))
    X-Zendesk-Webhook-Signature-Timestamp = ISO 8601, e.g. 2024-04-17T17:18:10Z

Only TIMESTAMP + BODY is accepted. An older variant of Zendesk's page writes BODY +
TIMESTAMP, and its published test vector matches that order only; the current page and live
integrations use TIMESTAMP + BODY (reference §4). Accepting both would silently halve what
the timestamp protects, so the older order is refused; the tests pin the vector as the
documented anomaly.

Bodies: the event-subscribed envelope ``{"id", "type": "zen:event-type:ticket.X",
"subject": "zen:ticket:ID", "detail": {...}}``, or the body of a trigger-connected webhook,
which the admin writes (``{"ticket_id": "{{ticket.id}}", "updated_at": ...}``; it may hold
any other key, ``type`` included: only a ``type`` of the form ``zen:event-type:...`` makes
an envelope).

De-duplication: Zendesk sends ``X-Zendesk-Webhook-Invocation-Id`` with every request
(developer.zendesk.com, "Anatomy of a webhook request"; reference, corrections 2026-12), the
same across the retries of one invocation. Where it is present it is the delivery id of a
trigger body; an envelope keeps its own ``id``, which Zendesk documents for de-duplication
(reference §4).

Ticket ids are ASCII digits only, at most 20 of them (Zendesk ids are 64-bit integers):
``str.isdigit`` would take ``"٠١٢"`` for 12, and a 4,000-digit id is no ticket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import SecretStr

from slaplug.connectors import WebhookEvent, verify_signature
from slaplug.errors import WebhookError

__all__ = [
    "INVOCATION_ID",
    "SIGNATURE",
    "TIMESTAMP",
    "WEBHOOK_ID",
    "header",
    "parse_delivery",
    "verify_delivery",
]

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
WEBHOOK_ID = "X-Zendesk-Webhook-Id"
INVOCATION_ID = "X-Zendesk-Webhook-Invocation-Id"
#: Digits of the largest Zendesk id (a 64-bit integer has at most 20).
MAX_ID_DIGITS = 20
_EVENT_PREFIX = "zen:event-type:"
_TICKET_PREFIX = "zen:ticket:"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever case the web framework gave its name."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def verify_delivery(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[SecretStr],
    *,
    now: datetime,
    tolerance: float = 300.0,
) -> None:
    """Check a delivery's signature and freshness against the raw body.

    Args:
        headers: The request headers.
        body: The raw body, before any parsing.
        secrets: The active signing secrets (several during a rotation).
        now: The current time, aware.
        tolerance: Seconds the signed timestamp may differ from ``now``, either way.

    Raises:
        WebhookError: Status 401 when the signature or timestamp is missing, the timestamp
            is unreadable or stale, or the signature matches no secret.
    """
    stamp = header(headers, TIMESTAMP)
    if not stamp:
        raise WebhookError(f"webhook refused: no {TIMESTAMP} header", status=401)
    try:
        signed_at = datetime.fromisoformat(stamp.strip())
    except ValueError:
        raise WebhookError(
            f"webhook refused: unreadable {TIMESTAMP} {stamp!r}", status=401
        ) from None
    if signed_at.tzinfo is None:
        raise WebhookError(f"webhook refused: {TIMESTAMP} {stamp!r} has no time zone", status=401)
    skew = abs((now - signed_at).total_seconds())
    if skew > tolerance:
        raise WebhookError(
            f"webhook refused: signed {skew:.0f}s away from now (tolerance {tolerance:g}s); "
            "a replay, or a clock out of sync",
            status=401,
        )
    verify_signature(header(headers, SIGNATURE), stamp.encode() + body, secrets)


def parse_delivery(
    headers: Mapping[str, str], body: bytes, *, received_at: datetime
) -> WebhookEvent:
    """Read a verified delivery.

    The delivery id is the envelope's ``id`` (Zendesk keeps it across retries). A trigger
    body has none: its id is ``X-Zendesk-Webhook-Invocation-Id`` (the same across retries)
    with the webhook's id when Zendesk sends it; otherwise it is built from
    ``X-Zendesk-Webhook-Id``, the ticket and the body's ``updated_at`` if given (else the
    signature timestamp).

    Raises:
        WebhookError: Status 400 for a body that is not one of the two shapes.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookError("malformed Zendesk webhook: the body is not JSON", status=400) from None
    if not isinstance(doc, dict):
        raise WebhookError("malformed Zendesk webhook: the body is not a JSON object", status=400)
    kind = doc.get("type")
    if isinstance(kind, str) and kind.startswith(_EVENT_PREFIX):
        return _envelope(doc, received_at)
    if "ticket_id" in doc:  # a trigger body: the admin's own keys, `type` among them maybe
        return _trigger(doc, headers, received_at)
    raise WebhookError(
        "malformed Zendesk webhook: neither an event envelope (type "
        '"zen:event-type:...") nor a trigger body ({"ticket_id": ...})',
        status=400,
    )


def _envelope(doc: Mapping[str, object], received_at: datetime) -> WebhookEvent:
    delivery, kind, subject = doc.get("id"), doc.get("type"), doc.get("subject")
    if not isinstance(delivery, str) or not delivery:
        raise WebhookError("malformed Zendesk webhook: the envelope has no id", status=400)
    if not isinstance(kind, str) or not kind:
        raise WebhookError("malformed Zendesk webhook: the envelope has no type", status=400)
    ticket_id: str | None = None
    if isinstance(subject, str) and subject.startswith(_TICKET_PREFIX):
        ticket_id = _ticket_id(subject.removeprefix(_TICKET_PREFIX))
    elif subject is not None and not isinstance(subject, str):
        raise WebhookError("malformed Zendesk webhook: subject is not a string", status=400)
    return WebhookEvent(delivery, ticket_id, kind.removeprefix(_EVENT_PREFIX), received_at)


def _trigger(
    doc: Mapping[str, object], headers: Mapping[str, str], received_at: datetime
) -> WebhookEvent:
    ticket_id = _ticket_id(doc.get("ticket_id"))
    hook = header(headers, WEBHOOK_ID)
    invocation = (header(headers, INVOCATION_ID) or "").strip()
    if invocation:
        if len(invocation) > 200:
            raise WebhookError(
                f"malformed Zendesk webhook: {INVOCATION_ID} is longer than 200 characters",
                status=400,
            )
        delivery = f"{hook}:invocation:{invocation}" if hook else f"invocation:{invocation}"
        return WebhookEvent(delivery, ticket_id, "ticket.trigger", received_at)
    if not hook:
        raise WebhookError(
            f"malformed Zendesk webhook: a trigger body needs the {WEBHOOK_ID} header", status=400
        )
    version = doc.get("updated_at") or header(headers, TIMESTAMP) or ""
    return WebhookEvent(f"{hook}:{ticket_id}:{version}", ticket_id, "ticket.trigger", received_at)


def _ticket_id(value: object) -> str:
    text = ""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value) if value.bit_length() <= 64 else "x"
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
        shown = (
            f"<a {value.bit_length()}-bit integer>"
            if isinstance(value, int)
            else repr(value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value)
        )
        raise WebhookError(
            f"malformed Zendesk webhook: ticket id {shown} is not a Zendesk id (ASCII digits, "
            f"at most {MAX_ID_DIGITS})",
            status=400,
        )
    return str(int(text))  # one spelling per ticket: "012" is ticket 12
