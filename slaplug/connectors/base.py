"""The `Connector` contract: what every helpdesk connector implements.

A connector turns one platform's API into slaplug's `Ticket`s and applies planned
`Action`s back. It talks HTTP through ``self.http`` (an `ApiClient`), so that retries,
timeouts, error classification and redaction are the same for every platform.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

import requests

from slaplug.connectors.budget import RateLimits
from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.connectors.config import ConnectorConfig
from slaplug.connectors.http import ApiClient, MissingAuth
from slaplug.connectors.markers import MarkerKey
from slaplug.connectors.resolution import DEFAULT_RESOLUTIONS, Resolution
from slaplug.errors import ConfigError, MissingCredentialError, WebhookError
from slaplug.model import Action, Ticket

__all__ = [
    "ApplyResult",
    "ApplyStatus",
    "Capability",
    "Connector",
    "TicketPage",
    "WebhookEvent",
]


class Capability(StrEnum):
    """What a connector can do; the runners check these before calling.

    A sync reads only a connector with `READ`, and hands actions to `Connector.apply` only
    when it has `WRITE_BACK` (else they end ``skipped``, saying why); the webhook server
    accepts deliveries only for a connector with `WEBHOOK` (else 404). `BULK_WRITE` is
    informational (``slaplug plugins``, ``doctor``): ``apply`` always gets a batch.
    """

    #: `Connector.read_changed` and `Connector.read_ticket`.
    READ = "read"
    #: `Connector.apply` writes actions back.
    WRITE_BACK = "write_back"
    #: `Connector.apply` sends several actions in one call where the platform allows.
    BULK_WRITE = "bulk_write"
    #: `Connector.verify_webhook` and `Connector.parse_webhook`.
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class TicketPage:
    """One page of changed tickets.

    Attributes:
        tickets: The tickets, each with the event history the clocks need.
        cursor: The cursor to resume *after* this page; store it once the page's tickets
            are durably processed. None when the platform gave none (keep the old one).
        complete_history: True when each ticket's ``events`` is its whole history (a first
            full read, `Connector.read_ticket`). False when they are only the events since
            the cursor (an incremental read that does not re-read each ticket's log): the
            sync store then merges them with the history it stored for the ticket.
    """

    tickets: list[Ticket]
    cursor: str | None
    complete_history: bool = True


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook delivery: a hint that a ticket changed, not its state.

    Attributes:
        delivery_id: The platform's delivery id, unchanged across its retries (dedupe on it).
        ticket_id: The ticket concerned, if the delivery names one.
        kind: The platform's event name (``"ticket.status_changed"``).
        received_at: When slaplug received it, timezone-aware.
    """

    delivery_id: str
    ticket_id: str | None
    kind: str
    received_at: datetime


class ApplyStatus(StrEnum):
    """What became of one action."""

    #: Written now.
    APPLIED = "applied"
    #: Already in place (an earlier try wrote it, or the ticket already had it): no write.
    ALREADY = "already"
    #: Not applicable here (read-only connector, unsupported action, shadow mode).
    SKIPPED = "skipped"
    #: Failed for good for this ticket (404, 422); ``detail`` says why.
    FAILED = "failed"
    #: The ticket changed meanwhile (409): re-read, re-evaluate, try again.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of one action, matched to it by the action's idempotency key.

    Attributes:
        key: `Action.key`.
        status: What happened.
        detail: Why, for anything but APPLIED and ALREADY (never a secret).
    """

    key: str
    status: ApplyStatus
    detail: str = ""


class Connector(ABC):
    """Base class of helpdesk connectors.

    Subclasses set the class attributes, implement the abstract methods and, when they
    authenticate, override `auth`. Register the class through the ``register_connectors``
    hook, under an entry point named like `name`.

    Args:
        config: A validated instance of `Config`.
        session: The requests session to use (inject one in tests).
        instance: The configured connector's name (`Ticket.connector`); defaults to `name`.

    Attributes:
        config: The configuration.
        instance: The configured connector's name.
        http: The HTTP client every request goes through.
        marker_key: Keys the markers that end the notes this connector posts
            (`slaplug.connectors.markers`). Derived from the credentials by default; the
            runtime replaces it with the store's per-install secret.
    """

    #: The platform's name: the entry-point name and `Ticket.platform` (``"zendesk"``).
    name: ClassVar[str]
    #: The configuration class.
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    #: What this connector can do.
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})
    #: How the HTTP client treats each response status (`slaplug.connectors.resolution`):
    #: declare the platform's table here, e.g. ``{**DEFAULT_RESOLUTIONS, 404: ...}``; the
    #: client is built with it, so nothing needs changing after ``__init__``.
    resolutions: ClassVar[Mapping[int, Resolution]] = DEFAULT_RESOLUTIONS
    #: The platform's documented rate limits (account and endpoints), from which each
    #: request's budget is taken (`slaplug.connectors.budget`); none by default.
    rate_limits: ClassVar[RateLimits] = RateLimits()

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        session: requests.Session | None = None,
        instance: str | None = None,
    ) -> None:
        if not isinstance(config, self.Config):
            raise ConfigError(
                f"connector {self.name!r} needs a {self.Config.__name__}, "
                f"not a {type(config).__name__}"
            )
        self.config = config
        self.instance = instance or self.name
        auth: requests.auth.AuthBase | None
        try:
            auth = self.auth()
        except MissingCredentialError as exc:
            # Built for its links only (status, a digest), a connector needs no credential;
            # a call to the helpdesk raises this error, naming the unset variable.
            auth = MissingAuth(exc)
        self.http = ApiClient(
            config.base_url,
            connector=self.instance,
            session=session,
            auth=auth,
            headers=self.default_headers(),
            timeout=config.timeout,
            retry=config.retry,
            secrets=config.secret_values(),
            credentials=" / ".join(config.credential_env_vars()),
            resolutions=self.resolutions,
        )
        self.http.limits = self.rate_limits.configure(
            self.instance, config.requests_per_minute, config.endpoint_requests_per_minute
        )
        self.marker_key = MarkerKey.from_values(str(config.base_url), *config.secret_values())

    # -- override points ------------------------------------------------------------------

    def auth(self) -> requests.auth.AuthBase | None:
        """The requests auth for every call (basic, bearer...); None by default.

        Called once, from ``__init__``, after ``self.config`` is set.
        """
        return None

    def default_headers(self) -> Mapping[str, str]:
        """Headers sent with every call (``Accept``, a ``User-Agent``...)."""
        return {"Accept": "application/json", "User-Agent": "slaplug"}

    # -- reading --------------------------------------------------------------------------

    @abstractmethod
    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since ``cursor``, page by page, to the end.

        Args:
            cursor: A cursor from an earlier `TicketPage`, or None for a first full read.

        Yields:
            Pages in order; each ticket carries the event history its clocks need.

        Raises:
            ConnectorError: A subclass saying what to do (see `slaplug.errors`).
        """

    @abstractmethod
    def read_ticket(self, ticket_id: str) -> Ticket:
        """Read one ticket with its event history.

        Raises:
            TicketNotFoundError: The ticket does not exist.
        """

    # -- writing --------------------------------------------------------------------------

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply actions to the platform, in bulk where it allows; one result per action.

        Must be idempotent per `Action.key`: applying the same actions again makes no
        write and reports ALREADY. Non-idempotent writes (comments) carry the key so a
        retry can see that the write happened. Read-only connectors skip everything.

        Args:
            actions: Actions for tickets of this connector.
            fresh: Keys of actions that were never handed to any ``apply`` before (the
                outbox knows: first claim). They cannot have been written yet, so checks that
                only protect a retry (reading a ticket's comments for a key's marker) may be
                skipped for them. Keys not named here must be checked.

        Returns:
            One `ApplyResult` per action, in order.
        """
        return [
            ApplyResult(a.key, ApplyStatus.SKIPPED, f"connector {self.instance!r} is read-only")
            for a in actions
        ]

    def ticket_url(self, ticket_id: str) -> str | None:
        """The ticket's page on the helpdesk, for people (notifications, reports); None if unknown."""
        return None

    # -- webhooks -------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check a delivery's signature against the raw body, before parsing it.

        Compare in constant time and accept any of the configured secrets (rotation);
        `slaplug.connectors.signatures.verify_signature` does both.

        Raises:
            WebhookError: Status 401 on a missing or bad signature; 404 when the connector
                takes no webhooks.
        """
        raise WebhookError(f"connector {self.instance!r} does not accept webhooks", status=404)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Turn a verified delivery into a `WebhookEvent`.

        Raises:
            WebhookError: Status 400 on a malformed body.
        """
        raise WebhookError(f"connector {self.instance!r} does not accept webhooks", status=404)

    # -- checks ---------------------------------------------------------------------------

    def doctor(self, needs: DoctorNeeds) -> Iterator[Check]:
        """Check the live helpdesk before the first sync (`slaplug doctor`).

        Yield one `Check` per thing that must hold: the credentials work, the API user has
        the role and permissions the reads and ``needs.kinds`` require, and every name in
        ``needs.writes`` exists and is mapped (report a missing one at
        ``write.problem(...)``, which names the rules file, line and column). Errors are
        caught by the caller and reported as a failed check, so a first failing call (the
        credentials) may simply raise.

        The default says the connector has no checks of its own.
        """
        yield Check(
            "live checks",
            CheckStatus.SKIP,
            f"the {self.name!r} connector offers none; only the configuration was checked",
        )

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the HTTP session."""
        self.http.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance!r} {self.config!r}>"
