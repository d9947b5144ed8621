"""How the fake Jira shows its records: times, ADF, error bodies, users, issues, comments
and changelogs, each with this server's own base URL in every ``self`` link.

``/rest/api/3`` shows rich text (descriptions, comments, textarea custom fields) as Atlassian
Document Format (ADF); ``/rest/api/2`` shows the same text as plain strings (reference §2.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slaplug.testing.fakeserver import HttpError
from slaplug_jira.fake.data import (
    ISSUE_TYPES,
    MONTHS,
    ORGANIZATIONS,
    ORGANIZATIONS_KIND,
    PRIORITIES,
    REQUEST_TYPE_KIND,
    RESOLUTIONS,
    STATUS_CATEGORIES,
    STATUSES,
    ChangeHistory,
    ChangeItem,
    Comment,
    FieldDef,
    Issue,
    JiraStore,
    JiraUser,
    organization_id,
    request_type_row,
)

J = dict[str, Any]

#: How Jira writes date and date time fields into a changelog item. ``from``/``to`` hold an
#: ISO 8601 value and ``fromString``/``toString`` the display text, never Unix time:
#:
#: - date time picker (``DateTimeCFType``): ``getChangelogValue`` is
#:   ``createChangelogValueForDateTimeField``, i.e. DateTimeStyle ISO_8601_DATE_TIME
#:   (``yyyy-MM-dd'T'HH:mm:ssZ``, no milliseconds: ``2026-03-02T10:00:00+0000``), and
#:   ``getChangelogString`` the date time picker format (default ``dd/MMM/yy h:mm a``:
#:   ``02/Mar/26 10:00 AM``);
#: - date picker (``DateCFType``): ``createChangelogValueForDateField`` (ISO_8601_DATE,
#:   ``2026-03-02``) and the date picker format (default ``dd/MMM/yy``: ``02/Mar/26``);
#: - the system Due date (``DueDateSystemField.updateValue``): ISO_8601_DATE in ``from``/``to``
#:   and ``Timestamp.toString()`` in the strings (``2026-03-02 00:00:00.0``), with ``field``
#:   and ``fieldId`` ``duedate`` and ``fieldtype`` ``jira``.
#:
#: Source: Jira's own field types and ``DateTimeFieldChangeLogHelperImpl`` (Jira Server source
#: as mirrored in public repositories; found with the code search, repository not named by
#: the index). The OAS ``ChangeDetails`` shows no date example. No recorded Cloud changelog
#: item of a date time picker change was found (searched: GitHub code, issues and fixtures of
#: public clients for ``fieldtype: custom`` items with ISO ``to`` values, Atlassian docs and
#: community pages); a public Jira-to-Lark sync's webhook tests use the Due date shape the
#: source gives (``"to": "2026-06-05", "toString": "2026-06-05 00:00:00.0"``), a fixture
#: not shown to be recorded. Status items match a recorded Cloud webhook
#: (reshufflehq/reshuffle-jira-connector README.md). The fake writes the values in the
#: site's zone; Jira writes them when the change is made (the author's zone).
CHANGELOG_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


# -- errors --------------------------------------------------------------------------------


def jira_error(
    status: int,
    *messages: str,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpError:
    """An error with Jira's ``ErrorCollection`` body ``{"errorMessages": [...], "errors": {}}``
    (reference §3)."""
    return HttpError(
        status, {"errorMessages": list(messages), "errors": dict(errors or {})}, headers
    )


def not_found(
    what: str = "Issue does not exist or you do not have permission to see it.",
) -> HttpError:
    """Jira's 404 for an issue it cannot show."""
    return jira_error(404, what)


# -- times ---------------------------------------------------------------------------------


