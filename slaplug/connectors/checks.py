"""Checks a connector runs against its live helpdesk for `slaplug doctor`.

A connector answers `Connector.doctor` with `Check` records: one per thing that must hold
before the first sync (credentials, the API user's role, every field the rules write...), each
saying what it found and, when it does not hold, what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from slaplug.model import ActionKind

if TYPE_CHECKING:
    from slaplug.rules.writes import RuleWrite

__all__ = ["Check", "CheckStatus", "DoctorNeeds"]


class CheckStatus(StrEnum):
    """How a check came out."""

    #: It holds.
    OK = "ok"
    #: It holds for now, but something will not work (no webhook secret for `serve`).
    WARN = "warn"
    #: It does not hold: a sync would fail or write wrong; `Check.fix` says what to do.
    FAIL = "fail"
    #: Not checked (not applicable, or only knowable per ticket); `Check.detail` says why.
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: What was checked (``"credentials"``, ``"field sla_status"``).
        status: How it came out.
        detail: What was found (never a secret).
        fix: What to do, when the status is FAIL or WARN.
        subject: Whose check it is: a connector's configured name, ``"rules"``, ``"store"``.
    """

    name: str
    status: CheckStatus
    detail: str = ""
    fix: str = ""
    subject: str = ""

    def to_dict(self) -> dict[str, str]:
        """The JSON form `slaplug doctor --json` prints."""
        return {
            "subject": self.subject,
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class DoctorNeeds:
    """What the rules and the configuration will ask of one connector.

    Attributes:
        writes: Every field, tag, priority, status, user and group the rules write, with
            where each is declared (`RuleWrite.problem` gives ``file:line:col``).
        kinds: The kinds of action the rules plan (so a connector checks the permission
            to comment only when the rules comment).
        webhooks: True when this connector is expected to receive webhooks.
    """

    writes: Sequence[RuleWrite] = ()
    kinds: frozenset[ActionKind] = field(default_factory=frozenset)
    webhooks: bool = False

    def named(self, kind: ActionKind, role: str = "") -> list[RuleWrite]:
        """The writes of one kind (and role, for ``assign``) whose name is fixed, not
        templated; one per name, the first declared, so each name is checked once."""
        seen: dict[str, RuleWrite] = {}
        for w in self.writes:
            if w.kind is kind and w.role == role and not w.templated:
                seen.setdefault(w.name, w)
        return list(seen.values())
