"""The fake Jira's site: users, priorities, statuses, resolutions, fields, issues, comments
and changelogs.

:class:`JiraStore` keeps the state and records changes the way Jira does: every accepted
field change is one *change history* (``id``, ``author``, ``created``, ``items``) and bumps
the issue's ``updated``; a comment bumps ``updated`` too but, as in Jira, is not part of the
changelog. Times are int Unix **milliseconds** (Jira's timestamps carry milliseconds).

Ids and names follow Jira Cloud's defaults where Jira has defaults (priorities 1-5, status 1
Open, 3 In Progress, 5 Resolved, 6 Closed, resolution 10000 Done); docs/testing/fake-jira.md
lists them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

#: (id, name, colour) of Jira's five default priorities, highest first.
PRIORITIES = (
    ("1", "Highest", "#d04437"),
    ("2", "High", "#f15C75"),
    ("3", "Medium", "#f79232"),
    ("4", "Low", "#707070"),
    ("5", "Lowest", "#999999"),
)
DEFAULT_PRIORITY = "3"
#: (id, key, name, colour) of Jira's status categories.
STATUS_CATEGORIES = (
    (2, "new", "To Do", "blue-gray"),
    (4, "indeterminate", "In Progress", "yellow"),
    (3, "done", "Done", "green"),
)
#: (id, name, category key) of the service project's workflow statuses.
STATUSES = (
    ("1", "Open", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "Waiting for customer", "indeterminate"),
    ("5", "Resolved", "done"),
    ("6", "Closed", "done"),
)
#: (id, name, description) of the resolutions.
RESOLUTIONS = (
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    ("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
    ("10003", "Cannot Reproduce", "All attempts at reproducing this issue failed."),
)
#: (id, name) of the issue types.
ISSUE_TYPES = (("10002", "Service Request"), ("10003", "Incident"), ("10004", "Problem"))

#: The workflow: (transition id, name, target status id, from status ids).
TRANSITIONS = (
    ("11", "Start progress", "3", ("1", "10001")),
    ("21", "Wait for customer", "10001", ("1", "3")),
    ("31", "Resolve", "5", ("1", "3", "10001")),
    ("41", "Stop progress", "1", ("3",)),
    ("51", "Respond to support", "3", ("10001",)),
    ("61", "Reopen", "1", ("5", "6")),
    ("71", "Close", "6", ("5",)),
)


#: JSM customer organizations of the fake site: (id, name). JSM lists them through
#: ``GET /rest/servicedeskapi/organization`` as ``{"id": "1", "name": "..."}``; an issue's
#: Organizations field holds a list of them.
ORGANIZATIONS = (("1", "Acme Corp"), ("2", "Globex"), ("3", "Initech"), ("4", "Umbrella"))
#: JSM request types of the fake service desk: (id, name, key, issue type id).
REQUEST_TYPES = (
    ("11", "Get IT help", "gethelp", "10002"),
    ("12", "Report a bug", "bug", "10003"),
    ("13", "Report a system problem", "systemproblem", "10004"),
)
#: JSM's field types (schema ``custom`` of ``GET /rest/api/3/field``).
ORGANIZATIONS_KIND = "sd-customer-organizations"
REQUEST_TYPE_KIND = "vp-origin"


def organization_id(name: str) -> str:
    """The id of an organization of the fake site, by name (case-insensitive) or id.

    Raises:
        ValueError: for an unknown organization.
    """
    found = by_id_or_name(ORGANIZATIONS, name)
    if found is None:
        raise ValueError(f"unknown organization {name!r}; the fake site has {ORGANIZATIONS}")
    return found


def request_type_row(value: str) -> tuple[str, str, str, str]:
    """A request type of the fake site, by id, name or key.

    Raises:
        ValueError: for an unknown request type.
    """
    text = str(value).strip().lower()
    for row in REQUEST_TYPES:
        if text in (row[0], row[1].lower(), row[2]):
            return row
    raise ValueError(f"unknown request type {value!r}; the fake site has {REQUEST_TYPES}")


def status_name(status_id: str) -> str:
    """The name of a status id (the id itself if unknown)."""
    return next((n for i, n, _ in STATUSES if i == status_id), status_id)


def priority_name(priority_id: str | None) -> str | None:
    """The name of a priority id."""
    return next((n for i, n, _ in PRIORITIES if i == priority_id), priority_id)


def resolution_name(resolution_id: str | None) -> str | None:
    """The name of a resolution id."""
    return next((n for i, n, _ in RESOLUTIONS if i == resolution_id), resolution_id)


def by_id_or_name(table: tuple[tuple[str, ...], ...], value: Any) -> str | None:
    """The id of the row whose id or name (case-insensitive) is ``value``."""
    text = str(value).strip().lower()
    return next((row[0] for row in table if text in (row[0], row[1].lower())), None)


@dataclass(slots=True)
class JiraUser:
    """A user. ``account_type`` is ``atlassian`` for agents and ``customer`` for JSM portal
    customers, who cannot use API tokens.

    ``time_zone`` is the profile's zone (None: the site's default), which ``/myself``
    reports as ``timeZone`` and in which JQL date literals of this user's searches are
    read (OAS ``User.timeZone``: "the instance's default time zone" when none is set).
    ``admin`` (*Administer Jira*) and ``project_admin`` (*Administer projects*) are the
    permissions ``notifyUsers=false`` needs (see `JiraWrites.edit_issue`). ``denied``
    holds the permission keys taken away from the user (``EDIT_ISSUES``, ``BULK_CHANGE``...),
    which ``/mypermissions`` reports and the writes enforce (fakes/jira_permissions.py).
    """

    account_id: str
    display_name: str
    email: str
    account_type: str = "atlassian"
    active: bool = True
    time_zone: str | None = None
    admin: bool = False
    project_admin: bool = False
    denied: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A field as ``GET /rest/api/3/field`` lists it."""

    id: str
    name: str
    #: JsonTypeBean: ``{"type": ..., "system"|"custom"+"customId": ...}``.
    schema: dict[str, Any]
    editable: bool = True
    #: For select custom fields: (option id, value) pairs.
    options: tuple[tuple[str, str], ...] = ()

    @property
    def custom(self) -> bool:
        """Custom fields have ids ``customfield_NNNNN``."""
        return self.id.startswith("customfield_")

    @property
    def kind(self) -> str:
        """``textfield``, ``textarea``, ``float``, ``datetime``, ``select``, ``sla``... (the
        end of the custom type URI) or the system field's name."""
        return str(self.schema.get("custom", self.schema.get("system", ""))).rsplit(":", 1)[-1]


