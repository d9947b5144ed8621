"""The fake Jira's issue reads: get issue, ``/search/jql`` with ``nextPageToken`` paging,
changelogs (one issue and bulk), comments and transitions (reference §1.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from slaplug.testing.fakeserver import Request, Response
from slaplug_jira.fake.bulk import JiraBulk
from slaplug_jira.fake.data import TRANSITIONS, ChangeHistory, FieldDef, Issue, JiraUser
from slaplug_jira.fake.jql import JqlError, parse_jql
from slaplug_jira.fake.permissions import has_permission
from slaplug_jira.fake.render import J, JiraTime, jira_error, not_found

MAX_SEARCH_PAGE = 100  # fake's choice when fields are requested (see the docs)
MAX_SEARCH_PAGE_IDS = 5000  # "It returns max 5000 issues" with id/key only (OAS)
TOKEN_TTL_MS = 7 * 86_400_000  # nextPageToken expires after 7 days (reference §1.2)
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


class JiraReads(JiraBulk):
    """Issue read handlers (a base of the app)."""

    def __init__(self, store: Any, clock: Any, time_zone: str) -> None:
        super().__init__(store, clock, time_zone)
        self._user_zones: dict[str, JiraTime] = {}

    def user_time(self, user: JiraUser) -> JiraTime:
        """The zone ``user``'s JQL date literals are read in: the profile's, else the site's.

        Jira reads a JQL date "in the searching user's time zone" (reference §1.2), and
        ``/myself`` reports that zone as ``timeZone`` (OAS ``User.timeZone``).
        """
        if not user.time_zone or user.time_zone == self.time.name:
            return self.time
        if user.time_zone not in self._user_zones:
            self._user_zones[user.time_zone] = JiraTime(user.time_zone)
        return self._user_zones[user.time_zone]

    def _page_params(self, req: Request, default: int, cap: int) -> tuple[int, int]:
        try:
            start = int(req.query.get("startAt", "0"))
            size = int(req.query.get("maxResults", str(default)))
        except ValueError:
            raise jira_error(400, "startAt and maxResults must be integers.") from None
        return max(0, start), max(0, min(size, cap))

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
        """``GET /rest/api/3/issue/{key}``: ``fields`` (default ``*all``), ``expand``; 404
        without *Browse projects* ("the issue is not found or the user does not have
        permission to view it", OAS ``getIssue``)."""
        issue = self.find_issue(key)
        if not has_permission(user, "BROWSE_PROJECTS"):
            raise not_found()
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
            query = parse_jql(
                str(jql), self.store, self.user_time(user), self.now_ms(), user.account_id
            )
        except JqlError as exc:
            raise jira_error(400, str(exc)) from None
        wanted = self.wanted_fields([str(f) for f in fields], "id")
        try:
            size = int(max_results)
        except (TypeError, ValueError):
            raise jira_error(400, "maxResults must be an integer.") from None
        size = max(1, min(size, MAX_SEARCH_PAGE if wanted else MAX_SEARCH_PAGE_IDS))
        start = self._read_token(token, str(jql)) if token else 0
        # "Issues are included in the response where the user has Browse projects" (OAS
        # searchAndReconsileIssuesUsingJql): without it, the fake's one project is hidden.
        visible = has_permission(user, "BROWSE_PROJECTS")
        matches = [i for i in self.store.issues.values() if visible and query.matches(i)]
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

    def get_comment(self, req: Request, v: str, key: str, cid: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/issue/{key}/comment/{id}`` (OAS ``getComment``);
        ``expand=properties`` shows ``sd.public.comment``. 404 for a comment of another
        issue, as for an unknown one."""
        issue = self.find_issue(key)
        found = next((c for c in self.store.comments.get(issue.id, []) if c.id == int(cid)), None)
        if found is None:
            raise jira_error(404, "Can not find a comment for the id: " + cid + ".")
        props = "properties" in req.query.get("expand", "")
        return Response(200, self.comment_json(found, v, props))

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
