"""A plugin hook that raises is handled like a notifier that fails, never by aborting the pass.

``on_breach`` and ``on_action_applied`` are retried through the outbox (with backoff, then a
dead letter), each plugin on its own, so a plugin that answered is not called again; a ticket on
which ``enrich_ticket`` raises is quarantined and every other ticket goes on. Real HTTP against
tinydesk, a real SQLite store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tinydesk import TOKEN, TinyConfig, TinyConnector, TinyFake

from slaplug import hookimpl
from slaplug.rules.pack import RulePack
from slaplug.store import Store, StoreSettings
from slaplug.sync import Sync

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
#: Before every tinydesk ticket: the history's breaches count (a backfill).
BACKFILL = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}
#: Every tinydesk ticket was answered 3 hours after it opened: five breaches, five tags.
RULES = """\
policies:
  - name: p
    targets: {first_response: {"*": 1h}}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions:
      - add_tag: sla_breached
"""
TICKETS = {"tiny:1", "tiny:2", "tiny:3", "tiny:4", "tiny:5"}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[TinyFake, TinyConnector, RulePack]]:
    (tmp_path / "rules.yaml").write_text(RULES)
    with TinyFake() as fake:
        config = TinyConfig.load(
            {"base_url": fake.base_url, "api_token_env": "T"},
            connector="tiny",
            environ={"T": TOKEN},
        )
        with (
            TinyConnector(config, instance="tiny") as conn,
            RulePack.load([tmp_path / "rules.yaml"], engine="python") as pack,
        ):
            yield fake, conn, pack


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Pager:
    """Records each on_breach; raises on the first ``fail`` calls for each ticket."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.tries: Counter[str] = Counter()
        self.paged: list[str] = []

    @hookimpl
    def on_breach(self, ticket: Any, measure: Any) -> None:
        self.tries[ticket.key] += 1
        if self.tries[ticket.key] <= self.fail:
            raise ConnectionError(f"pager down, token={TOKEN}")
        self.paged.append(ticket.key)


class Audit:
    """Records each on_action_applied; raises on the first ``fail`` calls for each action."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.tries: Counter[str] = Counter()
        self.seen: list[str] = []

    @hookimpl
    def on_action_applied(self, action: Any, result: Any) -> None:
        self.tries[action.key] += 1
        if self.tries[action.key] <= self.fail:
            raise RuntimeError("audit log full")
        self.seen.append(f"{action.ticket_id}:{result.status}")


def test_on_breach_that_raises_is_retried_later_and_the_pass_goes_on(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector, RulePack], slaplug_register: Any
) -> None:
    fake, conn, pack = desk
    flaky, steady = Pager(fail=1), Pager()
    slaplug_register(flaky, name="undo-flaky-pager")
    slaplug_register(steady, name="undo-steady-pager")
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        job = Sync(store, pack, {"tiny": conn}, clock=clock, escalate_from=BACKFILL)
        first = job.run_once()  # the old code raised here: the pass ended, the breaches lost
        assert first.applied == 5  # the helpdesk's writes went on
        assert flaky.paged == [] and sorted(steady.paged) == sorted(TICKETS)
        assert first.retried_later == 5
        errors = [e for _, e in _outbox_errors(store)]
        assert errors and all("plugin 'undo-flaky-pager' failed in on_breach" in e for e in errors)
        assert not any(TOKEN in e for e in errors)  # scrubbed like any stored error

        clock.now += timedelta(hours=1)  # past the backoff
        job.run_once()
        job.run_once()
    assert sorted(flaky.paged) == sorted(TICKETS)  # delivered on the retry
    assert sorted(steady.paged) == sorted(TICKETS)  # and the plugin that answered: once each
    assert all(t["tags"] == ["sla_breached"] for t in fake.tickets.values())


def test_on_breach_that_keeps_failing_ends_as_a_dead_letter(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector, RulePack], slaplug_register: Any
) -> None:
    _, conn, pack = desk
    broken = Pager(fail=10**6)
    slaplug_register(broken, name="undo-broken-pager")
    clock = Clock()
    settings = StoreSettings(max_attempts=2)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}", settings=settings) as store:
        job = Sync(store, pack, {"tiny": conn}, clock=clock, escalate_from=BACKFILL)
        job.run_once()
        clock.now += timedelta(hours=2)
        second = job.run_once()
        dead = store.outbox_dead_letters()
    assert second.dead_lettered == 5
    assert sorted(f"{d.action.connector}:{d.action.ticket_id}" for d in dead) == sorted(TICKETS)
    assert all(d.action.kind.value == "hook" and d.key.endswith("!on_breach") for d in dead)


def test_on_action_applied_that_raises_is_retried_for_that_plugin_only(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector, RulePack], slaplug_register: Any
) -> None:
    _, conn, pack = desk
    flaky, steady = Audit(fail=1), Audit()
    slaplug_register(flaky, name="undo-flaky-audit")
    slaplug_register(steady, name="undo-steady-audit")
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        job = Sync(store, pack, {"tiny": conn}, clock=clock, escalate_from=BACKFILL)
        first = job.run_once()  # the old code raised here, after the first write
        assert first.applied == 5
        assert flaky.seen == [] and len(steady.seen) == 5
        clock.now += timedelta(hours=1)
        job.run_once()
        job.run_once()
    expected = sorted(f"{i}:applied" for i in "12345")
    assert sorted(flaky.seen) == expected  # delivered on the retry
    assert sorted(steady.seen) == expected  # not called a second time


def test_enrich_ticket_that_raises_quarantines_that_ticket_only(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector, RulePack], slaplug_register: Any
) -> None:
    fake, conn, pack = desk

    class Crm:
        @hookimpl
        def enrich_ticket(self, ticket: Any) -> dict[str, Any]:
            if ticket.id == "3":
                raise KeyError("customer 3 not in the CRM")
            return {"tier": "gold"}

    slaplug_register(Crm(), name="undo-crm")
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        job = Sync(store, pack, {"tiny": conn}, clock=Clock(), escalate_from=BACKFILL)
        summary = job.run_once()  # the old code raised here: no ticket after it was processed
        held = store.quarantined()
        assert store.load_snapshot("tiny", "1").fields["tier"] == "gold"  # type: ignore[union-attr]
    assert summary.quarantined == 1 and summary.applied == 4
    assert [(q.ticket_id, q.stage) for q in held] == [("3", "enrich")]
    assert "test_plugin_failures' raised KeyError: 'customer 3 not in the CRM'" in held[0].reason
    assert held[0].reason.startswith("enrich_ticket in plugin module '")
    assert [t["id"] for t in fake.tickets.values() if not t["tags"]] == [3]


def _outbox_errors(store: Store) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from slaplug.store.schema import outbox

    with store.engine.connect() as c:
        return [(r.key, r.last_error or "") for r in c.execute(select(outbox))]
