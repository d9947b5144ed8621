"""The fake Jira's admin surface over HTTP, ``/_fake/...``: what tests in another process
use to steer the fake and to assert on what it saw. No authentication; never faulted or
counted as API traffic. Documented in docs/testing/fake-jira.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slaplug.testing.fakes.base import FaultPolicy, Request, Response, Router, iso_z, parse_iso_z
from slaplug.testing.fakes.jira_render import jira_error
from slaplug.testing.fakes.jira_seed import to_seed
from slaplug.testing.fakes.jira_webhooks import WebhookConfig

if TYPE_CHECKING:
    from slaplug.testing.fakes.jira_server import JiraApp


class JiraAdmin:
    """Handlers of ``/_fake/...`` for one :class:`JiraApp`."""

    def __init__(self, app: JiraApp) -> None:
        self.app = app

    def register(self, router: Router) -> None:
        """Add the admin routes to ``router``."""
        a = router.add
        a("GET", r"/_fake/health", self.health)
        a("GET", r"/_fake/writes", self.writes)
        a("DELETE", r"/_fake/writes", self.clear_writes)
        a("GET", r"/_fake/requests", self.requests)
        a("GET", r"/_fake/faults", self.get_faults)
        a("POST", r"/_fake/faults", self.set_faults)
        a("DELETE", r"/_fake/faults", self.reset_faults)
        a("POST", r"/_fake/simulate", self.simulate)
        a("GET", r"/_fake/clock", self.clock)
        a("POST", r"/_fake/clock", self.clock)
        a("GET", r"/_fake/webhooks", self.webhooks)
        a("POST", r"/_fake/webhooks", self.configure_webhook)
        a("POST", r"/_fake/tasks/complete", self.complete_tasks)
        a("GET", r"/_fake/seed", self.seed)

    def health(self, req: Request) -> Response:
        """``GET /_fake/health``."""
        return Response(
            200,
            {
                "ok": True,
                "base_url": self.app.base_url,
                "now": iso_z(self.app.clock.now()),
                "time_zone": self.app.time.name,
                "issues": len(self.app.store.issues),
            },
        )

    def writes(self, req: Request) -> Response:
        """``GET /_fake/writes``: every write request received."""
        return Response(200, {"writes": [w.to_json() for w in self.app.writes]})

    def clear_writes(self, req: Request) -> Response:
        """``DELETE /_fake/writes``."""
        self.app.writes.clear()
        return Response(204)

    def requests(self, req: Request) -> Response:
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
        """``POST /_fake/faults`` with the keyword arguments of ``FakeJira.set_faults``."""
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
                )
            )
        except (TypeError, ValueError) as exc:
            raise jira_error(400, str(exc)) from None
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def reset_faults(self, req: Request) -> Response:
        """``DELETE /_fake/faults``."""
        self.app.faults.reset()
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def simulate(self, req: Request) -> Response:
        """``POST /_fake/simulate`` ``{"kind": ..., "key": ..., ...}``."""
        body = dict(req.json() or {})
        kind = str(body.pop("kind", ""))
        key = body.pop("key", None)
        try:
            return Response(200, self.app.simulate(kind, key, **body))
        except ValueError as exc:
            raise jira_error(400, str(exc)) from None

    def clock(self, req: Request) -> Response:
        """``GET``/``POST /_fake/clock`` (``{"advance": seconds}`` or ``{"set": "ISO"}``)."""
        body = (req.json() or {}) if req.method == "POST" else {}
        try:
            if "advance" in body:
                self.app.clock.advance(float(body["advance"]))
            if "set" in body:
                self.app.clock.set(parse_iso_z(str(body["set"])))
        except (TypeError, ValueError) as exc:
            raise jira_error(400, str(exc)) from None
        now = self.app.clock.now()
        return Response(200, {"now": iso_z(now), "unix": int(now)})

    def webhooks(self, req: Request) -> Response:
        """``GET /_fake/webhooks``: every delivery attempt."""
        deliveries = list(self.app.sender.deliveries) if self.app.sender else []
        return Response(200, {"deliveries": [d.to_json() for d in deliveries]})

    def configure_webhook(self, req: Request) -> Response:
        """``POST /_fake/webhooks`` ``{"url", "secret", "duplicate_rate", "seed"}`` (url
        null stops)."""
        body = req.json() or {}
        if not body.get("url"):
            self.app.configure_webhook(None)
        else:
            self.app.configure_webhook(
                WebhookConfig(
                    str(body["url"]),
                    str(body.get("secret", "")),
                    float(body.get("duplicate_rate", 0.0)),
                    int(body.get("seed", 0)),
                )
            )
        return Response(200, {"url": body.get("url")})

    def complete_tasks(self, req: Request) -> Response:
        """``POST /_fake/tasks/complete``: finish every pending bulk edit."""
        self.app.complete_tasks()
        tasks = [self.app.task_json(t, "3") for t in self.app.tasks.values()]
        return Response(200, {"tasks": tasks})

    def seed(self, req: Request) -> Response:
        """``GET /_fake/seed``: the site in the seed-file format."""
        return Response(200, to_seed(self.app.store, self.app.clock.now(), self.app.time.name))