@dataclass(slots=True)
class ChangeItem:
    """One changed field inside a change history (Jira's ``ChangeDetails``)."""

    field: str
    fieldtype: str
    field_id: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None
    #: The stored values before and after (not shown by the API; used to write seeds).
    raw_from: Any = None
    raw_to: Any = None
    #: ``datetime`` for a date time picker field, whose four values are written from the raw
    #: ones when rendered, in the site's zone (see `JiraTime.changelog_value`).
    value_type: str = ""


@dataclass(slots=True)
class ChangeHistory:
    """One recorded change of one issue (Jira's ``Changelog``)."""

    id: int
    issue_id: int
    author: str
    created: int
    items: list[ChangeItem]


@dataclass(slots=True)
class Comment:
    """A comment. ``public`` is JSM's ``jsdPublic``: False for an internal note."""

    id: int
    issue_id: int
    author: str
    body: str
    created: int
    updated: int
    public: bool = True
    #: The ADF document when the comment was written in ADF (v3); None renders ``body``.
    adf: dict[str, Any] | None = None
    visibility: dict[str, Any] | None = None


@dataclass(slots=True)
class Issue:
    """An issue's current state. Times are Unix milliseconds."""

    id: int
    key: str
    summary: str
    description: str
    issue_type: str
    status: str
    priority: str | None
    reporter: str
    assignee: str | None
    labels: list[str]
    #: Custom field values by id, only when set.
    custom: dict[str, Any]
    created: int
    updated: int
    resolution: str | None = None
    resolution_date: int | None = None
    status_changed: int = 0
    description_adf: dict[str, Any] | None = None
    #: The system Due date, ``yyyy-MM-dd``, or None.
    duedate: str | None = None


#: System fields an edit or a transition may change, with their changelog names.
SYSTEM_TRACKED = {
    "summary": "summary",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "resolution": "resolution",
    "assignee": "assignee",
    "reporter": "reporter",
    "labels": "labels",
    "issuetype": "issuetype",
    "duedate": "duedate",
}


