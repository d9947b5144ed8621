"""Escalations that write one thing in turn: the ticket shows the threshold crossed last.

The shipped rules set ``sla_resolution_status`` to ``half_used`` at 50% and to ``at_risk`` at
75%. A sync that finds both crossed (a backfill, a gap between syncs) planned both, the
outbox handed them out in key order and the connector let the last one win: the ticket
showed ``half_used`` under an "at risk" tag and comment, for good. Each escalation's write to
a field, a tag, the priority, the status or the assignee now has a ledger slot
(`slaplug.store.live.write_slot`), numbered in the order the thresholds were crossed; only
the newest is written, and an older one a failure put back is superseded, never retried.

The end-to-end test runs a real sync against the fake Zendesk (real HTTP) on a 24x7
calendar; its clock is the fake's, pinned to a fixed start.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_live_fields import _fake_zendesk
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.model import Action, ActionKind, Metric
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.store.live import write_slot

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

#: The fake's "SLA status" text field (zendesk_generate.FIELD_SLA_STATUS).
FIELD_ID = 360_000_000_103

# The escalations are declared newest threshold first, the reverse of the crossing order:
# what the ticket shows must not depend on the order they are written in.
RULES = """
policies:
  - name: support
    targets:
      resolution: {"*": 4h}
escalations:
  - name: breached
    when: {metric: resolution, breached: true}
    actions:
      - remove_tag: sla_at_risk
      - set_field: {field: sla_status, value: breached}
  - name: at-risk
    when: {metric: resolution, state: running, percent: {gte: 75}}
    actions:
      - add_tag: sla_at_risk
      - set_field: {field: sla_status, value: at_risk}
  - name: half-used
    when: {metric: resolution, state: running, percent: {gte: 50}}
    actions:
      - set_field: {field: sla_status, value: half_used}
"""


def test_a_sync_that_finds_two_thresholds_crossed_leaves_the_later_one_s_value(
    tmp_path: Path,
) -> None:
    from slaplug.sync import Sync

    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES), encoding="utf-8")
    with _fake_zendesk({"sla_status": FIELD_ID}) as (fake, conn, fake_now), \
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([rules], engine="python") as pack:  # fmt: skip
        job = Sync(store, pack, {"zendesk": conn}, clock=fake_now)
        job.run_once()  # go-live on an empty account
        created = fake.simulate("create", subject="Printer on fire", priority="normal")
        tid = int(created["ticket"]["id"])
        # 3.5 hours of a 4-hour target: 50% and 75% both crossed since the last look.
        fake.advance(3.5 * 3600)
        summary = job.run_once()
        assert summary.failed == 0

        def shown() -> Any:
            cfs = fake.ticket(tid)["custom_fields"]
            return next(cf["value"] for cf in cfs if cf["id"] == FIELD_ID)

        assert shown() == "at_risk"
        assert "sla_at_risk" in fake.ticket(tid)["tags"]
        statuses = _statuses(store, str(tid))
        assert statuses["half-used", "set_field"] == "superseded"
        assert statuses["at-risk", "set_field"] == "applied"
        assert statuses["at-risk", "add_tag"] == "applied"

        # Past the deadline: the breach replaces both, tag removed, field "breached".
        fake.advance(3600)
        job.run_once()
        assert shown() == "breached"
        assert "sla_at_risk" not in fake.ticket(tid)["tags"]
        # Nothing is planned twice: another sync writes nothing.
        assert job.run_once().planned == 0


def _statuses(store: Store, tid: str) -> dict[tuple[str, str], str]:
    from sqlalchemy import select

    from slaplug.store.codec import action_from_json
    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        rows = c.execute(
            select(ledger.c.action, ledger.c.status).where(ledger.c.ticket_id == tid)
        ).all()
    out = {}
    for r in rows:
        a = action_from_json(r.action)
        out[(a.escalation, a.kind.value)] = r.status
    return out


# -- the store: a slot's writes numbered in the order planned ----------------------------------


def _set(tid: str, value: str, escalation: str, kind: ActionKind = ActionKind.SET_FIELD) -> Action:
    field = kind is ActionKind.SET_FIELD
    params = {"field": "sla_status", "value": value} if field else {"tag": value}
    return Action(
        kind=kind,
        params=params,
        connector="desk",
        ticket_id=tid,
        key=f"desk:{tid}:support/resolution:1:{escalation}:1:{kind.value}={value}",
        escalation=escalation,
        level=1,
        policy="support",
        metric=Metric.RESOLUTION,
        cycle=1,
    )


def test_the_write_planned_last_in_a_slot_is_the_one_claimed(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        half, risk = _set("1", "half_used", "half-used"), _set("1", "at_risk", "at-risk")
        other = _set("2", "half_used", "half-used")
        assert sorted(store.plan([half, risk, other], now=T0)) == sorted(
            [half.key, risk.key, other.key]
        )
        assert store.ledger_status(half.key) == "superseded"
        claimed = store.outbox_claim("desk", now=T0)
        assert sorted(c.key for c in claimed) == sorted([risk.key, other.key])


def test_an_older_write_a_failure_put_back_is_not_retried_after_a_newer_one(
    url: str,  # noqa: F811
) -> None:
    with Store.open(url) as store:
        (k1,) = store.plan([_set("1", "half_used", "half-used")], now=T0)
        (held,) = store.outbox_claim("desk", now=T0, worker_id="w1")  # in flight
        (k2,) = store.plan([_set("1", "at_risk", "at-risk")], now=T0)
        # The newer waits while the older flies: an older value never lands after it.
        assert store.outbox_claim("desk", now=T0, worker_id="w2") == []
        assert store.outbox_fail(held.key, "503", now=T0) == "pending"
        later = T0 + timedelta(hours=1)
        claims = store.outbox_claim("desk", now=later, worker_id="w2")
        assert [c.key for c in claims] == [k2]
        assert store.ledger_status(k1) == "superseded"
        store.complete(k2, "applied", now=later)
        # A re-run plans neither again.
        assert store.plan([_set("1", "half_used", "half-used"), _set("1", "at_risk", "at-risk")],
                          now=later) == []  # fmt: skip


def test_an_added_tag_and_its_removal_share_a_slot(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        add = _set("1", "sla_at_risk", "at-risk", ActionKind.ADD_TAG)
        remove = _set("1", "sla_at_risk", "breached", ActionKind.REMOVE_TAG)
        store.plan([add, remove], now=T0)
        assert [c.key for c in store.outbox_claim("desk", now=T0)] == [remove.key]


@pytest.mark.parametrize(
    ("kind", "params", "slot"),
    [
        (ActionKind.SET_FIELD, {"field": "f", "value": 1}, "field:f"),
        (ActionKind.ADD_TAG, {"tag": "t"}, "tag:t"),
        (ActionKind.REMOVE_TAG, {"tag": "t"}, "tag:t"),
        (ActionKind.SET_PRIORITY, {"priority": "urgent"}, "priority"),
        (ActionKind.SET_STATUS, {"status": "open"}, "status"),
        (ActionKind.ASSIGN, {"group": "escalations"}, "assign:group"),
        (ActionKind.ASSIGN, {"user": "ann"}, "assign:user"),
        (ActionKind.COMMENT, {"body": "x", "public": False}, None),
        (ActionKind.NOTIFY, {"channel": "lead", "message": "x"}, None),
    ],
)
def test_what_shares_a_slot(kind: ActionKind, params: dict[str, Any], slot: str | None) -> None:
    assert write_slot(replace(_set("1", "x", "e"), kind=kind, params=params)) == slot
