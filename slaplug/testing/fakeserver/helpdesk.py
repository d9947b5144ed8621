"""`FakeHelpdesk`: a whole small fake to subclass with one method, ``handle``.

For a platform whose fake needs no more than request in, response out: the Freshdesk
plugin's fake, the fake ``slaplug new-connector`` generates, the suite's own self-test. It
is a `RunningFake`, so it is the conformance suite's `FakeControl` as it stands (``inject``,
``request_count``, ``write_count``) and has the ``/_fake/...`` admin routes, the fault
policy, write records and the clock of the big fakes::

    class FakeTiny(FakeHelpdesk):
        def handle(self, request: Request) -> Response:
            return Response(200, {"tickets": []})

    with FakeTiny() as fake:
        fake.inject(429, headers={"Retry-After": "3"})
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self

from slaplug.testing.fakeserver.admin import FakeAdmin, RequestCounter, WriteRecord, write_record
from slaplug.testing.fakeserver.faults import FaultInjector
from slaplug.testing.fakeserver.running import RunningFake
from slaplug.testing.fakeserver.server import (
    FakeClock,
    HttpError,
    Request,
    Response,
    Router,
    ServerThread,
)
from slaplug.testing.fakeserver.webhooks import WebhookSender

__all__ = ["FakeHelpdesk"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class _HelpdeskApp:
    """The app behind a `FakeHelpdesk`: admin routes, faults and records around ``handle``."""

    def __init__(self, handle: Callable[[Request], Response], clock: FakeClock) -> None:
        self.handle = handle
        self.base_url = ""
        self.clock = clock
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.requests = RequestCounter()
        self.writes: list[WriteRecord] = []
        self.received: list[Request] = []
        self.sender: WebhookSender | None = None
        self.admin = Router()
        FakeAdmin(self).register(self.admin)

    def configure_webhook(self, config: object) -> None:
        """No webhooks: a `FakeHelpdesk` subclass sends its own if its platform has them."""

    def __call__(self, req: Request) -> Response:
        if req.path.startswith("/_fake/"):
            self.requests.add("admin")
            found = self.admin.resolve(req.method, req.path)
            if found is None:
                return Response(404, {"error": f"no admin route {req.method} {req.path}"})
            handler, params = found
            return handler(req, **params)
        write = req.method not in _READS
        self.requests.add("write" if write else "read")
        with self.lock:
            self.received.append(req)
        fault = self.faults.decide(req.method, req.path)
        if fault is not None:
            self.requests.add("fault")
            if not fault.after_apply:
                self._record(req, fault.status, faulted=True)
                return fault
        try:
            with self.lock:
                resp = self.handle(req)
        except HttpError as exc:
            resp = exc.response()
        if fault is not None:  # served, and the answer lost on its way back
            self._record(req, fault.status, faulted=True, applied=resp.status)
            return fault
        self._record(req, resp.status)
        return resp

    def _record(
        self, req: Request, status: int, faulted: bool = False, applied: int | None = None
    ) -> None:
        if req.method in _READS:
            return
        record = write_record(req, self.clock.now(), status, faulted, applied)
        with self.lock:
            self.writes.append(record)


class FakeHelpdesk(RunningFake):
    """Base class of small fake helpdesks. Subclass and implement `handle`.

    The port is bound when the fake is made (so `base_url` is known at once) and served
    from `start` or ``with``, in a background thread; `stop` frees it. ``handle`` runs under
    `lock`, one request at a time.

    Args:
        host: The interface to bind.
        port: The port; 0 picks a free one.
        now: Where the fake's clock starts (Unix seconds); default the real time.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, now: float | None = None) -> None:
        app = _HelpdeskApp(self.handle, FakeClock(now))
        server = ServerThread(app, host, port)
        app.base_url = server.base_url
        super().__init__(app, server)
        self._helpdesk = app

    def handle(self, request: Request) -> Response:
        """Answer one API request (faults are answered before it is called).

        Raise `HttpError` or return an error `Response` to refuse it.
        """
        raise NotImplementedError

    @property
    def received(self) -> list[Request]:
        """Every API request received (admin requests left out), faults included, in order."""
        with self.lock:
            return list(self._helpdesk.received)

    def start(self) -> Self:
        """Start serving (idempotent) and return the fake."""
        self._server.start()
        return self

    def __enter__(self) -> Self:
        return self.start()
