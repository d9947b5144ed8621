"""The fake Jira's bulk edit: ``POST /rest/api/3/bulk/issues/fields`` queues a task that
``GET /rest/api/3/bulk/queue/{taskId}`` polls from ENQUEUED through RUNNING to COMPLETE; the
edits are applied when the task completes, as Jira runs them in the background (reference
§2.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slaplug.testing.fakeserver import HttpError, Request, Response
from slaplug_jira.fake.data import JiraUser
from slaplug_jira.fake.permissions import has_permission
from slaplug_jira.fake.render import J, jira_error
from slaplug_jira.fake.writes import JiraWrites

MAX_BULK_ISSUES = 1000
MAX_BULK_FIELDS = 200

#: The custom field type each typed list of ``editedFieldsInput`` takes (OAS JiraIssueFields:
#: "Add or clear a single line text field", "... a number field", "the planned start date and
#: time" in ``formattedDateTime``, "a single select field"; ``getBulkEditableFields`` tells a
#: field's ``type``). A field sent in another type's list is refused with 400 and nothing is
#: queued: the fake's choice, as the OAS lists no answer for it and no recorded one was found
#: (the API's other request mistakes answer 400 ``{"errors": [{"message"}]}``, OAS
#: submitBulkEdit). So a date time sent as text cannot slip in as a string the edit endpoint
#: would refuse ("Error parsing time", see ``EDIT_TIME``).
_BULK_KINDS = {
    "singleLineTextFields": ("textfield", "single line text"),
    "richTextFields": ("textarea", "paragraph"),
    "clearableNumberFields": ("float", "number"),
    "dateTimePickerFields": ("datetime", "date time picker"),
    "datePickerFields": ("datepicker", "date picker"),
    "singleSelectFields": ("select", "single select"),
}
_KIND_LISTS = {kind: (key, label) for key, (kind, label) in _BULK_KINDS.items()}

_BULK_KEYS = {
    "labelsFields": "labels",
    "singleLineTextFields": None,
    "richTextFields": None,
    "clearableNumberFields": None,
    "singleSelectFields": None,
    "dateTimePickerFields": None,
    "datePickerFields": None,
    "singleSelectClearableUserPickerFields": None,
    "priority": "priority",
}


@dataclass
class BulkTask:
    """A submitted bulk edit: applied when it completes, as Jira runs it in the background."""

    id: str
    issues: list[str]
    changes: list[tuple[str, Any]]  # (field id, value or label operation)
    author: str
    created: int
    polls: int = 0
    status: str = "ENQUEUED"
    done: list[int] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)
    invalid: int = 0
    finished: int | None = None


class JiraBulk(JiraWrites):
    """Bulk edit handlers (a base of the app)."""

    def __init__(self, store: Any, clock: Any, time_zone: str) -> None:
        super().__init__(store, clock, time_zone)
        self.tasks: dict[str, BulkTask] = {}

    # -- bulk edit -------------------------------------------------------------------------

    def submit_bulk_edit(self, req: Request, v: str, user: JiraUser) -> Response:
        """``POST /rest/api/3/bulk/issues/fields``: at most 1000 issues and 200 fields; 201
        with a ``taskId`` to poll (reference §2.2). Errors use ``{"errors": [{"message"}]}``."""
        body = req.json()

        def bad(message: str) -> Exception:
            return HttpError(400, {"errors": [{"message": message}]})

        # The global Bulk change permission is required (OAS submitBulkEdit), whose only
        # documented refusal of a well-formed request is 400.
        if not has_permission(user, "BULK_CHANGE"):
            raise bad("You do not have the global Bulk change permission.")

        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.")
        issues = body.get("selectedIssueIdsOrKeys")
        actions = body.get("selectedActions")
        edited = body.get("editedFieldsInput")
        if (
            not isinstance(issues, list)
            or not isinstance(actions, list)
            or not isinstance(edited, dict)
        ):
            raise bad("selectedIssueIdsOrKeys, selectedActions and editedFieldsInput are required.")
        if not 1 <= len(issues) <= MAX_BULK_ISSUES:
            raise bad(f"You can edit between 1 and {MAX_BULK_ISSUES} issues at once.")
        if len(actions) > MAX_BULK_FIELDS:
            raise bad(f"You can edit at most {MAX_BULK_FIELDS} fields at once.")
        changes: list[tuple[str, Any]] = []
        for kind, value in edited.items():
            if kind not in _BULK_KEYS:
                raise bad(f"The fake Jira does not support bulk editing {kind}.")
            items = value if isinstance(value, list) else [value]
            for item in items:
                if not isinstance(item, dict):
                    raise bad(f"{kind} entries must be objects.")
                fid = _BULK_KEYS[kind] or str(item.get("fieldId", ""))
                if fid not in actions:
                    raise bad(
                        f"The following editedFieldInput values are not listed as selectedActions : {fid}"
                    )
                self._check_kind(kind, fid, bad)
                try:
                    changes.append((fid, self._bulk_value(kind, fid, item)))
                except HttpError as exc:  # an edit's {"errors": {fid: ...}}, in bulk's shape
                    errors = exc.body.get("errors") if isinstance(exc.body, dict) else None
                    if exc.status != 400 or not isinstance(errors, dict):
                        raise
                    raise bad("; ".join(f"{k}: {v}" for k, v in errors.items())) from None
        task = BulkTask(str(10000 + len(self.tasks)), [str(i) for i in issues], changes,
                        user.account_id, self.now_ms())  # fmt: skip
        self.tasks[task.id] = task
        return Response(201, {"taskId": task.id})

    def _check_kind(self, key: str, fid: str, bad: Callable[[str], Exception]) -> None:
        """Refuse a custom field sent in the list of another field type (`_BULK_KINDS`)."""
        f = self.store.field(fid)
        if key not in _BULK_KINDS or f is None or not f.custom:
            return
        kind, label = _BULK_KINDS[key]
        if f.kind != kind:
            right, its = _KIND_LISTS.get(f.kind, ("", f.kind))
            where = f"send it in {right}" if right else "the fake cannot bulk edit it"
            raise bad(f"{fid} ({f.name}) is a {its} field, not a {label} field: {where}.")

    def _bulk_value(self, kind: str, fid: str, item: Mapping[str, Any]) -> Any:
        if kind == "labelsFields":
            op = item.get("bulkEditMultiSelectFieldOption")
            names = [
                str(x.get("name", "")) for x in item.get("labels") or [] if isinstance(x, dict)
            ]
            return (op, self._labels(names) if names else [])
        if kind == "priority":
            return self._field_value("priority", {"id": item.get("priorityId")}, "2")
        if kind == "singleLineTextFields":
            return self._field_value(fid, item.get("text"), "2")
        if kind == "richTextFields":
            doc = (item.get("richText") or {}).get("adfValue")
            return self._field_value(fid, doc, "3") if doc else None
        if kind == "clearableNumberFields":
            return self._field_value(fid, item.get("value"), "2")
        if kind == "dateTimePickerFields":
            text = (item.get("dateTime") or {}).get("formattedDateTime")
            # The OAS asks for "ISO format" here and records no stricter rule, unlike the
            # edit endpoint's date time picker format (see `_edit_time`); "To clear, provide
            # an empty string for formattedDateTime".
            return self._field_value(fid, text or None, "2", lenient_time=True)
        if kind == "datePickerFields":
            # OAS JiraDateField {"fieldId", "date": {"formattedDate"}}: "specify the date in
            # d/mmm/yy format or ISO format dd-mm-yyyy"; "To clear, set formattedDate to an
            # empty string" (see `EDIT_DATE` for yyyy-MM-dd and what a bad text gets).
            text = (item.get("date") or {}).get("formattedDate")
            return self._field_value(fid, text or None, "2", lenient_time=True)
        if kind == "singleSelectFields":
            option = (item.get("option") or {}).get("optionId")
            return self._field_value(fid, {"id": str(option)} if option else None, "2")
        user = item.get("user")
        return self._field_value(fid, user if isinstance(user, dict) else None, "2")

    def _run_task(self, task: BulkTask) -> None:
        for ref in task.issues:
            issue = self.store.issue(ref)
            if issue is None:
                task.invalid += 1
                continue
            changes: dict[str, Any] = {}
            for fid, value in task.changes:
                if fid == "labels":
                    op, names = value
                    labels = list(changes.get("labels", issue.labels))
                    labels = {
                        "ADD": labels + [n for n in names if n not in labels],
                        "REMOVE": [x for x in labels if x not in names],
                        "REPLACE": list(names),
                        "REMOVE_ALL": [],
                    }.get(op, labels)
                    changes["labels"] = labels
                else:
                    changes[fid] = value
            self.apply(issue, task.author, changes)
            task.done.append(issue.id)
        task.status, task.finished = "COMPLETE", self.now_ms()

    def get_bulk_progress(self, req: Request, v: str, task: str, user: JiraUser) -> Response:
        """``GET /rest/api/3/bulk/queue/{taskId}``: ENQUEUED, RUNNING, then COMPLETE, one
        step per poll (``AppConfig.bulk_polls``)."""
        t = self.tasks.get(task)
        if t is None:
            raise jira_error(
                400, "The task associated with this taskId is not a bulk operation task"
            )
        t.polls += 1
        if t.status != "COMPLETE":
            if t.polls >= self.config.bulk_polls:
                self._run_task(t)
            else:
                t.status = "RUNNING"
        return Response(200, self.task_json(t, v))

    def task_json(self, t: BulkTask, v: str) -> J:
        """A ``BulkOperationProgress``."""
        total = len(t.issues)
        body: J = {
            "taskId": t.id,
            "status": t.status,
            "created": self.time.fmt(t.created),
            "started": self.time.fmt(t.created),
            "updated": self.time.fmt(t.finished or self.now_ms()),
            "progressPercent": 100
            if t.status == "COMPLETE"
            else 0
            if t.status == "ENQUEUED"
            else 50,
            "totalIssueCount": total,
            "submittedBy": {"accountId": t.author},
            "processedAccessibleIssues": list(t.done),
            "failedAccessibleIssues": dict(t.failed),
            "invalidOrInaccessibleIssueCount": t.invalid,
        }
        return body

    def complete_tasks(self) -> None:
        """Complete every pending bulk task now."""
        with self.lock:  # type: ignore[attr-defined]
            for t in self.tasks.values():
                if t.status != "COMPLETE":
                    self._run_task(t)
