"""The fake Jira's writes: edit (``fields`` and ``update``), comments (ADF in v3, JSM
internal notes), transitions, assignee, and simulated activity (bulk edit: :mod:`.jira_bulk`).

Every accepted change records one change history, bumps ``updated`` and fires webhooks;
comments bump ``updated`` but, as in Jira, are not changelog entries (reference §2.2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from slaplug.testing.fakeserver import HttpError, Request, Response
from slaplug_jira.fake.data import (
    MONTHS,
    RESOLUTIONS,
    TRANSITIONS,
    Issue,
    JiraUser,
    by_id_or_name,
)
from slaplug_jira.fake.history import (
    DONE,
    TicketHistory,
    play_history,
    priority_id,
    status_id,
)
from slaplug_jira.fake.permissions import require
from slaplug_jira.fake.render import J, adf_text, is_adf, jira_error, parse_any_time
from slaplug_jira.fake.webhooks import JiraWebhooks

MAX_COMMENTS = 5000  # per-issue comment limit, answered 413 (reference §2.2)
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
CONFLICT = "The issue was changed by another request. Read it again and retry."
#: What Jira Cloud answers, with 403, to ``notifyUsers=false`` from a user without *Administer
#: Jira* or *Administer projects*; the whole edit is refused, nothing is written. The OAS
#: says only "the request is ignored"; the answer was recorded against a real Cloud site in
#: LetPeopleWork/Lighthouse docs/feature/quiet-jira-writeback/slices/
#: slice-03-spike-jira-notification-suppression.md (``PUT /rest/api/2/issue/SPIKEPRM-1?
#: notifyUsers=false`` -> 403, the field still null afterwards) and seen by pycontribs/jira
#: users (gfbio/gfbio-data-submission: "JiraError HTTP 403 ...?notifyUsers=false text: To
#: discard the user notification either admin or project admin permissions are required.").
NO_DISCARD = (
    "To discard the user notification either admin or project admin permissions are required."
)

#: The one text a date time picker field takes on issue create and edit:
#: ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, three decimals and a ``+hhmm`` offset. The OAS of
#: ``editIssue`` states no format; Atlassian's "JIRA REST API examples" show
#: ``"customfield_10003": "2011-10-19T10:29:29.908+1100"`` ("ISO 8601:
#: YYYY-MM-DDThh:mm:ss.sTZD") and its "Field input formats" page (developer.atlassian.com/
#: server/jira-servicedesk/info/field-input-formats) ``"2015-11-18T14:39:00.000+1100"``.
#: Recorded refusals, each 400 ``{"errorMessages": [], "errors": {field: "Error parsing
#: time: <the text>"}}``:
#:
#: - no milliseconds: coreos/issue-sync#32, ``{"errorMessages":[],"errors":
#:   {"customfield_11310":"Error parsing time: 2018-07-30T11:47:18+0200"}}``; go-jira#271
#:   ("If millisecond ... empty they will be not exist in result string ... And jira api
#:   will response with error", fixed by always writing ``.000``);
#: - a colon in the offset: sooperset/mcp-atlassian#709 ("Error parsing time:
#:   2025-09-25T13:00:00+00:00") and #863 (Cloud; fixed in #942 by sending ``+0000``);
#: - ``Z`` and other than three decimals: mojira/arisa-kt#27 ("Jira API doesnt support the
#:   full ISO format, only accepts it when it has 3 decimals after seconds ... replace the Z
#:   from ISO to -0000 for same reason"; a Jira Server site then, no Cloud record found).
#:
#: A non-string is refused with "Operation value must be a string" (getsentry/
#: sentry-plugins#185, a Unix timestamp sent to a Date Time Picker field).
EDIT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}")


def _edit_time(fid: str, value: Any) -> int:
    """A date time picker value of an issue edit, in Unix ms (see `EDIT_TIME`).

    Raises:
        HttpError: 400 with Jira's ``errors: {fid: ...}``.
    """
    if not isinstance(value, str):
        raise jira_error(400, errors={fid: "Operation value must be a string"})
    try:
        if not EDIT_TIME.fullmatch(value):
            raise ValueError(value)
        return parse_any_time(value)
    except ValueError:
        raise jira_error(400, errors={fid: f"Error parsing time: {value}"}) from None


#: The one text a date picker field and the system Due date take on issue edit: ``yyyy-MM-dd``
#: (Atlassian's "JIRA REST API examples": ``"customfield_10002": "2011-10-03"``, "The format
#: is: YYYY-MM-DD"; the OAS editIssue example sets ``"duedate": "2019-05-11"``). Anything else
#: is 400 ``{"errorMessages": [], "errors": {field: "Error parsing date string: <the text>"}}``:
#: Jira's REST layer (``DateCustomFieldOperationsHandler`` -> ``com.atlassian.jira.rest.Dates.
#: fromDateString``, Jira Server source as mirrored in public repositories) parses with a
#: non-lenient ``SimpleDateFormat("yyyy-MM-dd")`` and answers that text. No recorded Cloud
#: body of this refusal was found (searched GitHub issues and code, Atlassian and community
#: pages); that parser would also take a longer text that starts with a date
#: (``2026-03-02T10:00:00Z``), which the fake refuses (**fake's choice**: a client must not
#: rely on it). A non-string is "Operation value must be a string" (recorded for ``duedate``:
#: AtlassianPS/JiraPS#173, ``[duedate] - Operation value must be a string``; the same
#: handler's ``rest.operation.must.be.string``).
EDIT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: What bulk edit's ``datePickerFields`` takes besides ``yyyy-MM-dd``: the OAS JiraIssueFields
#: says "specify the date in ``d/mmm/yy`` format or ISO format ``dd-mm-yyyy``" (read literally:
#: ``2/Mar/26`` and ``02-03-2026``). The month name is turned into its number first
#: (`_english_month`), so ``%m`` also takes ``2/3/26``.
_BULK_DATE_FORMATS = ("%d/%m/%y", "%d-%m-%Y")


def _edit_date(fid: str, value: Any, *, lenient: bool = False) -> str | None:
    """A date picker or Due date value of an issue edit as stored (``yyyy-MM-dd``), None to
    clear it (see `EDIT_DATE`); ``lenient`` also takes bulk edit's formats.

    Raises:
        HttpError: 400 with Jira's ``errors: {fid: ...}``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise jira_error(400, errors={fid: "Operation value must be a string"})
    text = value.strip() if lenient else value
    if EDIT_DATE.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
        except ValueError:
            pass  # 2026-02-30: the parser is not lenient
    elif lenient:
        for pattern in _BULK_DATE_FORMATS:
            try:
                day = datetime.strptime(_english_month(text), pattern)
            except ValueError:
                continue
            return day.date().isoformat()
    raise jira_error(400, errors={fid: f"Error parsing date string: {value}"})