class JiraStore:
    """The site's state. Not thread-safe: the server holds one lock around it."""

    def __init__(self, project_key: str = "SUP", project_name: str = "Customer Support") -> None:
        self.project_key = project_key
        self.project_name = project_name
        self.project_id = "10000"
        self.users: dict[str, JiraUser] = {}
        self.fields: list[FieldDef] = []
        self.issues: dict[int, Issue] = {}
        self.keys: dict[str, int] = {}
        self.comments: dict[int, list[Comment]] = {}
        self.histories: dict[int, list[ChangeHistory]] = {}
        #: Sorted (updated, id) of every issue, kept current on each change.
        self.index: list[tuple[int, int]] = []
        self.next_issue_id = 10001
        self.next_issue_number = 1
        self.next_comment_id = 10001
        self.next_history_id = 10001

    # -- look-ups --------------------------------------------------------------------------

    def field(self, field_id: str) -> FieldDef | None:
        """The field with this id, if any."""
        return next((f for f in self.fields if f.id == field_id), None)

    def issue(self, id_or_key: str) -> Issue | None:
        """The issue with this id or key (keys are case-insensitive, as in Jira)."""
        if id_or_key.isdigit():
            return self.issues.get(int(id_or_key))
        iid = self.keys.get(id_or_key.upper())
        return self.issues.get(iid) if iid is not None else None

    def user(self, ref: str | None) -> JiraUser | None:
        """A user by accountId, email or display name."""
        if ref is None:
            return None
        if ref in self.users:
            return self.users[ref]
        low = ref.lower()
        return next(
            (u for u in self.users.values() if low in (u.email.lower(), u.display_name.lower())),
            None,
        )

    def agents(self) -> list[JiraUser]:
        """Users who work in Jira (``atlassian`` accounts)."""
        return [u for u in self.users.values() if u.account_type == "atlassian"]

    # -- changes ---------------------------------------------------------------------------

    def add_issue(self, issue: Issue) -> Issue:
        """Insert a new issue (its id and key must be unused)."""
        self.issues[issue.id] = issue
        self.keys[issue.key.upper()] = issue.id
        self.comments.setdefault(issue.id, [])
        self.histories.setdefault(issue.id, [])
        bisect.insort(self.index, (issue.updated, issue.id))
        self.next_issue_id = max(self.next_issue_id, issue.id + 1)
        number = int(issue.key.rsplit("-", 1)[1])
        self.next_issue_number = max(self.next_issue_number, number + 1)
        return issue

    def new_issue(self, **values: Any) -> Issue:
        """Create an issue with the next id and key; ``values`` are :class:`Issue` fields."""
        key = f"{self.project_key}-{self.next_issue_number}"
        values.setdefault("status_changed", values["created"])
        values.setdefault("updated", values["created"])
        return self.add_issue(Issue(id=self.next_issue_id, key=key, **values))

    def touch(self, issue: Issue, ts: int) -> None:
        """Bump ``updated`` to ``ts`` (never backwards) and keep the index sorted."""
        new = max(issue.updated, ts)
        if new == issue.updated:
            return
        pos = bisect.bisect_left(self.index, (issue.updated, issue.id))
        if pos < len(self.index) and self.index[pos] == (issue.updated, issue.id):
            del self.index[pos]
        issue.updated = new
        bisect.insort(self.index, (new, issue.id))

    def change(
        self, issue: Issue, author: str, ts: int, changes: dict[str, Any]
    ) -> ChangeHistory | None:
        """Apply ``changes`` (field id -> new value: status/priority/resolution ids,
        assignee accountId, labels list, custom values) and record one change history.

        Values equal to the current one are skipped; returns None when nothing changed.
        """
        items: list[ChangeItem] = []
        for fid, new in changes.items():
            old = self.get(issue, fid)
            if old == new:
                continue
            item = self._item(fid, old, new)
            item.raw_from, item.raw_to = old, new
            items.append(item)
            self.set(issue, fid, new, ts)
        if not items:
            return None
        history = ChangeHistory(self.next_history_id, issue.id, author, ts, items)
        self.next_history_id += 1
        self.histories[issue.id].append(history)
        self.touch(issue, ts)
        return history

    def comment(
        self,
        issue: Issue,
        author: str,
        ts: int,
        body: str,
        public: bool = True,
        adf: dict[str, Any] | None = None,
        visibility: dict[str, Any] | None = None,
    ) -> Comment:
        """Add a comment and bump the issue's ``updated``."""
        c = Comment(self.next_comment_id, issue.id, author, body, ts, ts, public, adf, visibility)
        self.next_comment_id += 1
        self.comments[issue.id].append(c)
        self.touch(issue, ts)
        return c

    @staticmethod
    def get(issue: Issue, fid: str) -> Any:
        """The current value of a field (ids for status/priority/resolution)."""
        if fid.startswith("customfield_"):
            return issue.custom.get(fid)
        if fid == "issuetype":
            return issue.issue_type
        value = getattr(issue, fid)
        return list(value) if fid == "labels" else value

    def set(self, issue: Issue, fid: str, value: Any, ts: int) -> None:
        """Set one field, keeping the derived fields (resolution date, status date) right."""
        if fid.startswith("customfield_"):
            if value is None:
                issue.custom.pop(fid, None)
            else:
                issue.custom[fid] = value
        elif fid == "issuetype":
            issue.issue_type = value
        elif fid == "labels":
            issue.labels = list(value)
        else:
            setattr(issue, fid, value)
        if fid == "status":
            issue.status_changed = ts
        if fid == "resolution":
            issue.resolution_date = ts if value is not None else None
        if fid == "description":
            issue.description_adf = None  # re-rendered from the text

    def _item(self, fid: str, old: Any, new: Any) -> ChangeItem:
        f = self.field(fid)
        name = SYSTEM_TRACKED.get(fid) or (f.name if f else fid)
        fieldtype = "custom" if fid.startswith("customfield_") else "jira"
        if fid in ("status", "priority", "resolution", "issuetype"):
            named = {"status": status_name, "priority": priority_name}.get(fid, resolution_name)
            if fid == "issuetype":
                named = lambda i: next((n for k, n in ISSUE_TYPES if k == i), i)  # noqa: E731
            return ChangeItem(name, fieldtype, fid, old, named(old), new, named(new))
        if fid in ("assignee", "reporter"):
            return ChangeItem(
                name, fieldtype, fid, old, self._display(old), new, self._display(new)
            )
        if fid == "labels":  # Jira shows labels space-separated, with no ids
            return ChangeItem(name, fieldtype, fid, None, " ".join(old), None, " ".join(new))
        if f is not None and f.kind == "datetime":
            # Unix ms are the fake's storage, never Jira's text: rendered in the site's zone.
            item = ChangeItem(name, fieldtype, fid, None, None, None, None)
            item.value_type = "datetime"
            return item
        if f is not None and f.kind == "datepicker":
            return ChangeItem(name, fieldtype, fid, *_date_texts(old), *_date_texts(new))
        if fid == "duedate":
            return ChangeItem(name, fieldtype, fid, *_due_texts(old), *_due_texts(new))
        return ChangeItem(name, fieldtype, fid, None, _as_text(old, f), None, _as_text(new, f))

    def _display(self, account_id: str | None) -> str | None:
        u = self.users.get(account_id or "")
        return u.display_name if u else None


