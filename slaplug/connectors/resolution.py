"""What a failed response means for the caller: one data table, one override point.

The table maps an HTTP status to a `Resolution`: what to do (`Outcome`), which
exception to raise, and a message that says what to do next. A connector whose platform
means something else by a status overrides `ApiClient.resolve` or passes its own table::

    RESOLUTIONS = {**DEFAULT_RESOLUTIONS, 400: Resolution(Outcome.SKIP, InvalidTicketError, "...")}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from slaplug.errors import (
    AuthenticationError,
    ConflictError,
    ConnectorError,
    FatalAPIError,
    InvalidTicketError,
    RetriableAPIError,
    TicketNotFoundError,
)

__all__ = ["DEFAULT_RESOLUTIONS", "Outcome", "Resolution", "resolve_status"]


class Outcome(StrEnum):
    """What the caller should do about a failed call."""

    #: Stop this connector: fix the configuration (credentials) or report a bug.
    FAIL = "fail"
    #: Transient: back off and try again (the kit does, within its budget).
    RETRY = "retry"
    #: Skip this one ticket and carry on with the others.
    SKIP = "skip"
    #: The ticket changed meanwhile: re-read it, re-evaluate, write again.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Resolution:
    """How one HTTP status is handled.

    Attributes:
        outcome: What the caller should do.
        error: The exception raised for it.
        message: User-facing text; ``{credentials}`` is replaced by the environment
            variable(s) holding the connector's credentials.
    """

    outcome: Outcome
    error: type[ConnectorError]
    message: str


_RETRY = Resolution(Outcome.RETRY, RetriableAPIError, "the helpdesk is unavailable")

#: The default handling of each status. Anything missing: 5xx retries, other 4xx fail.
DEFAULT_RESOLUTIONS: Mapping[int, Resolution] = MappingProxyType(
    {
        400: Resolution(
            Outcome.FAIL,
            FatalAPIError,
            "the helpdesk rejected the request as malformed; this is a connector bug, please report it",
        ),
        401: Resolution(
            Outcome.FAIL,
            AuthenticationError,
            "the helpdesk rejected the credentials; check {credentials} and the base_url",
        ),
        403: Resolution(
            Outcome.FAIL,
            AuthenticationError,
            "permission denied; the account behind {credentials} needs more rights",
        ),
        404: Resolution(Outcome.SKIP, TicketNotFoundError, "not found; skipping this ticket"),
        408: _RETRY,
        409: Resolution(
            Outcome.CONFLICT,
            ConflictError,
            "the ticket changed meanwhile; re-read it and evaluate again",
        ),
        422: Resolution(
            Outcome.SKIP, InvalidTicketError, "the helpdesk rejected the change as invalid"
        ),
        429: Resolution(Outcome.RETRY, RetriableAPIError, "rate limited"),
        500: _RETRY,
        502: _RETRY,
        503: _RETRY,
        504: _RETRY,
    }
)


def resolve_status(
    status: int, resolutions: Mapping[int, Resolution] = DEFAULT_RESOLUTIONS
) -> Resolution:
    """Look ``status`` up in ``resolutions``, falling back by class (5xx retry, 4xx fail).

    Args:
        status: An HTTP status of 400 or more.
        resolutions: The table to use.

    Returns:
        The resolution for ``status``.
    """
    if status in resolutions:
        return resolutions[status]
    if status >= 500:
        return _RETRY
    return Resolution(Outcome.FAIL, FatalAPIError, f"unexpected HTTP {status}")
