"""Effective-dated rules: each clock cycle is measured under the rules in force when it started.

A `VersionedPack` holds several versions of a rules pack, each with the instant from which it
applies (the first may apply since forever). It assesses a ticket under the versions that can
hold its cycles and keeps, for each measure (policy, metric, cycle), the one computed by the
version in force when that cycle started; the actions kept are those planned from the kept
measures. So:

- a cycle that started before a new version's date keeps the old targets, calendars and
  escalations, open or closed: deploying a version moves no period that was already running;
- a cycle that starts on or after the date is measured under the new version;
- the version of every kept measure is named (`VersionedAssessment.version_of`), for
  ``explain``, the store's measure history, reports and credits to say which version applied.

When a cycle started: the earliest ``start`` any version computes for it. Each version lays the
start out on its own calendar (a clock opened at 22:00 starts at the next opening), so one
version may put it after a new version's date and another before; the earliest is the closest
to the event that opened the cycle, and the same for every version.

A re-measure under the newest version for every cycle is `latest` (what ``backtest`` compares
with, and what ``credits --recalculate --remeasure`` uses). One version (the plain list of
files in ``slaplug.yaml``) costs nothing more than its pack: it is assessed directly.
"""

from __future__ import annotations

import bisect
import itertools
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from slaplug._records import builder
from slaplug.errors import TimeError
from slaplug.model import Action, SlaMeasure, Ticket
from slaplug.rules.pack import Assessment, RulePack

__all__ = ["RulesVersion", "VersionedAssessment", "VersionedPack"]

#: (policy, metric, cycle): a measure's identity across versions.
MeasureId = tuple[str, str, int]

_NONE: Mapping[MeasureId, str] = types.MappingProxyType({})


@dataclass(frozen=True)
class RulesVersion:
    """One version of the rules.

    Attributes:
        label: How reports name it (``v2``, a file name, a git tag); empty for rules given
            without versions (``--rules`` files, the plain list form of ``slaplug.yaml``).
        effective_from: When it starts to apply; None for the first version (since forever).
        pack: The rules.
    """

    label: str
    effective_from: datetime | None
    pack: RulePack


@dataclass(frozen=True, slots=True)
class VersionedAssessment:
    """An assessment whose measures may come from several versions.

    It reads like an `Assessment` (``ticket``, ``policies``, ``measures``, ``actions``).

    Attributes:
        assessment: The measures and actions kept.
        versions: Per kept measure, ``(policy, metric, cycle)`` -> the version's label; empty
            when every measure is ``label``'s (one version: nothing to tell apart).
        label: The version of every measure not in ``versions``.
    """

    assessment: Assessment
    versions: Mapping[MeasureId, str]
    label: str = ""

    @property
    def ticket(self) -> Ticket:
        """The ticket assessed."""
        return self.assessment.ticket

    @property
    def policies(self) -> tuple[str, ...]:
        """The policies that applied."""
        return self.assessment.policies

    @property
    def measures(self) -> tuple[SlaMeasure, ...]:
        """The measures kept, each from its own version."""
        return self.assessment.measures

    @property
    def actions(self) -> tuple[Action, ...]:
        """The actions planned from the kept measures."""
        return self.assessment.actions

    def version_of(self, m: SlaMeasure) -> str:
        """The label of the version that measured ``m``."""
        return self.versions.get((m.policy, m.metric.value, m.cycle), self.label)

    def version_of_action(self, a: Action) -> str:
        """The label of the version whose escalations planned ``a``."""
        return self.versions.get((a.policy, a.metric.value, a.cycle), self.label)


#: One version's assessments are wrapped per ticket on the sync's hot path: the fast
#: positional constructor (`slaplug._records`) keeps the wrapping within noise.
_wrap = builder(VersionedAssessment)


def _mid(m: SlaMeasure) -> MeasureId:
    return (m.policy, m.metric.value, m.cycle)


