"""The fake Jira's HTTP behaviour: auth, routing, faults, and the read endpoints.

:class:`JiraApp` is the app :class:`~slaplug.testing.fakes.base.ServerThread` serves. Every
operation answers under ``/rest/api/3`` (ADF rich text) and ``/rest/api/2`` (plain text),
as Jira Cloud does. Writes live in :mod:`.jira_writes`, webhooks in :mod:`.jira_webhooks`.
Each behaviour follows ../shared/reference/helpdesk-apis.md; docs/testing/fake-jira.md cites
the source of each. One lock guards the site.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from slaplug.testing.fakes.base import (
    FakeClock,
    FaultInjector,
    HttpError,
    Request,
    RequestCounter,
    Response,
    Router,
    WriteRecord,
)
from slaplug.testing.fakes.jira_admin import JiraAdmin
from slaplug.testing.fakes.jira_data import (
    PRIORITIES,
    RESOLUTIONS,
    STATUS_CATEGORIES,
    STATUSES,
    TRANSITIONS,
    ChangeHistory,
    FieldDef,
    Issue,
    JiraStore,
    JiraUser,
)
from slaplug.testing.fakes.jira_jql import JqlError, parse_jql
from slaplug.testing.fakes.jira_render import J, jira_error, not_found
from slaplug.testing.fakes.jira_writes import JiraWrites

__all__ = ["AppConfig", "JiraApp"]

V = r"/rest/api/(?P<v>[23])"
KEY = r"(?P<key>[A-Za-z][A-Za-z0-9_]*-\d+|\d+)"
MAX_SEARCH_PAGE = 100  # fake's choice when fields are requested (see the docs)
MAX_SEARCH_PAGE_IDS = 5000  # "It returns max 5000 issues" with id/key only (OAS)
TOKEN_TTL_MS = 7 * 86_400_000  # nextPageToken expires after 7 days (reference §1.2)
UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


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


class JiraApp(JiraWrites):
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
        fault = self.faults.decide(req.method, req.path)
        if fault is not None:
            self.requests.add("fault")
            fault = self._jira_fault(fault.status)
            self._record_write(req, kind, fault.status, faulted=True)
            return fault
        try:
            user = self._authenticate(req)
            resp = self._dispatch(self.router, req, {"user": user})
        except HttpError as exc:
            resp = exc.response()
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

    def _record_write(self, req: Request, kind: str, status: int, faulted: bool = False) -> None:
        if kind != "write":
            return
        try:
            body = json.loads(req.body) if req.body else None
        except ValueError:
            body = req.body.decode(errors="replace")
        record = WriteRecord(
            req.method,
            req.path,
            dict(req.query),
            body,
            self.clock.now(),
            status,
            200 <= status < 300,
            faulted,
        )
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

    def _page_params(self, req: Request, default: int, cap: int) -> tuple[int, int]:
        try:
            start = int(req.query.get("startAt", "0"))
            size = int(req.query.get("maxResults", str(default)))
        except ValueError:
            raise jira_error(400, "startAt and maxResults must be integers.") from None
        return max(0, start), max(0, min(size, cap))

    # -- issues ----------------------------------------------------------------------------

    def find_issue(self, key: str) -> Issue:
        """The issue with this key or id.

        Raises:
            HttpError: 404 with Jira's message.
        """
        issue = self.store.issue(key)
        if issue is None:
            raise not_found()
        return issue

    def wanted_fields(self, specs: Iterable[str], default: str) -> list[FieldDef]:
        """The fields a ``fields`` parameter selects: ``*all``, ``*navigable``, names,
        ``-name`` exclusions, comma-separated and possibly repeated (OAS ``fields``)."""
        items = [x.strip() for s in specs for x in s.split(",") if x.strip()] or [default]
        include: list[str] = []
        exclude = {x[1:] for x in items if x.startswith("-")}
        every = [f.id for f in self.store.fields]
        positive = [x for x in items if not x.startswith("-")] or ["*navigable"]
        for x in positive:
            include += every if x in ("*all", "*navigable") else [x]
        by_id = {f.id: f for f in self.store.fields}
        seen: list[FieldDef] = []
        for fid in include:
            f = by_id.get(fid)
            if f is not None and fid not in exclude and f not in seen:
                seen.append(f)
        return seen

    def get_issue(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/issue/{key}``: ``fields`` (default ``*all``), ``expand``."""
        issue = self.find_issue(key)
        wanted = self.wanted_fields(req.query_lists.get("fields", []), "*all")
        expand = [e.strip() for e in req.query.get("expand", "").split(",")]
        body = self.issue_json(issue, v, wanted, expand)
        if "transitions" in expand:
            body["transitions"] = self.transitions_json(issue, v)
        return Response(200, body)

    def search_gone(self, req: Request, v: str, user: JiraUser) -> Response:
        """``/rest/api/3/search``: removed upstream, answered 410 Gone (reference §1.2)."""
        raise jira_error(410, SEARCH_GONE)

    def search(self, req: Request, v: str, user: JiraUser) -> Response:
        """``GET``/``POST /rest/api/3/search/jql``: bounded JQL, ``fields``, ``expand``,
        ``maxResults`` and ``nextPageToken`` paging; no ``total`` (reference §1.2)."""
        if req.method == "POST":
            body = req.json()
            if not isinstance(body, dict):
                raise jira_error(400, "The request body must be a JSON object.")
            jql = body.get("jql") or ""
            fields = body.get("fields") or []
            if not isinstance(fields, list):
                raise jira_error(400, "fields must be a list of strings.")
            expand = str(body.get("expand") or "")
            max_results: Any = body.get("maxResults", 50)
            token = body.get("nextPageToken")
        else:
            jql = req.query.get("jql", "")
            fields = req.query_lists.get("fields", [])
            expand = req.query.get("expand", "")
            max_results = req.query.get("maxResults", "50")
            token = req.query.get("nextPageToken")
        try:
            query = parse_jql(str(jql), self.store, self.time, self.now_ms(), user.account_id)
        except JqlError as exc:
            raise jira_error(400, str(exc)) from None
        wanted = self.wanted_fields([str(f) for f in fields], "id")
        try:
            size = int(max_results)
        except (TypeError, ValueError):
            raise jira_error(400, "maxResults must be an integer.") from None
        size = max(1, min(size, MAX_SEARCH_PAGE if wanted else MAX_SEARCH_PAGE_IDS))
        start = self._read_token(token, str(jql)) if token else 0
        matches = [i for i in self.store.issues.values() if query.matches(i)]
        matches.sort(key=query.sort_key())
        page = matches[start : start + size]
        expands = [e.strip() for e in expand.split(",") if e.strip()]
        out: J = {"issues": [self.issue_json(i, v, wanted, expands) for i in page]}
        if "names" in expands:
            out["names"] = {f.id: f.name for f in wanted}
        if "schema" in expands:
            out["schema"] = {f.id: f.schema for f in wanted}
        if start + size < len(matches):
            out["nextPageToken"] = self._make_token(start + size, str(jql))
            out["isLast"] = False
        else:
            out["isLast"] = True  # and no nextPageToken on the last page (OAS)
        return Response(200, out)

    def _make_token(self, offset: int, jql: str) -> str:
        raw = json.dumps({"o": offset, "q": _fingerprint(jql), "t": self.now_ms()})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _read_token(self, token: Any, jql: str) -> int:
        try:
            text = str(token)
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            offset, fingerprint, issued = int(data["o"]), data["q"], int(data["t"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise jira_error(400, "The provided next page token is invalid.") from None
        if fingerprint != _fingerprint(jql):
            raise jira_error(400, "The next page token does not belong to this query.")
        if self.now_ms() - issued > TOKEN_TTL_MS:
            raise jira_error(400, "The provided next page token has expired.")
        return offset

    def get_changelog(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/issue/{key}/changelog``: oldest first, ``startAt`` paging,
        ``maxResults`` default and cap 100 (reference §1.2)."""
        issue = self.find_issue(key)
        start, size = self._page_params(req, 100, 100)
        histories = self.store.histories.get(issue.id, [])
        page = histories[start : start + size]
        url = f"{self.api(v)}/issue/{issue.key}/changelog"
        last = start + size >= len(histories)
        body: J = {
            "self": f"{url}?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(histories),
            "isLast": last,
            "values": [self.history_json(h, v) for h in page],
        }
        if not last:
            body["nextPage"] = f"{url}?startAt={start + size}&maxResults={size}"
        return Response(200, body)

    def bulk_changelog(self, req: Request, v: str, user: JiraUser) -> Response:
        """``POST /rest/api/3/changelog/bulkfetch``: up to 1000 issues, up to 10
        ``fieldIds``, ``maxResults`` default 1000 and at most 10000 histories per page,
        ``nextPageToken`` (reference §1.2). Unknown issues are skipped."""
        body = req.json()
        if not isinstance(body, dict):
            raise jira_error(400, "The request body must be a JSON object.")
        keys = body.get("issueIdsOrKeys")
        if not isinstance(keys, list) or not 1 <= len(keys) <= 1000:
            raise jira_error(400, "issueIdsOrKeys must list between 1 and 1000 issues.")
        field_ids = body.get("fieldIds") or []
        if not isinstance(field_ids, list) or len(field_ids) > 10:
            raise jira_error(400, "fieldIds can list at most 10 fields.")
        size = body.get("maxResults", 1000)
        if not isinstance(size, int) or not 1 <= size <= 10000:
            raise jira_error(400, "maxResults must be between 1 and 10000.")
        token = body.get("nextPageToken")
        token_key = json.dumps([keys, field_ids])
        start = self._read_token(token, token_key) if token else 0
        flat: list[tuple[Issue, Any]] = []
        for k in keys:
            issue = self.store.issue(str(k))
            if issue is None:
                continue
            for h in self.store.histories.get(issue.id, []):
                if not field_ids:
                    flat.append((issue, h))
                    continue
                # fieldIds keeps only the histories, and items, of those fields.
                items = [i for i in h.items if i.field_id in field_ids]
                if items:
                    flat.append(
                        (issue, ChangeHistory(h.id, h.issue_id, h.author, h.created, items))
                    )
        page = flat[start : start + size]
        groups: dict[int, J] = {}
        for issue, h in page:
            group = groups.setdefault(issue.id, {"issueId": str(issue.id), "changeHistories": []})
            group["changeHistories"].append(self.history_json(h, v))
        out: J = {"issueChangeLogs": list(groups.values())}
        if start + size < len(flat):
            out["nextPageToken"] = self._make_token(start + size, token_key)
        return Response(200, out)

    def get_comments(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/issue/{key}/comment``: ``startAt``/``maxResults`` (default
        100), ``orderBy`` ``created``/``-created``, ``expand=properties`` shows
        ``sd.public.comment``; every comment carries ``jsdPublic``."""
        issue = self.find_issue(key)
        start, size = self._page_params(req, 100, 5000)
        order = req.query.get("orderBy", "created")
        if order not in ("created", "+created", "-created"):
            raise jira_error(400, f"orderBy '{order}' is not supported.")
        props = "properties" in req.query.get("expand", "")
        comments = self.store.comments.get(issue.id, [])
        if order == "-created":
            comments = list(reversed(comments))
        return Response(
            200,
            {
                "comments": [
                    self.comment_json(c, v, props) for c in comments[start : start + size]
                ],
                "self": f"{self.api(v)}/issue/{issue.id}/comment",
                "maxResults": size,
                "total": len(comments),
                "startAt": start,
            },
        )

    def transitions_json(self, issue: Issue, v: str) -> list[J]:
        """The workflow transitions available from the issue's status."""
        return [
            {
                "id": tid,
                "name": name,
                "to": self.status_json(to, v),
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for tid, name, to, sources in TRANSITIONS
            if issue.status in sources
        ]

    def get_transitions(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/issue/{key}/transitions`` (``transitionId`` filters)."""
        issue = self.find_issue(key)
        found = self.transitions_json(issue, v)
        only = req.query.get("transitionId")
        if only:
            found = [t for t in found if t["id"] == only]
        return Response(200, {"expand": "transitions", "transitions": found})


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