class JiraTime:
    """Formats and parses times in one time zone: the zone of the fake's users, which is
    the zone JQL date literals are read in (reference §1.2)."""

    def __init__(self, zone: str = "UTC") -> None:
        self.name = zone
        self.zone = ZoneInfo(zone)

    def fmt(self, ms: int) -> str:
        """``2026-03-02T12:00:00.000+0000``: Jira's timestamp format, in this zone."""
        dt = datetime.fromtimestamp(ms / 1000, self.zone)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + dt.strftime("%z")

    def changelog_value(self, ms: int | None) -> str | None:
        """A date time picker value as a changelog ``from``/``to``: ``yyyy-MM-dd'T'HH:mm:ssZ``
        (`CHANGELOG_TIME_FORMAT`)."""
        if ms is None:
            return None
        return datetime.fromtimestamp(ms / 1000, self.zone).strftime(CHANGELOG_TIME_FORMAT)

    def picker_text(self, ms: int | None) -> str | None:
        """A date time picker value as a changelog ``fromString``/``toString``: Jira's
        default ``dd/MMM/yy h:mm a`` in English (`CHANGELOG_TIME_FORMAT`)."""
        if ms is None:
            return None
        dt = datetime.fromtimestamp(ms / 1000, self.zone)
        hour = dt.hour % 12 or 12
        noon = "AM" if dt.hour < 12 else "PM"
        return f"{dt.day:02d}/{MONTHS[dt.month - 1]}/{dt:%y} {hour}:{dt:%M} {noon}"

    def local(self, ms: int) -> datetime:
        """The time as a datetime in this zone."""
        return datetime.fromtimestamp(ms / 1000, self.zone)

    def parse_local(self, text: str) -> int:
        """Parse a JQL date literal (``yyyy-MM-dd HH:mm``, ``yyyy/MM/dd HH:mm``, or a date
        alone) as a wall time in this zone; return Unix ms.

        Raises:
            ValueError: for any other text.
        """
        norm = text.strip().replace("/", "-")
        for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                naive = datetime.strptime(norm, pattern)
            except ValueError:
                continue
            return int(naive.replace(tzinfo=self.zone).timestamp() * 1000)
        raise ValueError(text)


def parse_any_time(value: Any) -> int:
    """Unix ms from epoch seconds, a datetime, or ISO 8601 text (``Z``, ``+00:00``, ``+0000``).

    Raises:
        ValueError: if the value is none of these.
    """
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    text = str(value).strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]  # Jira's +0000 -> +00:00
    dt = datetime.fromisoformat(text)
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


# -- ADF -----------------------------------------------------------------------------------


def adf(text: str) -> J:
    """Plain text as an ADF document: one paragraph per line, as Jira converts v2 text."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_text(doc: Any) -> str:
    """The text of an ADF document: text nodes joined, block nodes on their own lines."""
    if isinstance(doc, str):
        return doc
    if not isinstance(doc, dict):
        return ""
    if doc.get("type") == "text":
        return str(doc.get("text", ""))
    if doc.get("type") == "hardBreak":
        return "\n"
    parts = [adf_text(c) for c in doc.get("content") or []]
    sep = "\n" if doc.get("type") == "doc" else ""
    return sep.join(parts)


def is_adf(value: Any) -> bool:
    """True for an ADF document (``{"type": "doc", "version": 1, "content": [...]}``)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


# -- records -------------------------------------------------------------------------------


