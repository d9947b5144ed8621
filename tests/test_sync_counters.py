"""The sync summary's counters mean what their labels say (issue 18).

A breached clock is counted once per pass however often the pass evaluates it, and split by
what the sync did about it; skipped actions are counted by the reason given; each write says
which escalation level and clock planned it; the printed summary says all of it. Against the
fake Zendesk through the real connector, with the shipped rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slaplug_zendesk.fake import FakeZendesk

from slaplug.model import Action, MeasureState
from slaplug.notify.channels import Channel
from slaplug.progress import print_summary
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.summary import BreachFate, Summary
from slaplug.sync import Sync

zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
REPO = Path(__file__).resolve().parent.parent
#: The syncs' "now", pinned (a Friday, 13:00 in Berlin): the shipped rules measure Berlin
#: business hours, so a real clock made the counts depend on the weekday and hour the test
#: ran. The fake's clock starts four days earlier, at the instant its account is built against
#: (``DEFAULT_END``, a Monday noon UTC), so the account is the same each run.
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
#: The shipped rules' channels, declared with no services: their messages are skipped.
SILENT = {name: Channel(name, ()) for name in ("team-lead", "support-manager", "second-line-lead")}


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(
        now=NOW - timedelta(days=4),
        tickets=120,
        days=14,
        job_complete_after=0.05,
        job_polls=1,
    ) as running:
        yield running


@pytest.fixture
def parts(fake: FakeZendesk, tmp_path: Path) -> Iterator[tuple[Store, RulePack, Any]]:
    config = zd.ZendeskConfig.load(
        {
            "base_url": fake.base_url,
            "email": fake.email,
            "api_token_env": "T",
            "fields": {"sla_resolution_status": 360000000103},
            "job_poll_interval": 0.02,
        },
        connector="zendesk",
        environ={"T": fake.api_token},
    )
    with (
        Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
        RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack,
        zd.ZendeskConnector(config, instance="zendesk") as conn,
    ):
        yield store, pack, conn


def _breached_heads(store: Store, pack: RulePack, now: datetime) -> set[tuple[str, str, int]]:
    """The oracle: every breached clock of the stored tickets, assessed afresh."""
    tickets = list(store.iter_snapshots("zendesk"))
    return {
        (a.ticket.id, f"{m.policy}/{m.metric.value}", m.cycle)
        for a in pack.assess_many(tickets, now)
        for m in a.measures
        if m.state is MeasureState.BREACHED
    }


def test_breached_clocks_are_counted_once_each_and_split_by_what_was_done(
    parts: tuple[Store, RulePack, Any], fake: FakeZendesk
) -> None:
    store, pack, conn = parts
    now = NOW
    # The cutoff in the middle of the fake's history: breaches on both sides of it.
    cutoff = {"zendesk": now - timedelta(days=7)}
    job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=cutoff,
               channels=SILENT)
    first = job.run_once()
    heads = _breached_heads(store, pack, now)
    assert first.breached_clocks == len(heads) > 0
    assert {(b.ticket_id, b.clock, b.cycle) for b in first.breaches} == heads
    assert len(first.breaches) == len(heads)  # no clock listed twice
    fates = Counter(b.fate for b in first.breaches)
    assert fates[BreachFate.BEFORE_CUTOFF] == first.breached_before_cutoff > 0
    assert fates[BreachFate.SINCE_CUTOFF] == first.breached_since_cutoff > 0
    assert fates[BreachFate.TICKET_DONE] == first.breached_ticket_done
    assert first.breached_clocks == (
        first.breached_before_cutoff + first.breached_since_cutoff + first.breached_ticket_done
    )

    # The same tickets evaluated twice in one pass (a ticket on two pages of an export, a
    # webhook batch naming it twice): each clock is still one breached clock.
    tickets = [conn.read_ticket(t) for t in sorted({b.ticket_id for b in first.breaches})[:5]]
    again = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=cutoff,
                 channels=SILENT, dry_run=True).process("zendesk", [*tickets, *tickets])
    mine = {h for h in heads if h[0] in {t.id for t in tickets}}
    assert again.breached_clocks == len(mine) == len(again.breaches)


def test_skips_are_counted_by_reason_and_writes_say_what_planned_them(
    parts: tuple[Store, RulePack, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store, pack, conn = parts
    now = NOW
    job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now,
               escalate_from={"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}, channels=SILENT)
    summary = job.run_once()
    assert summary.skipped > 0
    assert sum(summary.skipped_by.values()) == summary.skipped
    reasons = set(summary.skipped_by)
    assert reasons <= {f"channel {name!r} is declared with no services" for name in SILENT}, reasons
    # Each write names the escalation level and the clock that planned it.
    assert summary.written
    for w in summary.written:
        assert re.match(r"^[\w-]+ L\d+: (customer-sla|second-line-ola)/\w+", w.why), w

    print_summary(summary)
    out = capsys.readouterr().out
    for reason, n in summary.skipped_by.items():
        assert f"    skipped {n}: {reason}" in out
    assert f"  breached clocks: {summary.breached_clocks} (" in out
    assert f"  API calls: {summary.api_reads} reads, {summary.api_writes} writes" in out


def test_a_dry_run_hands_every_planned_action_to_the_plan_sink(
    parts: tuple[Store, RulePack, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, pack, conn = parts
    monkeypatch.setattr(Summary, "SAMPLE", 3)  # the summary keeps 3; the sink gets them all
    plan: list[Action] = []
    job = Sync(store, pack, {"zendesk": conn}, dry_run=True, channels=SILENT,
               escalate_from={"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}, plan_sink=plan.append)
    summary = job.run_once()
    assert summary.planned > 3 and len(summary.would_plan) == 3
    assert len(plan) == summary.planned
    assert len({a.key for a in plan}) == len(plan)
    assert store.outbox_stats().pending == 0  # and nothing was planned for real
