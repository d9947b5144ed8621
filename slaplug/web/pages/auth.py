"""Who may see a page: managers by token, each customer by the token in its link.

A manager sends a token as ``Authorization: Bearer <token>`` or as the password of HTTP basic
auth (any user name): a browser asks for it on the first 401, and a reverse proxy can add the
header itself. The token is the configured ``dashboard.manager_token`` or one issued with
``slaplug dashboard token issue`` (stored hashed). Every page is a GET that changes nothing,
so there is nothing for a cross-site request to forge.

A customer's page is ``/customer/<token>``: the token names the contract (and organization)
it shows; there is no other input to choose whose figures are read.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from starlette.requests import Request

from slaplug.store import Store
from slaplug.store.access import AccessToken, parse_token

__all__ = ["CHALLENGE", "customer_of", "manager_allowed", "presented_token", "shown_path"]

_SECRET_PART = re.compile(r"\b(slp[cm]_[0-9a-f]{12})_[0-9A-Za-z]+")


def shown_path(path: str) -> str:
    """``path`` fit for a log line: a token's secret part replaced, its public id kept."""
    return _SECRET_PART.sub(r"\1_...", path)


#: The 401's challenge: browsers show their login box, any user name with the token.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="slaplug dashboard", charset="UTF-8"'}


def presented_token(request: Request) -> str | None:
    """The token in ``Authorization`` (bearer, or the basic-auth password), if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


def manager_allowed(token: str | None, configured: str | None, store: Store) -> bool:
    """Whether ``token`` opens the dashboard (blocking: reads the store)."""
    if not token:
        return False
    if configured is not None and hmac.compare_digest(
        token.encode("utf-8"), configured.encode("utf-8")
    ):
        return True
    parsed = parse_token(token)
    if parsed is None or parsed[0] != "manager":
        return False
    record = store.check_token(token)
    return record is not None and record.scope == "manager"


def customer_of(token: str, store: Store) -> AccessToken | None:
    """The customer credential ``token`` is, if valid and not revoked (blocking)."""
    parsed = parse_token(token)
    if parsed is None or parsed[0] != "customer":
        return None
    record = store.check_token(token)
    if record is None or record.scope != "customer":
        return None
    return record
