"""Effective-dated rules: each clock cycle is measured under the rules in force when it started.

A `VersionedPack` holds several versions of a rules pack, each with the instant from which it
applies (the first may apply since forever). It assesses a ticket under every version and
keeps, for each measure (policy, metric, cycle), the one computed by the version in force at
that cycle's ``start``; the actions kept are those planned from the kept measures. So:

- a cycle that started before a new version's date keeps the old targets, calendars and
  escalations, open or closed: deploying a version moves no period that was already running;
- a cycle that starts on or after the date is measured under the new version;
- the version of every kept measure is named (`VersionedAssessment.versions`), for ``explain``,
  reports and credits to say which version applied.

A re-measure under the newest version for every cycle is `assess_latest` (what ``backtest``
compares with). This module is the engine part; wiring it into the configuration, the sync,
``explain``, credits and reports is described in docs/rules/language.md ("Effective dates")
and not done yet.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slaplug.errors import TimeError
from slaplug.model import SlaMeasure, Ticket
from slaplug.rules.pack import Assessment, RulePack

__all__ = ["RulesVersion", "VersionedAssessment", "VersionedPack"]

#: (policy, metric, cycle): a measure's identity across versions.
MeasureId = tuple[str, str, int]


@dataclass(frozen=True)
class RulesVersion:
    """One version of the rules.

    Attributes:
        label: How reports name it (``v2``, a file name, a git tag).
        effective_from: When it starts to apply; None for the first version (since forever).
        pack: The rules.
    """

    label: str
    effective_from: datetime | None
    pack: RulePack


@dataclass(frozen=True)
class VersionedAssessment:
    """An assessment whose measures may come from several versions.

    Attributes:
        assessment: The measures and actions kept.
        versions: Per kept measure, ``(policy, metric, cycle)`` -> the version's label.
    """

    assessment: Assessment
    versions: dict[MeasureId, str]


def _mid(m: SlaMeasure) -> MeasureId:
    return (m.policy, m.metric.value, m.cycle)


class VersionedPack:
    """Versions of a rules pack by effective date (see the module's docstring).

    Raises:
        TimeError: No version, two with one date, a later one without a date, or a date
            without a time zone.
    """

    def __init__(self, versions: Sequence[RulesVersion]) -> None:
        if not versions:
            raise TimeError("effective-dated rules need at least one version")
        for v in versions:
            if v.effective_from is not None and v.effective_from.tzinfo is None:
                raise TimeError(
                    f"rules version {v.label}: effective_from {v.effective_from.isoformat()} "
                    "has no time zone; add one, e.g. 2026-12-01T00:00:00+01:00"
                )
        labels = [v.label for v in versions]
        if len(set(labels)) != len(labels):
            raise TimeError(f"rules versions need distinct labels; got {', '.join(labels)}")
        undated = [v for v in versions if v.effective_from is None]
        if len(undated) > 1:
            raise TimeError(
                "only the first rules version may go without effective_from; "
                f"date one of {', '.join(v.label for v in undated)}"
            )
        dated = sorted((v for v in versions if v.effective_from is not None), key=_date)
        for a, b in itertools.pairwise(dated):
            if a.effective_from == b.effective_from:
                raise TimeError(
                    f"rules versions {a.label} and {b.label} both take effect at "
                    f"{_date(a).isoformat()}; give each its own date"
                )
        self.versions: list[RulesVersion] = undated + dated
        self._starts = [_date(v) for v in dated]
        self._offset = len(undated)

    def version_at(self, when: datetime) -> RulesVersion:
        """The version in force at ``when`` (the first one before every date)."""
        i = bisect.bisect_right(self._starts, when) - 1 + self._offset
        return self.versions[max(i, 0)]

    def assess_many(self, tickets: Sequence[Ticket], now: datetime) -> list[VersionedAssessment]:
        """Each ticket's measures, each from the version in force when its cycle started."""
        per_version = [v.pack.assess_many(tickets, now) for v in self.versions]
        out = []
        for ti, ticket in enumerate(tickets):
            kept: dict[MeasureId, tuple[SlaMeasure, str]] = {}
            actions = []
            policies: list[str] = []
            for v, assessed in zip(self.versions, per_version, strict=True):
                a = assessed[ti]
                mine = {_mid(m): m for m in a.measures if self.version_at(m.start).label == v.label}
                for mid, m in mine.items():
                    kept[mid] = (m, v.label)
                actions += [x for x in a.actions if (x.policy, x.metric.value, x.cycle) in mine]
                policies += [
                    p for p in a.policies if p not in policies and any(mid[0] == p for mid in mine)
                ]
            measures = tuple(m for m, _ in kept.values())
            out.append(
                VersionedAssessment(
                    Assessment(ticket, tuple(policies), measures, tuple(actions)),
                    {mid: label for mid, (_, label) in kept.items()},
                )
            )
        return out

    def assess(self, ticket: Ticket, now: datetime) -> VersionedAssessment:
        """`assess_many` for one ticket."""
        return self.assess_many([ticket], now)[0]

    def assess_latest(self, ticket: Ticket, now: datetime) -> Assessment:
        """A re-measure: every cycle under the newest version (what a backtest compares)."""
        return self.versions[-1].pack.assess(ticket, now)

    def next_due(self, assessed: VersionedAssessment, now: datetime) -> datetime | None:
        """The earliest next threshold among the kept measures, each under its own version."""
        by_label: dict[str, list[SlaMeasure]] = {}
        for m in assessed.assessment.measures:
            by_label.setdefault(assessed.versions[_mid(m)], []).append(m)
        dues = [
            due
            for v in self.versions
            if v.label in by_label and (due := v.pack.next_due(by_label[v.label], now)) is not None
        ]
        return min(dues) if dues else None


def _date(v: RulesVersion) -> datetime:
    assert v.effective_from is not None  # only dated versions are sorted
    return v.effective_from
