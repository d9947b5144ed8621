"""Users, groups, organizations and ticket fields, cached: names for tickets, ids for writes.

Each lookup costs at most one call per page of records (``users/show_many`` takes 100 ids),
never one call per ticket. Users seen in a sideload are cached for free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slaplug.connectors import ApiClient

__all__ = ["AGENT_ROLES", "Directory", "User", "slug"]

#: Zendesk roles that count as agents; everyone else (``end-user``) is a customer.
AGENT_ROLES = frozenset({"agent", "admin"})
_SHOW_MANY = 100  # users/show_many takes at most 100 ids
_MAX_PAGES = 1000  # a safety net for lists that page with next_page


def slug(title: str) -> str:
    """A field title as a name rules can use: ``"SLA status"`` -> ``"sla_status"``."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


@dataclass(frozen=True)
class User:
    """The little slaplug needs to know about a Zendesk user."""

    id: int
    role: str
    email: str | None
    name: str = ""

    @property
    def is_agent(self) -> bool:
        """Agents and admins; end-users are not."""
        return self.role in AGENT_ROLES


class Directory:
    """Lazily loaded lookups over one `ApiClient`.

    Args:
        http: The connector's client.
        fields: Configured custom field ids by name (they win over titles).
    """

    def __init__(self, http: ApiClient, fields: Mapping[str, int]) -> None:
        self.http = http
        self.users: dict[int, User] = {}
        self.groups: dict[int, str] = {}
        self.organizations: dict[int, str] = {}
        self._configured = dict(fields)
        self._field_names: dict[int, str] | None = None
        self._field_ids: dict[str, int] | None = None
        self._field_types: dict[int, str] = {}
        self._asked: set[int] = set()
        self._asked_orgs: set[int] = set()
        self._agents_listed = False
        self._groups_listed = False

    # -- users ----------------------------------------------------------------------------

    def remember_users(self, raw: Iterable[Mapping[str, Any]]) -> None:
        """Cache users from a sideload (``include=users``) or a listing."""
        for u in raw:
            self.users[int(u["id"])] = User(
                int(u["id"]), str(u.get("role") or "end-user"), u.get("email"), u.get("name", "")
            )

    def ensure_users(self, ids: Iterable[int | None]) -> None:
        """Make sure the given users are cached: one ``show_many`` call per 100 unknown ids.

        The system user (``-1``) and ids Zendesk does not return stay unknown.
        """
        missing = sorted(
            {i for i in ids if i is not None and i > 0 and i not in self.users} - self._asked
        )
        self._asked.update(missing)  # never ask twice for a user Zendesk does not return
        for n in range(0, len(missing), _SHOW_MANY):
            chunk = missing[n : n + _SHOW_MANY]
            data = self.http.get_json(
                "api/v2/users/show_many.json", params={"ids": ",".join(map(str, chunk))}
            )
            self.remember_users(data.get("users") or [])

    def user(self, user_id: int | None) -> User | None:
        """A cached user, or None."""
        return None if user_id is None else self.users.get(user_id)

    def agent_id(self, ref: str | int) -> int | None:
        """The id of the agent named by ``ref``: an id, or an email (agents listed once)."""
        text = str(ref).strip()
        if text.isdigit():
            return int(text)
        if not self._agents_listed:
            for role in sorted(AGENT_ROLES):
                self.remember_users(self._list("api/v2/users.json", "users", {"role": role}))
            self._agents_listed = True
        wanted = text.lower()
        return next(
            (u.id for u in self.users.values() if u.is_agent and (u.email or "").lower() == wanted),
            None,
        )

    # -- groups and organizations ---------------------------------------------------------

    def remember_groups(self, raw: Iterable[Mapping[str, Any]]) -> None:
        """Cache group names from a sideload or listing."""
        self.groups.update({int(g["id"]): str(g.get("name", "")) for g in raw})

    def remember_organizations(self, raw: Iterable[Mapping[str, Any]]) -> None:
        """Cache organization names from a sideload."""
        self.organizations.update({int(o["id"]): str(o.get("name", "")) for o in raw})

    def ensure_organizations(self, ids: Iterable[int | None]) -> None:
        """Name the organizations a history mentions that no sideload named: one
        ``GET /api/v2/organizations/show_many.json?ids=`` per 100 unknown ids (Zendesk's
        "Show Many Organizations"; ``ShowManyOrganizationsRequest.ids`` in the clients generated
        from its OpenAPI file). Ids Zendesk does not return (deleted) stay unnamed."""
        missing = sorted(
            {i for i in ids if i is not None and i not in self.organizations} - self._asked_orgs
        )
        self._asked_orgs.update(missing)
        for n in range(0, len(missing), _SHOW_MANY):
            chunk = missing[n : n + _SHOW_MANY]
            data = self.http.get_json(
                "api/v2/organizations/show_many.json", params={"ids": ",".join(map(str, chunk))}
            )
            self.remember_organizations(data.get("organizations") or [])

    def group_name(self, group_id: int | None) -> str | None:
        """A group's name; groups are listed once when a sideload missed one."""
        if group_id is None:
            return None
        if group_id not in self.groups and not self._groups_listed:
            self._list_groups()
        return self.groups.get(group_id, str(group_id))

    def _list_groups(self) -> None:
        self.remember_groups(self._list("api/v2/groups.json", "groups"))
        self._groups_listed = True

    def group_id(self, name: str) -> int | None:
        """The id of the group called ``name`` (case-insensitive); groups listed once."""
        if not self._groups_listed:
            self._list_groups()
        wanted = name.strip().lower()
        return next((i for i, n in self.groups.items() if n.lower() == wanted), None)

    # -- custom fields --------------------------------------------------------------------

    def field_id(self, name: str) -> int | None:
        """A custom field's id: configured name, else its title or slugged title."""
        if name in self._configured:
            return self._configured[name]
        self._load_fields()
        assert self._field_ids is not None
        return self._field_ids.get(name) or self._field_ids.get(slug(name))

    def field_name(self, field_id: int) -> str:
        """The name a custom field goes by in `Ticket.fields`."""
        for name, i in self._configured.items():
            if i == field_id:
                return name
        self._load_fields()
        assert self._field_names is not None
        return self._field_names.get(field_id, str(field_id))

    def field_type(self, field_id: int) -> str | None:
        """A ticket field's ``type`` (``text``, ``date``, ``tagger``...); None when the account
        does not list it. The fields are listed once (one ``GET /api/v2/ticket_fields``)."""
        self._load_fields()
        return self._field_types.get(field_id)

    def list_fields(self) -> list[Mapping[str, Any]]:
        """Every ticket field of the account (``GET /api/v2/ticket_fields``)."""
        return self._list("api/v2/ticket_fields.json", "ticket_fields")

    def _load_fields(self) -> None:
        if self._field_names is not None:
            return
        names: dict[int, str] = {}
        ids: dict[str, int] = {}
        for f in self.list_fields():
            title = str(f.get("title") or f.get("raw_title") or f["id"])
            names[int(f["id"])] = slug(title)
            self._field_types[int(f["id"])] = str(f.get("type") or "")
            ids.setdefault(title, int(f["id"]))
            ids.setdefault(slug(title), int(f["id"]))
        self._field_names, self._field_ids = names, ids

    # -- paging ---------------------------------------------------------------------------

    def _list(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """Every record of an offset-paged list, following ``next_page``."""
        out: list[Mapping[str, Any]] = []
        url: str | None = path
        query: Mapping[str, Any] | None = params
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            data = self.http.get_json(url, params=query)
            out.extend(data.get(key) or [])
            url, query = data.get("next_page"), None  # next_page carries its own query
        return out
