"""The fake Jira's admin surface over HTTP, ``/_fake/...``: what tests in another process
use to steer the fake and to assert on what it saw. No authentication; never faulted or
counted as API traffic. Documented in docs/testing/fake-jira.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slaplug.testing.fakeserver import FakeAdmin, HttpError, Request, Response, Router, iso_z
from slaplug_jira.fake.render import jira_error
from slaplug_jira.fake.seed import to_seed
from slaplug_jira.fake.webhooks import WebhookConfig

if TYPE_CHECKING:
    from slaplug_jira.fake.server import JiraApp


class JiraAdmin(FakeAdmin):
    """Handlers of ``/_fake/...`` for one :class:`JiraApp` (the shared ones in `FakeAdmin`)."""

    app: JiraApp

    def __init__(self, app: JiraApp) -> None:
        super().__init__(app)

    def bad_request(self, message: str) -> HttpError:
        """Jira's 400 body."""
        return jira_error(400, message)

    def register(self, router: Router) -> None:
        """Add the admin routes to ``router``."""
        super().register(router)
        a = router.add
        a("GET", r"/_fake/health", self.health)
        a("POST", r"/_fake/simulate", self.simulate)
        a("POST", r"/_fake/webhooks", self.configure_webhook)
        a("POST", r"/_fake/tasks/complete", self.complete_tasks)
        a("GET", r"/_fake/seed", self.seed)
        a("POST", r"/_fake/users", self.set_user)

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

    def simulate(self, req: Request) -> Response:
        """``POST /_fake/simulate`` ``{"kind": ..., "key": ..., ...}``."""
        body = dict(req.json() or {})
        kind = str(body.pop("kind", ""))
        key = body.pop("key", None)
        try:
            return Response(200, self.app.simulate(kind, key, **body))
        except ValueError as exc:
            raise jira_error(400, str(exc)) from None

    def set_user(self, req: Request) -> Response:
        """``POST /_fake/users`` ``{"user", "time_zone", "admin", "project_admin", "denied"}``:
        one user's profile zone and permissions (keys left out stay as they are; ``denied``
        lists the permission keys taken away, e.g. ``["EDIT_ISSUES"]``)."""
        body = req.json() or {}
        if not isinstance(body, dict) or not body.get("user"):
            raise jira_error(400, "user is required (an accountId, email or display name).")
        flags = {k: body[k] for k in ("admin", "project_admin") if k in body}
        if any(not isinstance(v, bool) for v in flags.values()):
            raise jira_error(400, "admin and project_admin must be true or false.")
        zone = body.get("time_zone")
        if zone is not None and not isinstance(zone, str):
            raise jira_error(400, 'time_zone must be an IANA zone name or "".')
        denied = body.get("denied")
        if denied is not None and (
            not isinstance(denied, list) or not all(isinstance(k, str) for k in denied)
        ):
            raise jira_error(400, 'denied must be a list of permission keys, e.g. ["EDIT_ISSUES"].')
        try:
            u = self.app.set_user(
                str(body["user"]),
                time_zone=zone,
                denied=None if denied is None else frozenset(denied),
                **flags,
            )
        except ValueError as exc:
            raise jira_error(400, str(exc)) from None
        return Response(200, self.app.user_json(u, "3", full=True))

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
