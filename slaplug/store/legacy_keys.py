"""Keys from before action identities: mapped, on first sight, to the actions that replace them.

Until action identities (`slaplug.rules.identity`), an action's key ended with its position
in its level (``...:resolution-breached:1:2``); now it ends with what the action does
(``...:resolution-breached:1:comment=3fa2c1d0e9ab``). A store upgraded with ledger rows under
such *legacy* keys must not apply those actions again.

The choice: map lazily, in `OutboxMixin.plan`. When a key is reserved for the first time, the
ledger rows of the same ticket and level whose key ends with a position are looked at; one
that recorded the same action takes the new key over: the new row gets its status, detail and
times, the legacy row is deleted (so it is paired once), and a pending one's outbox row moves
to the new key, attempts and all. Nothing is queued for it. The pairing, per level:

1. the same kind and the same arguments (a comment whose rendered text is the same);
2. otherwise the same kind and what it acts on (`content_identity`: the tag, the field, the
   channel, user or group); among several (comments), the one whose rendered text is most
   like the recorded one: a comment rendering differently at each evaluation
   (``{{ measure.remaining }}``) still finds its legacy row, a new comment does not take it.

Steady state costs nothing: the lookup runs only for keys reserved now (an action about to
fire), as one indexed read per ticket batch. Stop the old workers before upgrading: a legacy
action one of them holds leased would be applied under its old key after being mapped.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_, update

from slaplug.model import Action
from slaplug.store._base import chunks
from slaplug.store.schema import ledger, outbox

__all__ = ["adopt_legacy_keys", "content_identity", "is_legacy_key", "level_key"]

log = logging.getLogger("slaplug.store")


def level_key(key: str) -> str:
    """The key of an action's level: its key less the identity (or legacy position)."""
    return key.rsplit(":", 1)[0]


def is_legacy_key(key: str) -> bool:
    """True for a key that ends with an action's position (planned before identities)."""
    return key.rsplit(":", 1)[-1].isdigit()


def content_identity(kind: str, params: Mapping[str, Any]) -> str:
    """What an action acts on, from its kind and rendered arguments: the tag, the field, the
    user or group, the channel; the kind alone for comments, priority and status."""
    if kind in ("add_tag", "remove_tag"):
        return f"{kind}={params.get('tag')}"
    if kind == "set_field":
        return f"{kind}={params.get('field')}"
    if kind == "assign":
        return "assign=user" if "user" in params else "assign=group"
    if kind == "notify":
        return f"{kind}={params.get('channel')}"
    return kind


def _text(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _same(params: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return _text(params) == _text(other)


def _likeness(params: Mapping[str, Any], other: Mapping[str, Any]) -> float:
    """How alike two actions' arguments are, 0 to 1 (`max` keeps the first of equals)."""
    return difflib.SequenceMatcher(None, _text(params), _text(other)).ratio()


def adopt_legacy_keys(conn: Connection, actions: Sequence[Action]) -> set[str]:
    """Map legacy ledger rows to ``actions``, whose keys were just reserved in ``conn``'s
    transaction (see the module's docstring).

    Returns:
        The keys of ``actions`` that took a legacy row over: not to be queued.
    """
    by_level: dict[str, list[Action]] = defaultdict(list)
    for a in actions:
        by_level[level_key(a.key)].append(a)
    tickets = sorted({(a.connector, a.ticket_id) for a in actions})
    planned = {a.key for a in actions}
    legacy: dict[str, list[Any]] = defaultdict(list)
    for part in chunks(tickets):
        rows = conn.execute(
            select(
                ledger.c.key,
                ledger.c.status,
                ledger.c.detail,
                ledger.c.action,
                ledger.c.planned_at,
                ledger.c.done_at,
            ).where(tuple_(ledger.c.connector, ledger.c.ticket_id).in_(list(part)))
        ).all()
        for r in rows:
            # A key just reserved is never its own legacy (a caller may still plan keys
            # that end with a number).
            if r.key not in planned and is_legacy_key(r.key) and level_key(r.key) in by_level:
                legacy[level_key(r.key)].append(r)
    adopted: set[str] = set()
    for level, rows in legacy.items():
        rows.sort(key=lambda r: int(r.key.rsplit(":", 1)[1]))
        docs = {r.key: json.loads(r.action) for r in rows}
        left = list(rows)
        pairs: list[tuple[Action, Any]] = []
        news = list(by_level[level])
        for r in list(left):  # 1. the same action, argument for argument
            d = docs[r.key]
            same = next(
                (a for a in news if a.kind.value == d["kind"] and _same(a.params, d["params"])),
                None,
            )
            if same is not None:
                pairs.append((same, r))
                left.remove(r)
                news.remove(same)
        for r in left:  # 2. the same kind and target; the closest text among comments
            d = docs[r.key]
            ident = content_identity(d["kind"], d["params"])
            candidates = [a for a in news if content_identity(a.kind.value, a.params) == ident]
            if candidates:
                best = max(candidates, key=lambda a: _likeness(a.params, d["params"]))
                pairs.append((best, r))
                news.remove(best)
        adopted.update(a.key for a, r in pairs if _take_over(conn, a.key, r))
    return adopted


def _take_over(conn: Connection, key: str, row: Any) -> bool:
    """The new row ``key`` takes the legacy ``row``'s place in the ledger and the outbox.

    Returns:
        False when the legacy row was pending with no work in the outbox: the new key is
        then queued as usual (the legacy row is gone all the same).
    """
    moved = 1
    if row.status == "pending":
        moved = conn.execute(update(outbox).where(outbox.c.key == row.key).values(key=key)).rowcount
    conn.execute(
        update(ledger)
        .where(ledger.c.key == key)
        .values(
            status=row.status,
            detail=row.detail,
            planned_at=row.planned_at,
            done_at=row.done_at,
        )
    )
    conn.execute(delete(ledger).where(ledger.c.key == row.key))
    log.info("ledger: legacy key %s is now %s (%s)", row.key, key, row.status)
    return moved > 0
