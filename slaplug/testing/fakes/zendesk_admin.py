"""The fake's admin surface over HTTP, ``/_fake/...``: what tests in another process use to
steer the fake and to assert on what it saw. No authentication; never faulted or counted
as API traffic. Documented in docs/testing/fake-zendesk.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slaplug.testing.fakes.base import FaultPolicy, Request, Response, Router, iso_z, parse_iso_z
from slaplug.testing.fakes.zendesk_render import err
from slaplug.testing.fakes.zendesk_webhooks import WebhookConfig

if TYPE_CHECKING:
    from slaplug.testing.fakes.zendesk_server import ZendeskApp


class ZendeskAdmin:
    """Handlers of ``/_fake/...`` for one :class:`ZendeskApp`."""

    def __init__(self, app: ZendeskApp) -> None:
        self.app = app

    def register(self, router: Router) -> None:
        """Add the admin routes to ``router``."""
        a = router.add
        a("GET", r"/_fake/health", self.admin_health)
        a("GET", r"/_fake/writes", self.admin_writes)
        a("DELETE", r"/_fake/writes", self.admin_clear_writes)
        a("GET", r"/_fake/requests", self.admin_requests)
        a("GET", r"/_fake/faults", self.admin_get_faults)
        a("POST", r"/_fake/faults", self.admin_set_faults)
        a("DELETE", r"/_fake/faults", self.admin_reset_faults)
        a("POST", r"/_fake/simulate", self.admin_simulate)
        a("GET", r"/_fake/clock", self.admin_clock)
        a("POST", r"/_fake/clock", self.admin_clock)
        a("GET", r"/_fake/webhooks", self.admin_webhooks)
        a("POST", r"/_fake/webhooks", self.admin_configure_webhook)
        a("POST", r"/_fake/jobs/complete", self.admin_complete_jobs)
        a("GET", r"/_fake/seed", self.admin_seed)

    def admin_health(self, req: Request) -> Response:
        """``GET /_fake/health``."""
        now = self.app.clock.now()
        return Response(
            200,
            {
                "ok": True,
                "base_url": self.app.base_url,
                "now": iso_z(now),
                "tickets": len(self.app.store.tickets),
            },
        )

    def admin_writes(self, req: Request) -> Response:
        """``GET /_fake/writes``: every write request received."""
        return Response(200, {"writes": [w.to_json() for w in self.app.writes]})

    def admin_clear_writes(self, req: Request) -> Response:
        """``DELETE /_fake/writes``."""
        self.app.writes.clear()
        return Response(204)

    def admin_requests(self, req: Request) -> Response:
        """``GET /_fake/requests``: counts by kind and injected faults by status."""
        return Response(
            200,
            {
                "requests": self.app.requests.snapshot(),
                "faults_injected": {str(k): v for k, v in self.app.faults.injected.items()},
            },
        )

    def admin_get_faults(self, req: Request) -> Response:
        """``GET /_fake/faults``."""
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def admin_set_faults(self, req: Request) -> Response:
        """``POST /_fake/faults`` with the keyword arguments of ``set_faults``."""
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
            raise err(400, "InvalidValue", str(exc)) from None
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def admin_reset_faults(self, req: Request) -> Response:
        """``DELETE /_fake/faults``."""
        self.app.faults.reset()
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def admin_simulate(self, req: Request) -> Response:
        """``POST /_fake/simulate`` ``{"kind": ..., "ticket_id": ..., ...}``."""
        body = dict(req.json() or {})
        kind = str(body.pop("kind", ""))
        ticket_id = body.pop("ticket_id", None)
        return Response(200, self.app.simulate(kind, ticket_id, **body))

    def admin_clock(self, req: Request) -> Response:
        """``GET``/``POST /_fake/clock`` (``{"advance": seconds}`` or ``{"set": "ISO"}``)."""
        body = req.json() or {} if req.method == "POST" else {}
        try:
            if "advance" in body:
                self.app.clock.advance(float(body["advance"]))
            if "set" in body:
                self.app.clock.set(parse_iso_z(str(body["set"])))
        except (TypeError, ValueError) as exc:
            raise err(400, "InvalidValue", str(exc)) from None
        now = self.app.clock.now()
        return Response(200, {"now": iso_z(now), "unix": int(now)})

    def admin_webhooks(self, req: Request) -> Response:
        """``GET /_fake/webhooks``: every delivery attempt."""
        deliveries = list(self.app.sender.deliveries) if self.app.sender else []
        return Response(200, {"deliveries": [d.to_json() for d in deliveries]})

    def admin_configure_webhook(self, req: Request) -> Response:
        """``POST /_fake/webhooks`` ``{"url", "secret", "duplicate_rate"}`` (url null stops)."""
        body = req.json() or {}
        if not body.get("url"):
            self.app.configure_webhook(None)
        else:
            self.app.configure_webhook(
                WebhookConfig(
                    str(body["url"]),
                    str(body.get("secret", "")),
                    duplicate_rate=float(body.get("duplicate_rate", 0.0)),
                    seed=int(body.get("seed", 0)),
                )
            )
        return Response(200, {"url": body.get("url")})

    def admin_complete_jobs(self, req: Request) -> Response:
        """``POST /_fake/jobs/complete``."""
        self.app.complete_jobs()
        return Response(200, {"jobs": [self.app.job_json(j) for j in self.app.jobs.values()]})

    def admin_seed(self, req: Request) -> Response:
        """``GET /_fake/seed``: the account in the seed-file format."""
        return Response(200, self.app.store.to_seed(self.app.clock.now()))
