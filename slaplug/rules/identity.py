"""An escalation action's identity: what it does, never where it stands in its level.

The identity ends the action's idempotency key
(``connector:ticket:policy:metric:cycle:escalation:level:IDENTITY``), so inserting,
reordering or removing actions in a level neither repeats a done action nor drops a new one.

- ``add_tag=sla_warn``, ``remove_tag=x``: the tag.
- ``set_field=sla_state``: the field (a new value for the same field is the same action).
- ``set_priority``, ``set_status``: the kind alone (a level sets one priority, one status).
- ``assign=group``, ``assign=user``: what is assigned.
- ``comment=<hash>``, ``notify=<channel>.<hash>``: a hash of the template text as written
  (editing the text makes a new comment; give an explicit ``id:`` to keep it the same).
- ``id=<id>``: an explicit ``id:`` on any action replaces the derived identity.

Keys from slaplug 0.x stores ended with the action's position (``...:level:2``) instead;
the store maps such a *legacy* key to the action that replaces it
(`slaplug.store.legacy_keys`).
"""

from __future__ import annotations

import hashlib

from slaplug.model import ActionKind
from slaplug.rules.schema import ActionSpec

__all__ = [
    "action_identity",
    "duplicate_identities",
    "encode",
]

#: Characters kept as they are in an identity; anything else is %-escaped, so an identity
#: never holds the key's ``:`` separator nor the reminders' ``~`` (`slaplug.notify.deliver`).
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.=@+")


def encode(text: str) -> str:
    """``text`` with every character outside a small safe set %-escaped (UTF-8 bytes)."""
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def action_identity(spec: ActionSpec) -> str:
    """The identity of one action as written in the rules (already `encode`-d)."""
    if spec.id is not None:
        return encode(f"id={spec.id}")
    kind = ActionKind(spec.kind)
    if kind is ActionKind.COMMENT:
        return f"comment={_digest(spec.comment or '')}"
    if kind is ActionKind.NOTIFY and spec.notify is not None:
        return encode(f"notify={spec.notify.channel}.") + _digest(spec.notify.message)
    if kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
        return encode(f"{kind.value}={spec.add_tag or spec.remove_tag}")
    if kind is ActionKind.SET_FIELD and spec.set_field is not None:
        return encode(f"set_field={spec.set_field.field}")
    if kind is ActionKind.ASSIGN and spec.assign is not None:
        return "assign=user" if spec.assign.user is not None else "assign=group"
    return kind.value  # set_priority, set_status


def duplicate_identities(levels: list[list[ActionSpec]]) -> list[tuple[int, int, str]]:
    """``(level index, action index, message)`` for each action whose identity an earlier
    action of the same level already has: the ledger would apply only one of the two."""
    found: list[tuple[int, int, str]] = []
    for li, actions in enumerate(levels):
        first: dict[str, int] = {}
        for ai, spec in enumerate(actions):
            ident = action_identity(spec)
            if ident in first:
                found.append(
                    (
                        li,
                        ai,
                        f"this {spec.kind} does the same as action {first[ident] + 1} of its "
                        f'level (identity "{ident}"); remove one, or give each its own id:',
                    )
                )
            else:
                first[ident] = ai
    return found
