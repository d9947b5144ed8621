"""The webhook core, sans I/O: one delivery in, one answer out (status and JSON body).

No web framework here (gidgethub's shape): the adapter in `slaplug.web.app` reads the body,
calls `receive` and sends what it returns. The order of the checks matters:

1. the connector must exist (404), so nothing else is done for a path nobody configured;
2. the body must fit the size limit (413), checked before any hashing or parsing;
3. the connector checks the signature against the raw bytes (401), in constant time, with its
   timestamp tolerance and every secret of a rotation;
4. a JSON body nested deeper than `MAX_JSON_DEPTH` is refused (400) before anyone parses it:
   Python's parser raises `RecursionError` near 1,000 levels, and what a parser cannot read
   at the door the worker cannot read either;
5. the connector parses the delivery (400 for a malformed body), and the ticket id it returns
   must be sane (`check_ticket_id`, 400): ASCII, short, no digits of other scripts;
6. the delivery is stored in the inbox, durably, keyed by its delivery id: 202 when it is
   new, 200 when that id was stored before (a retry or a replay). Never 409: Jira retries
   on 409 (reference §4), and a duplicate is a success, not a conflict.

Every refusal is a 4xx other than 408/409/425/429, so senders do not retry what can never
succeed; only a store that cannot take the delivery answers 503, which senders do retry.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any, Protocol

from requests.structures import CaseInsensitiveDict

from slaplug.connectors.base import Capability, WebhookEvent
from slaplug.errors import WebhookError

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_JSON_DEPTH",
    "MAX_TICKET_ID",
    "NEVER_STORED_HEADERS",
    "STORED_HEADERS",
    "Checked",
    "Inbox",
    "Reply",
    "WebhookReceiver",
    "check",
    "check_ticket_id",
    "error_reply",
    "header_map",
    "json_depth",
    "keeps_header",
    "loggable",
    "receive",
    "stored",
    "stored_headers",
    "too_large",
]

log = logging.getLogger("slaplug.web")

#: The default body-size limit: Zendesk event envelopes and Jira issue bodies are a few KB;
#: 1 MiB leaves room for long comments without letting a sender fill the inbox.
DEFAULT_MAX_BODY = 1024 * 1024

#: The only headers stored with a delivery (an allow-list, lower-case): what the signature
#: check, de-duplication, the worker's second parse and debugging need. A deny-list cannot
#: work: a sender may put a credential under any name. A Zendesk webhook's API-key
#: authentication sends its key in a header (``X-Api-Key`` in issue 14's probe), basic or
#: bearer authentication ``Authorization`` (developer.zendesk.com/documentation/webhooks/
#: creating-and-monitoring-webhooks, "authentication"), its custom headers anything (the
#: Zendesk Terraform provider's ``custom_headers``), and a proxy may add its own.
#: Signatures are HMAC outputs, not secrets.
STORED_HEADERS = frozenset(
    {
        # Every sender: what the body is, and who sent it.
        "content-type",
        "content-length",
        "content-encoding",
        "user-agent",
        # Zendesk, every webhook request (developer.zendesk.com/documentation/webhooks/
        # anatomy-of-a-webhook-request): the trigger body's delivery id needs the webhook id
        # and the timestamp in the worker's parse too.
        "x-zendesk-account-id",
        "x-zendesk-webhook-id",
        "x-zendesk-webhook-invocation-id",
        "x-zendesk-webhook-signature",
        "x-zendesk-webhook-signature-timestamp",
        # Jira admin webhooks (docs/ reference §4: WebSub signature, delivery id, retry, flow).
        "x-hub-signature",
        "x-atlassian-webhook-identifier",
        "x-atlassian-webhook-retry",
        "x-atlassian-webhook-flow",
        # The schemes third-party connectors follow (reference §4: GitHub, Standard Webhooks,
        # Zammad): signature, delivery id and event name.
        "x-hub-signature-256",
        "x-github-delivery",
        "x-github-event",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-zammad-delivery",
        "x-zammad-trigger",
    }
)

#: Never stored, even when a connector names them in ``webhook_headers``: credentials.
NEVER_STORED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

#: JSON bodies nested deeper than this are refused (400) before any parser sees them. The
#: platforms' bodies are a few levels deep (a Zendesk event envelope about 4, a Jira issue
#: about 6, its fields being strings); Python's own parser gives up near 1,000.
MAX_JSON_DEPTH = 64

#: The longest ticket id a delivery may name (the store's columns hold 200 characters).
MAX_TICKET_ID = 100

# ASCII letters and digits first, then those and -_.:/# (Jira keys SUP-12, numeric Zendesk
# ids, other platforms' slugs). Spelled out, not \w or \d, which match other scripts' digits.
_TICKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]*")

#: Delivery ids longer than this, or with unprintable characters, are stored as their hash:
#: the inbox column holds 300 characters and PostgreSQL text refuses NUL.
_MAX_DELIVERY_ID = 200


class WebhookReceiver(Protocol):
    """What the core needs from a connector (`slaplug.connectors.Connector` has it)."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise `WebhookError` (401) unless the delivery is signed by the platform."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Raise `WebhookError` (400) unless the body is a delivery of the platform's.

        A connector whose parsing needs headers beyond `STORED_HEADERS` (the worker parses
        the stored delivery again) names them in an optional ``webhook_headers`` attribute.
        """


class Inbox(Protocol):
    """What the core needs from the store (`slaplug.store.Store` has it)."""

    def inbox_put(
        self,
        connector: str,
        delivery_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Store a delivery durably; False when its id was stored before."""


