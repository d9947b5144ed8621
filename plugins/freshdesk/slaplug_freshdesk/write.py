"""Writing back to Freshdesk, idempotently.

Per ticket, the writer reads the ticket once, works out which actions are already in place
(a tag present, the priority already set...) and sends *one* ``PUT /api/v2/tickets/{id}``
for the rest: Freshdesk counts Ticket Update calls against a tight per-minute sub-limit.
``tags`` in that PUT replaces the whole list (Freshdesk has no add-tag call), so the list
sent is the one just read plus or minus the action's tag. When Freshdesk refuses that PUT
(400 "Validation failed": an unknown custom field, a status the account lacks), the writer
sends one PUT per change, so the refused action fails alone and the others are applied; a
refused note fails alone too. Nothing in one ticket stops the batch.

Notes are not idempotent on the platform, so each ends with a marker, ``[slaplug <hex>]``:
an HMAC of its action's key under the connector's `MarkerKey` (a per-install secret), so
that no customer can compute it. Before posting a note whose key is not ``fresh``, the
writer reads the ticket's conversations and skips the note if its marker is in a note (or,
for a public comment, a reply) written by the connector's own agent
(``GET /api/v2/agents/me``). Markers anywhere
else (a requester's reply or description, another agent's note quoting one) count for
nothing: a requester who types them cannot suppress slaplug's writes (issue 14, item 2).
The same check runs before the client's inline retry of a note whose answer was lost after
Freshdesk may have posted it (a 5xx, a read timeout, a dropped connection: the
``before_retry`` hook of `ApiClient.request`); a note found posted then reports ALREADY.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from slaplug.connectors import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApiClient,
    ApplyResult,
    ApplyStatus,
    LostAnswer,
    MarkerKey,
)
from slaplug.errors import ConflictError, InvalidTicketError, SkippableAPIError
from slaplug.model import Action, ActionKind

__all__ = ["PRIORITIES", "STATUSES", "Writer", "marker"]

#: Freshdesk's status codes, named as slaplug's rules see them.
STATUSES: Mapping[int, str] = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
#: Freshdesk's priority codes.
PRIORITIES: Mapping[int, str] = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
_STATUS_CODES = {v: k for k, v in STATUSES.items()}
_PRIORITY_CODES = {v: k for k, v in PRIORITIES.items()}


def marker(marker_key: MarkerKey, key: str) -> str:
    """The marker ending the note of the action with idempotency key ``key``."""
    return f"[slaplug {marker_key.digest(key, 16)}]"


def _code(value: Any, codes: Mapping[str, int], what: str) -> int:
    """A status or priority given by name (``"urgent"``) or by Freshdesk's number."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    try:
        return codes[str(value).lower()]
    except KeyError:
        raise ValueError(
            f"unknown Freshdesk {what} {value!r}; use one of {sorted(codes)}"
        ) from None


#: One planned change to the ticket: ``(kind, value)`` with kind ``tag+``, ``tag-``,
#: ``priority``, ``status``, or ``field`` with ``(key, value)`` for a custom field (its key
#: as the account spells it, ``cf_`` or not: `slaplug_freshdesk.fields`); folded into one PUT
#: body by `_body`.
Change = tuple[str, Any]


def _body(tags: Sequence[str], changes: Sequence[Change]) -> dict[str, Any]:
    """The ``PUT /api/v2/tickets/{id}`` body making ``changes`` to a ticket tagged ``tags``.

    ``tags`` in that body replaces the whole list, so it is sent only when it changes.
    """
    new_tags = list(tags)
    body: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for kind, value in changes:
        if kind == "tag+" and value not in new_tags:
            new_tags.append(value)
        elif kind == "tag-" and value in new_tags:
            new_tags.remove(value)
        elif kind in ("priority", "status"):
            body[kind] = value
        elif kind == "field":
            key, field_value = value
            fields[key] = field_value
    if new_tags != list(tags):
        body["tags"] = new_tags
    if fields:
        body["custom_fields"] = fields
    return body


