"""Jira admin webhooks: signature check and parsing, sans I/O.

Jira signs an admin webhook that has a secret with
``X-Hub-Signature: sha256=<lowercase hex HMAC-SHA256(secret, raw body)>`` (WebSub form;
not ``X-Hub-Signature-256``). ``X-Atlassian-Webhook-Identifier`` is unique per delivery
and unchanged across Jira's retries, so it is the de-duplication id. The signature has no
timestamp: replays are caught only by that de-duplication.

Jira retries a delivery answered 408, 409, 425, 429 or 5xx. The web layer must therefore
answer a delivery it already processed with 2xx, never 409; this module only verifies
and parses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import SecretStr

from slaplug.connectors import WebhookEvent, verify_signature
from slaplug.errors import WebhookError

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "parse", "verify"]

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.casefold()
    return next((v for k, v in headers.items() if k.casefold() == wanted), None)


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[SecretStr]) -> None:
    """Accept the delivery if ``X-Hub-Signature`` matches the raw body under any secret.

    Raises:
        WebhookError: 401 when the signature is missing or matches no secret.
    """
    verify_signature(
        _header(headers, SIGNATURE_HEADER), body, secrets, encoding="hex", prefix="sha256="
    )


def parse(headers: Mapping[str, str], body: bytes, received_at: datetime) -> WebhookEvent:
    """A verified delivery as a `WebhookEvent` (``ticket_id`` is the issue key).

    Handles ``jira:issue_*`` bodies (``issue``) and ``comment_*`` bodies (``comment`` and,
    from Jira Cloud, ``issue``). Without the identifier header the body's SHA-256 stands
    in, so a redelivery of the same bytes still de-duplicates.

    Raises:
        WebhookError: 400 when the body is not a Jira webhook JSON object.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON", status=400) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("webhookEvent"), str):
        raise WebhookError("webhook body has no webhookEvent; is this a Jira webhook?", status=400)
    issue = doc.get("issue")
    key = issue.get("key") if isinstance(issue, dict) else None
    delivery = _header(headers, DELIVERY_HEADER) or "sha256:" + hashlib.sha256(body).hexdigest()
    return WebhookEvent(
        delivery_id=delivery,
        ticket_id=str(key) if key is not None else None,
        kind=doc["webhookEvent"],
        received_at=received_at,
    )