@dataclass(frozen=True)
class Reply:
    """The answer to one delivery.

    Attributes:
        status: The HTTP status.
        body: The JSON body: ``{"status", "delivery_id"}`` on success, ``{"error", "detail"}``
            on refusal. Never a secret: details come from slaplug's own messages.
        outcome: A short label for metrics and logs (``accepted``, ``duplicate``,
            ``bad_signature``...).
        event: The parsed delivery, when it got that far.
        headers: Extra response headers (``Retry-After`` on 503).
    """

    status: int
    body: dict[str, Any]
    outcome: str
    event: WebhookEvent | None = None
    headers: dict[str, str] = field(default_factory=dict)


#: The ``error`` code and the metrics outcome of each refusal status.
_ERRORS: dict[int, str] = {
    400: "malformed",
    401: "bad_signature",
    404: "unknown_connector",
    413: "too_large",
    503: "unavailable",
}


def error_reply(status: int, detail: str, *, error: str | None = None) -> Reply:
    """A refusal with the JSON body every error has: ``{"error": ..., "detail": ...}``."""
    code = error or _ERRORS.get(status, "error")
    return Reply(status, {"error": code, "detail": detail}, code)


def too_large(limit: int) -> Reply:
    """The 413 answer for a body over ``limit`` bytes (also used by the adapter while streaming)."""
    return error_reply(413, f"the body is larger than the limit of {limit} bytes")


