"""Writing: planned actions merged into as few Jira calls as possible, and only changes.

For each issue with actions, the writer reads the issue once
(``GET /rest/api/3/issue/{key}`` with labels, priority, status, assignee, comments and the
configured fields), drops what is already in place (ALREADY), and then:

* merges labels, mapped fields, priority and assignee into **one**
  ``PUT /rest/api/3/issue/{key}?notifyUsers=false`` (``update.labels`` add/remove, never the
  whole list; a date time picker field as ``2026-12-07T15:00:00.000+0000``, the one text
  Jira takes there, see `to_jira_time`; a date picker and the system Due date
  (``fields.duedate``) as ``2026-12-07``), so slaplug's edits do not e-mail every watcher;
  where the API user lacks the rights for that (Jira answers 403), the same edit is sent
  once more without it, and that project is edited without it from then on;
  when many issues get the very same label / text-field edit, one
  ``POST /rest/api/3/bulk/issues/fields`` task does it for all of them instead;
* posts each new comment with ``POST /rest/api/3/issue/{key}/comment`` (ADF body, JSM
  internal through the ``sd.public.comment`` property), ending with a marker keyed by the
  connector's `MarkerKey` (notes.py) so a retry finds it and answers ALREADY; a marker
  counts only in the API user's own comments, internal ones for internal notes;
* changes the status last through a transition (``GET``, then ``POST``
  ``/rest/api/3/issue/{key}/transitions``), since a done issue may refuse edits.

A comment POST (and a transition) whose answer is lost after Jira may have applied it (a
5xx, a read timeout, a dropped connection) is not resent blindly: the client's
``before_retry`` hook re-reads the issue first and resends only if the comment's marker is
missing (the transition's target status not reached). A comment found posted reports
ALREADY; a transition found done reports APPLIED.

``notify`` is SKIPPED: notifiers deliver it. JSM's SLA fields are never written.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slaplug.connectors import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApiClient,
    ApplyResult,
    ApplyStatus,
    BeforeRetry,
    LostAnswer,
)
from slaplug.errors import (
    AuthenticationError,
    ConflictError,
    ConnectorError,
    FatalAPIError,
    SkippableAPIError,
)
from slaplug.model import Action, ActionKind
from slaplug_jira.adf import adf_text, text_to_adf
from slaplug_jira.config import DUE_DATE, JiraConfig, Normalizer
from slaplug_jira.events import SD_PUBLIC_COMMENT
from slaplug_jira.notes import OwnNotes, comment_marker
from slaplug_jira.read import JiraReader

__all__ = ["JiraWriter", "comment_marker"]  # comment_marker: re-exported from notes.py

logger = logging.getLogger(__name__)

_WRITE_FIELDS = ("labels", "priority", "status", "assignee", "comment")
#: ``notifyUsers=false``: no e-mail to the watchers. It needs *Administer Jira* or *Administer
#: projects* (OAS ``editIssue``). The OAS says a request without them "is ignored", but Jira
#: Cloud refuses the whole edit with 403 "To discard the user notification either admin or
#: project admin permissions are required." and writes nothing (recorded against a Cloud
#: site: LetPeopleWork/Lighthouse docs/feature/quiet-jira-writeback/slices/
#: slice-03-spike-jira-notification-suppression.md; pycontribs users see the same 403,
#: e.g. gfbio/gfbio-data-submission). Hence the loud retry in `JiraWriter._edit`.
_QUIET = {"notifyUsers": "false"}
#: System fields that take ADF in v3, besides ``textarea`` custom fields (OAS ``editIssue``).
_RICH_SYSTEM_FIELDS = frozenset({"description", "environment"})
_BULK_DONE = frozenset({"COMPLETE", "FAILED", "CANCELLED", "DEAD"})


@dataclass
class _Plan:
    """What one issue needs, once the actions already in place are set aside."""

    key: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    labels: list[dict[str, str]] = field(default_factory=list)
    edits: list[int] = field(default_factory=list)  # indexes of actions the edit carries
    comments: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    typed: set[str] = field(default_factory=set)  # fields whose value is not plain text

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.fields:
            body["fields"] = self.fields
        if self.labels:
            body["update"] = {"labels": self.labels}
        return body

    def bulk_signature(self) -> str | None:
        """A key equal for issues the bulk edit can serve with one payload, else None.

        Only label edits all in one direction and plain-text custom fields qualify:
        the bulk API takes one option (ADD or REMOVE) per field, and a text value is the
        only custom-field shape the writer can be sure of.
        """
        if not self.edits or any(
            not (k.startswith("customfield_") and isinstance(v, str)) or k in self.typed
            for k, v in self.fields.items()
        ):
            return None
        if len({next(iter(op)) for op in self.labels}) > 1:
            return None
        return json.dumps([sorted(self.fields.items()), self.labels], sort_keys=True)


class JiraWriter:
    """Applies actions through one `ApiClient`.

    Args:
        http: The connector's client.
        config: The configuration.
        norm: The name maps.
        reader: Reads an issue's comments (topping up truncated ones).
        notes: Makes comment markers and finds the connector's own comments.
    """

    def __init__(
        self,
        http: ApiClient,
        config: JiraConfig,
        norm: Normalizer,
        reader: JiraReader,
        notes: OwnNotes,
    ) -> None:
        self.http = http
        self.config = config
        self.norm = norm
        self.reader = reader
        self.notes = notes
        self.bulk_min = config.bulk_edit_min_issues
        self._users: dict[str, str | None] = {}
        self._fields = [*_WRITE_FIELDS, *dict.fromkeys(config.fields.values())]
        #: Projects where ``notifyUsers=false`` was refused (403): edited loud from then on.
        self._loud: set[str] = set()
        #: Field id -> the end of its ``schema.custom`` type (or its system name), from
        #: ``GET /rest/api/3/field``, read once when a field's type is needed.
        self._field_types: dict[str, str] | None = None

    def apply(self, actions: Sequence[Action]) -> list[ApplyResult]:
        """Apply ``actions``; one result per action, in order (see the module docstring).

        Raises:
            AuthenticationError: Credentials or permissions are wrong (fix the config).
            RetriableAPIError: Jira stayed unavailable; the outbox retries the batch, and
                what was written already then reports ALREADY.
        """
        results: dict[int, ApplyResult] = {}
        by_issue: dict[str, list[int]] = {}
        for i, a in enumerate(actions):
            if a.shadow:
                results[i] = ApplyResult(
                    a.key, ApplyStatus.SKIPPED, "shadow action: evaluated, never written"
                )
            elif a.kind is ActionKind.NOTIFY:
                results[i] = ApplyResult(
                    a.key, ApplyStatus.SKIPPED, "notify is delivered by the notifiers"
                )
            else:
                by_issue.setdefault(a.ticket_id, []).append(i)
        plans = []
        for key, indexes in by_issue.items():
            plan = self._plan(key, indexes, actions, results)
            if plan is not None:
                plans.append(plan)
        for plan in self._bulk(plans, actions, results):
            self._write(plan, actions, results)
        return [results[i] for i in range(len(actions))]

    # -- planning -------------------------------------------------------------------------

    def _plan(
        self,
        key: str,
        indexes: list[int],
        actions: Sequence[Action],
        results: dict[int, ApplyResult],
    ) -> _Plan | None:
        try:
            issue = self.http.get_json(f"rest/api/3/issue/{key}", params={"fields": self._fields})
        except (SkippableAPIError, ConflictError) as exc:
            for i in indexes:
                results[i] = ApplyResult(actions[i].key, ApplyStatus.FAILED, _detail(exc, key))
            return None
        current: Mapping[str, Any] = issue.get("fields") or {}
        plan = _Plan(key=str(issue.get("key", key)), id=str(issue.get("id", "")))
        labels = set(current.get("labels") or ())
        comments: list[Mapping[str, Any]] | None = None  # read once, when needed
        for i in indexes:
            a = actions[i]
            done = ApplyResult(a.key, ApplyStatus.ALREADY)
            if a.kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
                tag = str(a.params["tag"])
                adding = a.kind is ActionKind.ADD_TAG
                if (tag in labels) == adding:
                    results[i] = done
                    continue
                op = {"add" if adding else "remove": tag}
                if op not in plan.labels:
                    plan.labels.append(op)
                plan.edits.append(i)
            elif a.kind is ActionKind.SET_FIELD:
                outcome = self._set_field(plan, a, current)
                if outcome is not None:
                    results[i] = outcome
                else:
                    plan.edits.append(i)
            elif a.kind is ActionKind.SET_PRIORITY:
                name = self.norm.jira_priority(str(a.params["priority"]))
                now = (current.get("priority") or {}).get("name") or ""
                if now.casefold() == name.casefold():
                    results[i] = done
                    continue
                plan.fields["priority"] = {"name": name}
                plan.edits.append(i)
            elif a.kind is ActionKind.ASSIGN:
                account, why = self._account(a.params)
                if account is None:
                    results[i] = ApplyResult(a.key, ApplyStatus.FAILED, why)
                elif (current.get("assignee") or {}).get("accountId") == account:
                    results[i] = done
                else:
                    plan.fields["assignee"] = {"accountId": account}
                    plan.edits.append(i)
            elif a.kind is ActionKind.COMMENT:
                if comments is None:
                    comments = self.reader.comments(issue)
                marker = self.notes.marker(a.key)
                internal = not a.params.get("public", False)
                if self.notes.posted(plan.key, comments, marker, internal=internal):
                    results[i] = done
                else:
                    plan.comments.append(i)
            elif a.kind is ActionKind.SET_STATUS:
                names = {n.casefold() for n in self.norm.jira_statuses(str(a.params["status"]))}
                if str((current.get("status") or {}).get("name") or "").casefold() in names:
                    results[i] = done
                else:
                    plan.statuses.append(i)
            else:
                results[i] = ApplyResult(
                    a.key, ApplyStatus.SKIPPED, f"{a.kind} is not written to Jira"
                )
        return plan

    def _set_field(self, plan: _Plan, a: Action, current: Mapping[str, Any]) -> ApplyResult | None:
        name = str(a.params["field"])
        fid = self.config.fields.get(name) or (name if name.startswith("customfield_") else None)
        if fid is None:
            return ApplyResult(
                a.key,
                ApplyStatus.FAILED,
                f"no Jira field for {name!r}: map it under fields: (e.g. {name}: customfield_10050)",
            )
        value = a.params["value"]
        now = current.get(fid)
        if isinstance(now, Mapping) and ("ongoingCycle" in now or "completedCycles" in now):
            # JSM computes its SLA fields itself; there is no write path for integrations.
            return ApplyResult(
                a.key,
                ApplyStatus.FAILED,
                f"{fid} is a JSM SLA field, which is read-only; map {name!r} to a field of your own",
            )
        if self._is_datetime(fid, now):
            return self._set_time(plan, a, fid, name, value, now)
        if self._is_date(fid, now):
            return self._set_date(plan, a, fid, name, value, now)
        if isinstance(now, Mapping) and "value" in now:  # a select list: write the option
            same, wanted = now.get("value") == value, {"value": value}
        elif (isinstance(now, Mapping) and now.get("type") == "doc") or (
            now is None and self._is_rich(fid)
        ):
            # A multi-line text takes ADF only, also when it is empty now (v3 shows null, so
            # the field list tells its type) and when it is emptied: "" and a plain string
            # are refused (OAS editIssue); an empty doc is valid ADF (the doc node's content
            # is "an array of zero or more nodes").
            text = "" if value is None else str(value)
            same, wanted = adf_text(now).strip() == text.strip(), text_to_adf(text)
        else:
            same, wanted = now == value, value
        if same:
            return ApplyResult(a.key, ApplyStatus.ALREADY)
        plan.fields[fid] = wanted
        return None

    def _set_time(
        self, plan: _Plan, a: Action, fid: str, name: str, value: Any, now: Any
    ) -> ApplyResult | None:
        """A date time picker field: the value (a live field's ``instant`` or ``local``
        deadline, any ISO 8601 date and time) rewritten in the one format Jira takes on edit,
        ``2026-12-07T15:00:00.000+0000`` (see `to_jira_time`); compared with the current
        value as an instant, since Jira shows it in its own zone."""
        if value is None:
            wanted = None
        else:
            try:
                wanted = to_jira_time(value)
            except ValueError:
                return ApplyResult(
                    a.key,
                    ApplyStatus.FAILED,
                    f"{fid} ({name!r}) is a Jira date time field and {value!r} is not a date "
                    "and time: give a live field on it format instant or local, not date or a "
                    "paused text, or map it to a text field",
                )
        if _same_time(now, wanted):
            return ApplyResult(a.key, ApplyStatus.ALREADY)
        plan.fields[fid] = wanted
        plan.typed.add(fid)
        return None

    def _set_date(
        self, plan: _Plan, a: Action, fid: str, name: str, value: Any, now: Any
    ) -> ApplyResult | None:
        """A date picker field or the system Due date: only ``yyyy-MM-dd`` (a live field's
        ``date`` format), which Jira takes on edit; anything else it refuses with 400 "Error
        parsing date string" (``slaplug_jira.fake.writes.EDIT_DATE``), so that write fails
        here, alone. Kept out of bulk edits, whose text list does not take a date."""
        text = None if value is None else str(value)
        if text is not None and not _is_iso_date(text):
            what = "the Jira system Due date" if fid == DUE_DATE else "a Jira date picker field"
            return ApplyResult(
                a.key,
                ApplyStatus.FAILED,
                f"{fid} ({name!r}) is {what} and {value!r} is not a date "
                "(YYYY-MM-DD): give a live field on it format date and no paused text, or map "
                "it to a date time or text field",
            )
        if now == text:
            return ApplyResult(a.key, ApplyStatus.ALREADY)
        plan.fields[fid] = text
        plan.typed.add(fid)
        return None

    def _is_date(self, fid: str, now: Any) -> bool:
        """Whether ``fid`` takes a date alone: the system Due date, or a date picker field
        (schema ``custom`` ends in ``:datepicker``), looked up only when the field is empty
        or shows a date."""
        if fid == DUE_DATE:
            return True
        if not fid.startswith("customfield_"):
            return False
        if now is not None and not (isinstance(now, str) and _ISO_DATE.fullmatch(now)):
            return False
        return self._field_type(fid) == "datepicker"

    def _is_datetime(self, fid: str, now: Any) -> bool:
        """Whether ``fid`` is a date time picker field (schema ``custom`` ends in
        ``:datetime``). Looked up only when the field is empty or shows a Jira time, so
        writes to other fields cost no field list."""
        if not fid.startswith("customfield_"):
            return False
        if now is not None and not (isinstance(now, str) and _JIRA_TIME.fullmatch(now)):
            return False
        return self._field_type(fid) == "datetime"

    def _is_rich(self, fid: str) -> bool:
        """Whether a field takes ADF: ``description``, ``environment`` and ``textarea``
        custom fields (OAS ``editIssue``)."""
        if fid in _RICH_SYSTEM_FIELDS:
            return True
        return self._field_type(fid) == "textarea"

    def _field_type(self, fid: str) -> str:
        """A field's type: the end of its schema ``custom`` key (``textarea``, ``datetime``),
        from one ``GET /rest/api/3/field`` per connector."""
        if self._field_types is None:
            listed = self.http.get_json("rest/api/3/field")
            self._field_types = {
                str(f.get("id")): str(
                    (f.get("schema") or {}).get("custom")
                    or (f.get("schema") or {}).get("system")
                    or ""
                ).rsplit(":", 1)[-1]
                for f in listed or ()
                if isinstance(f, Mapping)
            }
        return self._field_types.get(fid, "")

    def _account(self, params: Mapping[str, Any]) -> tuple[str | None, str]:
        user = params.get("user")
        if user:
            user = str(user)
            if "@" not in user:
                return user, ""
            return self.lookup_user(user), f"no Jira user found for {user!r}"
        group = params.get("group")
        if group and str(group) in self.config.groups:
            return self.config.groups[str(group)], ""
        return None, (
            f"Jira assigns issues to users only; map group {group!r} to an accountId under groups:"
        )

    def lookup_user(self, email: str) -> str | None:
        """The accountId of the user ``GET /rest/api/3/user/search`` finds for ``email``
        (an exact e-mail match first), remembered; None when there is none."""
        if email not in self._users:
            found = self.http.get_json("rest/api/3/user/search", params={"query": email})
            matches = [
                u
                for u in found or ()
                if str(u.get("emailAddress", "")).casefold() == email.casefold()
            ]
            chosen = (matches or list(found or ()))[:1]
            self._users[email] = chosen[0].get("accountId") if chosen else None
        return self._users[email]

    # -- writing --------------------------------------------------------------------------

    def _write(
        self, plan: _Plan, actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        if plan.edits:
            self._edit(plan, actions, results)
        for i in plan.comments:
            a = actions[i]
            marker = self.notes.marker(a.key)
            internal = not a.params.get("public", False)
            body: dict[str, Any] = {
                "body": text_to_adf(str(a.params.get("body", "")), marker=marker)
            }
            if internal:
                body["properties"] = [{"key": SD_PUBLIC_COMMENT, "value": {"internal": True}}]
            self._call(
                [i],
                actions,
                results,
                plan.key,
                "POST",
                f"rest/api/3/issue/{plan.key}/comment",
                body,
                before_retry=self._unless_commented(plan.key, marker, internal),
            )
        for i in plan.statuses:
            self._transition(plan.key, i, actions, results)

    def _edit(
        self, plan: _Plan, actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        """The issue's one edit, without e-mailing its watchers where Jira lets us.

        A 403 to ``notifyUsers=false`` refused the whole edit (see `_QUIET`): the identical
        edit goes again without it. If that is applied, the 403 was about the e-mails, and
        the project is edited loud from then on (one warning); a 403 that persists is a
        permission problem like any other and raises `AuthenticationError`.
        """
        project = plan.key.rpartition("-")[0]
        path = f"rest/api/3/issue/{plan.key}"
        body = plan.body()
        if project not in self._loud:
            try:
                self._call(plan.edits, actions, results, plan.key, "PUT", path, body, params=_QUIET)
                return
            except AuthenticationError as exc:
                if exc.status != 403:
                    raise
        status = self._call(plan.edits, actions, results, plan.key, "PUT", path, body)
        if status is ApplyStatus.APPLIED and project not in self._loud:
            self._loud.add(project)
            logger.warning(
                "Jira refused notifyUsers=false for %s (the API user lacks Administer Jira "
                "or Administer projects there): slaplug's edits in project %s e-mail the "
                "issues' watchers; grant Administer projects to keep them quiet",
                plan.key,
                project or "?",
            )

    def _transition(
        self, key: str, i: int, actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        a = actions[i]
        target = str(a.params["status"])
        names = {n.casefold() for n in self.norm.jira_statuses(target)}
        try:
            listed = self.http.get_json(f"rest/api/3/issue/{key}/transitions")
        except (SkippableAPIError, ConflictError, FatalAPIError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            results[i] = ApplyResult(a.key, ApplyStatus.FAILED, _detail(exc, key))
            return
        transitions = listed.get("transitions") or []
        chosen = next(
            (
                t
                for t in transitions
                if str((t.get("to") or {}).get("name", "")).casefold() in names
            ),
            None,
        )
        if chosen is None:
            offered = (
                ", ".join(sorted({str((t.get("to") or {}).get("name")) for t in transitions}))
                or "none"
            )
            results[i] = ApplyResult(
                a.key,
                ApplyStatus.FAILED,
                f"no transition of {key} leads to {target!r} (reachable: {offered})",
            )
            return
        body = {"transition": {"id": str(chosen["id"])}}
        self._call(
            [i],
            actions,
            results,
            key,
            "POST",
            f"rest/api/3/issue/{key}/transitions",
            body,
            before_retry=self._unless_in_status(key, names),
            sent=ApplyStatus.APPLIED,
        )

    def _unless_commented(self, key: str, marker: str, internal: bool) -> BeforeRetry:
        """A ``before_retry`` hook: resend the comment unless the connector's own comment
        ending in ``marker`` is on the issue (see `OwnNotes.posted`)."""

        def check(lost: LostAnswer) -> Any:
            issue = self.http.get_json(f"rest/api/3/issue/{key}", params={"fields": "comment"})
            comments = self.reader.comments(issue)
            posted = self.notes.posted(key, comments, marker, internal=internal)
            return NOTHING_TO_SEND if posted else lost.json

        return check

    def _unless_in_status(self, key: str, names: set[str]) -> BeforeRetry:
        """A ``before_retry`` hook: resend the transition unless the issue reached it."""

        def check(lost: LostAnswer) -> Any:
            issue = self.http.get_json(f"rest/api/3/issue/{key}", params={"fields": "status"})
            now = str(((issue.get("fields") or {}).get("status") or {}).get("name") or "")
            return NOTHING_TO_SEND if now.casefold() in names else lost.json

        return check

    def _call(
        self,
        indexes: list[int],
        actions: Sequence[Action],
        results: dict[int, ApplyResult],
        key: str,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        params: Mapping[str, str] | None = None,
        before_retry: BeforeRetry | None = None,
        sent: ApplyStatus = ApplyStatus.ALREADY,
    ) -> ApplyStatus:
        """Send one write for the actions at ``indexes`` and return their status; ``sent``
        is their status when the hook finds that a lost attempt had already applied it.

        Raises:
            AuthenticationError: 401/403 (permissions are configuration, not one action's).
        """
        try:
            self.http.request(method, path, params=params, json=body, before_retry=before_retry)
        except AlreadySent:
            outcome = ApplyResult("", sent, "applied by an earlier attempt whose answer was lost")
        except ConflictError as exc:
            outcome = ApplyResult("", ApplyStatus.CONFLICT, _detail(exc, key))
        except (SkippableAPIError, FatalAPIError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            outcome = ApplyResult("", ApplyStatus.FAILED, _detail(exc, key))
        else:
            outcome = ApplyResult("", ApplyStatus.APPLIED)
        for i in indexes:
            results[i] = ApplyResult(actions[i].key, outcome.status, outcome.detail)
        return outcome.status

    # -- bulk -----------------------------------------------------------------------------

    def _bulk(
        self, plans: list[_Plan], actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> list[_Plan]:
        """Run the bulk-editable edits as bulk tasks; return the plans still to write.

        Plans served by a bulk task keep their comments and transitions, which the
        caller still writes.
        """
        if self.bulk_min <= 0:
            return plans
        groups: dict[str, list[_Plan]] = {}
        for plan in plans:
            sig = plan.bulk_signature()
            if sig is not None:
                groups.setdefault(sig, []).append(plan)
        for group in groups.values():
            if len(group) < self.bulk_min or self.bulk_min <= 0:
                continue
            for start in range(0, len(group), 1000):  # the API takes 1000 issues a task
                if self._bulk_edit(group[start : start + 1000], actions, results):
                    for plan in group[start : start + 1000]:
                        plan.edits = []  # done: the per-issue PUT is skipped
        return plans

    def _bulk_edit(
        self, group: list[_Plan], actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> bool:
        first = group[0]
        edited: dict[str, Any] = {}
        selected: list[str] = []
        if first.labels:
            option = "ADD" if "add" in first.labels[0] else "REMOVE"
            edited["labelsFields"] = [
                {
                    "fieldId": "labels",
                    "bulkEditMultiSelectFieldOption": option,
                    "labels": [{"name": next(iter(op.values()))} for op in first.labels],
                }
            ]
            selected.append("labels")
        if first.fields:
            edited["singleLineTextFields"] = [
                {"fieldId": k, "text": v} for k, v in sorted(first.fields.items())
            ]
            selected.extend(sorted(first.fields))
        payload = {
            "selectedIssueIdsOrKeys": [p.key for p in group],
            "selectedActions": selected,
            "editedFieldsInput": edited,
            "sendBulkNotification": False,
        }
        try:
            task = self.http.request("POST", "rest/api/3/bulk/issues/fields", json=payload).json()
        except (AuthenticationError, FatalAPIError) as exc:
            if isinstance(exc, AuthenticationError) and exc.status != 403:
                raise
            # Usually the missing global Bulk change permission: edit issue by issue.
            logger.warning("bulk edit refused (%s); editing issue by issue from now on", exc)
            self.bulk_min = 0
            return False
        status = self._poll(str(task.get("taskId")))
        if status is None:
            for p in group:
                for i in p.edits:
                    results[i] = ApplyResult(
                        actions[i].key,
                        ApplyStatus.CONFLICT,
                        f"bulk edit task {task.get('taskId')} did not finish in {self.config.bulk_timeout:g}s; re-read and apply again",
                    )
            return True
        processed = {str(x) for x in status.get("processedAccessibleIssues") or ()}
        failed = {str(k): v for k, v in (status.get("failedAccessibleIssues") or {}).items()}
        for p in group:
            for i in p.edits:
                if p.id in failed or p.key in failed:
                    why = "; ".join(map(str, failed.get(p.id) or failed.get(p.key) or ()))
                    results[i] = ApplyResult(
                        actions[i].key, ApplyStatus.FAILED, f"bulk edit of {p.key} failed: {why}"
                    )
                elif p.id in processed or p.key in processed:
                    results[i] = ApplyResult(actions[i].key, ApplyStatus.APPLIED)
                else:
                    results[i] = ApplyResult(
                        actions[i].key,
                        ApplyStatus.FAILED,
                        f"bulk edit skipped {p.key} (invalid or inaccessible)",
                    )
        return True

    def _poll(self, task_id: str) -> Mapping[str, Any] | None:
        """The finished task's progress, or None if it did not finish in time.

        Counts polls rather than reading the clock, so tests that replace the sleep run
        instantly and deterministically.
        """
        interval = self.config.bulk_poll_interval
        polls = max(1, math.ceil(self.config.bulk_timeout / interval)) if interval else 1
        for n in range(polls + 1):
            progress: Mapping[str, Any] = self.http.get_json(f"rest/api/3/bulk/queue/{task_id}")
            if progress.get("status") in _BULK_DONE:
                return progress
            if n < polls:
                self.http.sleep(interval)
        return None


def _detail(exc: ConnectorError, key: str) -> str:
    return f"{key}: {exc}" if key not in str(exc) else str(exc)


#: A time as Jira shows it, e.g. ``2026-12-07T16:00:00.000+0100``.
_JIRA_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}")


#: A date as a date picker shows it and takes it on edit, e.g. ``2026-12-07``.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_iso_date(text: str) -> bool:
    """Whether ``text`` is a real ``yyyy-MM-dd`` date (not 2026-02-30)."""
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def to_jira_time(value: Any) -> str:
    """An ISO 8601 date and time (``Z``, ``+01:00``, with or without fractions) as a date time
    picker field takes it on issue edit: ``yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm``, its offset kept.

    Jira refuses a time without milliseconds, with a colon in the offset, or with ``Z``
    (``Error parsing time: ...``; the recorded answers are listed in the fake,
    ``slaplug_jira.fake.writes.EDIT_TIME``). A time without offset is taken as UTC.

    Raises:
        ValueError: for a date alone or anything that is not an ISO 8601 date and time.
    """
    text = str(value).strip()
    if "T" not in text.upper():
        raise ValueError(text)
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}" + at.strftime("%z")


def _same_time(now: Any, wanted: str | None) -> bool:
    """Whether a date time field already shows ``wanted`` (the same instant, or both empty)."""
    if now is None or wanted is None:
        return now is None and wanted is None
    try:
        return datetime.fromisoformat(str(now)) == datetime.fromisoformat(wanted)
    except ValueError:
        return False
