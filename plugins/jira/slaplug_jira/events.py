"""From a Jira issue, its changelog and its comments to a slaplug `Ticket`: pure functions.

=====================================================  =====================================
Jira                                                   slaplug
=====================================================  =====================================
``fields.created``                                     CREATED
first ``status`` change's ``fromString`` (or the       STATUS_CHANGED at creation (initial)
current status when it never changed)
first ``priority`` change's ``fromString`` (or the     PRIORITY_CHANGED at creation (initial)
current priority)
changelog item ``status``                              STATUS_CHANGED (value: mapped status)
  ... into a done status from a not-done one           + SOLVED
  ... out of a done status into a not-done one         + REOPENED
changelog item ``priority``                            PRIORITY_CHANGED (value: mapped)
changelog item ``assignee`` (``from``/``to``:           FIELD_CHANGED ``assignee``
accountIds, as `Ticket.assignee`)
changelog item ``labels`` (space-separated strings)    FIELD_CHANGED ``tags`` (sorted tuples)
changelog item ``issuetype``                           FIELD_CHANGED ``type``
the ``group_field``, the JSM Organizations and          FIELD_CHANGED ``group``,
Request Type fields, the fields under ``fields:``      ``organization``,
(``fromString``/``toString``; a date or date time      ``fields.request_type``, ``fields.<name>``
field's ISO ``from``/``to``, as the field shows it)
public comment by the reporter or a JSM customer       REQUESTER_MESSAGE
public comment by anyone else (an agent)               AGENT_REPLY
internal comment (``jsdPublic: false``, restricted     nothing
``visibility``, or ``sd.public.comment`` internal)
comment by an app account (automation, slaplug)        nothing: not a conversation turn
=====================================================  =====================================

Done statuses: see `Normalizer.is_done`. The issue's description is part of its creation,
not a requester message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slaplug.model import EventKind, Ticket, TicketEvent
from slaplug_jira.adf import adf_text
from slaplug_jira.config import Normalizer

__all__ = [
    "JsmFields",
    "comment_kind",
    "is_internal",
    "map_events",
    "organization_names",
    "parse_time",
    "to_millis",
    "to_ticket",
]

#: The rule field the JSM Request Type is read into (``fields.request_type``).
REQUEST_TYPE = "request_type"

#: The JSM entity property that marks a comment internal (``{"internal": true}``).
SD_PUBLIC_COMMENT = "sd.public.comment"

#: A date time picker's changelog ``from``/``to`` (``yyyy-MM-dd'T'HH:mm:ssZ``, no
#: milliseconds) and a date picker's or the Due date's (``yyyy-MM-dd``). Their
#: ``fromString``/``toString`` are display text (``02/Mar/26 10:00 AM``, ``02/Mar/26``,
#: ``2026-03-02 00:00:00.0``); sources at ``slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT``.
_CHANGELOG_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{4})")
_CHANGELOG_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class JsmFields:
    """The custom field ids of JSM's Organizations (``sd-customer-organizations``) and
    Request Type (``vp-origin``) on one site; None where the site has no such field."""

    organizations: str | None = None
    request_type: str | None = None


def parse_time(value: Any) -> datetime:
    """A Jira time as an aware datetime.

    Jira writes ``2026-03-02T10:15:30.123+0000``; the bulk changelog example in the OpenAPI
    file shows Unix seconds, so numbers are accepted too (milliseconds when very large).
    """
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_millis(value: Any) -> int:
    """A Jira time as Unix milliseconds (the cursor's unit)."""
    return int(parse_time(value).timestamp() * 1000)


def is_internal(comment: Mapping[str, Any]) -> bool:
    """Whether the customer cannot see a comment.

    JSM reports it as ``jsdPublic: false`` (Comment schema in the OpenAPI file); a comment
    restricted by ``visibility`` (role or group) is hidden from customers too; and the
    ``sd.public.comment`` property is returned when comments are read with properties.
    """
    if comment.get("jsdPublic") is False or comment.get("visibility"):
        return True
    for prop in comment.get("properties") or ():
        value = prop.get("value")
        if prop.get("key") == SD_PUBLIC_COMMENT and isinstance(value, Mapping):
            return bool(value.get("internal"))
    return False


def comment_kind(comment: Mapping[str, Any], reporter: str | None) -> EventKind | None:
    """What a comment is for the clocks: AGENT_REPLY, REQUESTER_MESSAGE or nothing."""
    if is_internal(comment):
        return None
    author = comment.get("author") or {}
    account = author.get("accountId")
    kind = author.get("accountType")
    if account is not None and account == reporter:
        return EventKind.REQUESTER_MESSAGE
    if kind == "customer":
        return EventKind.REQUESTER_MESSAGE
    if kind == "app" or account is None:
        # Automation rules, integrations (slaplug itself) and deleted users are not a
        # human answering the customer; counting them would stop first_response early.
        return None
    return EventKind.AGENT_REPLY


def _items(
    histories: Iterable[Mapping[str, Any]], tracked: Mapping[str, str] | None = None
) -> list[tuple[datetime, str, Mapping[str, Any], str | None]]:
    out = []
    for h in histories:
        at = parse_time(h["created"])
        actor = (h.get("author") or {}).get("accountId")
        for item in h.get("items") or ():
            field = item.get("fieldId") or item.get("field")
            if field in ("status", "priority") or (tracked and field in tracked):
                out.append((at, str(h.get("id", "")), item, actor))
    # Jira returns some histories newest first; the clocks need time order, and within one
    # history the items' own order.
    out.sort(key=lambda t: (t[0], _numeric(t[1])))
    return out


def _numeric(history_id: str) -> int:
    return int(history_id) if history_id.isdigit() else 0


def map_events(
    *,
    created: datetime,
    reporter: str | None,
    status: str,
    priority: str | None,
    histories: Iterable[Mapping[str, Any]],
    comments: Iterable[Mapping[str, Any]],
    norm: Normalizer,
    tracked: Mapping[str, str] | None = None,
    offsets: Mapping[str, str] | None = None,
) -> list[TicketEvent]:
    """The slaplug events of one issue (see the table in the module docstring).

    Args:
        created: ``fields.created``.
        reporter: The reporter's accountId.
        status: The current Jira status name.
        priority: The current Jira priority name, if any.
        histories: Changelog histories, in any order (only status and priority matter).
        comments: The issue's comments.
        norm: The name maps.
        tracked: Jira field ids whose changes become FIELD_CHANGED, with the rule field
            each is read into (``{"assignee": "assignee", "labels": "tags", ...}``).
        offsets: For date time fields, the UTC offset (``+0100``) the issue shows the
            field's value in: its past values are written in it too, so that one instant
            reads as one text.

    Returns:
        The events, in time order.
    """
    items = _items(histories, tracked)
    first_status = next(
        (i for _, _, i, _ in items if (i.get("fieldId") or i.get("field")) == "status"), None
    )
    first_priority = next(
        (i for _, _, i, _ in items if (i.get("fieldId") or i.get("field")) == "priority"), None
    )
    initial_status = str(first_status.get("fromString") or status) if first_status else status
    initial_priority = first_priority.get("fromString") if first_priority else priority

    events = [
        TicketEvent(EventKind.CREATED, created, actor=reporter),
        TicketEvent(EventKind.STATUS_CHANGED, created, norm.status(initial_status)),
    ]
    if initial_priority:
        events.append(
            TicketEvent(EventKind.PRIORITY_CHANGED, created, norm.priority(initial_priority))
        )
    current = initial_status
    for at, _, item, actor in items:
        fid = str(item.get("fieldId") or item.get("field") or "")
        if tracked and fid in tracked and fid not in ("status", "priority"):
            offset = (offsets or {}).get(fid)
            change = _field_change(tracked[fid], fid, item, at, actor, offset)
            if change is not None:
                events.append(change)
            continue
        if fid == "priority":
            events.append(
                TicketEvent(
                    EventKind.PRIORITY_CHANGED, at, norm.priority(item.get("toString")), actor
                )
            )
            continue
        new = str(item.get("toString") or "")
        events.append(TicketEvent(EventKind.STATUS_CHANGED, at, norm.status(new), actor))
        if norm.is_done(new) and not norm.is_done(current):
            events.append(TicketEvent(EventKind.SOLVED, at, actor=actor))
        elif norm.is_done(current) and not norm.is_done(new):
            events.append(TicketEvent(EventKind.REOPENED, at, actor=actor))
        current = new
    for c in comments:
        kind = comment_kind(c, reporter)
        if kind is not None:
            actor = (c.get("author") or {}).get("accountId")
            events.append(TicketEvent(kind, parse_time(c["created"]), actor=actor))
    # Ticket sorts by time; a stable sort keeps SOLVED right after its status change.
    return sorted(events, key=lambda e: e.at)


def organization_names(value: Any) -> list[str]:
    """The names in a JSM Organizations value: the field's list of ``{"id", "name"}``
    (``sd-customer-organizations``), or a changelog string such as ``[Acme Corp, Globex]``.

    No recorded changelog item of an Organizations change was found (see the fake's
    ``_as_text``), so the string is read with or without brackets, comma-separated; a name
    containing a comma would be split.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return [str(o.get("name") if isinstance(o, Mapping) else o) for o in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [n.strip() for n in text.split(",") if n.strip()]


def _field_change(
    name: str,
    fid: str,
    item: Mapping[str, Any],
    at: datetime,
    actor: str | None,
    offset: str | None = None,
) -> TicketEvent | None:
    """One changelog item of a tracked field as FIELD_CHANGED (None if nothing changed)."""
    if fid == "assignee":  # from/to hold accountIds, as Ticket.assignee does
        old, new = item.get("from") or None, item.get("to") or None
    elif fid == "labels":  # Jira shows labels space-separated, with no ids
        old = str(item.get("fromString") or "").split()
        new = str(item.get("toString") or "").split()
    elif name == "organization":  # Ticket.organization: the first organization named
        old = next(iter(organization_names(item.get("fromString"))), None)
        new = next(iter(organization_names(item.get("toString"))), None)
    else:
        old, new = _changelog_value(item, "from", offset), _changelog_value(item, "to", offset)
    event = TicketEvent(EventKind.FIELD_CHANGED, at, new, actor, name, old)
    return None if event.value == event.old else event


def _changelog_value(item: Mapping[str, Any], side: str, offset: str | None = None) -> Any:
    """One side (``from`` or ``to``) of a changelog item as the field's value reads.

    A date or date time field's display string (``02/Mar/26 10:00 AM``) is not what the
    issue shows, so its ISO ``from``/``to`` is read instead: a date as is, a date time as
    Jira's timestamp (``2026-03-02T10:00:00.000+0000``) at ``offset`` (the one the issue
    shows the field in), else at the offset the change was recorded in (Jira records it in
    the zone of whoever made the change). Anything else is its display string, as for text
    and select fields.
    """
    raw = item.get(side)
    if isinstance(raw, str):
        m = _CHANGELOG_TIME.fullmatch(raw)
        if m:
            millis = ((m[2] or ".") + "000")[:4]
            if offset is not None and offset != m[3]:
                at = datetime.strptime(m[1] + m[3], "%Y-%m-%dT%H:%M:%S%z")
                shown = at.astimezone(datetime.strptime(offset, "%z").tzinfo)
                return shown.strftime("%Y-%m-%dT%H:%M:%S") + millis + offset
            return f"{m[1]}{millis}{m[3]}"
        if _CHANGELOG_DATE.fullmatch(raw):
            return raw
    return item.get(f"{side}String") or None


def _plain(value: Any) -> Any:
    """A custom field's value as rules see it: option values and names, ADF as text."""
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            return adf_text(value).strip()
        for key in ("value", "name", "displayName"):
            if key in value:
                return value[key]
        return dict(value)  # e.g. a JSM SLA field: kept whole, read-only input
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_ticket(
    issue: Mapping[str, Any],
    *,
    histories: Sequence[Mapping[str, Any]],
    comments: Sequence[Mapping[str, Any]],
    norm: Normalizer,
    instance: str,
    base_url: str,
    field_ids: Mapping[str, str],
    group_field: str | None = None,
    jsm: JsmFields | None = None,
) -> Ticket:
    """A slaplug `Ticket` from a Jira issue (search or get-issue JSON) and its history.

    Args:
        issue: The issue, with at least the fields the connector asks for.
        histories: Its changelog histories.
        comments: Its comments.
        norm: The name maps.
        instance: The configured connector's name (`Ticket.connector`).
        base_url: The site, for the browse URL.
        field_ids: Field ids by rule name (`Ticket.fields`): custom fields and the
            system Due date (``duedate``, ``yyyy-MM-dd`` as the issue shows it).
        group_field: The custom field holding the group, if configured.
        jsm: The JSM Organizations and Request Type fields, when the site has them.
    """
    f = issue.get("fields") or {}
    status_obj = f.get("status") or {}
    status = str(status_obj.get("name") or "")
    if (status_obj.get("statusCategory") or {}).get("key") == "done":
        norm.done.add(status.casefold())  # learn it: older changes into it are SOLVED too
    priority = (f.get("priority") or {}).get("name")
    reporter = (f.get("reporter") or {}).get("accountId")
    created = parse_time(f["created"])
    jsm = jsm or JsmFields()
    fields = {name: _plain(f.get(fid)) for name, fid in field_ids.items() if fid in f}
    organization = None
    if jsm.organizations and f.get(jsm.organizations):
        organization = next(iter(organization_names(f.get(jsm.organizations))), None)
    if jsm.request_type and isinstance(f.get(jsm.request_type), Mapping):
        # vp-origin: {"requestType": {"id", "name", ...}, "currentStatus": ..., "_links": ...}
        rtype = (f[jsm.request_type].get("requestType") or {}).get("name")
        if rtype:
            fields[REQUEST_TYPE] = rtype
    tracked = {"assignee": "assignee", "labels": "tags", "issuetype": "type"}
    tracked.update({fid: f"fields.{name}" for name, fid in field_ids.items()})
    offsets = {  # date time fields: the offset the issue shows each in
        fid: m[3]
        for fid in field_ids.values()
        if isinstance(f.get(fid), str) and (m := _CHANGELOG_TIME.fullmatch(f[fid]))
    }
    if group_field:
        tracked[group_field] = "group"
    if jsm.organizations:
        tracked[jsm.organizations] = "organization"
    if jsm.request_type:
        tracked[jsm.request_type] = f"fields.{REQUEST_TYPE}"
    return Ticket(
        id=str(issue["key"]),
        connector=instance,
        platform="jira",
        created_at=created,
        status=norm.status(status),
        priority=norm.priority(priority),
        subject=str(f.get("summary") or ""),
        type=(f.get("issuetype") or {}).get("name"),
        group=_plain(f.get(group_field)) if group_field else None,
        organization=organization,
        assignee=(f.get("assignee") or {}).get("accountId"),
        requester=reporter,
        tags=frozenset(f.get("labels") or ()),
        fields=fields,
        updated_at=parse_time(f["updated"]) if f.get("updated") else None,
        url=f"{base_url}/browse/{issue['key']}",
        # Rules match accountIds; people read names. The issue's user objects carry both
        # (the v3 spec's `UserDetails` schema, tests/specs/jira-platform-v3.trimmed.openapi.json:
        # accountId, displayName "depending on the user's privacy settings, ... an alternative
        # value"); without a displayName the accountId is shown.
        names={
            name: str(user["displayName"])
            for name, user in (("assignee", f.get("assignee")), ("requester", f.get("reporter")))
            if isinstance(user, Mapping)
            and user.get("displayName")
            and user["displayName"] != user.get("accountId")
        },
        events=tuple(
            map_events(
                created=created,
                reporter=reporter,
                status=status,
                priority=priority,
                histories=histories,
                comments=comments,
                norm=norm,
                tracked=tracked,
                offsets=offsets,
            )
        ),
    )