def header_map(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` looked up in any case: ASGI servers lower-case names, and a connector may
    ask for ``X-Hub-Signature`` as the platform spells it."""
    return CaseInsensitiveDict(headers)


def stored_headers(headers: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The headers kept with a delivery: lower-cased names, only those in `STORED_HEADERS`.

    Args:
        headers: The request's headers.
        extra: More names to keep (a connector's ``webhook_headers``); credentials
            (`NEVER_STORED_HEADERS`) are dropped even if named here.
    """
    keep = STORED_HEADERS | ({n.lower() for n in extra} - NEVER_STORED_HEADERS)
    return {k.lower(): v for k, v in headers.items() if k.lower() in keep}


def keeps_header(connectors: Mapping[str, object]) -> Callable[[str, str], bool]:
    """``keep(connector, name)``: whether a delivery to ``connector`` keeps header ``name``
    (lower-case) in the inbox; `Store.inbox_scrub_headers` applies it to older rows."""
    extras = {
        name: frozenset(h.lower() for h in getattr(c, "webhook_headers", ())) - NEVER_STORED_HEADERS
        for name, c in connectors.items()
    }
    return lambda connector, name: (
        name in STORED_HEADERS or name in extras.get(connector, frozenset())
    )


#: 1 for an opening bracket, -1 for a closing one, by byte value.
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# A JSON string, escapes included (the unrolled form: linear, no backtracking blow-up).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (0 for a scalar), without parsing it.

    Brackets inside strings do not count. Linear in the body and recursion-free, so a body
    nested a million deep costs what its bytes cost. For a text that is not JSON the count
    is of its brackets outside double-quoted runs, which is all a limit needs.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _may_nest_too_deep(body: bytes) -> bool:
    # More openings than the limit: the count bounds the depth and costs a millisecond a
    # megabyte, so most bodies skip `json_depth`. Any body, not only those starting with
    # "{" or "[": json.loads also reads a body after a BOM, or in UTF-16.
    return body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH


def check_ticket_id(ticket_id: str | None) -> str | None:
    """Why ``ticket_id`` (from a connector's `WebhookEvent`) is not sane, or None if it is.

    Sane: at most `MAX_TICKET_ID` characters, ASCII letters and digits first, then those
    and ``-_.:/#``. This is the generic check every connector's ids pass; platform rules
    (Zendesk's ids are numbers) are the connector's own.
    """
    if ticket_id is None:
        return None
    if not isinstance(ticket_id, str):
        return f"ticket id {ticket_id!r} is not a string (a connector bug)"
    shown = repr(ticket_id[:40]) + ("..." if len(ticket_id) > 40 else "")
    if len(ticket_id) > MAX_TICKET_ID:
        return f"ticket id {shown} is {len(ticket_id)} characters long (at most {MAX_TICKET_ID})"
    if not _TICKET_ID.fullmatch(ticket_id):
        return (
            f"ticket id {shown} is not a ticket id: only ASCII letters, digits and -_.:/# "
            "are accepted"
        )
    return None


#: How much of a name or id from a request a log line shows.
LOGGED_CHARS = 64


def loggable(text: str, limit: int = LOGGED_CHARS) -> str:
    """``text`` from a request (a connector name in a URL, a delivery id), fit for one log
    line: quoted, control and other unprintable characters escaped (a name cannot forge a
    line), at most ``limit`` characters of it, with ``...`` and its length when cut."""
    shown = ascii(text[:limit])
    return shown if len(text) <= limit else f"{shown}... ({len(text)} characters)"


def _storable_id(delivery_id: str) -> str:
    if len(delivery_id) <= _MAX_DELIVERY_ID and delivery_id.isprintable():
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Checked:
    """A delivery that passed every check and is ready for the inbox (see `check`).

    Attributes:
        connector: The connector's name.
        delivery_id: The id to de-duplicate on, as it will be stored.
        headers: The headers to store (`stored_headers`: the allow-list only).
        event: The parsed delivery; None when the connector could not parse a signed body.
    """

    connector: str
    delivery_id: str
    headers: dict[str, str]
    event: WebhookEvent | None


def check(
    connectors: Mapping[str, WebhookReceiver],
    connector: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_body: int = DEFAULT_MAX_BODY,
) -> Reply | Checked:
    """Steps 1 to 4 of `receive`, without the store: a refusal to send, or what to store.

    Pure CPU (a HMAC and a JSON parse for the shipped connectors), so an event loop may call
    it directly; `stored` then makes the answer once the inbox has the delivery.
    """
    receiver = connectors.get(connector)
    headers = header_map(headers)
    if receiver is None or not _takes_webhooks(receiver):
        # The configured names are not listed: the URL is public, the configuration is not.
        return error_reply(404, f"no connector named {loggable(connector)} takes webhooks here")
    if len(body) > max_body:
        return too_large(max_body)
    try:
        receiver.verify_webhook(headers, body)
    except WebhookError as exc:
        status = exc.status if exc.status in (401, 404) else 401
        return error_reply(status, str(exc))
    except Exception:
        # A connector bug must not crash the server or pass an unchecked delivery: refuse it.
        log.exception("connector %s failed while verifying a webhook; refused", connector)
        return error_reply(401, "the signature could not be checked")
    if _may_nest_too_deep(body) and json_depth(body) > MAX_JSON_DEPTH:
        return error_reply(
            400, f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels; not a webhook"
        )
    event: WebhookEvent | None
    try:
        event = receiver.parse_webhook(headers, body)
        delivery_id = event.delivery_id
    except WebhookError as exc:
        return error_reply(exc.status if exc.status in (400, 404) else 400, str(exc))
    except Exception:
        # Signed by the platform but unreadable by a buggy connector: keep it rather than lose
        # a valid delivery. Its id is the body's hash, so the platform's retries still dedupe;
        # the worker's own parse fails the same way and parks it as dead for a later retry.
        log.exception("connector %s failed while parsing a signed webhook; kept", connector)
        event = None
        delivery_id = "sha256:" + hashlib.sha256(body).hexdigest()
    if event is not None and (why := check_ticket_id(event.ticket_id)) is not None:
        # Refused here, not stored: the worker would fail on it after every retry.
        return error_reply(400, f"malformed webhook: {why}")
    extra = getattr(receiver, "webhook_headers", ())
    return Checked(connector, _storable_id(delivery_id), stored_headers(headers, extra), event)


def _takes_webhooks(receiver: WebhookReceiver) -> bool:
    """False for a connector whose class declares no `Capability.WEBHOOK`: its verify and
    parse methods are never called. A bare receiver (no ``capabilities``) takes them."""
    capabilities = getattr(receiver, "capabilities", None)
    return capabilities is None or Capability.WEBHOOK in capabilities


def stored(checked: Checked, result: bool | BaseException) -> Reply:
    """The answer once the inbox was asked to store ``checked``.

    Args:
        checked: From `check`.
        result: The inbox's answer (True stored, False stored before), or what it raised.
    """
    if isinstance(result, BaseException):
        log.error(
            "the inbox could not store delivery %s of %s",
            checked.delivery_id,
            checked.connector,
            exc_info=result,
        )
        reply = error_reply(503, "the inbox is unavailable; retry later")
        return Reply(reply.status, reply.body, reply.outcome, checked.event, {"Retry-After": "5"})
    body = {"delivery_id": checked.delivery_id}
    if result:
        return Reply(202, {"status": "accepted", **body}, "accepted", checked.event)
    return Reply(200, {"status": "duplicate", **body}, "duplicate", checked.event)


def receive(
    connectors: Mapping[str, WebhookReceiver],
    inbox: Inbox,
    connector: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    now: datetime | None = None,
) -> Reply:
    """Check one delivery and store it in the inbox; return the answer to send.

    Args:
        connectors: Configured connectors by name.
        inbox: Where accepted deliveries are stored.
        connector: The name in the URL, ``/webhooks/{connector}``.
        headers: The request headers (any case).
        body: The raw body, exactly as received (the adapter may stop reading at
            ``max_body + 1`` bytes).
        max_body: The size limit in bytes.
        now: When the delivery is stored (tests fix it); default the current time.

    Returns:
        202 stored, 200 a duplicate of a stored delivery, 400/401/404/413 refused, 503 the
        inbox could not store it (the sender should retry).
    """
    checked = check(connectors, connector, headers, body, max_body=max_body)
    if isinstance(checked, Reply):
        return checked
    try:
        result: bool | BaseException = inbox.inbox_put(
            connector, checked.delivery_id, checked.headers, body, now=now
        )
    except Exception as exc:
        result = exc
    return stored(checked, result)
