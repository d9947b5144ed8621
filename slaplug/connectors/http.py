"""`ApiClient`: one requests session per connector, with timeouts, retries and call counts.

Every connector talks HTTP through this one client, so every connector retries the same
way (one tenacity policy, built here):

* 429 and 503 (and any retried status carrying it) wait exactly ``Retry-After``, given in
  seconds or as an HTTP date;
* other 5xx, 408, timeouts and connection errors back off exponentially with jitter;
* 4xx other than 408/429 never retry: they are classified by `resolve` and raised at once;
* retries stop after ``max_attempts`` calls or when the next wait would push the total
  waited past ``max_wait``; the caller then gets a `RetriableAPIError` to reschedule.

Waiting goes through `ApiClient.sleep`, an attribute, so tests replace it with a recorder
and assert the waits without sleeping.

Retrying a request is only safe when sending it twice does no harm. Most writes slaplug
makes are idempotent (set a field, add a tag); a comment is not. When a write is *lost*
after the platform applied it (a 500/502/504, a read timeout, a dropped connection), the
inline retry would post the comment a second time. A caller makes such a write safe with a
``before_retry`` hook (see `ApiClient.request` and `LostAnswer`): it is called before each
retry that follows an *ambiguous* failure, re-reads the platform's state and returns the
body still to send, or `NOTHING_TO_SEND`. Failures that prove the request was not processed
(429, 408, a connection that was never opened) are retried without asking the hook.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Final
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception
from urllib3.exceptions import NameResolutionError, NewConnectionError

from slaplug.connectors.budget import RateLimits, RequestBudget
from slaplug.connectors.redact import RedactingFilter, add_basic_credentials, scrub
from slaplug.connectors.resolution import DEFAULT_RESOLUTIONS, Resolution, resolve_status
from slaplug.errors import (
    ConnectorError,
    FatalAPIError,
    MissingCredentialError,
    RetriableAPIError,
)

__all__ = [
    "NOTHING_TO_SEND",
    "AlreadySent",
    "ApiClient",
    "BeforeRetry",
    "BudgetSpentError",
    "CallStats",
    "LostAnswer",
    "MaskedValues",
    "MissingAuth",
    "RetryPolicy",
    "UnreachableError",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)
logger.addFilter(RedactingFilter())

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CONNECT_TIMEOUT = 10.0
# Error bodies can be whole HTML pages; a message needs the first sentence or so.
_DETAIL_CHARS = 200


class MissingAuth(requests.auth.AuthBase):
    """Auth standing in for a credential whose environment variable is not set.

    A connector built only for its links (``status``, a digest) needs no credential; any
    request through a client with this auth raises the error, naming the variable, before
    anything is sent.
    """

    def __init__(self, error: MissingCredentialError) -> None:
        self.error = error

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        raise MissingCredentialError(self.error.problems)

    def __repr__(self) -> str:
        return "<MissingAuth: credential not set>"


class MaskedValues(tuple[str, ...]):
    """Secret values kept to scrub them from messages; ``repr`` shows only how many, so a
    debugger's or a log's dump of the client (``vars(client)``) never prints them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} secret value(s), masked>"

    __str__ = __repr__


