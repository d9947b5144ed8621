"""The fake Jira's HTTP behaviour: auth, routing, faults, and the read endpoints.

:class:`JiraApp` is the app :class:`~slaplug.testing.fakeserver.ServerThread` serves. Every
operation answers under ``/rest/api/3`` (ADF rich text) and ``/rest/api/2`` (plain text),
as Jira Cloud does. Writes live in :mod:`.jira_writes`, webhooks in :mod:`.jira_webhooks`.
Each behaviour follows ../shared/reference/helpdesk-apis.md; docs/testing/fake-jira.md cites
the source of each. One lock guards the site.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaplug.testing.fakeserver import (
    FakeClock,
    FaultInjector,
    HttpError,
    Request,
    RequestCounter,
    Response,
    Router,
    WriteRecord,
    write_record,
)
from slaplug_jira.fake.admin import JiraAdmin
from slaplug_jira.fake.data import (
    PRIORITIES,
    RESOLUTIONS,
    STATUS_CATEGORIES,
    STATUSES,
    JiraStore,
    JiraUser,
)
from slaplug_jira.fake.permissions import PERMISSIONS, my_permissions
from slaplug_jira.fake.reads import JiraReads
from slaplug_jira.fake.render import jira_error

__all__ = ["AppConfig", "JiraApp"]

V = r"/rest/api/(?P<v>[23])"
KEY = r"(?P<key>[A-Za-z][A-Za-z0-9_]*-\d+|\d+)"
UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."


@dataclass
class AppConfig:
    """Credentials and knobs of one fake site."""

    api_token: str = "fake-api-token"
    oauth_token: str = "fake-oauth-token"
    #: A Data Center style Personal Access Token, sent as ``Bearer`` (reference §5).
    pat: str = "fake-personal-access-token"
    #: Polls of ``/bulk/queue/{taskId}`` until a bulk edit reports COMPLETE.
    bulk_polls: int = 2
    #: ``X-RateLimit-Limit`` on 429 answers.
    rate_limit: int = 100


class JiraApp(JiraReads):
    """Serves the Jira Cloud REST subset slaplug uses, plus the ``/_fake/`` admin surface."""

    def __init__(
        self, store: JiraStore, clock: FakeClock, config: AppConfig, time_zone: str
    ) -> None:
        super().__init__(store, clock, time_zone)
        self.config = config
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.requests = RequestCounter()
        self.writes: list[WriteRecord] = []
        self.router = Router()
        self.admin = Router()
        JiraAdmin(self).register(self.admin)
        self._routes()

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> None:
        r = self.router.add
        r("GET", rf"{V}/serverInfo", self.get_server_info)
        r("GET", rf"{V}/myself", self.get_myself)
        r("GET", rf"{V}/mypermissions", self.get_my_permissions)
        r("GET", rf"{V}/field", self.get_fields)
        r("GET", rf"{V}/priority", self.get_priorities)
        r("GET", rf"{V}/priority/(?P<id>\d+)", self.get_priority)
        r("GET", rf"{V}/status", self.get_statuses)
        r("GET", rf"{V}/status/(?P<id>[^/]+)", self.get_status)
        r("GET", rf"{V}/statuscategory", self.get_status_categories)
        r("GET", rf"{V}/resolution", self.get_resolutions)
        r("GET", rf"{V}/user", self.get_user)
        r("GET", rf"{V}/user/search", self.find_users)
        r("GET", rf"{V}/users/search", self.all_users)
        r("GET", rf"{V}/search/jql", self.search)
        r("POST", rf"{V}/search/jql", self.search)
        r("GET", rf"{V}/search", self.search_gone)
        r("POST", rf"{V}/search", self.search_gone)
        r("GET", rf"{V}/issue/{KEY}", self.get_issue)
        r("PUT", rf"{V}/issue/{KEY}", self.edit_issue)
        r("GET", rf"{V}/issue/{KEY}/changelog", self.get_changelog)
        r("POST", rf"{V}/changelog/bulkfetch", self.bulk_changelog)
        r("GET", rf"{V}/issue/{KEY}/comment", self.get_comments)
        r("POST", rf"{V}/issue/{KEY}/comment", self.add_comment)
        r("GET", rf"{V}/issue/{KEY}/comment/(?P<cid>\d+)", self.get_comment)
        r("GET", rf"{V}/issue/{KEY}/transitions", self.get_transitions)
        r("POST", rf"{V}/issue/{KEY}/transitions", self.do_transition)
        r("PUT", rf"{V}/issue/{KEY}/assignee", self.assign_issue)
        r("POST", rf"{V}/bulk/issues/fields", self.submit_bulk_edit)
        r("GET", rf"{V}/bulk/queue/(?P<task>\w+)", self.get_bulk_progress)
        r("POST", rf"/rest/servicedeskapi/request/{KEY}/comment", self.jsm_comment)

    def __call__(self, req: Request) -> Response:
        """Answer one request (called from the server's handler threads)."""
        if req.path.startswith("/_fake/"):
            self.requests.add("admin")
            return self._dispatch(self.admin, req, {})
        kind = "poll" if "/bulk/queue/" in req.path else "read" if req.method == "GET" else "write"
        if req.path.endswith(("/search/jql", "/changelog/bulkfetch")):
            kind = "read"  # POST reads: search and bulk changelog change nothing
        self.requests.add(kind)
        fault = self.faults.decide(req.method, req.path, write=kind == "write")
        if fault is not None:
            self.requests.add("fault")
        if fault is not None and not fault.after_apply:
            # A fault queued by ``inject`` keeps the body and headers it was given.
            fault = fault if fault.queued else self._jira_fault(fault.status)
            self._record_write(req, kind, fault.status, faulted=True)
            return fault
        try:
            user = self._authenticate(req)
            resp = self._dispatch(self.router, req, {"user": user})
        except HttpError as exc:
            resp = exc.response()
        if fault is not None:  # served, and the answer lost on its way back
            lost = jira_error(fault.status, "Internal server error").response()
            self._record_write(req, kind, lost.status, faulted=True, applied=resp.status)
            return lost
        self._record_write(req, kind, resp.status)
        return resp

    def _dispatch(self, router: Router, req: Request, extra: Mapping[str, Any]) -> Response:
        found = router.resolve(req.method, req.path)
        if found is None:
            if router.knows_path(req.path):
                return jira_error(405, f"Method {req.method} is not allowed here.").response()
            return jira_error(404, "Not found").response()
        handler, params = found
        try:
            with self.lock:
                return handler(req, **params, **extra)
        except HttpError as exc:
            return exc.response()

    def _jira_fault(self, status: int) -> Response:
        """An injected fault with Jira's body and headers (reference §3)."""
        retry_after = self.faults.policy.retry_after
        headers: dict[str, str] = {}
        if status == 409:
            return jira_error(
                409, "The issue was changed by another request. Read it again and retry."
            ).response()
        if status == 429:
            reset = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(self.clock.now() + retry_after))
            headers = {
                "X-RateLimit-Limit": str(self.config.rate_limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
                "RateLimit-Reason": "jira-burst-based",
            }
            message = "Rate limit exceeded."
        else:
            message = "Service unavailable; try again later."
        # 503s carry Retry-After too, so clients treat them like 429 (reference §3).
        headers["Retry-After"] = str(retry_after)
        return jira_error(status, message, headers=headers).response()

    def _record_write(
        self,
        req: Request,
        kind: str,
        status: int,
        faulted: bool = False,
        applied: int | None = None,
    ) -> None:
        if kind != "write":
            return
        record = write_record(req, self.clock.now(), status, faulted, applied)
        with self.lock:
            self.writes.append(record)

    def _authenticate(self, req: Request) -> JiraUser:
        """Basic ``email:api_token``, or ``Bearer`` with the OAuth token or a PAT (§5)."""
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        user: JiraUser | None = None
        if scheme.lower() == "bearer" and (
            hmac.compare_digest(value, self.config.oauth_token)
            or hmac.compare_digest(value, self.config.pat)
        ):
            user = self.admin_user()
        elif scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                email, token = "", ""
            u = self.store.user(email) if "@" in email else None
            # Portal customers and apps have no API tokens; a PAT is not a basic password.
            if u is not None and u.account_type == "atlassian" and u.email.lower() == email.lower():
                user = u if hmac.compare_digest(token, self.config.api_token) else None
        if user is None:
            raise jira_error(401, UNAUTHORIZED)
        return user

    def admin_user(self) -> JiraUser:
        """The site admin (the first Atlassian account)."""
        return self.store.agents()[0]

    def set_user(
        self,
        ref: str,
        *,
        time_zone: str | None = None,
        admin: bool | None = None,
        project_admin: bool | None = None,
        denied: frozenset[str] | None = None,
    ) -> JiraUser:
        """Change one user's profile zone and permissions (None leaves a value as it is;
        ``time_zone=""`` goes back to the site's default; ``denied`` replaces the set of
        permission keys taken away, see fakes/jira_permissions.py).

        Raises:
            ValueError: for an unknown user or time zone.
        """
        with self.lock:
            u = self.store.user(ref)
            if u is None:
                raise ValueError(f"no user {ref!r}: give an accountId, email or display name")
            if time_zone is not None:
                if time_zone:
                    try:
                        ZoneInfo(time_zone)
                    except (ZoneInfoNotFoundError, ValueError):
                        raise ValueError(
                            f"{time_zone!r} is not an IANA time zone, e.g. America/Los_Angeles"
                        ) from None
                u.time_zone = time_zone or None
            if admin is not None:
                u.admin = admin
            if project_admin is not None:
                u.project_admin = project_admin
            if denied is not None:
                unknown = sorted(set(denied) - set(PERMISSIONS))
                if unknown:
                    raise ValueError(
                        f"unknown permission key(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(PERMISSIONS))}"
                    )
                u.denied = frozenset(denied)
            return u

    # -- small reads -----------------------------------------------------------------------

    def get_server_info(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/serverInfo``: ``baseUrl`` is this server."""
        return Response(
            200,
            {
                "baseUrl": self.base_url,
                "displayUrl": self.base_url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100300,
                "buildDate": "2026-01-01T00:00:00.000+0000",
                "serverTime": self.time.fmt(self.now_ms()),
                "scmInfo": "0000000000000000000000000000000000000000",
                "serverTitle": "Fake Jira",
                "serverTimeZone": self.time.name,
            },
        )

    def get_myself(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/myself``; ``timeZone`` is the zone JQL dates are read in."""
        return Response(200, self.user_json(user, v, full=True))

    def get_my_permissions(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/mypermissions`` (see fakes/jira_permissions.py)."""
        return my_permissions(req, self.store, user)

    def get_fields(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/field``: system and custom fields."""
        return Response(200, [self.field_json(f) for f in self.store.fields])

    def get_priorities(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/priority`` (deprecated upstream, still served)."""
        return Response(200, [self.priority_json(p[0], v) for p in PRIORITIES])

    def get_priority(self, req: Request, v: str, id: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/priority/{id}``."""
        body = self.priority_json(id, v)
        if body is None:
            raise jira_error(404, f"The priority with ID '{id}' does not exist.")
        return Response(200, body)

    def get_statuses(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/status``."""
        return Response(200, [self.status_json(s[0], v) for s in STATUSES])

    def get_status(self, req: Request, v: str, id: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/status/{idOrName}``."""
        row = next((s for s in STATUSES if unquote(id).lower() in (s[0], s[1].lower())), None)
        if row is None:
            raise jira_error(404, f"The status with ID '{id}' does not exist.")
        return Response(200, self.status_json(row[0], v))

    def get_status_categories(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/statuscategory``."""
        return Response(200, [self.status_category_json(c[1], v) for c in STATUS_CATEGORIES])

    def get_resolutions(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/resolution``."""
        return Response(200, [self.resolution_json(r[0], v) for r in RESOLUTIONS])

    def get_user(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/user?accountId=``."""
        u = self.store.users.get(req.query.get("accountId", ""))
        if u is None:
            raise jira_error(404, "The user with the given accountId does not exist.")
        return Response(200, self.user_json(u, v, full=True))

    def find_users(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/user/search?query=`` (name or email contains the text)."""
        text = (req.query.get("query") or req.query.get("accountId") or "").lower()
        start, size = self._page_params(req, 50, 1000)
        found = [
            u
            for u in self.store.users.values()
            if text in (u.display_name.lower(), u.email.lower(), u.account_id.lower())
            or (text and (text in u.display_name.lower() or text in u.email.lower()))
        ]
        return Response(200, [self.user_json(u, v, full=True) for u in found[start : start + size]])

    def all_users(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/users/search`` (every user, paged with startAt)."""
        start, size = self._page_params(req, 50, 1000)
        users = list(self.store.users.values())[start : start + size]
        return Response(200, [self.user_json(u, v, full=True) for u in users])
