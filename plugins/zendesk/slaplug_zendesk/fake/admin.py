"""The fake's admin surface over HTTP, ``/_fake/...``: what tests in another process use to
steer the fake and to assert on what it saw. No authentication; never faulted or counted
as API traffic. Documented in docs/testing/fake-zendesk.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slaplug.testing.fakeserver import FakeAdmin, HttpError, Request, Response, Router, iso_z
from slaplug_zendesk.fake.render import err
from slaplug_zendesk.fake.webhooks import WebhookConfig

if TYPE_CHECKING:
    from slaplug_zendesk.fake.server import ZendeskApp


class ZendeskAdmin(FakeAdmin):
    """Handlers of ``/_fake/...`` for one :class:`ZendeskApp` (the shared ones in `FakeAdmin`)."""

    app: ZendeskApp

    def __init__(self, app: ZendeskApp) -> None:
        super().__init__(app)

    def bad_request(self, message: str) -> HttpError:
        """Zendesk's 400 envelope."""
        return err(400, "InvalidValue", message)

    def register(self, router: Router) -> None:
        """Add the admin routes to ``router``."""
        super().register(router)
        a = router.add
        a("GET", r"/_fake/health", self.admin_health)
        a("POST", r"/_fake/simulate", self.admin_simulate)
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

    def admin_simulate(self, req: Request) -> Response:
        """``POST /_fake/simulate`` ``{"kind": ..., "ticket_id": ..., ...}``."""
        body = dict(req.json() or {})
        kind = str(body.pop("kind", ""))
        ticket_id = body.pop("ticket_id", None)
        return Response(200, self.app.simulate(kind, ticket_id, **body))

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
