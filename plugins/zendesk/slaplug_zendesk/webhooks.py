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
"subject": "zen:ticket:ID", "detail": {...}}``, or the minimal body of a trigger-connected
webhook ``{"ticket_id": ..., "updated_at": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import SecretStr

from slaplug.connectors import WebhookEvent, verify_signature
from slaplug.errors import WebhookError

__all__ = [
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
    body has none, so its id is built from ``X-Zendesk-Webhook-Id`` (the webhook's id), the
    ticket and the body's ``updated_at`` if given (else the signature timestamp).

    Raises:
        WebhookError: Status 400 for a body that is not one of the two shapes.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("malformed Zendesk webhook: the body is not JSON", status=400) from None
    if not isinstance(doc, dict):
        raise WebhookError("malformed Zendesk webhook: the body is not a JSON object", status=400)
    if "subject" in doc or "type" in doc:
        return _envelope(doc, received_at)
    if "ticket_id" in doc:
        return _trigger(doc, headers, received_at)
    raise WebhookError(
        "malformed Zendesk webhook: neither an event envelope (subject, type) nor a trigger "
        'body ({"ticket_id": ...})',
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
    if not hook:
        raise WebhookError(
            f"malformed Zendesk webhook: a trigger body needs the {WEBHOOK_ID} header", status=400
        )
    version = doc.get("updated_at") or header(headers, TIMESTAMP) or ""
    return WebhookEvent(f"{hook}:{ticket_id}:{version}", ticket_id, "ticket.trigger", received_at)


def _ticket_id(value: object) -> str:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text.isdigit():
        raise WebhookError(
            f"malformed Zendesk webhook: ticket id {value!r} is not a number", status=400
        )
    return text
