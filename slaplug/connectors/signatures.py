"""HMAC signatures for webhooks: sign, and verify against several secrets in constant time.

Platforms differ in what they sign and how they encode it (Zendesk: base64 of
HMAC-SHA256 over timestamp + body; Jira and GitHub: ``sha256=`` + hex over the body), so
the connector builds the signed message and picks the encoding; this module does the rest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

from pydantic import SecretStr

from slaplug.errors import WebhookError

__all__ = ["sign", "verify_signature"]

Encoding = Literal["base64", "hex"]


def sign(secret: str | SecretStr, message: bytes, *, encoding: Encoding = "base64") -> str:
    """HMAC-SHA256 of ``message`` keyed with the UTF-8 bytes of ``secret``.

    Args:
        secret: The signing secret, used as-is (never base64-decoded).
        message: The exact bytes the platform signs.
        encoding: ``"base64"`` or ``"hex"``.

    Returns:
        The encoded signature.
    """
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()


def verify_signature(
    signature: str | None,
    message: bytes,
    secrets: Iterable[str | SecretStr],
    *,
    encoding: Encoding = "base64",
    prefix: str = "",
) -> None:
    """Accept ``signature`` if it matches ``message`` under any of ``secrets``.

    Several secrets are accepted so a secret can be rotated without dropping deliveries.
    Every secret is compared, in constant time, whatever the earlier results.

    Args:
        signature: The header's value, or None when the header is missing.
        message: The exact bytes the platform signs.
        secrets: The active secrets.
        encoding: How the platform encodes the digest.
        prefix: A scheme prefix the header carries, e.g. ``"sha256="``.

    Raises:
        WebhookError: Status 401 when the signature is missing or matches no secret.
    """
    if not signature:
        raise WebhookError("webhook signature missing", status=401)
    given = signature.strip().removeprefix(prefix).encode()
    matched = False
    for secret in secrets:
        expected = sign(secret, message, encoding=encoding).encode()
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise WebhookError("webhook signature does not match", status=401)
