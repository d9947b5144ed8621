"""`slaplug doctor` for Zendesk: what a first sync needs, checked against the live account.

* credentials: ``GET /api/v2/users/me`` answers with the token's user (401 otherwise);
* role: both incremental exports are "Allowed For: Admins" (Zendesk's incremental export
  reference; ``incremental-openapi-original.yml``), so the token's user must be an admin;
* every custom field the rules set is mapped under ``fields:`` or found by title in
  ``GET /api/v2/ticket_fields``, and a mapped id exists there; a live field writing
  date-times (``format: instant`` or ``local``) is not a ``date`` field, which takes
  ``YYYY-MM-DD`` only;
* every group and agent the rules assign to exists (``GET /api/v2/groups``, ``/users``);
* every status and priority the rules set is one Zendesk has (Tickets API: ``status`` is
  new, open, pending, hold, solved or closed; ``priority`` is urgent, high, normal or low).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.model import ActionKind

if TYPE_CHECKING:
    from slaplug_zendesk.connector import ZendeskConnector

__all__ = ["PRIORITIES", "STATUSES", "zendesk_checks"]

#: Ticket statuses and priorities as the Tickets API names them.
STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
PRIORITIES = frozenset({"urgent", "high", "normal", "low"})


def zendesk_checks(conn: ZendeskConnector, needs: DoctorNeeds) -> Iterator[Check]:
    """The checks, in order; the first call raises on bad credentials or an unreachable host."""
    me = conn.http.get_json("api/v2/users/me.json")["user"]
    email, role = me.get("email") or f"user {me.get('id')}", me.get("role")
    yield Check("credentials", CheckStatus.OK, f"{email} ({role})")
    if role == "admin":
        yield Check("role", CheckStatus.OK, "admin: the incremental exports are allowed")
    else:
        yield Check(
            "role",
            CheckStatus.FAIL,
            f"{email} is {role!r}; the incremental exports slaplug reads are admin-only",
            "use the API token of an agent with the Admin role (email + api_token_env)",
        )
    directory = conn.directory
    types = {int(f["id"]): str(f.get("type") or "") for f in directory.list_fields()}
    known_ids = set(types)
    for w in needs.named(ActionKind.SET_FIELD):
        fid = directory.field_id(w.name)
        if fid is None:
            yield _missing(
                w.problem(f"no Zendesk ticket field {w.name!r}"),
                f"field {w.name}",
                "map it under fields: {name: id} in the connector's configuration",
            )
        elif fid not in known_ids:
            yield _missing(
                w.problem(f"{w.name!r} is mapped to field id {fid}, which Zendesk does not have"),
                f"field {w.name}",
                "fix the id under fields:, from Admin Center > Fields",
            )
        elif types[fid] == "date" and w.value_format in ("instant", "local"):
            # A date field takes YYYY-MM-DD only; a date-time is a 422 that refuses the
            # whole ticket update (zenpy issue #425; write.py refuses to send it).
            yield _missing(
                w.problem(
                    f"{w.name!r} is Zendesk date field {fid}, which takes YYYY-MM-DD only; "
                    f"this live field writes {w.value_format} date-times"
                ),
                f"field {w.name}",
                "give the live field `format: date`, or map it to a text field",
            )
        else:
            yield Check(f"field {w.name}", CheckStatus.OK, f"id {fid}")
    assignees = (
        ("group", "group", directory.group_id, "create the group, or change the rule"),
        ("user", "agent", directory.agent_id, "name an agent by id or e-mail, or change the rule"),
    )
    for role, label, resolve, fix in assignees:
        for w in needs.named(ActionKind.ASSIGN, role):
            found = resolve(w.name)
            if found is None:
                yield _missing(
                    w.problem(f"no Zendesk {label} {w.name!r}"), f"{label} {w.name}", fix
                )
            else:
                yield Check(f"{label} {w.name}", CheckStatus.OK, f"id {found}")
    for kind, allowed, what in (
        (ActionKind.SET_STATUS, STATUSES, "status"),
        (ActionKind.SET_PRIORITY, PRIORITIES, "priority"),
    ):
        for w in needs.named(kind):
            if w.name.lower() in allowed:
                yield Check(f"{what} {w.name}", CheckStatus.OK, f"a Zendesk {what}")
            else:
                yield _missing(
                    w.problem(
                        f"Zendesk has no {what} {w.name!r}; use one of {', '.join(sorted(allowed))}"
                    ),
                    f"{what} {w.name}",
                    "change the rule",
                )


def _missing(problem: object, name: str, fix: str) -> Check:
    return Check(name, CheckStatus.FAIL, str(problem), fix)
