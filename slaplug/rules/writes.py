"""What a rules pack will write to the helpdesks, with where each write is declared.

`slaplug doctor` checks each against the live helpdesk (does the field exist, is it mapped,
is the group there), and can say ``rules/default.yaml:41:13`` when one is missing, so a
mistake is caught before the first sync instead of failing its actions for good.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from slaplug.errors import Problem
from slaplug.model import ActionKind
from slaplug.rules.schema import ActionSpec, EscalationSpec
from slaplug.yamlpos import Located, Path

__all__ = ["RuleWrite", "writes_of"]

_TEMPLATE_START = "{{"


@dataclass(frozen=True)
class RuleWrite:
    """One thing an escalation's action writes that must exist on the helpdesk.

    Attributes:
        kind: The action's kind.
        name: What must exist: the field's name (``set_field``), the tag, the priority,
            the status, the user or group (``assign``), the channel (``notify``).
        role: For ``assign``: ``"user"`` or ``"group"``; empty otherwise.
        escalation: The escalation that declares it.
        where: Its place in the rules, as a `Problem` without a message yet.
        value_format: For a live field: the ``format`` of the values it writes
            (``instant``, ``local`` or ``date``), so a connector can check it against the
            field's type; empty for other writes.
    """

    kind: ActionKind
    name: str
    role: str
    escalation: str
    where: Problem
    value_format: str = ""

    def problem(self, message: str) -> Problem:
        """A problem at this write's place in the rules file."""
        return Problem(
            message, self.where.where, self.where.file, self.where.line, self.where.column
        )

    @property
    def templated(self) -> bool:
        """True when the name is rendered per ticket (``{{ ... }}``): only known at run time."""
        return _TEMPLATE_START in self.name


def _write_of(action: ActionSpec) -> tuple[str, str, Path] | None:
    """The name an action needs to exist, its role, and its path below the action."""
    if action.set_field is not None:
        return action.set_field.field, "", ("field",)
    if action.assign is not None:
        if action.assign.user is not None:
            return action.assign.user, "user", ("user",)
        return str(action.assign.group), "group", ("group",)
    if action.notify is not None:
        return action.notify.channel, "", ("channel",)
    for name in ("add_tag", "remove_tag", "set_priority", "set_status"):
        value = getattr(action, name)
        if value is not None:
            return str(value), "", ()
    return None  # a comment needs nothing to exist


def writes_of(esc: EscalationSpec, path: Path, located: Located) -> Iterator[RuleWrite]:
    """Every write of ``esc`` (declared at ``path`` in ``located``) that names something."""
    for li, level in enumerate(esc.level_specs()):
        base: Path = (
            (*path, "levels", li, "actions") if esc.levels is not None else (*path, "actions")
        )
        for ai, action in enumerate(level.actions):
            found = _write_of(action)
            if found is None:
                continue
            name, role, below = found
            yield RuleWrite(
                kind=ActionKind(action.kind),
                name=name,
                role=role,
                escalation=esc.name,
                where=located.problem((*base, ai, action.kind, *below), ""),
            )
