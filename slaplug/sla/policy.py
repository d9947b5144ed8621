"""What a clock measures against: targets per metric and priority, a calendar, pause statuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slaplug.model import Metric
from slaplug.sla.calendar import BusinessCalendar

__all__ = ["ANY_PRIORITY", "SlaPolicy"]

#: Key of a target that applies to every priority without a target of its own.
ANY_PRIORITY = "*"


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one policy, ready for the clocks.

    Attributes:
        name: The policy's name; it is part of every measure and idempotency key.
        calendar: The business calendar that counts time.
        targets: Per metric, the business time allowed per priority name; the key ``"*"``
            covers priorities without a target of their own. A metric absent here is not
            measured.
        pause_statuses: Statuses (as the platform names them) during which clocks pause.
    """

    name: str
    calendar: BusinessCalendar
    targets: Mapping[Metric, Mapping[str, timedelta]]
    pause_statuses: frozenset[str] = field(default_factory=frozenset)

    def target(self, metric: Metric, priority: str | None) -> timedelta | None:
        """The target for ``metric`` at ``priority``, or None when it is not measured."""
        per_priority = self.targets.get(metric)
        if not per_priority:
            return None
        if priority is not None and priority in per_priority:
            return per_priority[priority]
        return per_priority.get(ANY_PRIORITY)
