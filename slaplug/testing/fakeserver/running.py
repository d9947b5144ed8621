"""`RunningFake`: the test-facing side every fake shares (life cycle, clock, recorded
traffic, faults, webhooks), and the conformance suite's `FakeControl` built in."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from slaplug.testing.fakeserver.admin import AdminApp, WriteRecord
from slaplug.testing.fakeserver.faults import FaultPolicy
from slaplug.testing.fakeserver.server import FakeClock, Request, Response, ServerThread
from slaplug.testing.fakeserver.webhooks import Delivery

__all__ = ["RunningApp", "RunningFake"]


class RunningApp(AdminApp, Protocol):
    """What `RunningFake` needs of a fake's app, beyond the admin handlers' needs."""

    lock: threading.RLock

    def __call__(self, req: Request) -> Response:
        """Answer one request (the app `ServerThread` serves)."""

    def configure_webhook(self, config: Any) -> None:
        """Start sending webhooks with ``config``, or stop with None."""


class RunningFake:
    """The test-facing side every fake shares: life cycle, clock, recorded traffic, faults and
    webhook deliveries. A fake subclasses it and adds its platform's reads and activity."""

    def __init__(self, app: RunningApp, server: ServerThread) -> None:
        self._app = app
        self._server = server
        self.base_url = server.base_url
        self.clock: FakeClock = app.clock
        self.lock = app.lock
        self._stopped = False

    @classmethod
    def serve(
        cls,
        app: RunningApp,
        host: str,
        port: int,
        *,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 503),
        retry_after: int = 1,
        fault_seed: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_duplicate_rate: float = 0.0,
    ) -> Self:
        """Serve ``app`` on ``host:port`` (0: a free port) with its initial fault policy and
        webhook target, and return the running fake (the tail of each fake's ``start``)."""
        server = ServerThread(app, host, port)
        app.base_url = server.base_url
        fake = cls(app, server)
        if fault_rate:
            fake.set_faults(fault_rate, fault_statuses, retry_after, seed=fault_seed)
        if webhook_url:
            fake.configure_webhook(webhook_url, webhook_secret or "", webhook_duplicate_rate)
        server.start()
        return fake

    def configure_webhook(
        self, url: str | None, secret: str = "", duplicate_rate: float = 0.0, seed: int = 0
    ) -> None:
        """Send signed webhooks to ``url`` after each change (None stops); each platform's
        fake builds its own webhook configuration."""
        raise NotImplementedError(f"{type(self).__name__} sends no webhooks")

    def stop(self) -> None:
        """Stop the server and the webhook sender; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        self._app.configure_webhook(None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def now(self) -> float:
        """The fake clock's current Unix time (seconds)."""
        return self._app.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward (exports lag a minute; JQL dates are minute-precise)."""
        return self._app.clock.advance(seconds)

    @property
    def writes(self) -> list[WriteRecord]:
        """Every write request received (accepted, rejected or faulted), in order."""
        with self.lock:
            return list(self._app.writes)

    @property
    def requests(self) -> dict[str, int]:
        """Requests by kind: ``read``, ``write``, ``poll``, ``fault`` (answered by an injected
        fault, also counted in its kind), ``admin``; the fake's docs say what each counts."""
        return self._app.requests.snapshot()

    def clear_records(self) -> None:
        """Forget recorded writes and request counts."""
        with self.lock:
            self._app.writes.clear()
        self._app.requests.clear()

    def set_faults(
        self,
        rate: float,
        statuses: Sequence[int] = (429, 503),
        retry_after: int = 1,
        *,
        methods: Sequence[str] | None = None,
        path_pattern: str | None = None,
        seed: int = 0,
        after_apply: bool = False,
        times: int | None = None,
    ) -> None:
        """Answer a fraction ``rate`` of API requests with one of ``statuses`` (with a
        ``Retry-After: retry_after`` header, and the platform's own headers and body).
        Deterministic for a given ``seed``.

        Args:
            methods: Only these HTTP methods (e.g. ``["PUT"]``); None for all.
            path_pattern: Only paths matching this regex (searched); None for all.
            after_apply: Lose the answer instead: serve the request (apply the write, queue
                the job), then answer the 5xx from ``statuses`` (no ``Retry-After``).
            times: Stop after this many faults; None for no limit.

        Raises:
            ValueError: ``after_apply`` with a status below 500.
        """
        self._app.faults.configure(
            FaultPolicy(
                rate,
                tuple(statuses),
                retry_after,
                frozenset(m.upper() for m in methods) if methods else None,
                path_pattern,
                seed,
                after_apply,
                times,
            )
        )

    def reset_faults(self) -> None:
        """Stop injecting faults: the policy's and those queued by `inject`."""
        self._app.faults.reset()

    # -- the conformance suite's FakeControl ----------------------------------------------

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

        Served before the fault policy of `set_faults`, and counted like its faults. Without
        a body, the platform's error body for ``status`` is sent (`fault_body`). With
        ``after_apply`` the answers are lost instead: each of the next ``times`` writes is
        served (applied, queued), then answered with ``status`` (a 5xx) in place of the real
        reply; reads are served as usual.

        Raises:
            ValueError: ``after_apply`` with a status below 500.
        """
        self._app.faults.inject(
            status,
            headers=headers,
            body=self.fault_body(status) if body is None else body,
            times=times,
            after_apply=after_apply,
        )

    def fault_body(self, status: int) -> Any:
        """The body of a fault queued by `inject` without one: the platform's error envelope
        (a fake overrides it; None sends no body)."""
        return None

    @property
    def request_count(self) -> int:
        """API requests received so far (admin requests left out), injected faults included."""
        counts = self._app.requests.snapshot()
        return sum(n for kind, n in counts.items() if kind not in ("admin", "fault"))

    @property
    def write_count(self) -> int:
        """Writes the platform accepted (applied or queued), lost answers included."""
        with self.lock:
            return sum(1 for w in self._app.writes if w.accepted)

    @property
    def faults_injected(self) -> dict[int, int]:
        """Injected faults so far, by status."""
        return dict(self._app.faults.injected)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt so far."""
        sender = self._app.sender
        return list(sender.deliveries) if sender else []

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued webhook was attempted; False on timeout."""
        sender = self._app.sender
        return sender.wait_idle(timeout) if sender else True