class JiraRendering:
    """Renders records for one base URL and API version (a base of the app)."""

    base_url: str
    store: JiraStore
    time: JiraTime

    def api(self, version: str) -> str:
        """``{base_url}/rest/api/{version}``."""
        return f"{self.base_url}/rest/api/{version}"

    def avatar_urls(self, account_id: str) -> J:
        """Avatar URLs on this server (the fake serves no images)."""
        return {
            f"{n}x{n}": f"{self.base_url}/secure/useravatar?size={n}&accountId={account_id}"
            for n in (16, 24, 32, 48)
        }

    def user_json(self, u: JiraUser | None, version: str = "3", full: bool = False) -> J | None:
        """A user as ``UserDetails`` (or the full ``User`` with ``full``); None stays null."""
        if u is None:
            return None
        body: J = {
            "self": f"{self.api(version)}/user?accountId={u.account_id}",
            "accountId": u.account_id,
            "accountType": u.account_type,
            "emailAddress": u.email,
            "avatarUrls": self.avatar_urls(u.account_id),
            "displayName": u.display_name,
            "active": u.active,
            "timeZone": u.time_zone or self.time.name,
        }
        if full:
            body["locale"] = "en_US"
            body["groups"] = {"size": 1, "items": []}
            body["applicationRoles"] = {"size": 1, "items": []}
            body["expand"] = "groups,applicationRoles"
        return body

    def user_ref(self, account_id: str | None, version: str) -> J | None:
        """The user with this accountId as ``UserDetails``."""
        return self.user_json(self.store.users.get(account_id or ""), version)

    def status_category_json(self, key: str, version: str) -> J:
        """A status category."""
        cid, _, name, colour = next(c for c in STATUS_CATEGORIES if c[1] == key)
        return {
            "self": f"{self.api(version)}/statuscategory/{cid}",
            "id": cid,
            "key": key,
            "colorName": colour,
            "name": name,
        }

    def status_json(self, status_id: str, version: str) -> J:
        """A status as ``StatusDetails``."""
        sid, name, cat = next(s for s in STATUSES if s[0] == status_id)
        return {
            "self": f"{self.api(version)}/status/{sid}",
            "description": "",
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": name,
            "id": sid,
            "statusCategory": self.status_category_json(cat, version),
        }

    def priority_json(self, priority_id: str | None, version: str) -> J | None:
        """A priority, or None."""
        row = next((p for p in PRIORITIES if p[0] == priority_id), None)
        if row is None:
            return None
        pid, name, colour = row
        return {
            "self": f"{self.api(version)}/priority/{pid}",
            "iconUrl": f"{self.base_url}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": pid,
            "statusColor": colour,
            "description": f"{name} priority",
            "isDefault": pid == "3",
        }

    def resolution_json(self, resolution_id: str | None, version: str) -> J | None:
        """A resolution, or None (unresolved)."""
        row = next((r for r in RESOLUTIONS if r[0] == resolution_id), None)
        if row is None:
            return None
        return {
            "self": f"{self.api(version)}/resolution/{row[0]}",
            "id": row[0],
            "name": row[1],
            "description": row[2],
        }

    def issue_type_json(self, type_id: str, version: str) -> J:
        """An issue type."""
        name = next((n for i, n in ISSUE_TYPES if i == type_id), type_id)
        return {
            "self": f"{self.api(version)}/issuetype/{type_id}",
            "id": type_id,
            "name": name,
            "subtask": False,
            "hierarchyLevel": 0,
        }

    def organization_json(self, name: str) -> J:
        """A JSM organization as the Organizations field lists it: ``{"id", "name",
        "_links"}`` (servicedeskapi ``Organization``; the Organizations field's value is a
        list of them, e.g. ``[{"id": 1, "name": "Org 1"}]`` in public JSM test doubles)."""
        oid = organization_id(name)
        return {
            "id": oid,
            "name": next(n for i, n in ORGANIZATIONS if i == oid),
            "_links": {"self": f"{self.base_url}/rest/servicedeskapi/organization/{oid}"},
        }

    def request_type_json(self, value: str) -> J:
        """The Request Type field (``vp-origin``): the customer request type under
        ``requestType`` (servicedeskapi ``RequestType``: ``id``, ``name``, ``description``,
        ``issueTypeId``, ``serviceDeskId``; public JSM test doubles read
        ``value.requestType.id``), with its link."""
        rid, name, key, itype = request_type_row(value)
        link = f"{self.base_url}/rest/servicedeskapi/servicedesk/1/requesttype/{rid}"
        return {
            "_links": {"web": f"{self.base_url}/servicedesk/customer/portal/1"},
            "requestType": {
                "_links": {"self": link},
                "id": rid,
                "name": name,
                "description": f"{name} ({key})",
                "helpText": "",
                "issueTypeId": itype,
                "serviceDeskId": "1",
                "portalId": "1",
                "groupIds": [],
            },
        }

    def project_json(self, version: str) -> J:
        """The service project."""
        s = self.store
        return {
            "self": f"{self.api(version)}/project/{s.project_id}",
            "id": s.project_id,
            "key": s.project_key,
            "name": s.project_name,
            "projectTypeKey": "service_desk",
            "simplified": False,
        }

    def rich(self, text: str, adf_doc: J | None, version: str) -> Any:
        """Rich text: ADF in v3 (the stored document if one was written), a string in v2."""
        if version == "2":
            return text
        return adf_doc if adf_doc is not None else adf(text)

    def field_value(self, issue: Issue, f: FieldDef, version: str) -> Any:
        """One field's value as the API shows it."""
        if f.custom:
            value = issue.custom.get(f.id)
            if value is None:
                return None
            if f.kind == "select":
                label = next((v for i, v in f.options if i == value), str(value))
                return {
                    "self": f"{self.api(version)}/customFieldOption/{value}",
                    "value": label,
                    "id": value,
                }
            if f.kind == ORGANIZATIONS_KIND:
                return [self.organization_json(str(name)) for name in value]
            if f.kind == REQUEST_TYPE_KIND:
                return self.request_type_json(str(value))
            if f.kind == "textarea":
                return self.rich(str(value), None, version)
            if f.kind == "datetime":
                return self.time.fmt(int(value))
            return value  # a date picker: its yyyy-MM-dd text, as stored
        t = self.time
        system: dict[str, Any] = {
            "summary": lambda: issue.summary,
            "description": lambda: (
                self.rich(issue.description, issue.description_adf, version)
                if issue.description
                else None
            ),
            "issuetype": lambda: self.issue_type_json(issue.issue_type, version),
            "project": lambda: self.project_json(version),
            "status": lambda: self.status_json(issue.status, version),
            "priority": lambda: self.priority_json(issue.priority, version),
            "resolution": lambda: self.resolution_json(issue.resolution, version),
            "resolutiondate": lambda: (
                t.fmt(issue.resolution_date) if issue.resolution_date else None
            ),
            "assignee": lambda: self.user_ref(issue.assignee, version),
            "reporter": lambda: self.user_ref(issue.reporter, version),
            "creator": lambda: self.user_ref(issue.reporter, version),
            "labels": lambda: list(issue.labels),
            # ``yyyy-MM-dd`` or null (the OAS editIssue example sets "duedate": "2019-05-11")
            "duedate": lambda: issue.duedate,
            "created": lambda: t.fmt(issue.created),
            "updated": lambda: t.fmt(issue.updated),
            "statuscategorychangedate": lambda: t.fmt(issue.status_changed),
            "comment": lambda: self.comment_page(issue, version, 0, 5000),
        }
        return system[f.id]()

    def issue_json(
        self,
        issue: Issue,
        version: str,
        wanted: Iterable[FieldDef],
        expand: Iterable[str] = (),
    ) -> J:
        """An issue as ``IssueBean``: ``fields`` limited to ``wanted``; ``expand`` may hold
        ``changelog`` (recent histories, newest first) and ``names``/``schema``."""
        wanted = list(wanted)
        body: J = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.api(version)}/issue/{issue.id}",
            "key": issue.key,
        }
        if wanted:
            body["fields"] = {f.id: self.field_value(issue, f, version) for f in wanted}
        expand = set(expand)
        if "names" in expand:
            body["names"] = {f.id: f.name for f in wanted}
        if "schema" in expand:
            body["schema"] = {f.id: f.schema for f in wanted}
        if "changelog" in expand:
            # Only "recent updates", newest first (reference §1.2); the fake keeps 100.
            histories = list(reversed(self.store.histories.get(issue.id, [])))[:100]
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": [self.history_json(h, version) for h in histories],
            }
        return body

    def comment_json(self, c: Comment, version: str, properties: bool = False) -> J:
        """A comment; ``jsdPublic`` says whether JSM customers see it."""
        issue = self.store.issues[c.issue_id]
        body: J = {
            "self": f"{self.api(version)}/issue/{issue.id}/comment/{c.id}",
            "id": str(c.id),
            "author": self.user_ref(c.author, version),
            "body": self.rich(c.body, c.adf, version),
            "updateAuthor": self.user_ref(c.author, version),
            "created": self.time.fmt(c.created),
            "updated": self.time.fmt(c.updated),
            "jsdPublic": c.public,
        }
        if c.visibility is not None:
            body["visibility"] = c.visibility
        if properties:
            body["properties"] = (
                [] if c.public else [{"key": "sd.public.comment", "value": {"internal": True}}]
            )
        return body

    def comment_page(
        self, issue: Issue, version: str, start: int, size: int, properties: bool = False
    ) -> J:
        """A ``PageOfComments`` (oldest first)."""
        comments = self.store.comments.get(issue.id, [])
        page = comments[start : start + size]
        return {
            "comments": [self.comment_json(c, version, properties) for c in page],
            "self": f"{self.api(version)}/issue/{issue.id}/comment",
            "maxResults": size,
            "total": len(comments),
            "startAt": start,
        }

    def history_json(self, h: ChangeHistory, version: str) -> J:
        """A change history (``Changelog``)."""
        return {
            "id": str(h.id),
            "author": self.user_ref(h.author, version),
            "created": self.time.fmt(h.created),
            "items": [self.item_json(i) for i in h.items],
        }

    def item_json(self, i: ChangeItem) -> J:
        """One ``ChangeDetails``; a date time picker's values in this zone
        (`CHANGELOG_TIME_FORMAT`)."""
        if i.value_type == "datetime":
            t = self.time
            old, new = i.raw_from, i.raw_to
            texts = (t.changelog_value(old), t.picker_text(old), t.changelog_value(new),
                     t.picker_text(new))  # fmt: skip
        else:
            texts = (i.from_, i.from_string, i.to, i.to_string)
        return {
            "field": i.field,
            "fieldtype": i.fieldtype,
            "fieldId": i.field_id,
            **dict(zip(("from", "fromString", "to", "toString"), texts, strict=True)),
        }

    def field_json(self, f: FieldDef) -> J:
        """A field as ``FieldDetails``."""
        clause = [f.id, f"cf[{f.id.removeprefix('customfield_')}]"] if f.custom else [f.id]
        if f.custom:
            clause.insert(0, f.name)
        if f.id == "duedate":  # JQL's ``due`` too (AtlassianPS/JiraPS#173: {due, duedate})
            clause = ["due", "duedate"]
        return {
            "id": f.id,
            "key": f.id,
            "name": f.name,
            "custom": f.custom,
            "orderable": f.editable,
            "navigable": True,
            "searchable": True,
            "clauseNames": clause,
            "schema": f.schema,
        }


def account_id_for(seed: str, customer: bool = False) -> str:
    """A stable, realistic accountId: 24 hex digits for Atlassian accounts, ``qm:`` plus
    a UUID-like id for JSM portal customers."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    if customer:
        return f"qm:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}:{h[32:40]}"
    return "5b10" + h[:20]
