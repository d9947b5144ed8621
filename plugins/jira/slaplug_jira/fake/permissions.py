"""The fake Jira's permissions: ``GET /rest/api/3/mypermissions`` and the checks the write
endpoints make with them.

Shapes and rules from Atlassian's OpenAPI for the platform v3 (operation
``getMyPermissions``, ../shared/specs/jira-platform-v3.openapi.json):

* ``permissions`` (a comma-separated list of keys) is required: without it, or with a key
  Jira does not know, the answer is 400 (an ``ErrorCollection``);
* the body is ``Permissions``: ``{"permissions": {KEY: UserPermission}}`` with ``id``,
  ``key``, ``name``, ``type`` (``GLOBAL`` or ``PROJECT``), ``description`` and
  ``havePermission`` (the spec's own example: ``EDIT_ISSUES``, id 12, "Edit Issues");
* 404 "if the project or issue is not found or the user does not have permission to view
  the project": an unknown ``projectKey``, or a user without *Browse projects*.

Each agent has every project permission and *Bulk change* unless a test takes one away
(`JiraUser.denied`); *Administer Jira* is `JiraUser.admin`, *Administer projects*
`JiraUser.project_admin`. The writes then refuse what the user may not do, as the OAS
documents each: ``editIssue`` and ``doTransition`` answer 400 "the user does not have the
necessary permission"; ``addComment`` needs *Add comments* (400, its only documented
refusal of a valid request); ``submitBulkEdit`` needs the global *Bulk change* (400).
Without *Browse projects* an issue is not found (``getIssue`` 404) and searches leave its
issues out ("Issues are included in the response where the user has Browse projects").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slaplug.testing.fakeserver import HttpError, Request, Response
from slaplug_jira.fake.render import jira_error

if TYPE_CHECKING:
    from slaplug_jira.fake.data import JiraStore, JiraUser

__all__ = ["PERMISSIONS", "has_permission", "my_permissions", "require"]

#: key -> (id, name, type, description), Jira Cloud's built-in permissions that slaplug asks
#: about (ids and names as ``GET /rest/api/3/permissions`` lists them).
PERMISSIONS: dict[str, tuple[str, str, str, str]] = {
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL", "Create and administer projects, ..."),
    "BULK_CHANGE": ("33", "Make bulk changes", "GLOBAL", "Modify collections of issues at once."),
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT", "Ability to browse projects."),
    "EDIT_ISSUES": ("12", "Edit Issues", "PROJECT", "Ability to edit issues."),
    "TRANSITION_ISSUES": ("46", "Transition Issues", "PROJECT", "Ability to transition issues."),
    "ADD_COMMENTS": ("15", "Add Comments", "PROJECT", "Ability to comment on issues."),
    "ASSIGN_ISSUES": ("13", "Assign Issues", "PROJECT", "Ability to assign issues."),
    "ADMINISTER_PROJECTS": (
        "23",
        "Administer Projects",
        "PROJECT",
        "Ability to administer a project in Jira.",
    ),
}


def has_permission(user: JiraUser, key: str) -> bool:
    """Whether ``user`` holds the permission ``key`` (in the fake's one project)."""
    if key in user.denied:
        return False
    if key == "ADMINISTER":
        return user.admin
    if key == "ADMINISTER_PROJECTS":
        return user.project_admin or user.admin
    return user.account_type == "atlassian"


def require(user: JiraUser, key: str, what: str) -> None:
    """Refuse (400, as the OAS documents for these writes) unless ``user`` holds ``key``."""
    if not has_permission(user, key):
        raise jira_error(400, f"You do not have permission to {what}.")


def my_permissions(req: Request, store: JiraStore, user: JiraUser) -> Response:
    """``GET /rest/api/3/mypermissions?permissions=K1,K2[&projectKey=..]``."""
    asked = [k.strip() for k in (req.query.get("permissions") or "").split(",") if k.strip()]
    if not asked:
        raise jira_error(400, "The permissions parameter is required.")
    unknown = [k for k in asked if k not in PERMISSIONS]
    if unknown:
        raise jira_error(400, f"Unrecognized permission key(s): {', '.join(unknown)}")
    project = req.query.get("projectKey")
    if project is not None and (
        project.upper() != store.project_key or not has_permission(user, "BROWSE_PROJECTS")
    ):
        raise _no_project(project)
    body = {}
    for key in asked:
        pid, name, kind, description = PERMISSIONS[key]
        body[key] = {
            "id": pid,
            "key": key,
            "name": name,
            "type": kind,
            "description": description,
            "havePermission": has_permission(user, key),
        }
    return Response(200, {"permissions": body})


def _no_project(key: str) -> HttpError:
    return jira_error(404, f"No project could be found with key '{key}'.")
