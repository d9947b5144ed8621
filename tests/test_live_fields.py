"""Live SLA fields: a helpdesk field that shows the real deadline and follows it.

The end-to-end test runs real syncs against the fake Zendesk (real HTTP) and checks, after
each step, the field's value on the fake and the exact number of writes it cost. The store
tests hold the outbox to its ordering promise: an older value never lands after a newer one.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.errors import RuleError
from slaplug.model import ActionKind, MeasureState, Metric, SlaMeasure, Ticket
from slaplug.rules.compile import compile_files
from slaplug.rules.live import LiveFields, LiveValue, format_deadline, live_action
from slaplug.rules.pack import RulePack
from slaplug.store import Store

# A 24x7 calendar keeps the expected deadlines plain arithmetic: start + target + pauses.
RULES = """
policies:
  - name: support
    pause_statuses: [pending]
    targets:
      first_response: {urgent: 1h, "*": 8h}
      resolution: {urgent: 4h, "*": 24h}
    live_fields:
      resolution: sla_resolution_due
"""

#: The fake's "SLA status" text field (zendesk_generate.FIELD_SLA_STATUS): Zendesk has no
#: date-time field, and a text field takes the ISO 8601 instant as it is.
FIELD_ID = 360_000_000_103
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- end to end: a real sync against the fake Zendesk ----------------------------------------


def test_live_deadline_field_follows_a_pause_and_a_priority_change_with_one_write_each(
    tmp_path: Path,
) -> None:
    from slaplug.sync import Sync
    from slaplug.testing.fake_zendesk import FakeZendesk

    zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    with FakeZendesk.start(now=T0, tickets=0, days=1, job_complete_after=0.05, job_polls=1) as fake:
        config = zd.ZendeskConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "fields": {"sla_resolution_due": FIELD_ID}, "job_poll_interval": 0.02},
            connector="zendesk", environ={"T": fake.api_token},
        )

        def fake_now() -> datetime:
            return datetime.fromtimestamp(fake.now, UTC)

        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([_write(tmp_path, RULES)], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            job = Sync(store, pack, {"zendesk": conn}, clock=fake_now)
            job.run_once()  # go-live on an empty account
            created = fake.simulate("create", subject="Printer on fire", priority="normal")
            tid = int(created["ticket"]["id"])
            opened = fake_now()

            def step(minutes: float) -> tuple[Any, int]:
                """Let time pass (exports hold back their last minute), sync, and return
                the summary and the writes the fake accepted for the ticket."""
                fake.advance(minutes * 60)
                before = len(_ticket_writes(fake, tid))
                summary = job.run_once()
                return summary, len(_ticket_writes(fake, tid)) - before

            def shown() -> Any:
                cfs = fake.ticket(tid)["custom_fields"]
                return next(cf["value"] for cf in cfs if cf["id"] == FIELD_ID)

            # 1. The new ticket shows its deadline: opened + 24h (one write).
            summary, writes = step(2)
            assert shown() == _iso(opened + timedelta(hours=24))
            assert (summary.live_writes, writes) == (1, 1)

            # 2. A sync that changes nothing writes nothing.
            summary, writes = step(2)
            assert (summary.live_writes, summary.planned, writes) == (0, 0, 0)
            assert summary.api_writes == 0

            # 3. Pending: the clock pauses and the deadline is unknown until it resumes, so
            # the field is emptied (one write).
            fake.simulate("status", tid, value="pending")
            paused_at = fake_now()
            summary, writes = step(2)
            assert shown() is None
            assert (summary.live_writes, writes) == (1, 1)
            summary, writes = step(90)  # still paused: nothing to write
            assert (summary.live_writes, writes) == (0, 0)

            # 4. Open again: the deadline moved by the pause (one write).
            fake.simulate("status", tid, value="open")
            pause = fake_now() - paused_at
            assert pause > timedelta(minutes=90)
            summary, writes = step(2)
            assert shown() == _iso(opened + timedelta(hours=24) + pause)
            assert (summary.live_writes, writes) == (1, 1)

            # 5. Urgent: re-targeted to 4h from the start, the pause still added (one write).
            fake.simulate("priority", tid, value="urgent")
            summary, writes = step(2)
            assert shown() == _iso(opened + timedelta(hours=4) + pause)
            assert (summary.live_writes, writes) == (1, 1)

            # 6. And again, nothing changed: no write.
            summary, writes = step(2)
            assert (summary.live_writes, writes) == (0, 0)

            # 7. Solved: no write on a done ticket; reopened: the new cycle's deadline.
            fake.simulate("status", tid, value="solved")
            summary, writes = step(2)
            assert (summary.live_writes, writes) == (0, 0)
            fake.simulate("requester_reply", tid, body="It is on fire again")
            reopened = fake_now()
            summary, writes = step(2)
            assert shown() == _iso(reopened + timedelta(hours=4))
            assert (summary.live_writes, writes) == (1, 1)

            # Five values in all, each one write, each key applied once.
            keys = _live_keys(store, str(tid))
            assert [status for _, status in keys] == ["applied"] * 5
            assert len(_ticket_writes(fake, tid)) == 5


def _ticket_writes(fake: Any, tid: int) -> list[Any]:
    return [
        w for w in fake.writes
        if w.accepted and w.method == "PUT" and f"/tickets/{tid}" in w.path
    ]


def _live_keys(store: Store, tid: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        rows = c.execute(
            select(ledger.c.key, ledger.c.status)
            .where(ledger.c.ticket_id == tid, ledger.c.slot.is_not(None))
            .order_by(ledger.c.seq)
        ).all()
    return [(r.key, r.status) for r in rows]
