"""`slaplug doctor` for Freshdesk: what a first sync needs, checked against the live account.

* credentials: ``GET /api/v2/agents/me`` answers with the API key's agent (401
  ``invalid_credentials`` otherwise); the connector reads it anyway for its note markers;
* fields: every custom field the rules set is a custom field's ``name`` in
  ``GET /api/v2/ticket_fields`` (Freshdesk API v2 reference, "List All Ticket Fields"), as
  given or with ``cf_`` added or removed: fields made lately are ``cf_...``, older ones are
  not (`slaplug_freshdesk.fields`); the writer resolves the name the same way. An unknown one
  fails every such write;
* statuses: each one the rules set is Freshdesk's own (open, pending, resolved, closed:
  codes 2-5) or a configured custom status; each configured custom status code must be
  one of the account's, the ``choices`` of the default ``status`` ticket field
  (``{"6": [agent label, customer label], ...}``);
* priorities: each one the rules set is low, medium, high or urgent (codes 1-4);
* assignees: each group the rules assign to is in ``GET /api/v2/groups`` (by name or
  id), each agent in ``GET /api/v2/agents`` (by e-mail, name or id). The connector does
  not write ``assign`` (those actions are reported skipped), so one that exists is a
  warning, one that does not a failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.model import ActionKind
from slaplug_freshdesk.fields import CustomFields

if TYPE_CHECKING:
    from slaplug_freshdesk.connector import FreshdeskConnector

__all__ = ["freshdesk_checks"]

#: Freshdesk's priorities by name, as the writer maps them (write.py ``PRIORITIES``).
_PRIORITIES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}


def freshdesk_checks(conn: FreshdeskConnector, needs: DoctorNeeds) -> Iterator[Check]:
    """The checks, in order; the first call raises on a bad key or an unreachable host."""
    me = conn.http.get_json("api/v2/agents/me")
    contact = me.get("contact") or {}
    yield Check(
        "credentials",
        CheckStatus.OK,
        f"{contact.get('email') or contact.get('name') or '?'} (agent {me.get('id')})",
    )
    fields = conn.http.get_json("api/v2/ticket_fields") or []
    yield from _fields(fields, needs)
    yield from _statuses(conn, fields, needs)
    yield from _priorities(needs)
    yield from _assignees(conn, needs)


def _fields(fields: list[Mapping[str, Any]], needs: DoctorNeeds) -> Iterator[Check]:
    custom = CustomFields.from_ticket_fields(fields)
    for w in needs.named(ActionKind.SET_FIELD):
        key = custom.resolve(w.name)
        if key is None:
            yield _missing(
                w.problem(custom.missing(w.name)),
                f"field {w.name}",
                "create the field (Admin > Ticket Fields) or name one of the account's "
                "custom fields",
            )
        else:
            yield Check(f"field {w.name}", CheckStatus.OK, f"{key} ({custom.labels[key]})")


def _account_statuses(fields: list[Mapping[str, Any]]) -> set[int] | None:
    """The account's status codes, from the ``choices`` of the default ``status`` field."""
    for f in fields:
        if isinstance(f, Mapping) and f.get("name") == "status":
            choices = f.get("choices")
            if isinstance(choices, Mapping):
                return {int(k) for k in choices if str(k).isdigit()}
    return None


def _statuses(
    conn: FreshdeskConnector, fields: list[Mapping[str, Any]], needs: DoctorNeeds
) -> Iterator[Check]:
    account = _account_statuses(fields)
    for code, custom in sorted(conn.config.custom_statuses.items()):
        name = f"custom status {code}"
        if account is None:
            yield Check(name, CheckStatus.SKIP, "the ticket fields list no status choices")
        elif code in account:
            yield Check(name, CheckStatus.OK, f"{custom.name!r}, {custom.like}-like")
        else:
            yield Check(
                name,
                CheckStatus.FAIL,
                f"custom_statuses names code {code} ({custom.name!r}), which the account "
                f"lacks; it has {', '.join(map(str, sorted(account)))}",
                "fix the code under custom_statuses: (Admin > Ticket Fields > Status)",
            )
    for w in needs.named(ActionKind.SET_STATUS):
        code = int(w.name) if w.name.isdigit() else conn.status_codes.get(w.name.lower())
        if code is not None and (code in conn.status_names or (account and code in account)):
            yield Check(f"status {w.name}", CheckStatus.OK, f"code {code}")
        else:
            known = ", ".join(sorted(conn.status_codes))
            yield _missing(
                w.problem(f"Freshdesk has no status {w.name!r}; use one of {known}"),
                f"status {w.name}",
                "change the rule, or declare the account's status under custom_statuses:",
            )


def _priorities(needs: DoctorNeeds) -> Iterator[Check]:
    for w in needs.named(ActionKind.SET_PRIORITY):
        code = _PRIORITIES.get(w.name.lower())
        if code is None and w.name.isdigit() and 1 <= int(w.name) <= 4:
            code = int(w.name)
        if code is not None:
            yield Check(f"priority {w.name}", CheckStatus.OK, f"code {code}")
        else:
            yield _missing(
                w.problem(
                    f"Freshdesk has no priority {w.name!r}; use one of {', '.join(_PRIORITIES)}"
                ),
                f"priority {w.name}",
                "change the rule",
            )


def _assignees(conn: FreshdeskConnector, needs: DoctorNeeds) -> Iterator[Check]:
    for role, path, keys in (
        ("group", "api/v2/groups", ("name",)),
        ("user", "api/v2/agents", ("email", "name")),
    ):
        writes = needs.named(ActionKind.ASSIGN, role)
        if not writes:
            continue
        known: dict[str, Any] = {}
        for item in conn.list_all(path):
            person = item.get("contact") or {}
            known[str(item.get("id"))] = item.get("id")
            for k in keys:
                value = item.get(k) or person.get(k)
                if value:
                    known[str(value).casefold()] = item.get("id")
        what = "group" if role == "group" else "agent"
        for w in writes:
            found = known.get(w.name.casefold(), known.get(w.name))
            if found is None:
                yield _missing(
                    w.problem(f"no Freshdesk {what} {w.name!r}"),
                    f"{what} {w.name}",
                    f"name an existing {what} (by name, e-mail or id), or change the rule",
                )
            else:
                yield Check(
                    f"{what} {w.name}",
                    CheckStatus.WARN,
                    f"id {found}, but the Freshdesk connector does not write assign: "
                    "those actions are skipped",
                    "assign with a Freshdesk automation, or drop the action from the rules",
                )


def _missing(problem: object, name: str, fix: str) -> Check:
    return Check(name, CheckStatus.FAIL, str(problem), fix)
