"""Fault injection: a seeded, rate-based policy and a queue of one-off faults.

Every fake answers injected faults through one `FaultInjector`: the policy (``set_faults``,
``POST /_fake/faults``) for "a fraction of requests", the queue (``inject``) for "the next N
requests", which is what the conformance suite's `FakeControl` asks for. Both are counted
the same way (``faults_injected``, the ``fault`` request kind, faulted write records).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slaplug.testing.fakeserver.server import Response

__all__ = ["FaultInjector", "FaultPolicy"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


# -- Faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultPolicy:
    """Which requests get an injected error, and which error.

    A request is *eligible* when its method is in ``methods`` (or ``methods`` is None) and
    ``path_pattern`` (a regex, searched) matches its path (or is None). Each eligible
    request draws once from a ``random.Random(seed)``: the same sequence of requests gets
    the same faults on every run.

    With ``after_apply`` the fault is a *lost answer*: the request is served as usual (a
    write is applied, a bulk job queued) and the client then gets the 5xx instead of the
    real answer, as when a gateway times out on a request the platform went on to process.
    Only 5xx statuses may be lost answers (a 429 means the request was not processed).

    ``times`` stops the policy after that many faults (None: no limit), for "lose exactly
    the first answer" tests.
    """

    rate: float = 0.0
    statuses: tuple[int, ...] = (429,)
    retry_after: int = 1
    methods: frozenset[str] | None = None
    path_pattern: str | None = None
    seed: int = 0
    after_apply: bool = False
    times: int | None = None

    def to_json(self) -> dict[str, Any]:
        """This policy as JSON (for the admin surface)."""
        return {
            "rate": self.rate,
            "statuses": list(self.statuses),
            "retry_after": self.retry_after,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "path_pattern": self.path_pattern,
            "seed": self.seed,
            "after_apply": self.after_apply,
            "times": self.times,
        }


class FaultInjector:
    """Decides, per request, whether to answer with an injected 429/5xx."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.policy = FaultPolicy()
        self._rng = random.Random(0)
        self._pattern: re.Pattern[str] | None = None
        #: Injected faults so far, by status.
        self.injected: Counter[int] = Counter()
        self._left: int | None = None  # faults the policy may still inject
        # One-off faults (`inject`): answered to the next requests, before the policy.
        self._queued: deque[Response] = deque()
        # One-off lost answers: the next *writes* are served, then answered with these.
        self._lost: deque[Response] = deque()

    def configure(self, policy: FaultPolicy) -> None:
        """Replace the policy and restart its random sequence from ``policy.seed``.

        Raises:
            ValueError: for a rate outside [0, 1] or no statuses.
        """
        if not 0.0 <= policy.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {policy.rate}")
        if policy.rate and not policy.statuses:
            raise ValueError("fault statuses must not be empty")
        if policy.after_apply and any(s < 500 for s in policy.statuses):
            raise ValueError(
                "after_apply faults must be 5xx: a 4xx such as 429 says the request was not "
                "processed, so it cannot follow an applied write"
            )
        with self._lock:
            self.policy = policy
            self._rng = random.Random(policy.seed)
            self._pattern = re.compile(policy.path_pattern) if policy.path_pattern else None
            self._left = policy.times

    def reset(self) -> None:
        """No more faults (the policy reset, the queue emptied); the injected counts are kept."""
        self.configure(FaultPolicy())
        with self._lock:
            self._queued.clear()
            self._lost.clear()

    def inject(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next ``times`` requests with ``status``, ``headers`` and ``body``.

        These one-off faults come before the policy's. With ``after_apply`` they are lost
        answers instead, for the next ``times`` *writes* (reads are served as usual): each
        write is served, then answered with ``status``.

        Raises:
            ValueError: ``after_apply`` with a status below 500 (a 4xx such as 429 says the
                request was not processed), or ``times`` below 1.
        """
        if after_apply and status < 500:
            raise ValueError("after_apply faults must be 5xx")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        queue = self._lost if after_apply else self._queued
        fault = Response(status, body, dict(headers or {}), after_apply=after_apply, queued=True)
        with self._lock:
            queue.extend([fault] * times)

    def _next_queued(self, write: bool) -> Response | None:
        """The next one-off fault for this request, or None (called under the lock)."""
        queued = self._queued.popleft() if self._queued else None
        if queued is None and write and self._lost:
            queued = self._lost.popleft()
        if queued is None:
            return None
        self.injected[queued.status] += 1
        # A fresh copy each time: a fake adds its own headers to the response it sends.
        return Response(
            queued.status, queued.body, dict(queued.headers), queued.after_apply, queued=True
        )

    def decide(self, method: str, path: str, *, write: bool | None = None) -> Response | None:
        """Return the fault response for this request, or None to serve it normally.

        A fault with ``after_apply`` set is answered only after the request was served; one
        with ``queued`` set came from `inject` and is sent as given.

        Args:
            method: The request's method.
            path: The request's path.
            write: Whether the request changes something (default: any method but GET,
                HEAD and OPTIONS); a fake whose API reads with POST says so.
        """
        is_write = method not in _READS if write is None else write
        with self._lock:
            queued = self._next_queued(is_write)
            if queued is not None:
                return queued
            p = self.policy
            if p.rate <= 0.0 or self._left == 0:
                return None
            if p.methods is not None and method not in p.methods:
                return None
            if self._pattern is not None and not self._pattern.search(path):
                return None
            if self._rng.random() >= p.rate:
                return None
            status = p.statuses[self._rng.randrange(len(p.statuses))]
            self.injected[status] += 1
            if self._left is not None:
                self._left -= 1
        if p.after_apply:
            # A gateway's answer to a request it forwarded and then lost: no Retry-After.
            lost = {
                "error": "InternalError",
                "description": "Injected by the fake server after applying the request",
            }
            return Response(status, lost, after_apply=True)
        # Zendesk sends Retry-After in seconds on 429 and on 503 alike (reference §3).
        body = {
            "error": "APIRateLimitExceeded" if status == 429 else "ServiceUnavailable",
            "description": "Injected by the fake server's fault policy",
        }
        return Response(status, body, {"Retry-After": str(p.retry_after)})
