"""`ZendeskControl`: the conformance suite's `FakeControl` over a running `FakeZendesk`.

For Zendesk connectors (slaplug's own, or anyone's) tested with `ConnectorSuite`::

    with FakeZendesk.start() as fake:
        scenario = Scenario(connector, ZendeskControl(fake), ticket_id="1", ...)

The fake's fault policy is rate-based (`FakeZendesk.set_faults`); the suite wants "the next
N requests", so the adapter keeps a queue of one-off faults that is served first, through
the same path as the fake's own faults (counted as ``fault``, writes recorded as faulted).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from slaplug_zendesk.fake import FakeZendesk
from slaplug.testing.fakeserver import Response

__all__ = ["ZendeskControl"]

_ERRORS = {401: "Couldn't authenticate you", 429: "APIRateLimitExceeded"}


class ZendeskControl:
    """Fault injection and request/write counts of one `FakeZendesk`, as the suite needs.

    Args:
        fake: The running fake. Its fault policy (``set_faults``) keeps working; one-off
            faults queued with `inject` come first.
    """

    def __init__(self, fake: FakeZendesk) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._queue: deque[Response] = deque()
        injector = fake._app.faults  # the fake's own injector: one code path for all faults
        policy_decide: Callable[[str, str], Response | None] = injector.decide

        def decide(method: str, path: str) -> Response | None:
            with self._lock:
                queued = self._queue.popleft() if self._queue else None
            if queued is None:
                return policy_decide(method, path)
            injector.injected[queued.status] += 1
            # A fresh copy: the server adds rate-limit headers to the response it sends.
            return Response(
                queued.status, queued.body, dict(queued.headers), after_apply=queued.after_apply
            )

        injector.decide = decide  # type: ignore[method-assign]

    def inject(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next ``times`` API requests with ``status`` (and ``headers``, ``body``).

        Without a body, Zendesk's error envelope is used (``{"error", "description"}``).
        With ``after_apply`` the answer is lost instead: the request is served (a write
        applied, a job queued) and ``status`` (a 5xx) answered in place of the real reply.

        Raises:
            ValueError: ``after_apply`` with a status below 500.
        """
        if after_apply and status < 500:
            raise ValueError("after_apply faults must be 5xx")
        if body is None:
            error = _ERRORS.get(status, "ServiceUnavailable" if status >= 500 else "Error")
            body = {"error": error, "description": "Injected by ZendeskControl"}
        with self._lock:
            for _ in range(times):
                self._queue.append(
                    Response(status, body, dict(headers or {}), after_apply=after_apply)
                )

    @property
    def request_count(self) -> int:
        """API requests received so far (admin requests left out), injected faults included."""
        counts = self.fake.requests
        return counts.get("read", 0) + counts.get("write", 0) + counts.get("poll", 0)

    @property
    def write_count(self) -> int:
        """Writes the platform accepted (applied or queued), lost answers included."""
        return sum(1 for w in self.fake.writes if w.accepted)
