"""What every fake records (writes, request counts) and its ``/_fake/...`` admin routes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slaplug.testing.fakeserver.faults import FaultInjector, FaultPolicy
from slaplug.testing.fakeserver.server import (
    FakeClock,
    HttpError,
    Request,
    Response,
    Router,
    iso_z,
    parse_iso_z,
)
from slaplug.testing.fakeserver.webhooks import WebhookSender

__all__ = ["AdminApp", "FakeAdmin", "RequestCounter", "WriteRecord", "write_record"]


# -- Recording -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteRecord:
    """One write request the fake received, whatever became of it."""

    method: str
    path: str
    query: Mapping[str, str]
    #: The parsed JSON body (None when empty or not JSON).
    body: Any
    #: Fake-clock Unix time when it arrived.
    time: float
    status: int
    #: True when the platform applied (or queued) it: a 2xx answer.
    accepted: bool
    #: True when the answer was an injected fault (with ``accepted`` too: a lost answer,
    #: the write was applied and the client got the fault instead).
    faulted: bool = False

    def to_json(self) -> dict[str, Any]:
        """This record as JSON (for ``GET /_fake/writes``)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "body": self.body,
            "time": iso_z(self.time),
            "status": self.status,
            "accepted": self.accepted,
            "faulted": self.faulted,
        }


class RequestCounter:
    """Thread-safe counts of requests by kind (``read``, ``write``, ``poll``, ``fault``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """Count one request of ``kind``."""
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far (a copy)."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Forget all counts."""
        with self._lock:
            self._counts.clear()


# -- what both fakes record and expose ----------------------------------------------------------


def write_record(
    req: Request, now: float, status: int, faulted: bool, applied: int | None = None
) -> WriteRecord:
    """The `WriteRecord` of one request: its body parsed as JSON where it is JSON.

    ``applied`` is the status the platform really answered when a lost-answer fault replaced
    it (``status`` is then the fault's).
    """
    try:
        body: Any = json.loads(req.body) if req.body else None
    except ValueError:
        body = req.body.decode(errors="replace")
    real = status if applied is None else applied
    return WriteRecord(
        req.method, req.path, dict(req.query), body, now, status, 200 <= real < 300, faulted
    )


class AdminApp(Protocol):
    """What the shared admin handlers need of a fake's app."""

    base_url: str
    clock: FakeClock
    faults: FaultInjector
    requests: RequestCounter
    writes: list[WriteRecord]
    sender: WebhookSender | None


class FakeAdmin:
    """The ``/_fake/...`` handlers every fake has: writes, request counts, faults, clock,
    webhook deliveries. A fake subclasses it for its own routes and its error body."""

    def __init__(self, app: AdminApp) -> None:
        self.app = app

    def bad_request(self, message: str) -> HttpError:
        """The platform's 400 for a malformed admin request."""
        return HttpError(400, {"error": message})

    def register(self, router: Router) -> None:
        """Add the shared admin routes to ``router``."""
        a = router.add
        a("GET", r"/_fake/writes", self.writes)
        a("DELETE", r"/_fake/writes", self.clear_writes)
        a("GET", r"/_fake/requests", self.request_counts)
        a("GET", r"/_fake/faults", self.get_faults)
        a("POST", r"/_fake/faults", self.set_faults)
        a("DELETE", r"/_fake/faults", self.reset_faults)
        a("GET", r"/_fake/clock", self.clock)
        a("POST", r"/_fake/clock", self.clock)
        a("GET", r"/_fake/webhooks", self.webhooks)

    def writes(self, req: Request) -> Response:
        """``GET /_fake/writes``: every write request received."""
        return Response(200, {"writes": [w.to_json() for w in self.app.writes]})

    def clear_writes(self, req: Request) -> Response:
        """``DELETE /_fake/writes``."""
        self.app.writes.clear()
        return Response(204)

    def request_counts(self, req: Request) -> Response:
        """``GET /_fake/requests``: counts by kind and injected faults by status."""
        return Response(
            200,
            {
                "requests": self.app.requests.snapshot(),
                "faults_injected": {str(k): v for k, v in self.app.faults.injected.items()},
            },
        )

    def get_faults(self, req: Request) -> Response:
        """``GET /_fake/faults``."""
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def set_faults(self, req: Request) -> Response:
        """``POST /_fake/faults`` with the keyword arguments of the fake's ``set_faults``."""
        body = req.json() or {}
        try:
            self.app.faults.configure(
                FaultPolicy(
                    rate=float(body.get("rate", 0.0)),
                    statuses=tuple(int(s) for s in body.get("statuses", (429,))),
                    retry_after=int(body.get("retry_after", 1)),
                    methods=frozenset(m.upper() for m in body["methods"])
                    if body.get("methods")
                    else None,
                    path_pattern=body.get("path_pattern"),
                    seed=int(body.get("seed", 0)),
                    after_apply=bool(body.get("after_apply", False)),
                    times=int(body["times"]) if body.get("times") is not None else None,
                )
            )
        except (TypeError, ValueError) as exc:
            raise self.bad_request(str(exc)) from None
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def reset_faults(self, req: Request) -> Response:
        """``DELETE /_fake/faults``."""
        self.app.faults.reset()
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def clock(self, req: Request) -> Response:
        """``GET``/``POST /_fake/clock`` (``{"advance": seconds}`` or ``{"set": "ISO"}``)."""
        body = (req.json() or {}) if req.method == "POST" else {}
        try:
            if "advance" in body:
                self.app.clock.advance(float(body["advance"]))
            if "set" in body:
                self.app.clock.set(parse_iso_z(str(body["set"])))
        except (TypeError, ValueError) as exc:
            raise self.bad_request(str(exc)) from None
        now = self.app.clock.now()
        return Response(200, {"now": iso_z(now), "unix": int(now)})

    def webhooks(self, req: Request) -> Response:
        """``GET /_fake/webhooks``: every delivery attempt."""
        deliveries = list(self.app.sender.deliveries) if self.app.sender else []
        return Response(200, {"deliveries": [d.to_json() for d in deliveries]})
