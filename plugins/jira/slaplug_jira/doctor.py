"""`slaplug doctor` for Jira: what a first sync needs, checked against the live site.

* credentials and time zone: ``GET /rest/api/3/myself`` answers with the API user (401
  otherwise); its ``timeZone`` is the zone JQL date literals are read in, unless
  ``jql_timezone`` overrides it (slaplug_jira/myself.py);
* permissions, per configured project (or in any project when none is configured), through
  ``GET /rest/api/3/mypermissions?projectKey=..&permissions=..`` (OAS ``getMyPermissions``:
  ``{"permissions": {KEY: {"havePermission": bool, ...}}}``; 404 when the project is
  unknown or not visible to the user). *Browse projects* is needed for every read;
  *Edit issues*, *Transition issues* and *Add comments* when the rules plan an edit, a
  status change or a comment. *Administer projects* (or *Administer Jira*) keeps the edits
  from e-mailing the watchers (``notifyUsers=false``); without it the writer edits loud,
  so it is a warning. The global *Bulk change* lets the writer use the bulk edit API;
  without it the writer falls back to one edit per issue (write.py ``_bulk_edit``), so
  that is a warning too;
* every field the rules set is mapped (``fields:`` or a ``customfield_`` id) and exists in
  ``GET /rest/api/3/field``, and a live field's ``format`` suits the field's type there: a
  date picker (schema ``custom`` ``...:datepicker``) and the system Due date (schema
  ``system`` ``duedate``) take ``yyyy-MM-dd`` only, so ``format: date``; a date time picker
  (``...:datetime``) takes a date and time, so ``instant`` or ``local`` (write.py fails
  the other values by itself, one action at a time); every priority (through the ``priorities:`` map) exists in
  ``GET /rest/api/3/priority``; every status (through ``statuses:``) in
  ``GET /rest/api/3/status``; every assigned user resolves (an e-mail through
  ``GET /rest/api/3/user/search``, as the writer does) and every assigned group is mapped
  under ``groups:`` (Jira assigns issues to users only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.errors import ConfigError, ConnectorError
from slaplug.model import ActionKind

if TYPE_CHECKING:
    from slaplug_jira.connector import JiraConnector

__all__ = ["PERMISSIONS", "jira_checks"]

#: What ``/mypermissions`` is asked for: the project permissions, then the global ones
#: (global permissions are "unaffected by context", OAS ``getMyPermissions``).
PERMISSIONS = (
    "BROWSE_PROJECTS",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
    "ADMINISTER_PROJECTS",
    "ADMINISTER",
    "BULK_CHANGE",
)
#: Action kinds written by the one issue edit (``PUT /rest/api/3/issue/{key}``).
_EDITS = frozenset(
    {
        ActionKind.ADD_TAG,
        ActionKind.REMOVE_TAG,
        ActionKind.SET_FIELD,
        ActionKind.SET_PRIORITY,
        ActionKind.ASSIGN,
    }
)
#: Kinds the bulk edit API may carry (labels and text fields, write.py `bulk_signature`).
_BULKABLE = frozenset({ActionKind.ADD_TAG, ActionKind.REMOVE_TAG, ActionKind.SET_FIELD})
_GRANT = "ask a Jira admin to grant it to the API user in the project's permission scheme"


def jira_checks(conn: JiraConnector, needs: DoctorNeeds) -> Iterator[Check]:
    """The checks, in order; the first call raises on bad credentials or an unreachable host."""
    me = conn.myself.user()
    who = str(me.get("emailAddress") or me.get("displayName") or me.get("accountId") or "?")
    yield Check("credentials", CheckStatus.OK, f"{who} (accountId {me.get('accountId')})")
    yield _time_zone(conn)
    yield from _permissions(conn, needs)
    yield from _fields(conn, needs)
    yield from _named(conn, needs, ActionKind.SET_PRIORITY, "priority")
    yield from _named(conn, needs, ActionKind.SET_STATUS, "status")
    yield from _assignees(conn, needs)


def _time_zone(conn: JiraConnector) -> Check:
    configured = conn.config.jql_timezone
    try:
        profile = str(conn.myself.user().get("timeZone") or "")
        if configured:
            said = f"the API user's profile zone is {profile}" if profile else "none in profile"
            return Check(
                "time zone",
                CheckStatus.OK,
                f"jql_timezone {configured} overrides the API user's zone ({said})",
            )
        if not profile:
            return Check(
                "time zone",
                CheckStatus.WARN,
                "/myself reports no timeZone: JQL dates are read as UTC",
                "set jql_timezone to the API user's Jira time zone",
            )
        zone = conn.myself.time_zone()
    except ConfigError as exc:
        return Check("time zone", CheckStatus.FAIL, str(exc), "set jql_timezone")
    return Check("time zone", CheckStatus.OK, f"{zone}, from the API user's profile (/myself)")


def _permissions(conn: JiraConnector, needs: DoctorNeeds) -> Iterator[Check]:
    projects: list[str | None] = [*conn.config.projects] or [None]
    bulk: bool | None = None
    for project in projects:
        where = f"project {project}" if project else "any project"
        params = {"permissions": ",".join(PERMISSIONS)}
        if project:
            params["projectKey"] = project
        try:
            found = conn.http.get_json("rest/api/3/mypermissions", params=params)
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            yield Check(
                f"permission browse {project}",
                CheckStatus.FAIL,
                f"Jira has no project {project!r} the API user can browse (404)",
                f"fix projects: in the configuration, or grant Browse projects in {project}",
            )
            continue
        have = _have(found)
        bulk = have.get("BULK_CHANGE", False) if bulk is None else bulk
        yield from _project_permissions(project, where, have, needs)
    yield _bulk(conn, needs, bulk)


def _have(found: Any) -> dict[str, bool]:
    listed = found.get("permissions") if isinstance(found, Mapping) else None
    return {
        str(k): bool(v.get("havePermission"))
        for k, v in (listed or {}).items()
        if isinstance(v, Mapping)
    }


def _project_permissions(
    project: str | None, where: str, have: Mapping[str, bool], needs: DoctorNeeds
) -> Iterator[Check]:
    label = f" {project}" if project else ""
    kinds = needs.kinds
    for key, title, wanted, why in (
        ("BROWSE_PROJECTS", "browse", True, "every read"),
        ("EDIT_ISSUES", "edit", bool(kinds & _EDITS), "labels, fields, priority and assignee"),
        (
            "TRANSITION_ISSUES",
            "transition",
            ActionKind.SET_STATUS in kinds,
            "set_status",
        ),
        ("ADD_COMMENTS", "comment", ActionKind.COMMENT in kinds, "comments"),
    ):
        name = f"permission {title}{label}"
        if have.get(key):
            yield Check(name, CheckStatus.OK, f"{key} in {where}")
        elif wanted:
            yield Check(
                name,
                CheckStatus.FAIL,
                f"the API user lacks {key} in {where}, needed for {why}",
                _GRANT,
            )
        else:
            yield Check(name, CheckStatus.SKIP, f"lacks {key} in {where}, but the rules need none")
    name = f"permission quiet edits{label}"
    if have.get("ADMINISTER_PROJECTS") or have.get("ADMINISTER"):
        yield Check(name, CheckStatus.OK, f"edits in {where} do not e-mail the watchers")
    elif kinds & _EDITS:
        yield Check(
            name,
            CheckStatus.WARN,
            f"the API user lacks ADMINISTER_PROJECTS in {where}: Jira refuses "
            "notifyUsers=false, so slaplug's edits e-mail every watcher",
            "grant Administer projects to the API user to keep its edits quiet",
        )
    else:
        yield Check(name, CheckStatus.SKIP, "the rules edit no issue")


def _bulk(conn: JiraConnector, needs: DoctorNeeds, have: bool | None) -> Check:
    if have is None:  # no project answered: the global permission was not read
        return Check("permission bulk change", CheckStatus.SKIP, "not read: no project answered")
    if conn.config.bulk_edit_min_issues <= 0:
        return Check("permission bulk change", CheckStatus.SKIP, "bulk_edit_min_issues is 0")
    if not needs.kinds & _BULKABLE:
        return Check("permission bulk change", CheckStatus.SKIP, "the rules make no bulk edit")
    if have:
        return Check("permission bulk change", CheckStatus.OK, "BULK_CHANGE (global)")
    return Check(
        "permission bulk change",
        CheckStatus.WARN,
        "the API user lacks the global BULK_CHANGE: labels and fields are edited one "
        "issue at a time",
        "grant Make bulk changes to the API user, or set bulk_edit_min_issues: 0",
    )


def _fields(conn: JiraConnector, needs: DoctorNeeds) -> Iterator[Check]:
    writes = needs.named(ActionKind.SET_FIELD)
    if not writes:
        return
    listed = [f for f in conn.http.get_json("rest/api/3/field") or () if isinstance(f, Mapping)]
    known = {str(f.get("id")): str(f.get("name") or "") for f in listed}
    types = {str(f.get("id")): _field_type(f) for f in listed}
    for w in writes:
        fid = conn.config.fields.get(w.name) or (
            w.name if w.name.startswith("customfield_") else None
        )
        name = f"field {w.name}"
        if fid is None:
            yield _missing(
                w.problem(f"no Jira field is mapped for {w.name!r}"),
                name,
                f"map it under fields: (e.g. {w.name}: customfield_10050)",
            )
        elif fid not in known:
            yield _missing(
                w.problem(f"{w.name!r} is mapped to {fid}, which Jira does not have"),
                name,
                "fix the id under fields: (GET /rest/api/3/field lists them)",
            )
        elif (wrong := _wrong_format(types[fid], w.value_format)) is not None:
            yield _missing(
                w.problem(
                    f"{w.name!r} is mapped to {fid} ({known[fid]}), {wrong[0]}; this live field "
                    f"writes {w.value_format} values"
                ),
                name,
                wrong[1],
            )
        else:
            yield Check(name, CheckStatus.OK, f"{fid} ({known[fid]})")


def _field_type(field: Mapping[str, Any]) -> str:
    """The end of a field's schema ``custom`` key (``datepicker``), else its ``system``
    name (``duedate``), as the writer reads them."""
    schema = field.get("schema") or {}
    return str(schema.get("custom") or schema.get("system") or "").rsplit(":", 1)[-1]


def _wrong_format(kind: str, value_format: str) -> tuple[str, str] | None:
    """Why a live field writing ``value_format`` cannot go in a field of type ``kind``, and
    the fix; None when it can (or the write is no live field)."""
    if kind in ("datepicker", "duedate") and value_format in ("instant", "local"):
        what = "the system Due date" if kind == "duedate" else "a date picker"
        return (
            f"{what}, which takes YYYY-MM-DD only",
            "give the live field `format: date`, or map it to a date time picker or a text field",
        )
    if kind == "datetime" and value_format == "date":
        return (
            "a date time picker, which takes a date and a time",
            "give the live field `format: instant` (or local), or map it to a date picker",
        )
    return None


def _named(conn: JiraConnector, needs: DoctorNeeds, kind: ActionKind, what: str) -> Iterator[Check]:
    writes = needs.named(kind)
    if not writes:
        return
    path = "rest/api/3/priority" if what == "priority" else "rest/api/3/status"
    names = {
        str(x.get("name") or "").casefold(): str(x.get("name"))
        for x in conn.http.get_json(path) or ()
        if isinstance(x, Mapping)
    }
    for w in writes:
        candidates = (
            [conn.norm.jira_priority(w.name)]
            if what == "priority"
            else conn.norm.jira_statuses(w.name)
        )
        found = [names[c.casefold()] for c in candidates if c.casefold() in names]
        if found:
            yield Check(f"{what} {w.name}", CheckStatus.OK, f"Jira {what} {found[0]!r}")
        else:
            mapping = "priorities:" if what == "priority" else "statuses:"
            yield _missing(
                w.problem(
                    f"Jira has no {what} {' or '.join(map(repr, candidates))}"
                    + ("" if candidates == [w.name] else f" (for {w.name!r})")
                ),
                f"{what} {w.name}",
                f"map it to one of Jira's under {mapping}, or change the rule",
            )


def _assignees(conn: JiraConnector, needs: DoctorNeeds) -> Iterator[Check]:
    for w in needs.named(ActionKind.ASSIGN, "group"):
        account = conn.config.groups.get(w.name)
        if account is None:
            yield _missing(
                w.problem(f"group {w.name!r} is not mapped under groups:"),
                f"group {w.name}",
                "Jira assigns issues to users only: map the group to an accountId under groups:",
            )
        else:
            yield Check(f"group {w.name}", CheckStatus.OK, f"assigns to accountId {account}")
    for w in needs.named(ActionKind.ASSIGN, "user"):
        if "@" not in w.name:
            yield Check(f"user {w.name}", CheckStatus.OK, "an accountId, used as given")
            continue
        account = conn.writer.lookup_user(w.name)
        if account is None:
            yield _missing(
                w.problem(f"no Jira user found for {w.name!r}"),
                f"user {w.name}",
                "name a user Jira's user search finds (or its accountId), or change the rule",
            )
        else:
            yield Check(f"user {w.name}", CheckStatus.OK, f"accountId {account}")


def _missing(problem: object, name: str, fix: str) -> Check:
    return Check(name, CheckStatus.FAIL, str(problem), fix)