class RetryPolicy(BaseModel):
    """How transient failures are retried; part of every connector's configuration.

    Attributes:
        max_attempts: Calls at most, the first one included.
        max_wait: Seconds waited at most across the retries of one call. A ``Retry-After``
            that does not fit is not waited: the call fails with ``.retry_after`` set.
        backoff_initial: First exponential wait, in seconds (then 2x, 4x, ...).
        backoff_max: Cap on one exponential wait, in seconds.
        jitter: Up to this many random seconds added to each exponential wait, so that
            clients hit by the same outage do not retry in step. ``Retry-After`` is
            honoured exactly, without jitter.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=5, ge=1, description="Calls at most, the first included.")
    max_wait: float = Field(default=120.0, ge=0, description="Seconds waited at most per call.")
    backoff_initial: float = Field(default=1.0, ge=0, description="First wait, in seconds.")
    backoff_max: float = Field(default=30.0, ge=0, description="Longest wait, in seconds.")
    jitter: float = Field(default=1.0, ge=0, description="Random seconds added to each wait.")


@dataclass
class CallStats:
    """API calls made through one client, for sync summaries.

    Attributes:
        reads: Requests that only read (GET, HEAD, OPTIONS, and POSTs sent with
            ``read=True``), retries included.
        writes: Requests that change the helpdesk, retries included.
        retries: Requests that were retries of an earlier one.
        waited: Seconds spent waiting between retries.
    """

    reads: int = 0
    writes: int = 0
    retries: int = 0
    waited: float = 0.0
    #: Requests that waited for their request budget, and the seconds they waited.
    budget_waits: int = 0
    budget_waited: float = 0.0

    @property
    def calls(self) -> int:
        """Every request sent."""
        return self.reads + self.writes


class _Nothing(Enum):
    NOTHING_TO_SEND = "nothing to send"


#: Returned by a ``before_retry`` hook when the lost attempt already did everything: the
#: request is not sent again and `ApiClient.request` raises `AlreadySent`.
NOTHING_TO_SEND: Final = _Nothing.NOTHING_TO_SEND


@dataclass(frozen=True)
class LostAnswer:
    """A failed attempt that the platform may nevertheless have processed.

    Handed to a ``before_retry`` hook (see `ApiClient.request`) before the request is sent
    again, so the hook can look at the platform's state first.

    Attributes:
        method: The HTTP method, upper case.
        path: The URL path the attempt went to (no host, no query).
        json: The JSON body the failed attempt sent.
        error: Why the attempt failed (its ``status`` is None for timeouts and dropped
            connections).
        attempt: Attempts made so far, the failed one included (1 after the first).
    """

    method: str
    path: str
    json: Any
    error: RetriableAPIError
    attempt: int


#: Called before retrying after a `LostAnswer`; returns the JSON body to send now (the same
#: ``json``, or only what is still missing), or `NOTHING_TO_SEND`. Exceptions it raises end
#: the request and reach the caller unchanged (they are not retried).
BeforeRetry = Callable[[LostAnswer], Any]


class AlreadySent(Exception):  # noqa: N818 - an outcome, not an error
    """Raised by `ApiClient.request` when its ``before_retry`` hook found that an earlier,
    lost attempt had already done everything (it returned `NOTHING_TO_SEND`).

    Not a `ConnectorError`: the write happened. The caller reports it as done.

    Attributes:
        lost: The lost attempt the hook looked at.
    """

    def __init__(self, lost: LostAnswer) -> None:
        super().__init__(
            f"{lost.method} {lost.path}: attempt {lost.attempt} failed ({lost.error.status or 'no answer'}) "
            "but had been applied; not sent again"
        )
        self.lost = lost


class _HookFailed(Exception):  # noqa: N818 - internal carrier, never escapes `request`
    """Carries an exception out of a ``before_retry`` hook past tenacity, unretried."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _NotSentError(RetriableAPIError):
    """A transport failure before the request left: nothing can have been processed."""


class BudgetSpentError(RetriableAPIError):
    """The request budget has no slot soon enough: not sent, and not retried inline (the
    caller gives the work back with ``retry_after``, freeing its worker)."""


class _NoAnswerError(RetriableAPIError):
    """The request was sent and no answer came within the read timeout."""


class UnreachableError(FatalAPIError):
    """The helpdesk's host refused the connection or its name does not resolve.

    Not retried: waiting seconds does not start a server or fix a host name, and a
    scheduled sync (cron, ``--every``) tries again on its next pass. The message names the
    cause in a few words instead of urllib3's text.
    """

    __module__ = "slaplug"


def _retried(exc: BaseException) -> bool:
    """Failures retried inline: transient ones, except a spent budget (waiting is its job)."""
    return isinstance(exc, RetriableAPIError) and not isinstance(exc, BudgetSpentError)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never established (so the request was not sent)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for messages: never a user name or password
    written before an ``@`` (configs refuse them; a URL built in code may still hold them)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _unreachable(exc: requests.RequestException) -> str | None:
    """The cause when the host cannot be reached at all (refused, no such name), else None."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if not isinstance(reason, NewConnectionError):
        return None
    if isinstance(reason, NameResolutionError):
        return "the host name does not resolve"
    if isinstance(reason.__cause__ or reason.__context__, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    return None


def _cause(exc: requests.RequestException, read_timeout: float) -> str:
    """A transport failure in a few words: urllib3's text repeats the URL with its query."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect within {_CONNECT_TIMEOUT:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {read_timeout:g} s"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if reason is not None:
        inner = reason.__cause__ or reason.__context__ or reason
        return f"connection failed ({type(inner).__name__})"
    return f"connection failed ({type(exc).__name__})"


#: A request answered after this many seconds is logged as slow (`ApiClient.slow_after`).
SLOW_REQUEST_SECONDS = 10.0