def _english_month(text: str) -> str:
    """``2/Mar/26`` with its month as a number (``2/3/26``): Jira's month abbreviations are
    English, and ``%b`` would follow the process locale."""
    parts = text.split("/")
    if len(parts) == 3 and parts[1].title() in MONTHS:
        return f"{parts[0]}/{MONTHS.index(parts[1].title()) + 1}/{parts[2]}"
    return text


class JiraWrites(JiraWebhooks):
    """Write handlers (a base of :class:`~slaplug_jira.fake.server.JiraApp`)."""

    config: Any
    find_issue: Any
    admin_user: Any

    def __init__(self, store: Any, clock: Any, time_zone: str) -> None:
        super().__init__(store, clock, time_zone)
        #: Issue ids whose next edit or transition answers 409 (``simulate("conflict")``).
        self.conflicts: dict[int, int] = {}
        #: Issue key -> edits that e-mailed the watchers (sent without ``notifyUsers=false``).
        self.watcher_emails: dict[str, int] = {}

    # -- value coercion --------------------------------------------------------------------

    def _field_value(self, fid: str, value: Any, v: str, *, lenient_time: bool = False) -> Any:
        """Validate one ``fields`` value and return it as stored.

        Raises:
            HttpError: 400 with ``errors: {fid: message}`` (Jira's shape).
        """
        f = self.store.field(fid)
        if f is None or not f.editable:
            raise jira_error(
                400,
                errors={
                    fid: f"Field '{fid}' cannot be set. It is not on the appropriate screen, "
                    "or unknown."
                },
            )

        def bad(message: str) -> HttpError:
            return jira_error(400, errors={fid: message})

        if fid == "summary":
            if not isinstance(value, str) or not value.strip():
                raise bad("You must specify a summary of the issue.")
            return value
        if fid == "description" or f.kind == "textarea":
            if value is None:
                return "" if fid == "description" else None
            # v3 takes ADF only: "" is refused like any string (OAS editIssue: "description,
            # environment, and any textarea type custom fields ... take Atlassian Document
            # Format content"); an empty doc (ADF's doc node: "content: an array of zero or
            # more nodes") empties the field, which then reads back as null.
            if v == "3" and not is_adf(value):
                raise bad(NOT_ADF)
            if v == "2" and not isinstance(value, str):
                raise bad("Specify the value as a string.")
            text = adf_text(value)
            return text if fid == "description" or text.strip() else None
        if fid == "priority":
            ref = value.get("id") or value.get("name") if isinstance(value, dict) else None
            try:
                found = priority_id(ref) if ref else None
            except ValueError:
                found = None
            if found is None:
                raise bad("Specify a valid priority id or name.")
            return found
        if fid in ("assignee", "reporter"):
            if value is None or (
                isinstance(value, dict) and value.get("accountId") in (None, "-1")
            ):
                if fid == "reporter":
                    raise bad("Reporter is required.")
                return None  # "-1" is the project default: this project has none
            aid = value.get("accountId") if isinstance(value, dict) else None
            u = self.store.users.get(str(aid))
            if u is None or (fid == "assignee" and u.account_type != "atlassian"):
                raise bad(f"Specify a valid value for {fid}.")
            return u.account_id
        if fid == "labels":
            return self._labels(value)
        if f.kind == "textfield":
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                raise bad("Specify a string of at most 255 characters.")
            return value or None
        if f.kind == "float":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise bad("Specify a number.")
            return value
        if f.kind == "datetime":
            if value is None:
                return None
            if lenient_time:  # simulated UI edits and bulk formattedDateTime ("ISO format")
                try:
                    return parse_any_time(str(value))
                except ValueError:
                    raise bad(f"Error parsing time: {value}") from None
            return _edit_time(fid, value)
        if fid == "duedate" or f.kind == "datepicker":
            return _edit_date(fid, value, lenient=lenient_time)
        if f.kind == "select":
            if value is None:
                return None
            ref = value.get("id") or value.get("value") if isinstance(value, dict) else None
            found = next((i for i, label in f.options if ref in (i, label)), None)
            if found is None:
                raise bad(f"Option value '{ref}' is not valid.")
            return found
        return value

    @staticmethod
    def _labels(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise jira_error(400, errors={"labels": "Specify the labels as a list of strings."})
        for x in value:
            if " " in x or not x:
                raise jira_error(
                    400, errors={"labels": f"The label '{x}' contains spaces which is invalid."}
                )
        return list(dict.fromkeys(value))

    def _edits(self, issue: Issue, body: Mapping[str, Any], v: str) -> dict[str, Any]:
        """The changes an ``IssueUpdateDetails`` body asks for (``fields`` and ``update``)."""
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise jira_error(400, "fields and update must be JSON objects.")
        changes: dict[str, Any] = {}
        for fid, value in fields.items():
            if fid == "status":
                continue  # the edit endpoint ignores status; use a transition (reference §2.2)
            if fid in update:
                raise jira_error(
                    400, errors={fid: "Field cannot be in both 'fields' and 'update'."}
                )
            changes[fid] = self._field_value(fid, value, v)
        for fid, ops in update.items():
            if fid == "comment":
                continue  # handled by the caller (transitions accept it)
            if not isinstance(ops, list):
                raise jira_error(400, errors={fid: "Operations must be a list."})
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    raise jira_error(400, errors={fid: "Each operation has one verb."})
                verb, value = next(iter(op.items()))
                if verb == "set":
                    changes[fid] = self._field_value(fid, value, v)
                elif fid == "labels" and verb in ("add", "remove"):
                    current = list(changes.get("labels", issue.labels))
                    (label,) = self._labels([value])
                    if verb == "add" and label not in current:
                        current.append(label)
                    if verb == "remove" and label in current:
                        current.remove(label)
                    changes["labels"] = current
                else:
                    raise jira_error(
                        400, errors={fid: f"Field '{fid}' does not support operation '{verb}'."}
                    )
        return changes

    def _check_conflict(self, issue: Issue) -> None:
        if self.conflicts.get(issue.id):
            self.conflicts[issue.id] -= 1
            raise jira_error(409, CONFLICT)

    def apply(self, issue: Issue, author: str, changes: dict[str, Any]) -> None:
        """Record ``changes`` as one change history and notify webhooks."""
        history = self.store.change(issue, author, self.now_ms(), changes)
        if history is not None:
            self.notify_changed(issue, history)

    # -- endpoints -------------------------------------------------------------------------

    def edit_issue(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``PUT /rest/api/3/issue/{key}``: 204, or 200 with the issue for ``returnIssue``.

        ``notifyUsers=false`` (no e-mail to the watchers) needs *Administer Jira* or
        *Administer projects* (OAS ``notifyUsers``); without either the whole edit is
        refused with 403 `NO_DISCARD` (recorded Cloud behaviour, see there). Each accepted
        edit without it is counted in ``watcher_emails``.
        """
        issue = self.find_issue(key)
        require(user, "EDIT_ISSUES", "edit this issue")
        quiet = req.query.get("notifyUsers", "true").lower() == "false"
        if quiet and not (user.admin or user.project_admin):
            raise jira_error(403, NO_DISCARD)
        body = req.json()
        if not isinstance(body, dict):
            raise jira_error(400, "The request body must be a JSON object.")
        changes = self._edits(issue, body, v)
        self._check_conflict(issue)
        before = len(self.store.histories.get(issue.id, []))
        self.apply(issue, user.account_id, changes)
        if not quiet and len(self.store.histories.get(issue.id, [])) > before:
            self.watcher_emails[issue.key] = self.watcher_emails.get(issue.key, 0) + 1
        if req.query.get("returnIssue") == "true":
            return Response(200, self.issue_json(issue, v, self.store.fields))
        return Response(204)

    def _comment_body(self, raw: Any, v: str) -> tuple[str, J | None]:
        if v == "3":
            if not is_adf(raw):
                raise jira_error(400, errors={"comment": NOT_ADF})
            text = adf_text(raw)
            if not text.strip():
                raise jira_error(400, errors={"comment": "Comment body can not be empty!"})
            return text, raw
        if not isinstance(raw, str) or not raw.strip():
            raise jira_error(400, errors={"comment": "Comment body can not be empty!"})
        return raw, None

    def add_comment(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``POST /rest/api/3/issue/{key}/comment``: ADF body in v3, a string in v2;
        ``properties: [{"key": "sd.public.comment", "value": {"internal": true}}]`` makes
        a JSM internal note (reference §2.2)."""
        issue = self.find_issue(key)
        require(user, "ADD_COMMENTS", "comment on this issue")
        body = req.json()
        if not isinstance(body, dict):
            raise jira_error(400, "The request body must be a JSON object.")
        text, doc = self._comment_body(body.get("body"), v)
        public = True
        for prop in body.get("properties") or []:
            if isinstance(prop, dict) and prop.get("key") == "sd.public.comment":
                public = not bool((prop.get("value") or {}).get("internal"))
        visibility = body.get("visibility")
        if visibility is not None and (
            not isinstance(visibility, dict) or visibility.get("type") not in ("role", "group")
        ):
            raise jira_error(400, errors={"visibility": "Visibility type must be role or group."})
        if len(self.store.comments[issue.id]) >= MAX_COMMENTS:
            raise jira_error(413, f"This issue has reached the limit of {MAX_COMMENTS} comments.")
        c = self.store.comment(issue, user.account_id, self.now_ms(), text, public, doc, visibility)
        self.notify_comment(issue, c)
        return Response(201, self.comment_json(c, v, properties=True))

    def jsm_comment(self, req: Request, key: str, user: JiraUser) -> Response:
        """``POST /rest/servicedeskapi/request/{key}/comment`` ``{"body", "public"}``."""
        issue = self.find_issue(key)
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise jira_error(400, "body is required.")
        now = self.now_ms()
        c = self.store.comment(
            issue, user.account_id, now, body["body"], bool(body.get("public", True))
        )
        self.notify_comment(issue, c)
        return Response(
            201,
            {
                "id": str(c.id),
                "body": c.body,
                "public": c.public,
                "author": {
                    "accountId": user.account_id,
                    "displayName": user.display_name,
                    "emailAddress": user.email,
                },
                "created": {"iso8601": self.time.fmt(now), "epochMillis": now},
                "_links": {
                    "self": f"{self.base_url}/rest/servicedeskapi/request/{issue.id}/comment/{c.id}"
                },
            },
        )

    def do_transition(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``POST /rest/api/3/issue/{key}/transitions`` ``{"transition": {"id"}, "fields",
        "update"}``; a done status gets resolution Done unless ``fields.resolution`` says
        otherwise, and reopening clears it. 204."""
        issue = self.find_issue(key)
        require(user, "TRANSITION_ISSUES", "transition this issue")
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("transition"), dict):
            raise jira_error(400, errors={"transition": "A transition id is required."})
        tid = str(body["transition"].get("id", ""))
        row = next((t for t in TRANSITIONS if t[0] == tid and issue.status in t[3]), None)
        if row is None:
            raise jira_error(400, f"Transition id '{tid}' is not valid for this issue.")
        fields = dict(body.get("fields") or {})
        resolution = fields.pop("resolution", None)
        changes = self._edits(issue, {"fields": fields, "update": body.get("update") or {}}, v)
        changes["status"] = row[2]
        if row[2] in ("5", "6"):
            if resolution is not None:
                ref = (
                    resolution.get("id") or resolution.get("name")
                    if isinstance(resolution, dict)
                    else None
                )
                found = by_id_or_name(RESOLUTIONS, ref) if ref else None
                if found is None:
                    raise jira_error(400, errors={"resolution": "Specify a valid resolution."})
                changes["resolution"] = found
            elif issue.resolution is None:
                changes["resolution"] = DONE
        else:
            changes["resolution"] = None
        self._check_conflict(issue)
        self.apply(issue, user.account_id, changes)
        for op in (body.get("update") or {}).get("comment") or []:
            add = op.get("add") if isinstance(op, dict) else None
            if isinstance(add, dict):
                text, doc = self._comment_body(add.get("body"), v)
                c = self.store.comment(issue, user.account_id, self.now_ms(), text, True, doc)
                self.notify_comment(issue, c)
        return Response(204)

    def assign_issue(self, req: Request, v: str, key: str, user: JiraUser) -> Response:
        """``PUT /rest/api/3/issue/{key}/assignee`` ``{"accountId": ...}`` (null unassigns)."""
        issue = self.find_issue(key)
        body = req.json()
        if not isinstance(body, dict):
            raise jira_error(400, "The request body must be a JSON object.")
        assignee = self._field_value("assignee", body, v)
        self.apply(issue, user.account_id, {"assignee": assignee})
        return Response(204)

    # -- simulated activity ----------------------------------------------------------------

    def simulate(self, kind: str, key: str | None = None, **params: Any) -> J:
        """Change the site as its users would (not recorded as API writes); see the docs.

        Raises:
            HttpError: 400/404 as for an API write.
        """
        with self.lock:  # type: ignore[attr-defined]
            if kind == "create":
                reporter = params.get("reporter") or next(
                    u.account_id for u in self.store.users.values() if u.account_type == "customer"
                )
                issue = play_history(
                    self.store,
                    TicketHistory(
                        created=self.now_ms() / 1000,
                        reporter=reporter,
                        summary=params.get("summary", "New request"),
                        description=params.get("description", "Please help."),
                        priority=params.get("priority", "Medium"),
                        labels=tuple(params.get("labels", ())),
                    ),
                )
                self.notify_created(issue, issue.reporter)
                return self.issue_json(issue, "3", self.store.fields)
            if key is None:
                raise jira_error(400, "key is required.")
            issue = self.find_issue(key)
            agent = params.get("author") or issue.assignee or self.store.agents()[1].account_id
            body = params.get("body")
            if kind == "conflict":
                self.conflicts[issue.id] = self.conflicts.get(issue.id, 0) + int(
                    params.get("times", 1)
                )
            elif kind in ("customer_reply", "agent_reply", "internal_note"):
                author = issue.reporter if kind == "customer_reply" else agent
                changes: dict[str, Any] = {}
                if kind == "customer_reply" and issue.status == "10001":
                    changes["status"] = "3"  # JSM: a customer's reply goes back to support
                if kind == "agent_reply" and params.get("status"):
                    changes["status"] = status_id(params["status"])
                if changes:
                    self.apply(issue, author, changes)
                default = {"customer_reply": "Any news on this?", "agent_reply": "Thanks, we are on it.", "internal_note": "Internal note."}[kind]  # fmt: skip
                c = self.store.comment(
                    issue, author, self.now_ms(), body or default, kind != "internal_note"
                )
                self.notify_comment(issue, c)
            elif kind == "status":
                new = status_id(params.get("value"))
                changes = {"status": new}
                if new in ("5", "6") and issue.resolution is None:
                    changes["resolution"] = DONE
                elif new not in ("5", "6"):
                    changes["resolution"] = None
                self.apply(issue, agent, changes)
            elif kind in ("priority", "assignee", "labels", "duedate") or kind.startswith(
                "customfield_"
            ):
                value = params.get("value")
                if kind == "priority":
                    value = {"name": value} if isinstance(value, str) else value
                if kind == "assignee":
                    value = {"accountId": value} if isinstance(value, str) else value
                self.apply(
                    issue, agent, {kind: self._field_value(kind, value, "2", lenient_time=True)}
                )
            else:
                raise jira_error(400, f"unknown simulate kind {kind!r}")
            return self.issue_json(issue, "3", self.store.fields)
