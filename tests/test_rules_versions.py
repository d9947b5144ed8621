"""Effective-dated rules: a cycle is measured under the version in force when it started."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slaplug.errors import TimeError
from slaplug.model import EventKind, Metric, Ticket, TicketEvent
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import RulesVersion, VersionedPack

#: v2 takes effect at midnight UTC on 1 December 2026 and halves the resolution target.
EFFECTIVE = datetime(2026, 12, 1, tzinfo=UTC)


def rules(hours: int) -> str:
    return f"""\
policies:
  - name: p
    targets: {{resolution: {{"*": {hours}h}}}}
escalations:
  - name: breached
    when: {{metric: resolution, breached: true}}
    actions:
      - add_tag: sla_breached
"""


@pytest.fixture
def pack(tmp_path: Path) -> Iterator[VersionedPack]:
    (tmp_path / "v1.yaml").write_text(rules(8))
    (tmp_path / "v2.yaml").write_text(rules(4))
    with (
        RulePack.load([tmp_path / "v1.yaml"], engine="python") as v1,
        RulePack.load([tmp_path / "v2.yaml"], engine="python") as v2,
    ):
        yield VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", EFFECTIVE, v2)])


def ticket(tid: str, created: datetime, solved_after: timedelta | None) -> Ticket:
    events = [TicketEvent(EventKind.CREATED, created)]
    if solved_after is not None:
        events.append(TicketEvent(EventKind.SOLVED, created + solved_after))
    return Ticket(
        id=tid,
        connector="desk",
        created_at=created,
        status="solved" if solved_after is not None else "open",
        events=tuple(events),
    )


def test_a_cycle_keeps_the_version_in_force_when_it_started(pack: VersionedPack) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    before = ticket("1", EFFECTIVE - timedelta(hours=14), timedelta(hours=6))  # met under v1
    after = ticket("2", EFFECTIVE + timedelta(days=1), timedelta(hours=6))  # v2: 6h > 4h
    # Started under v1, still open when v2 takes effect: its period does not move.
    running = ticket("3", EFFECTIVE - timedelta(hours=2), None)
    c = pack.assess(running, EFFECTIVE + timedelta(hours=4))
    a, b = pack.assess_many([before, after], now)

    (ma,) = a.assessment.measures
    assert (ma.metric, ma.target, ma.breached) == (Metric.RESOLUTION, timedelta(hours=8), False)
    assert a.versions == {("p", "resolution", 1): "v1"}
    assert a.assessment.actions == ()

    (mb,) = b.assessment.measures
    assert (mb.target, mb.breached) == (timedelta(hours=4), True)
    assert b.versions == {("p", "resolution", 1): "v2"}
    assert [x.params["tag"] for x in b.assessment.actions] == ["sla_breached"]

    # 6h into it (4h after v2 took effect): under v1's 8h it runs; v2 would call it breached.
    (mc,) = c.assessment.measures
    assert (mc.target, mc.breached, c.versions[("p", "resolution", 1)]) == (
        timedelta(hours=8),
        False,
        "v1",
    )
    assert c.assessment.actions == ()
    # A re-measure under the newest version is asked for explicitly (a backtest compares).
    (remeasured,) = pack.assess_latest(before, now).measures
    assert remeasured.breached


def test_versions_are_checked(tmp_path: Path, pack: VersionedPack) -> None:
    v1 = pack.versions[0].pack
    with pytest.raises(TimeError, match="has no time zone"):
        VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", datetime(2026, 12, 1), v1)])
    with pytest.raises(TimeError, match="both take effect"):
        VersionedPack(
            [
                RulesVersion("v1", None, v1),
                RulesVersion("v2", EFFECTIVE, v1),
                RulesVersion("v3", EFFECTIVE, v1),
            ]
        )
    with pytest.raises(TimeError, match="only the first rules version"):
        VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", None, v1)])
    assert pack.version_at(EFFECTIVE - timedelta(microseconds=1)).label == "v1"
    assert pack.version_at(EFFECTIVE).label == "v2"


def test_a_ticket_opened_after_a_date_is_not_assessed_under_older_versions(
    pack: VersionedPack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cycle of a ticket opened after v2's date can belong to v1: v1 is not asked, so a
    ticket opened under the newest version costs one assessment, as without versions."""
    v1 = pack.versions[0].pack
    asked: list[str] = []
    real = v1.assess_many

    def spy(tickets: list[Ticket], now: datetime) -> list[object]:
        asked.extend(t.id for t in tickets)
        return real(tickets, now)  # type: ignore[return-value]

    monkeypatch.setattr(v1, "assess_many", spy)
    now = EFFECTIVE + timedelta(days=2)
    old = ticket("old", EFFECTIVE - timedelta(hours=1), timedelta(hours=6))
    new = ticket("new", EFFECTIVE + timedelta(hours=1), timedelta(hours=6))
    a, b = pack.assess_many([old, new], now)
    assert asked == ["old"]
    assert (a.version_of(a.measures[0]), a.measures[0].breached) == ("v1", False)
    assert (b.version_of(b.measures[0]), b.measures[0].breached) == ("v2", True)