def _gave_up(state: RetryCallState, policy: RetryPolicy) -> str:
    """Why retries stopped: the attempts allowed were used, or the time budget ran out."""
    if state.attempt_number >= policy.max_attempts:
        return f"retry.max_attempts is {policy.max_attempts}"
    exc = state.outcome.exception() if state.outcome else None
    asked = exc.retry_after if isinstance(exc, RetriableAPIError) else None
    if asked is not None and asked > policy.max_wait - state.idle_for:
        return (
            f"the helpdesk asked to wait {asked:g} s (Retry-After), more than is left of the "
            f"{policy.max_wait:g} s retry budget (retry.max_wait)"
        )
    return _budget_spent(policy)


def _budget_spent(policy: RetryPolicy) -> str:
    return f"the {policy.max_wait:g} s retry budget (retry.max_wait) ran out"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header.

    Args:
        value: The header: delay seconds (``"7"``) or an HTTP date
            (``"Wed, 21 Oct 2026 07:28:00 GMT"``).
        now: The current time, for HTTP dates; defaults to the clock.

    Returns:
        Seconds, never negative (a date in the past means "now"), or None when the header
        is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; the parser leaves "-0000" naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ApiClient:
    """A requests session bound to one helpdesk, with timeouts, retries and classification.

    Args:
        base_url: The API root; relative paths are joined to it.
        connector: The configured connector's name, for messages.
        session: The session to send through (inject one in tests); a new one by default.
        auth: requests auth applied to every request (basic, bearer, ...).
        headers: Headers sent with every request.
        timeout: Seconds to wait for a response.
        retry: The retry policy.
        resolutions: Status table; see `slaplug.connectors.resolution`.
        secrets: Plain secret values to scrub from messages (registered ones always are).
        credentials: The environment variable(s) holding the credentials, for messages.

    Attributes:
        sleep: Called with the seconds to wait before each retry; replace it in tests.
        clock: Returns the current aware time, for ``Retry-After`` dates.
        rng: Source of jitter.
        stats: Calls made so far.
        limits: The platform's rate limits (`Connector.rate_limits`, as configured).
        budget: Where the request budgets are kept; None sends without one. The runtime
            sets the store's, shared by every worker (`slaplug.store.budgets`).
        budget_max_wait: The longest wait for a budget slot; past it the request is not
            sent and a `RetriableAPIError` with ``retry_after`` tells the caller to retry
            the work later instead of holding a worker.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connector: str,
        session: requests.Session | None = None,
        auth: requests.auth.AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        resolutions: Mapping[int, Resolution] = DEFAULT_RESOLUTIONS,
        secrets: Iterable[str] = (),
        credentials: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.connector = connector
        self.session = session if session is not None else requests.Session()
        self.auth = auth
        self.headers = dict(headers or {})
        self.timeout = (_CONNECT_TIMEOUT, timeout)
        self.retry = retry or RetryPolicy()
        self.resolutions = resolutions
        self.secrets = MaskedValues(secrets)
        self.credentials = credentials or "the connector's credentials"
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.rng = random.Random()
        self.stats = CallStats()
        self.limits = RateLimits()
        self.budget: RequestBudget | None = None
        self.budget_max_wait = 60.0
        #: Seconds after which a request that did get its answer is logged as slow.
        self.slow_after = SLOW_REQUEST_SECONDS
        if isinstance(auth, requests.auth.HTTPBasicAuth):
            # A proxy or helpdesk may echo the Basic value (base64 of the pair) in an error
            # body: register the pair, so every encoding of it is scrubbed.
            add_basic_credentials(str(auth.username), str(auth.password))

    #: Retried statuses that mean the platform did not process the request: 429 (rejected
    #: by a rate limiter) and 408 (the server gave up before reading all of it). Other
    #: retried statuses (5xx: a proxy may answer 502/503/504 after forwarding the request)
    #: count as possibly processed, and a ``before_retry`` hook is asked. Override in a
    #: subclass when a platform documents that its 503 always means "not processed".
    unprocessed_statuses: frozenset[int] = frozenset({408, 429})

    # -- the override point ---------------------------------------------------------------

    def resolve(self, response: requests.Response) -> Resolution:
        """Classify a failed response. Override for platform quirks; default: the table.

        Args:
            response: A response with status 400 or more.
        """
        return resolve_status(response.status_code, self.resolutions)

    # -- requests -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        before_retry: BeforeRetry | None = None,
        read: bool | None = None,
    ) -> requests.Response:
        """Send a request, retrying transient failures; return the successful response.

        Args:
            method: HTTP method.
            path: A path relative to ``base_url``, or an absolute URL on the same origin
                (next-page links); other origins are refused so credentials stay home.
            params: Query parameters.
            json: A JSON body.
            headers: Extra headers for this request.
            before_retry: For a write that must not happen twice (a comment): called with
                a `LostAnswer` after the wait and before each retry that follows a failure
                the platform may have processed (a 5xx, a read timeout, a dropped
                connection; not 429 or 408, see `unprocessed_statuses`). It returns the
                JSON body to send now, or `NOTHING_TO_SEND`. Without it, retries resend
                ``json`` as it is, which is right for idempotent requests.
            read: Whether the request only reads, for `CallStats`; by default GET, HEAD and
                OPTIONS do. Pass True for a read sent with POST (a search or bulk fetch whose
                query is a body), so that summaries count it as a read and not a write.

        Raises:
            AlreadySent: ``before_retry`` returned `NOTHING_TO_SEND`.
            MissingCredentialError: The credential's environment variable is not set
                (`MissingAuth`); nothing was sent.
            AuthenticationError: 401/403, at once.
            RetriableAPIError: Still failing transiently when the retry budget ran out.
            SkippableAPIError: 404/422 for this ticket.
            ConflictError: 409.
            FatalAPIError: Other failures.
        """
        if isinstance(self.auth, MissingAuth):
            raise MissingCredentialError(self.auth.error.problems)
        url = self._url(path)
        method = method.upper()
        reads = method in _READ_METHODS if read is None else read
        retrying = Retrying(
            retry=retry_if_exception(_retried),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        body = json
        lost: LostAnswer | None = None  # the last attempt, when it may have been processed
        sent = 0
        spent = 0.0  # seconds inside attempts (waiting for answers), not between them

        why = ""  # why the retries stopped, for the last error's message

        def stop(state: RetryCallState) -> bool:
            nonlocal why
            if self._stop(state):
                why = _gave_up(state, self.retry)
                return True
            # A server that never answers: each retry costs a whole read timeout, so the
            # timeouts count against max_wait with the waits, and no retry starts that
            # could not end within it (five 30 s timeouts took nearly 3 minutes).
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _NoAnswerError):
                budget = spent + state.idle_for + state.upcoming_sleep + self.timeout[1]
                if budget > self.retry.max_wait:
                    why = _budget_spent(self.retry)
                    return True
            return False

        retrying.stop = stop

        def attempt() -> requests.Response:
            nonlocal body, lost, sent, spent
            if lost is not None and before_retry is not None:
                try:
                    body = before_retry(lost)
                except Exception as exc:
                    raise _HookFailed(exc) from exc
                if body is NOTHING_TO_SEND:
                    raise AlreadySent(lost)
            lost = None
            # The request budget first: a request refused by it is not sent, nor counted.
            self._spend(method, url, params)
            sent += 1
            if reads:
                self.stats.reads += 1
            else:
                self.stats.writes += 1
            started = time.monotonic()
            try:
                response = self._send(method, url, params, body, headers)
            except RetriableAPIError as exc:
                if self._maybe_processed(exc):
                    lost = LostAnswer(method, self._where(url), body, exc, sent)
                raise
            finally:
                took = time.monotonic() - started
                spent += took
            if took >= self.slow_after:
                # A slow helpdesk shows in the log as it happens, not only once it fails.
                logger.warning(
                    "connector %r: %s %s took %.1f s (read timeout %g s): the helpdesk is slow",
                    self.connector,
                    method,
                    self._where(url),
                    took,
                    self.timeout[1],
                )
            return response

        try:
            return retrying(attempt)
        except _HookFailed as failed:
            raise failed.error from None
        except RetriableAPIError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            tried = f"{attempts} attempt" + ("" if attempts == 1 else "s")
            raise RetriableAPIError(
                f"{exc} (gave up after {tried}{': ' + why if why else ''})",
                connector=exc.connector,
                status=exc.status,
                retry_after=exc.retry_after,
            ) from exc

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON body (see `request`)."""
        response = self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise FatalAPIError(
                f"connector {self.connector!r}: GET {self._where(response.url)} answered "
                f"{response.status_code} without a JSON body",
                connector=self.connector,
                status=response.status_code,
            ) from None

    def close(self) -> None:
        """Close the session."""
        self.session.close()

    # -- internals ------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        url = urljoin(self.base_url, path.lstrip("/")) if "://" not in path else path
        base, target = urlsplit(self.base_url), urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise FatalAPIError(
                f"connector {self.connector!r}: refusing to send credentials to "
                f"{_origin(url)}, outside {_origin(self.base_url)}",
                connector=self.connector,
            )
        return url

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers={**self.headers, **(headers or {})},
                auth=self.auth,
                timeout=self.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            where = f"connector {self.connector!r}: {method} {self._where(url)}"
            unreachable = _unreachable(exc)
            if unreachable is not None:
                raise UnreachableError(
                    f"connector {self.connector!r}: cannot reach {_origin(self.base_url)}: "
                    f"{unreachable}; check base_url and that the helpdesk is up",
                    connector=self.connector,
                ) from None
            # A short cause, not urllib3's text: that repeats the URL with its query (ids,
            # sometimes a token) on every retry line.
            error: type[RetriableAPIError] = RetriableAPIError
            if _never_sent(exc):
                error = _NotSentError
            elif isinstance(exc, requests.ReadTimeout):
                error = _NoAnswerError
            raise error(
                f"{where} failed: {_cause(exc, self.timeout[1])}", connector=self.connector
            ) from None
        if response.status_code < 400:
            return response
        raise self._error(method, response)

    def _spend(self, method: str, url: str, params: Mapping[str, Any] | None = None) -> None:
        """Take this request's tokens (account and endpoint buckets); wait for the slot.

        The account's bucket takes the request's cost (`RateLimits.cost`: Freshdesk counts
        each ``include`` as more calls), an endpoint's bucket one."""
        if self.budget is None:
            return
        split = urlsplit(url)
        query: dict[str, Any] = dict(parse_qsl(split.query))
        query.update(params or {})
        cost = self.limits.cost(method, split.path, query)
        wait = 0.0
        for bucket in self.limits.buckets(self.connector, method, split.path):
            slot = self.budget.take(
                bucket, max_wait=self.budget_max_wait, tokens=cost if bucket.account else 1.0
            )
            if slot is None:
                raise BudgetSpentError(
                    f"connector {self.connector!r}: the request budget {bucket.name!r} "
                    f"({bucket.per_minute:g}/min) has no slot within "
                    f"{self.budget_max_wait:g} s; the work is retried later",
                    connector=self.connector,
                    retry_after=self.budget_max_wait,
                )
            wait = max(wait, slot)
        if wait > 0:
            self.stats.budget_waits += 1
            self.stats.budget_waited += wait
            time.sleep(wait)

    def _error(self, method: str, response: requests.Response) -> ConnectorError:
        resolution = self.resolve(response)
        status = response.status_code
        text = resolution.message.replace("{credentials}", self.credentials)
        message = (
            f"connector {self.connector!r}: {method} {self._where(response.url)} answered "
            f"{status}: {text}"
        )
        detail = self._detail(response)
        if detail:
            message += f" (helpdesk says: {detail})"
        if issubclass(resolution.error, RetriableAPIError):
            return RetriableAPIError(
                message,
                connector=self.connector,
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After"), self.clock()),
            )
        return resolution.error(message, connector=self.connector, status=status)

    def _detail(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            text = response.text
        else:
            text = str(body)
            if isinstance(body, Mapping):
                for key in ("description", "errorMessages", "message", "error", "errors"):
                    if body.get(key):
                        text = str(body[key])
                        break
        # Scrub before cutting: a cut through an echoed credential would leave a piece of it
        # that no longer matches any known form of the secret.
        return self._scrub(" ".join(text.split()))[:_DETAIL_CHARS]

    def _where(self, url: str | None) -> str:
        # Path only: query strings may carry tokens, and the host is in the config.
        return urlsplit(url or "").path or "/"

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def _maybe_processed(self, exc: RetriableAPIError) -> bool:
        """Whether the failed attempt may have been processed by the platform."""
        if isinstance(exc, _NotSentError):
            return False
        return exc.status is None or exc.status not in self.unprocessed_statuses

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableAPIError) and exc.retry_after is not None:
            return exc.retry_after
        policy = self.retry
        exponential = policy.backoff_initial * 2.0 ** (state.attempt_number - 1)
        return min(policy.backoff_max, exponential) + self.rng.uniform(0, policy.jitter)

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.retry.max_attempts:
            return True
        # tenacity (>= 8.3) computes the upcoming wait before asking whether to stop, so a
        # Retry-After that would overrun the budget is refused rather than half-waited.
        return state.idle_for + state.upcoming_sleep > self.retry.max_wait

    def _sleep(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.waited += seconds
        self.sleep(seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s; retrying in %.1fs (attempt %d of %d)",
            exc,
            state.upcoming_sleep,
            state.attempt_number + 1,
            self.retry.max_attempts,
        )
