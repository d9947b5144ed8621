"""A platform-neutral ticket history, and how the fake Jira plays one into its site.

A :class:`TicketHistory` says what happened to one ticket (created when, by whom, with which
priority; then status and priority changes and public or internal comments, each with an
author and a time) without saying how a platform records it. A cross-platform test builds
one history and gives it to each fake, so both hold the same ticket.

Neutral values are accepted besides Jira's own: Zendesk-style statuses (``new``, ``open``,
``pending``, ``hold``, ``solved``, ``closed``) and priorities (``urgent``, ``high``,
``normal``, ``low``) are mapped as :data:`NEUTRAL_STATUS` and :data:`NEUTRAL_PRIORITY` say.
Nothing here is Jira-specific except :func:`play_history`; the types could move to a shared
module when the fake Zendesk learns to take them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slaplug.testing.fakeserver import iso_z
from slaplug_jira.fake.data import (
    ISSUE_TYPES,
    PRIORITIES,
    RESOLUTIONS,
    STATUSES,
    ChangeItem,
    Issue,
    JiraStore,
    JiraUser,
    by_id_or_name,
)
from slaplug_jira.fake.render import account_id_for, parse_any_time

#: Zendesk-style status -> Jira status id. ``hold`` (waiting on a third party) keeps the
#: issue in progress: only waiting on the *customer* has its own JSM status.
NEUTRAL_STATUS = {
    "new": "1",
    "open": "3",
    "pending": "10001",
    "hold": "3",
    "solved": "5",
    "closed": "6",
}
#: Zendesk-style priority -> Jira priority id.
NEUTRAL_PRIORITY = {"urgent": "1", "high": "2", "normal": "3", "low": "4"}
DONE = "10000"  # the resolution a transition to a done status sets when none is given


@dataclass(frozen=True)
class HistoryEvent:
    """One moment in a ticket's life: field changes, a comment, or both.

    Attributes:
        at: When: a datetime, Unix seconds, or ISO 8601 text.
        author: accountId, email or display name; unknown authors become agents.
        comment: Comment text, if a comment was written.
        public: False for an internal note (JSM ``jsdPublic: false``).
        changes: ``status``, ``priority``, ``assignee`` (None unassigns), ``labels``,
            ``resolution``, ``summary`` or custom field ids (``customfield_10050``).
    """

    at: Any
    author: str
    comment: str | None = None
    public: bool = True
    changes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEvent:
        """Read the seed-file form (same keys)."""
        return cls(
            data["at"],
            str(data["author"]),
            data.get("comment"),
            bool(data.get("public", True)),
            dict(data.get("changes") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        """The seed-file form."""
        out: dict[str, Any] = {"at": self.at, "author": self.author}
        if self.comment is not None:
            out["comment"] = self.comment
            out["public"] = self.public
        if self.changes:
            out["changes"] = dict(self.changes)
        return out


@dataclass(frozen=True)
class TicketHistory:
    """A ticket from its creation on. The initial values hold at ``created``; ``events``
    are played in time order (stable for equal times)."""

    created: Any
    reporter: str
    summary: str = "Help needed"
    description: str = ""
    priority: str | None = "Medium"
    status: str = "Open"
    assignee: str | None = None
    labels: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    issue_type: str = "Service Request"
    events: tuple[HistoryEvent, ...] = ()
    #: Jira only: the key to use (default: the project's next key).
    key: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketHistory:
        """Read the seed-file form (docs/testing/fake-jira.md)."""
        return cls(
            created=data["created"],
            reporter=str(data["reporter"]),
            summary=str(data.get("summary", "Help needed")),
            description=str(data.get("description", "")),
            priority=data.get("priority", "Medium"),
            status=str(data.get("status", "Open")),
            assignee=data.get("assignee"),
            labels=tuple(data.get("labels") or ()),
            fields=dict(data.get("fields") or {}),
            issue_type=str(data.get("issueType", "Service Request")),
            events=tuple(HistoryEvent.from_json(e) for e in data.get("events") or ()),
            key=data.get("key"),
        )

    def to_json(self) -> dict[str, Any]:
        """The seed-file form."""
        out: dict[str, Any] = {
            "created": self.created,
            "reporter": self.reporter,
            "summary": self.summary,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "assignee": self.assignee,
            "labels": list(self.labels),
            "fields": dict(self.fields),
            "issueType": self.issue_type,
            "events": [e.to_json() for e in self.events],
        }
        if self.key:
            out["key"] = self.key
        return out


def status_id(value: Any) -> str:
    """A Jira status id from a Jira id or name or a neutral status.

    Raises:
        ValueError: for an unknown status.
    """
    found = by_id_or_name(STATUSES, value) or NEUTRAL_STATUS.get(str(value).lower())
    if found is None:
        raise ValueError(f"unknown status {value!r}")
    return found


def priority_id(value: Any) -> str | None:
    """A Jira priority id from a Jira id or name or a neutral priority (None stays None).

    Raises:
        ValueError: for an unknown priority.
    """
    if value is None:
        return None
    found = by_id_or_name(PRIORITIES, value) or NEUTRAL_PRIORITY.get(str(value).lower())
    if found is None:
        raise ValueError(f"unknown priority {value!r}")
    return found


def resolve_user(store: JiraStore, ref: str | None, customer: bool) -> str | None:
    """The accountId for ``ref``; an unknown name or email becomes a new user."""
    if ref is None:
        return None
    u = store.user(ref)
    if u is None:
        email = ref if "@" in ref else ref.lower().replace(" ", ".") + "@example.com"
        name = ref if "@" not in ref else ref.split("@")[0].replace(".", " ").title()
        u = JiraUser(
            account_id_for(email, customer), name, email, "customer" if customer else "atlassian"
        )
        store.users[u.account_id] = u
    return u.account_id


def custom_value(store: JiraStore, fid: str, value: Any) -> Any:
    """A custom field value as stored: select options by id (a label is looked up).

    Raises:
        ValueError: for an unknown field or option.
    """
    f = store.field(fid)
    if f is None:
        raise ValueError(f"unknown field {fid!r}")
    if value is None or f.kind != "select":
        return value
    if isinstance(value, Mapping):
        value = value.get("id") or value.get("value")
    found = next((i for i, v in f.options if str(value) in (i, v)), None)
    if found is None:
        raise ValueError(f"{value!r} is not an option of {f.name}")
    return found


def _changes(store: JiraStore, issue: Issue, raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "status":
            out["status"] = status_id(value)
        elif name == "priority":
            out["priority"] = priority_id(value)
        elif name == "assignee":
            out["assignee"] = resolve_user(store, value, customer=False)
        elif name == "labels":
            out["labels"] = list(value)
        elif name == "resolution":
            out["resolution"] = None if value is None else by_id_or_name(RESOLUTIONS, value)
        elif name in ("summary", "description"):
            out[name] = str(value)
        else:
            out[name] = custom_value(store, name, value)
    if "status" in out and "resolution" not in out:
        # Transitions to a done status set a resolution and reopening clears it, as the
        # default JSM workflow's post functions do.
        done = out["status"] in ("5", "6")
        if done and issue.resolution is None:
            out["resolution"] = DONE
        elif not done and issue.resolution is not None:
            out["resolution"] = None
    return out


def play_history(store: JiraStore, history: TicketHistory) -> Issue:
    """Create the issue ``history`` describes and replay its events into ``store``.

    Raises:
        ValueError: for unknown statuses, priorities, fields or options, or a used key.
    """
    reporter = resolve_user(store, history.reporter, customer=True) or ""
    created = parse_any_time(history.created)
    type_id = by_id_or_name(ISSUE_TYPES, history.issue_type) or ISSUE_TYPES[0][0]
    status = status_id(history.status)
    values: dict[str, Any] = {
        "summary": history.summary,
        "description": history.description,
        "issue_type": type_id,
        "status": status,
        "priority": priority_id(history.priority),
        "reporter": reporter,
        "assignee": resolve_user(store, history.assignee, customer=False),
        "labels": list(history.labels),
        "custom": {k: custom_value(store, k, v) for k, v in history.fields.items()},
        "created": created,
    }
    if status in ("5", "6"):
        values["resolution"], values["resolution_date"] = DONE, created
    if history.key:
        if store.issue(history.key) is not None:
            raise ValueError(f"issue key {history.key} is already used")
        issue = store.add_issue(
            Issue(
                store.next_issue_id,
                history.key.upper(),
                updated=created,
                status_changed=created,
                **values,
            )
        )
    else:
        issue = store.new_issue(**values)
    events = sorted(
        ((parse_any_time(e.at), n, e) for n, e in enumerate(history.events)), key=lambda x: x[:2]
    )
    for ts, _, e in events:
        same = e.author == history.reporter or store.user(e.author) is store.users.get(reporter)
        author = reporter if same else resolve_user(store, e.author, customer=False) or ""
        changes = _changes(store, issue, e.changes)
        if changes:
            store.change(issue, author, ts, changes)
        if e.comment is not None:
            store.comment(issue, author, ts, e.comment, e.public)
    return issue


def history_of(store: JiraStore, issue: Issue) -> TicketHistory:
    """The :class:`TicketHistory` that :func:`play_history` turns into ``issue`` again
    (initial values found by undoing the changelog; used to write seed files)."""
    state: dict[str, Any] = {
        "status": issue.status,
        "priority": issue.priority,
        "assignee": issue.assignee,
        "labels": list(issue.labels),
        "resolution": issue.resolution,
        "summary": issue.summary,
        "description": issue.description,
        **issue.custom,
    }
    events: list[tuple[int, int, HistoryEvent]] = []
    for h in reversed(store.histories.get(issue.id, [])):
        changes: dict[str, Any] = {}
        for item in h.items:
            new, old = _item_values(item.field_id, item)
            changes[item.field_id] = new
            state[item.field_id] = old
        events.append((h.created, 0, HistoryEvent(_iso(h.created), h.author, changes=changes)))
    for c in store.comments.get(issue.id, []):
        events.append((c.created, 1, HistoryEvent(_iso(c.created), c.author, c.body, c.public)))
    events.sort(key=lambda x: x[:2])
    custom = {k: v for k, v in state.items() if k.startswith("customfield_") and v is not None}
    return TicketHistory(
        created=_iso(issue.created),
        reporter=issue.reporter,
        summary=str(state["summary"]),
        description=str(state["description"]),
        priority=state["priority"],
        status=str(state["status"]),
        assignee=state["assignee"],
        labels=tuple(state["labels"]),
        fields=custom,
        issue_type=issue.issue_type,
        events=tuple(e for _, _, e in events),
        key=issue.key,
    )


def _item_values(field_id: str, item: ChangeItem) -> tuple[Any, Any]:
    # The stored values, not the display strings: select options by id, numbers as numbers.
    return item.raw_to, item.raw_from


def _iso(ms: int) -> str:
    text = iso_z(ms // 1000)
    return text[:-1] + f".{ms % 1000:03d}Z" if ms % 1000 else text
