"""Request budgets: token buckets that keep every worker under a helpdesk's rate limits.

A helpdesk limits requests per account (Zendesk: 200 to 2500 a minute by plan) and per
endpoint (Zendesk's incremental exports: 10 a minute). Retrying 429s with ``Retry-After``
keeps one process correct, but several workers each retrying on their own keep the account
at its limit, and the helpdesk's other integrations with it. So each connector declares the
limits its platform documents (`RateLimits`), and before every request its `ApiClient`
takes a token from each bucket the request falls in. The buckets live in the store
(`slaplug.store.budgets`), so every worker and process of an install shares them: adding
workers never adds requests beyond the budget.

A take is a *reservation*: it always succeeds and says how long to wait for its slot, so
waiting callers are served in order, without a thundering herd. A wait longer than
``max_wait`` is not reserved: the caller gets a `RetriableAPIError` with ``retry_after``
and reschedules the work (an outbox action, a job) instead of holding a worker.

Budgets leave headroom: the defaults are 90 % of the documented figure, and a bucket's
burst is a tenth of its minute, so even a helpdesk that counts in fixed one-minute windows
sees at most 99 % of its limit.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from slaplug.errors import ConfigError

__all__ = [
    "HEADROOM",
    "Bucket",
    "EndpointLimit",
    "ExtraCost",
    "LocalBudget",
    "RateLimits",
    "RequestBudget",
]

#: The share of a documented limit slaplug uses by default (the rest: clock skew between the
#: helpdesk's window and ours, and the account's other integrations).
HEADROOM = 0.9


@dataclass(frozen=True)
class EndpointLimit:
    """A platform limit on some of its endpoints, with its own bucket.

    Attributes:
        name: The bucket's name, used in configuration (``endpoint_requests_per_minute``).
        per_minute: The documented requests a minute.
        methods: The HTTP methods it counts (empty: all).
        path: A regular expression matched against the request's URL path.
    """

    name: str
    per_minute: float
    methods: frozenset[str] = frozenset()
    path: str = ""

    def matches(self, method: str, path: str) -> bool:
        """Whether a request to ``method path`` counts against this limit."""
        if self.methods and method not in self.methods:
            return False
        return re.search(self.path, path) is not None


@dataclass(frozen=True)
class ExtraCost:
    """Credits a request consumes beyond the one every request costs, against the account's
    limit: ``per_value`` for each comma-separated value of query parameter ``param``.

    Freshdesk counts each ``include`` of the ticket list as two more calls, and of one ticket
    as one more (`FreshdeskConnector.rate_limits`): a budget counting one a request would
    spend the account's minute up to three times faster than it thinks.

    Attributes:
        param: The query parameter whose values cost extra (``include``).
        per_value: Extra credits per value.
        methods: The HTTP methods it applies to (empty: all).
        path: A regular expression matched against the request's URL path.
    """

    param: str
    per_value: int
    methods: frozenset[str] = frozenset()
    path: str = ""

    def extra(self, method: str, path: str, query: Mapping[str, Any] | None) -> int:
        """The extra credits of ``method path?query``."""
        if self.methods and method not in self.methods:
            return 0
        if re.search(self.path, path) is None:
            return 0
        raw = (query or {}).get(self.param)
        if raw is None:
            return 0
        values = [v for v in str(raw).split(",") if v.strip()]
        return self.per_value * len(values)


@dataclass(frozen=True)
class Bucket:
    """One bucket a request takes from: its store name, rate and burst, and whether it is
    the account's (which takes a request's whole `RateLimits.cost`)."""

    name: str
    per_minute: float
    burst: float
    account: bool = False


@dataclass(frozen=True)
class RateLimits:
    """A platform's documented limits: account-wide, and per endpoint.

    Declared on the connector class (``Connector.rate_limits``) with the documented figures;
    configuration (``requests_per_minute``, ``endpoint_requests_per_minute``) replaces them
    for an install whose plan allows more (or that shares the account with other tools).

    Attributes:
        per_minute: Requests a minute for the whole account; None when the platform
            publishes no figure and none is configured (no account bucket).
        endpoints: Endpoint limits, each its own bucket, taken on top of the account's.
        source: Where the figures come from (shown by docs and ``doctor``).
    """

    per_minute: float | None = None
    endpoints: tuple[EndpointLimit, ...] = ()
    source: str = ""
    #: Tokens a bucket holds at most; None: a tenth of its minute (at least 1).
    burst: float | None = None
    #: Figures the configuration set (not scaled by `HEADROOM`: the user chose them).
    configured: frozenset[str] = field(default=frozenset(), compare=False)
    #: Requests the platform counts as more than one against the account's limit.
    costs: tuple[ExtraCost, ...] = ()

    def configure(
        self,
        connector: str,
        per_minute: float | None,
        endpoints: Mapping[str, float],
    ) -> RateLimits:
        """These limits with the configured figures in place of the documented ones.

        Raises:
            ConfigError: An endpoint name the platform does not declare.
        """
        known = {e.name for e in self.endpoints}
        unknown = sorted(set(endpoints) - known)
        if unknown:
            raise ConfigError(
                f"connector {connector!r}: endpoint_requests_per_minute names "
                f"{', '.join(map(repr, unknown))}, which this connector does not limit; use "
                f"one of: {', '.join(sorted(known)) or '(none)'}"
            )
        chosen = {k for k, v in endpoints.items() if v}
        return replace(
            self,
            per_minute=per_minute if per_minute is not None else self.per_minute,
            endpoints=tuple(
                replace(e, per_minute=endpoints[e.name]) if e.name in chosen else e
                for e in self.endpoints
            ),
            configured=frozenset(chosen | ({""} if per_minute is not None else set())),
        )

    def only_configured(self) -> RateLimits:
        """These limits less the documented figures nobody configured (the embedded default:
        one process, which honours ``Retry-After``; see docs/operations/scaling.md)."""
        return replace(
            self,
            per_minute=self.per_minute if "" in self.configured else None,
            endpoints=tuple(e for e in self.endpoints if e.name in self.configured),
        )

    def cost(self, method: str, path: str, query: Mapping[str, Any] | None = None) -> float:
        """The credits a request takes from the account's bucket: one, plus `costs`.
        (Endpoint buckets take one a request: the platforms count their requests.)"""
        return 1.0 + sum(c.extra(method, path, query) for c in self.costs)

    def buckets(self, connector: str, method: str, path: str) -> Iterator[Bucket]:
        """The buckets a request takes from: the account's, then each matching endpoint's."""
        if self.per_minute is not None:
            yield self._bucket(connector, "", self.per_minute)
        for e in self.endpoints:
            if e.matches(method, path):
                yield self._bucket(connector, e.name, e.per_minute)

    def _bucket(self, connector: str, name: str, per_minute: float) -> Bucket:
        rate = per_minute if name in self.configured else per_minute * HEADROOM
        burst = self.burst if self.burst is not None else max(1.0, float(int(rate / 10)))
        return Bucket(f"{connector}:{name}" if name else connector, rate, burst, not name)


class RequestBudget(Protocol):
    """Where buckets are kept: `slaplug.store.budgets` (shared), or `LocalBudget`."""

    def take(self, bucket: Bucket, *, max_wait: float, tokens: float = 1.0) -> float | None:
        """Reserve one request, of ``tokens`` credits, in ``bucket``.

        Returns:
            Seconds to wait before sending (0: now); None when the wait would exceed
            ``max_wait`` (nothing is reserved then).
        """
        ...  # pragma: no cover


class LocalBudget:
    """Buckets in this process only: for a connector used without a store (tests, tools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, bucket: Bucket, *, max_wait: float, tokens: float = 1.0) -> float | None:
        """See `RequestBudget.take`."""
        now = time.monotonic()
        rate = bucket.per_minute / 60.0
        with self._lock:
            held, at = self._state.get(bucket.name, (bucket.burst, now))
            held = min(bucket.burst, held + (now - at) * rate) - tokens
            wait = max(0.0, -held / rate)
            if wait > max_wait:
                return None
            self._state[bucket.name] = (held, now)
            return wait
