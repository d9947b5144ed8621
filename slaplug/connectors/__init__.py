"""The connector kit: what a helpdesk connector builds on.

* `Connector` and its records (`base`): the contract.
* `ConnectorConfig` (`config`): pydantic settings, credentials from named env vars.
* `BearerAuth`, `BasicAuth` (`auth`): what `Connector.auth` returns, secrets masked.
* `CursorCodec` (`cursor`): a cursor as one opaque, versioned string.
* `ApiClient`, `RetryPolicy` (`http`): one session, timeouts, one retry policy; a
  ``before_retry`` hook (`LostAnswer`, `NOTHING_TO_SEND`) for writes that must not repeat.
* `DEFAULT_RESOLUTIONS` (`resolution`): what each failed status means.
* `MarkerKey` (`markers`): keyed markers for notes, unguessable by customers.
* paginators (`pagination`), webhook signatures (`signatures`), redaction (`redact`).
"""

from slaplug.connectors.auth import BasicAuth, BearerAuth
from slaplug.connectors.base import (
    ApplyResult,
    ApplyStatus,
    Capability,
    Connector,
    TicketPage,
    WebhookEvent,
)
from slaplug.connectors.config import ConnectorConfig
from slaplug.connectors.cursor import MAX_CURSOR_CHARS, CursorCodec
from slaplug.connectors.http import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApiClient,
    BeforeRetry,
    CallStats,
    LostAnswer,
    RetryPolicy,
    parse_retry_after,
)
from slaplug.connectors.markers import MarkerKey
from slaplug.connectors.pagination import (
    CursorPaginator,
    NextUrlPaginator,
    Page,
    PageInfo,
    Paginator,
    TokenPaginator,
    paginate,
)
from slaplug.connectors.redact import REDACTED, RedactingFilter, redact_headers, scrub
from slaplug.connectors.resolution import DEFAULT_RESOLUTIONS, Outcome, Resolution
from slaplug.connectors.signatures import sign, verify_signature

__all__ = [
    "DEFAULT_RESOLUTIONS",
    "MAX_CURSOR_CHARS",
    "NOTHING_TO_SEND",
    "REDACTED",
    "AlreadySent",
    "ApiClient",
    "ApplyResult",
    "ApplyStatus",
    "BasicAuth",
    "BearerAuth",
    "BeforeRetry",
    "CallStats",
    "Capability",
    "Connector",
    "ConnectorConfig",
    "CursorCodec",
    "CursorPaginator",
    "LostAnswer",
    "MarkerKey",
    "NextUrlPaginator",
    "Outcome",
    "Page",
    "PageInfo",
    "Paginator",
    "RedactingFilter",
    "Resolution",
    "RetryPolicy",
    "TicketPage",
    "TokenPaginator",
    "WebhookEvent",
    "paginate",
    "parse_retry_after",
    "redact_headers",
    "scrub",
    "sign",
    "verify_signature",
]