class Writer:
    """Applies one `Connector.apply` call's actions through ``http``."""

    def __init__(
        self,
        http: ApiClient,
        marker_key: MarkerKey,
        agent_id: Callable[[], int],
        status_codes: Mapping[str, int] = _STATUS_CODES,
        field_key: Callable[[str], str] = lambda name: name,
    ) -> None:
        """
        Args:
            http: The connector's client.
            marker_key: Keys the notes' markers.
            agent_id: The id of the agent the API key belongs to (read once, cached).
            status_codes: Status names (lower case) to codes, the account's own included.
            field_key: The account's key for the custom field a rule names (raises
                `UnknownFieldError`, a ValueError, for a field the account lacks).
        """
        self.http = http
        self.marker_key = marker_key
        self.agent_id = agent_id
        self.status_codes = status_codes
        self.field_key = field_key

    def apply(self, actions: Sequence[Action], *, fresh: Collection[str]) -> list[ApplyResult]:
        """One result per action, in order; see the module docstring."""
        results: dict[int, ApplyResult] = {}
        by_ticket: dict[str, list[int]] = {}
        for i, a in enumerate(actions):
            by_ticket.setdefault(a.ticket_id, []).append(i)
        for ticket_id, indexes in by_ticket.items():
            batch = [actions[i] for i in indexes]
            try:
                outcome = self._apply_ticket(ticket_id, batch, fresh)
            except SkippableAPIError as exc:
                outcome = [ApplyResult(a.key, ApplyStatus.FAILED, str(exc)) for a in batch]
            except ConflictError as exc:
                outcome = [ApplyResult(a.key, ApplyStatus.CONFLICT, str(exc)) for a in batch]
            results.update(zip(indexes, outcome, strict=True))
        return [results[i] for i in range(len(actions))]

    def _apply_ticket(
        self, ticket_id: str, actions: Sequence[Action], fresh: Collection[str]
    ) -> list[ApplyResult]:
        raw = self.http.get_json(f"api/v2/tickets/{ticket_id}")
        tags: list[str] = list(raw.get("tags") or [])
        changes: list[tuple[int, Change]] = []  # (index in actions, its change)
        notes: list[Action] = []
        statuses: list[ApplyStatus | ApplyResult] = []
        for i, a in enumerate(actions):
            try:
                planned = self._plan(a, raw, tags)
            except (ValueError, KeyError) as exc:
                planned = ApplyResult(a.key, ApplyStatus.FAILED, f"bad action: {exc}")
            if planned is None:
                notes.append(a)
                planned = ApplyStatus.APPLIED
            elif isinstance(planned, tuple):
                changes.append((i, planned))
                planned = ApplyStatus.APPLIED
            statuses.append(planned)
        if changes:
            self._put(ticket_id, tags, changes, actions, statuses)
        if notes:
            self._post_notes(ticket_id, notes, fresh, statuses, actions)
        return [
            s if isinstance(s, ApplyResult) else ApplyResult(a.key, s)
            for a, s in zip(actions, statuses, strict=True)
        ]

    def _put(
        self,
        ticket_id: str,
        tags: list[str],
        changes: Sequence[tuple[int, Change]],
        actions: Sequence[Action],
        statuses: list[ApplyStatus | ApplyResult],
    ) -> None:
        """One PUT for every change; if Freshdesk refuses it (400 "Validation failed"),
        one PUT per change, so that only the action Freshdesk refuses fails."""
        path = f"api/v2/tickets/{ticket_id}"
        body = _body(tags, [c for _, c in changes])
        if not body:
            return
        try:
            self.http.request("PUT", path, json=body)
            return
        except InvalidTicketError as exc:
            if len(changes) == 1:
                statuses[changes[0][0]] = ApplyResult(
                    actions[changes[0][0]].key, ApplyStatus.FAILED, str(exc)
                )
                return
        current = list(tags)
        for index, change in changes:
            one = _body(current, [change])
            if not one:
                continue
            try:
                self.http.request("PUT", path, json=one)
            except InvalidTicketError as exc:
                statuses[index] = ApplyResult(actions[index].key, ApplyStatus.FAILED, str(exc))
                continue
            current = one.get("tags", current)

    def _plan(
        self, a: Action, raw: Mapping[str, Any], tags: Sequence[str]
    ) -> Change | ApplyStatus | ApplyResult | None:
        """What ``a`` needs: a change to PUT, None for a note, ALREADY, or a final result."""
        p = a.params
        if a.kind is ActionKind.ADD_TAG:
            return ApplyStatus.ALREADY if p["tag"] in tags else ("tag+", p["tag"])
        if a.kind is ActionKind.REMOVE_TAG:
            return ("tag-", p["tag"]) if p["tag"] in tags else ApplyStatus.ALREADY
        if a.kind is ActionKind.SET_PRIORITY:
            code = _code(p["priority"], _PRIORITY_CODES, "priority")
            return ApplyStatus.ALREADY if raw.get("priority") == code else ("priority", code)
        if a.kind is ActionKind.SET_STATUS:
            code = _code(p["status"], self.status_codes, "status")
            return ApplyStatus.ALREADY if raw.get("status") == code else ("status", code)
        if a.kind is ActionKind.SET_FIELD:
            # The account's own key (``cf_x`` or, for older fields, ``x``): written and
            # read back under the same key, so the check below sees what the PUT wrote.
            key = self.field_key(str(p["field"]))
            if (raw.get("custom_fields") or {}).get(key) == p["value"]:
                return ApplyStatus.ALREADY
            return ("field", (key, p["value"]))
        if a.kind is ActionKind.COMMENT:
            return None
        return ApplyResult(a.key, ApplyStatus.SKIPPED, f"Freshdesk connector does not {a.kind}")

    def _post_notes(
        self,
        ticket_id: str,
        notes: Sequence[Action],
        fresh: Collection[str],
        statuses: list[ApplyStatus | ApplyResult],
        actions: Sequence[Action],
    ) -> None:
        seen = ""
        if any(a.key not in fresh for a in notes):
            # A retry: the earlier try may have posted the note before failing.
            seen = self._conversations(ticket_id)
        for a in notes:
            index = actions.index(a)
            tag = marker(self.marker_key, a.key)
            if tag in seen:
                statuses[index] = ApplyStatus.ALREADY
                continue
            body = f"<p>{html.escape(str(a.params['body']))}</p><p>{tag}</p>"
            public = bool(a.params.get("public"))
            path = f"api/v2/tickets/{ticket_id}/{'reply' if public else 'notes'}"

            def unless_posted(lost: LostAnswer, tag: str = tag) -> Any:
                return NOTHING_TO_SEND if tag in self._conversations(ticket_id) else lost.json

            try:
                self.http.request(
                    "POST",
                    path,
                    json={"body": body} if public else {"body": body, "private": True},
                    before_retry=unless_posted,
                )
            except AlreadySent:
                statuses[index] = ApplyStatus.ALREADY
            except SkippableAPIError as exc:  # a 400 on this note fails this note alone
                statuses[index] = ApplyResult(a.key, ApplyStatus.FAILED, str(exc))

    def _conversations(self, ticket_id: str) -> str:
        """The text of the notes and replies the connector's own agent wrote on the ticket.

        Only the first page (100 conversations) is read, as for the check before a retry.
        """
        me = self.agent_id()
        return "\n".join(
            f"{c.get('body_text', '')}\n{c.get('body', '')}"
            for c in self.http.get_json(
                f"api/v2/tickets/{ticket_id}/conversations", params={"per_page": "100"}
            )
            # Authorship is what a requester cannot fake. Public comments go out as replies
            # (``private`` false), so replies by the same agent count too.
            if not c.get("incoming") and c.get("user_id") == me
        )
