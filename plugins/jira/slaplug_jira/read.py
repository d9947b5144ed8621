"""Reading: bounded JQL on ``updated`` with an overlap window, and history in bulk.

One incremental read is one JQL query, paged with ``nextPageToken``
(``GET /rest/api/3/search/jql``; the old ``startAt`` search is gone). For each page:

* the changelogs of the page's issues come from one
  ``POST /rest/api/3/changelog/bulkfetch`` (paged by its own ``nextPageToken``), never
  from one call per issue: status and priority, and the fields whose history rules follow
  (assignee, labels, issue type, the group field, JSM Organizations and Request Type, the
  fields under ``fields:``, custom or the Due date), filtered by ``fieldIds`` while they are 10 at most;
* the comments come with the search itself (the ``comment`` field); only an issue whose
  embedded comments are truncated (``total`` above what came) is topped up with
  ``GET /rest/api/3/issue/{key}/comment``.

Each ticket thus carries its whole history (``TicketPage.complete_history`` is True).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slaplug.connectors import ApiClient, CursorPaginator, TicketPage, TokenPaginator, paginate
from slaplug.model import Ticket
from slaplug_jira.config import JiraConfig, Normalizer
from slaplug_jira.cursor import MAX_SEEN, JiraCursor, seen_key, seen_ms
from slaplug_jira.events import JsmFields, to_millis, to_ticket
from slaplug_jira.myself import Myself

__all__ = ["SEARCH", "JiraReader", "jql_for"]

logger = logging.getLogger(__name__)

SEARCH = "rest/api/3/search/jql"
BULK_CHANGELOG = "rest/api/3/changelog/bulkfetch"
#: The changelog fields the clocks always need, then the system fields rules follow over
#: time (bulkfetch accepts at most 10 fieldIds; past that, no filter is sent).
HISTORY_FIELDS = ("status", "priority", "assignee", "labels", "issuetype")
MAX_FIELD_IDS = 10
#: JSM's custom field types (schema ``custom`` in ``GET /rest/api/3/field``).
ORGANIZATIONS_TYPE = "com.atlassian.servicedesk:sd-customer-organizations"
REQUEST_TYPE_TYPE = "com.atlassian.servicedesk:vp-origin"
#: Issues per bulkfetch request (the API's maximum).
BULK_ISSUES = 1000
#: Fields every read asks for (the search returns only ``id`` by default).
BASE_FIELDS = (
    "summary",
    "status",
    "priority",
    "labels",
    "assignee",
    "reporter",
    "created",
    "updated",
    "issuetype",
    "comment",
)
_COMMENT_PAGE = 100
_CHANGELOG_PAGE = 100


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jql_for(
    config: JiraConfig, since: datetime, keys: Sequence[str] = (), zone: str | None = None
) -> str:
    """The bounded JQL of one read.

    Args:
        config: Projects and the extra condition.
        since: Read issues updated at or after this instant (floored to the minute).
        keys: Read only these issues instead (``key in (...)``), without a time bound.
        zone: The zone Jira reads the date in (the API user's); default
            ``config.jql_timezone``, else UTC.

    Returns:
        E.g. ``project in ("SUP") AND updated >= "2026/03/02 09:55" ORDER BY updated ASC, key ASC``.
    """
    parts = []
    if config.projects:
        parts.append(f"project in ({', '.join(_quote(p) for p in config.projects)})")
    if config.jql:
        parts.append(f"({config.jql})")
    if keys:
        parts.append(f"key in ({', '.join(_quote(k) for k in keys)})")
    else:
        local = since.astimezone(ZoneInfo(zone or config.jql_timezone or "UTC"))
        parts.append(f'updated >= "{local:%Y/%m/%d %H:%M}"')
    return " AND ".join(parts) + " ORDER BY updated ASC, key ASC"


class JiraReader:
    """Reads issues with their history through one `ApiClient`.

    Args:
        http: The connector's client.
        config: The configuration.
        norm: The name maps (shared with the writer).
        instance: The configured connector's name.
        myself: The API user (its time zone, unless ``jql_timezone`` is set).
    """

    def __init__(
        self,
        http: ApiClient,
        config: JiraConfig,
        norm: Normalizer,
        instance: str,
        myself: Myself | None = None,
    ) -> None:
        self.http = http
        self.config = config
        self.norm = norm
        self.instance = instance
        self.myself = myself or Myself(http, instance)
        extra = [*config.fields.values(), *([config.group_field] if config.group_field else [])]
        self.base_fields = [*BASE_FIELDS, *dict.fromkeys(extra)]
        self._jsm: JsmFields | None = None

    @property
    def jsm(self) -> JsmFields:
        """The JSM Organizations and Request Type field ids: configured, else found once
        through ``GET /rest/api/3/field`` by their schema ``custom`` keys."""
        if self._jsm is None:
            org, rtype = self.config.organization_field, self.config.request_type_field
            if org is None or rtype is None:
                by_type = {
                    str((f.get("schema") or {}).get("custom")): str(f.get("id"))
                    for f in self.http.get_json("rest/api/3/field") or ()
                    if isinstance(f, Mapping)
                }
                org = org or by_type.get(ORGANIZATIONS_TYPE)
                rtype = rtype or by_type.get(REQUEST_TYPE_TYPE)
            self._jsm = JsmFields(org, rtype)
        return self._jsm

    @property
    def fields(self) -> list[str]:
        """The fields every read asks for: the base ones, configured ones and JSM's."""
        jsm = [f for f in (self.jsm.organizations, self.jsm.request_type) if f]
        return list(dict.fromkeys([*self.base_fields, *jsm]))

    def history_fields(self) -> list[str] | None:
        """The ``fieldIds`` of a bulk changelog read, or None (no filter) past 10."""
        config = self.config
        wanted = [
            *HISTORY_FIELDS,
            *([config.group_field] if config.group_field else []),
            *(f for f in (self.jsm.organizations, self.jsm.request_type) if f),
            *config.fields.values(),
        ]
        unique = list(dict.fromkeys(wanted))
        return unique if len(unique) <= MAX_FIELD_IDS else None

    # -- incremental ----------------------------------------------------------------------

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield pages of issues updated since ``cursor`` (see `JiraCursor` for its format)."""
        state = JiraCursor.decode(cursor) if cursor else JiraCursor()
        overlap = timedelta(minutes=self.config.overlap_minutes)
        if state.watermark is None:
            since = datetime.combine(self.config.start_date, datetime.min.time(), UTC)
        else:
            since = datetime.fromtimestamp(state.watermark / 1000, UTC) - overlap
        jql = jql_for(self.config, since, zone=self.jql_zone())
        logger.debug("connector %r: reading %s", self.instance, jql)
        seen = list(state.seen)
        seen_set = set(seen)
        watermark = state.watermark

        def fetch(token: str | None) -> Any:
            params: dict[str, Any] = {
                "jql": jql,
                "maxResults": self.config.page_size,
                "fields": self.fields,
            }
            if token:
                params["nextPageToken"] = token
            return self.http.get_json(SEARCH, params=params)

        for page in paginate(fetch, TokenPaginator()):
            fresh = []
            for issue in page.data.get("issues") or ():
                ms = to_millis(issue["fields"]["updated"])
                entry = seen_key(issue["key"], ms)
                if entry in seen_set:
                    continue  # delivered by an earlier read at this very version
                seen_set.add(entry)
                seen.append(entry)
                watermark = ms if watermark is None else max(watermark, ms)
                fresh.append(issue)
            tickets = self.tickets(fresh)
            if watermark is not None:
                # Keep only what the next read's window (watermark - overlap, floored to the
                # minute) can return again.
                edge = (watermark - int(overlap.total_seconds() * 1000)) // 60_000 * 60_000
                seen = [s for s in seen if seen_ms(s) >= edge][-MAX_SEEN:]
                seen_set = set(seen)
            yield TicketPage(
                tickets, JiraCursor(watermark, tuple(seen)).encode(), complete_history=True
            )

    def jql_zone(self) -> str:
        """The zone Jira reads this user's JQL dates in: ``jql_timezone`` when set, else
        the API user's profile zone from ``/myself`` (read once)."""
        return self.config.jql_timezone or self.myself.time_zone()

    # -- one issue ------------------------------------------------------------------------

    def read_ticket(self, key: str) -> Ticket:
        """One issue with its whole history: one call unless its history is long."""
        issue = self.http.get_json(
            f"rest/api/3/issue/{key}", params={"fields": self.fields, "expand": "changelog"}
        )
        log = issue.get("changelog") or {}
        histories = list(log.get("histories") or ())
        if int(log.get("total") or 0) > len(histories):
            histories = self._changelog(str(issue["key"]))
        return self._ticket(issue, histories)

    # -- helpers --------------------------------------------------------------------------

    def tickets(self, issues: Sequence[Mapping[str, Any]]) -> list[Ticket]:
        """Tickets for issues from a search page, with one bulk changelog read for all."""
        if not issues:
            return []
        histories = self._bulk_changelogs([str(i["id"]) for i in issues])
        return [self._ticket(i, histories.get(str(i["id"]), [])) for i in issues]

    def _ticket(self, issue: Mapping[str, Any], histories: Sequence[Mapping[str, Any]]) -> Ticket:
        return to_ticket(
            issue,
            histories=histories,
            comments=self.comments(issue),
            norm=self.norm,
            instance=self.instance,
            base_url=self.config.base_url,
            field_ids=self.config.fields,
            group_field=self.config.group_field,
            jsm=self.jsm,
        )

    def _bulk_changelogs(self, ids: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
        out: dict[str, list[Mapping[str, Any]]] = {i: [] for i in ids}
        field_ids = self.history_fields()
        for start in range(0, len(ids), BULK_ISSUES):
            chunk = list(ids[start : start + BULK_ISSUES])

            def fetch(token: str | None, chunk: list[str] = chunk) -> Any:
                body: dict[str, Any] = {"issueIdsOrKeys": chunk}
                if field_ids is not None:
                    body["fieldIds"] = field_ids
                body["maxResults"] = 1000
                if token:
                    body["nextPageToken"] = token
                # A read sent with POST (the ids go in the body): counted as a read.
                return self.http.request("POST", BULK_CHANGELOG, json=body, read=True).json()

            for page in paginate(fetch, CursorPaginator("nextPageToken")):
                for log in page.data.get("issueChangeLogs") or ():
                    # An issue's histories may be split across pages: accumulate.
                    out.setdefault(str(log.get("issueId")), []).extend(
                        log.get("changeHistories") or ()
                    )
        return out

    def comments(self, issue: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """An issue's comments: those embedded in it, topped up when Jira truncated them."""
        embedded = (issue.get("fields") or {}).get("comment") or {}
        comments = list(embedded.get("comments") or ())
        if int(embedded.get("total") or 0) <= len(comments):
            return comments
        comments = []
        start = 0
        while True:
            page = self.http.get_json(
                f"rest/api/3/issue/{issue['key']}/comment",
                params={"startAt": start, "maxResults": _COMMENT_PAGE},
            )
            batch = list(page.get("comments") or ())
            comments.extend(batch)
            start += len(batch)
            if not batch or start >= int(page.get("total") or 0):
                return comments

    def _changelog(self, key: str) -> list[Mapping[str, Any]]:
        histories: list[Mapping[str, Any]] = []
        start = 0
        while True:
            page = self.http.get_json(
                f"rest/api/3/issue/{key}/changelog",
                params={"startAt": start, "maxResults": _CHANGELOG_PAGE},
            )
            batch = list(page.get("values") or ())
            histories.extend(batch)
            start += len(batch)
            if not batch or page.get("isLast", True):
                return histories
