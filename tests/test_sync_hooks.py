"""The sync calls plugins' on_breach once per breached clock, and on_action_applied per write."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slaplug_zendesk.fake import FakeZendesk

from slaplug import hookimpl
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync

zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
REPO = Path(__file__).resolve().parent.parent
#: The sync's "now", pinned (a Friday, 13:00 in Berlin): the shipped rules measure Berlin
#: business hours, so a real clock made the breaches depend on the weekday and hour the test
#: ran. The fake's clock starts four days earlier, at the instant its account is built against
#: (``DEFAULT_END``, a Monday noon UTC), so the account is the same each run.
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.breaches: list[tuple[str, str, int]] = []
        self.applied: list[str] = []

    @hookimpl
    def on_breach(self, ticket, measure):  # type: ignore[no-untyped-def]
        assert measure.breached_at is not None
        self.breaches.append((ticket.key, f"{measure.policy}/{measure.metric.value}", measure.cycle))

    @hookimpl
    def on_action_applied(self, action, result):  # type: ignore[no-untyped-def]
        self.applied.append(action.key)


def test_breaches_are_reported_once_each_and_never_again(tmp_path: Path, slaplug_register) -> None:
    rec = Recorder()
    slaplug_register(rec, name="undo-recorder")
    with FakeZendesk.start(
        now=NOW - timedelta(days=4), tickets=80, days=14, job_complete_after=0.05, job_polls=1
    ) as fake:
        config = zd.ZendeskConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "fields": {"sla_resolution_status": 360000000103}, "job_poll_interval": 0.02},
            connector="zendesk", environ={"T": fake.api_token},
        )
        now = NOW
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            # A backfill: the history's breaches are escalated (the default go-live holds them).
            backfill = {"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}
            job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=backfill)
            first = job.run_once()
            seen_first = list(rec.breaches)
            job.run_once()
    assert seen_first, "the data must hold breaches for this test to mean anything"
    assert [k for k, n in Counter(seen_first).items() if n > 1] == []
    assert rec.breaches == seen_first, "the second pass reported a breach again"
    assert len(rec.applied) >= first.applied > 0