#: English month abbreviations, as Jira's default date formats (``dd/MMM/yy``) show them;
#: ``%b`` would follow the process locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date_texts(value: Any) -> tuple[str | None, str | None]:
    """A date picker value (``yyyy-MM-dd``) as a changelog item's ``from``/``fromString``:
    ISO 8601 and Jira's default date picker format ``dd/MMM/yy`` (sources at
    ``slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT``)."""
    if value is None:
        return None, None
    y, m, d = str(value)[:10].split("-")
    return str(value)[:10], f"{d}/{MONTHS[int(m) - 1]}/{y[2:]}"


def _due_texts(value: Any) -> tuple[str | None, str | None]:
    """A Due date (``yyyy-MM-dd``) as a changelog item's ``from``/``fromString``: ISO 8601 and
    ``java.sql.Timestamp.toString()`` (``2026-03-02 00:00:00.0``), as Jira's
    ``DueDateSystemField`` writes them (sources at
    ``slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT``)."""
    if value is None:
        return None, None
    return str(value)[:10], f"{str(value)[:10]} 00:00:00.0"


def _as_text(value: Any, f: FieldDef | None) -> str | None:
    """A field value as a changelog ``fromString``/``toString``."""
    if value is None:
        return None
    if f is not None and f.kind == ORGANIZATIONS_KIND:
        # Shown as the names in brackets, ``from``/``to`` left null: the fake's choice. No
        # recorded JSM changelog item of an Organizations change was found (searched: the
        # OAS, whose ChangeDetails has no example of it; GitHub code, issues and fixtures of
        # public clients for "field": "Organizations" / sd-customer-organizations with
        # fromString/toString; Atlassian docs and community pages). The connector reads the
        # names with or without brackets, comma-separated, and never reads from/to here.
        return "[" + ", ".join(str(v) for v in value) + "]"
    if f is not None and f.kind == REQUEST_TYPE_KIND:
        return request_type_row(str(value))[1]
    if f is not None and f.kind == "select":
        return next((v for i, v in f.options if i == value), str(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