class VersionedPack:
    """Versions of a rules pack by effective date (see the module's docstring).

    It does not own its packs: whoever loaded them closes them (or calls `close`).

    Raises:
        TimeError: No version, two with one label or one date, a later one without a date,
            or a date without a time zone.
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
        self._by_label = {v.label: v for v in self.versions}
        #: One version: assessed straight through its pack (the hot path of most installs).
        self._single = self.versions[0] if len(self.versions) == 1 else None

    @classmethod
    def of(cls, rules: RulePack | VersionedPack) -> VersionedPack:
        """``rules`` as versions: a plain pack is one unlabelled version since forever."""
        if isinstance(rules, VersionedPack):
            return rules
        return cls([RulesVersion("", None, rules)])

    @property
    def newest(self) -> RulesVersion:
        """The version with the latest date (the one new cycles get from now on)."""
        return self.versions[-1]

    @property
    def labelled(self) -> bool:
        """Whether the versions have labels to show (not a plain, unversioned pack)."""
        return any(v.label for v in self.versions)

    def latest(self) -> VersionedPack:
        """Every cycle under the newest version: a re-measure, asked for explicitly."""
        if self._single is not None:
            return self
        return VersionedPack([replace(self.newest, effective_from=None)])

    def get(self, label: str) -> RulesVersion:
        """The version called ``label`` (KeyError if none)."""
        return self._by_label[label]

    def version_at(self, when: datetime) -> RulesVersion:
        """The version in force at ``when`` (the first one before every date)."""
        if self._single is not None:
            return self._single
        i = bisect.bisect_right(self._starts, when) - 1 + self._offset
        return self.versions[max(i, 0)]

    def _index_at(self, when: datetime) -> int:
        return max(bisect.bisect_right(self._starts, when) - 1 + self._offset, 0)

    def close(self) -> None:
        """Close every version's pack."""
        for v in self.versions:
            v.pack.close()

    # -- assessing -------------------------------------------------------------------------------

    def assess_many(self, tickets: Sequence[Ticket], now: datetime) -> list[VersionedAssessment]:
        """Each ticket's measures, each from the version in force when its cycle started."""
        if self._single is not None:
            label, wrap = self._single.label, _wrap
            return [wrap(a, _NONE, label) for a in self._single.pack.assess_many(tickets, now)]
        # A version can hold only cycles that start before the next one's date, and no cycle
        # starts before its ticket was opened: versions older than the one in force then are
        # skipped (a ticket opened after the newest date costs one assessment, as unversioned).
        first = [self._index_at(_opened(t)) for t in tickets]
        per_version: list[dict[int, Assessment]] = []
        for vi, v in enumerate(self.versions):
            idx = [i for i, f in enumerate(first) if f <= vi]
            got = v.pack.assess_many([tickets[i] for i in idx], now) if idx else []
            per_version.append(dict(zip(idx, got, strict=True)))
        return [self._merge(ti, t, per_version, now) for ti, t in enumerate(tickets)]

    def _merge(
        self, ti: int, ticket: Ticket, per_version: list[dict[int, Assessment]], now: datetime
    ) -> VersionedAssessment:
        """One ticket's kept measures and actions from every version's assessment of it."""
        found: dict[MeasureId, dict[int, SlaMeasure]] = {}
        for vi, assessed in enumerate(per_version):
            a = assessed.get(ti)
            if a is None:
                continue
            for m in a.measures:
                found.setdefault(_mid(m), {})[vi] = m
        owner: dict[MeasureId, int] = {}
        for mid, by_version in found.items():
            started = min(m.start for m in by_version.values())
            vi = self._index_at(started)
            if vi in by_version:  # the version in force then measures it (else: no such clock)
                owner[mid] = vi
        measures = tuple(found[mid][vi] for mid, vi in owner.items())
        actions: list[Action] = []
        policies: list[str] = []
        in_force_now = self._index_at(now)
        for vi, assessed in enumerate(per_version):
            a = assessed.get(ti)
            if a is None:
                continue
            actions += [
                x for x in a.actions if owner.get((x.policy, x.metric.value, x.cycle)) == vi
            ]
            policies += [
                p
                for p in a.policies
                if p not in policies
                and (vi == in_force_now or any(mid[0] == p and o == vi for mid, o in owner.items()))
            ]
        labels = {mid: self.versions[vi].label for mid, vi in owner.items()}
        return VersionedAssessment(
            Assessment(ticket, tuple(policies), measures, tuple(actions)),
            labels,
            self.versions[in_force_now].label,
        )

    def assess(self, ticket: Ticket, now: datetime) -> VersionedAssessment:
        """`assess_many` for one ticket."""
        return self.assess_many([ticket], now)[0]

    def assess_latest(self, ticket: Ticket, now: datetime) -> Assessment:
        """A re-measure: every cycle under the newest version (what a backtest compares)."""
        return self.newest.pack.assess(ticket, now)

    def next_due(self, assessed: VersionedAssessment, now: datetime) -> datetime | None:
        """The earliest next threshold among the kept measures, each under its own version."""
        if self._single is not None:
            return self._single.pack.next_due(assessed.measures, now)
        by_label: dict[str, list[SlaMeasure]] = {}
        for m in assessed.measures:
            by_label.setdefault(assessed.version_of(m), []).append(m)
        dues = [
            due
            for label, ms in by_label.items()
            if (due := self._by_label[label].pack.next_due(ms, now)) is not None
        ]
        return min(dues) if dues else None

    def pack_of(self, assessed: VersionedAssessment, m: SlaMeasure) -> RulePack:
        """The pack of the version that measured ``m`` in ``assessed``."""
        if self._single is not None:
            return self._single.pack
        return self._by_label[assessed.version_of(m)].pack


def _opened(t: Ticket) -> datetime:
    """When a ticket's first cycle can start at the earliest."""
    first = t.events[0].at if t.events else t.created_at
    return min(first, t.created_at)


def _date(v: RulesVersion) -> datetime:
    assert v.effective_from is not None  # only dated versions are sorted
    return v.effective_from
