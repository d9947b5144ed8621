"""A cutoff moved after go-live: ``escalate_from`` earlier than the one last in force backfills.

The scenario runs real syncs against the fake Zendesk (real HTTP), every clock pinned: the
fake's (set to each instant before it acts) and the sync's. Four tickets, first response
target 1h (24x7), go-live at G = 15:00:

==========  ======================  ============================  ==========================
ticket      opened                  first response breached       with the cutoff at E=11:00
==========  ======================  ============================  ==========================
early       09:00                   10:00 (before E)              held (before the cutoff)
middle      12:00                   13:00 (between E and G)       escalated, once
solved      12:00, solved 14:00     13:00                         held (the ticket is done)
late        G + 30min               G + 1h30 (after G)            escalated by any cutoff
==========  ======================  ============================  ==========================
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.rules.pack import RulePack
from slaplug.store import Store

RULES = """
policies:
  - name: sla
    targets:
      first_response: {urgent: 1h, "*": 8h}
      resolution: {urgent: 24h, "*": 48h}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions: [{add_tag: frt_breached}]
"""

DAY = datetime(2026, 11, 3, tzinfo=UTC)  # a Tuesday; the rules count every hour anyway
GO_LIVE = DAY + timedelta(hours=15)
EARLIER = DAY + timedelta(hours=11)  # --escalate-from: between the early and the middle breach
PREFIX = "zendesk:{}:sla:first_response:1:frt-breached:1:"


@contextmanager
def _helpdesk() -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """A fake Zendesk holding the tickets of the table above, its clock at go-live; a
    connector on it; the tickets' ids by name. ``fake.at(when)`` sets the fake's clock,
    ``fake.create(name, when)`` opens an urgent ticket then."""
    zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    from slaplug_zendesk.fake import FakeZendesk

    with FakeZendesk.start(
        now=DAY + timedelta(hours=8), tickets=0, days=1, job_complete_after=0.05, job_polls=1
    ) as fake:

        def at(when: datetime) -> None:
            fake.clock.set(when.timestamp())

        def create(name: str, when: datetime) -> None:
            at(when)
            made = fake.simulate("create", subject=name, priority="urgent")
            ids[name] = str(made["ticket"]["id"])

        ids: dict[str, str] = {}
        create("early", DAY + timedelta(hours=9))
        create("middle", DAY + timedelta(hours=12))
        create("solved", DAY + timedelta(hours=12))
        at(DAY + timedelta(hours=14))
        fake.simulate("status", int(ids["solved"]), value="solved")
        at(GO_LIVE)
        config = zd.ZendeskConfig.load(
            {
                "base_url": fake.base_url,
                "email": fake.email,
                "api_token_env": "T",
                "job_poll_interval": 0.02,
            },
            connector="zendesk",
            environ={"T": fake.api_token},
        )
        with zd.ZendeskConnector(config, instance="zendesk") as conn:
            fake.at = at
            fake.create = create
            yield fake, conn, ids


def _sync(store: Store, pack: RulePack, conn: Any, now: datetime, **kw: Any) -> Any:
    from slaplug.sync import Sync

    conn.clock = lambda: now
    return Sync(store, pack, {"zendesk": conn}, clock=lambda: now, **kw).run_once()


def _ledger(store: Store) -> set[str]:
    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        return {r.key for r in c.execute(ledger.select())}


def _tagged(fake: Any) -> set[str]:
    return {
        str(i) for i, t in fake.store.tickets.items() if "frt_breached" in fake.ticket(i)["tags"]
    }


def _planned_for(keys: set[str] | list[str], ids: dict[str, str]) -> set[str]:
    """The names of the tickets whose first-response escalation ``keys`` hold."""
    return {n for n, i in ids.items() if any(k.startswith(PREFIX.format(i)) for k in keys)}


# -- the store: the cutoff last in force, and tickets marked due ---------------------------------


def test_the_recorded_cutoff_follows_each_sync_and_marking_never_delays_a_due_ticket(
    url: str,  # noqa: F811
) -> None:
    with Store.open(url) as store:
        assert store.recorded_cutoff("desk") is None
        store.record_cutoff("desk", GO_LIVE, now=GO_LIVE)
        store.record_cutoff("desk", EARLIER, now=GO_LIVE + timedelta(hours=1))
        assert store.recorded_cutoff("desk") == EARLIER
        assert store.recorded_cutoff("other") is None

        soon, later = GO_LIVE - timedelta(hours=1), GO_LIVE + timedelta(days=1)
        store.set_due_many([("desk", "soon", soon), ("desk", "later", later)])
        assert store.mark_due("desk", ["soon", "later", "new"], GO_LIVE) == 3
        assert store.mark_due("desk", [], GO_LIVE) == 0
        due = {d.ticket_id: d.due_at for d in store.due_before(GO_LIVE, connector="desk")}
        # Already due earlier: kept (it is taken first); due later, or not at all: due now.
        assert due == {"soon": soon, "later": GO_LIVE, "new": GO_LIVE}


@pytest.fixture
def pack(tmp_path: Path) -> Iterator[RulePack]:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    with RulePack.load([path], engine="python") as p:
        yield p


def test_an_earlier_cutoff_after_go_live_escalates_the_breaches_since_it_once(
    tmp_path: Path, pack: RulePack
) -> None:
    earlier = {"zendesk": EARLIER}
    with _helpdesk() as (fake, conn, ids), Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        # Go-live: the history is recorded, nothing is escalated.
        first = _sync(store, pack, conn, GO_LIVE)
        assert (first.planned, first.tickets_read) == (0, 3)
        assert first.breached_before_cutoff == 3

        # An hour later, nothing changed on the helpdesk: a dry run with the earlier cutoff
        # says what the backfill will write, and writes (or marks) nothing.
        fake.at(GO_LIVE + timedelta(hours=1))
        now = GO_LIVE + timedelta(hours=1)
        dry = _sync(store, pack, conn, now, escalate_from=earlier, dry_run=True)
        assert dry.tickets_read == 0
        assert _planned_for([a.key for a in dry.would_plan], ids) == {"middle"}
        assert dry.planned == len(dry.would_plan) == 1
        assert dry.cutoffs == {"zendesk": EARLIER.isoformat()}
        assert dry.cutoff_moves == {"zendesk": GO_LIVE.isoformat()}
        assert dry.cutoff_reevaluated == 2  # early and middle: the solved one is done
        assert first.cutoff_moves == {}  # the first sync: nothing was judged under another
        assert _ledger(store) == set() and fake.writes == []
        assert store.recorded_cutoff("zendesk") == GO_LIVE
        assert store.due_before(now, connector="zendesk") == []

        # The backfill: the stored open tickets are re-evaluated, with no helpdesk read.
        backfill = _sync(store, pack, conn, now, escalate_from=earlier)
        assert backfill.tickets_read == 0
        assert backfill.cutoff_moves == {"zendesk": GO_LIVE.isoformat()}
        assert (backfill.cutoff_reevaluated, backfill.reevaluated) == (2, 2)
        assert _planned_for(_ledger(store), ids) == {"middle"}
        assert (backfill.planned, backfill.applied) == (1, 1)
        assert _tagged(fake) == {ids["middle"]}
        assert store.recorded_cutoff("zendesk") == EARLIER

        # Again with the same cutoff: nothing moved, nothing to plan, nothing written.
        writes = len(fake.writes)
        again = _sync(store, pack, conn, now + timedelta(minutes=5), escalate_from=earlier)
        assert (again.planned, again.cutoff_moves, again.cutoff_reevaluated) == (0, {}, 0)
        assert len(fake.writes) == writes

        # Back to the default (go-live): a later cutoff undoes nothing and re-evaluates
        # nothing; a new ticket is escalated as usual.
        fake.create("late", GO_LIVE + timedelta(minutes=30))
        fake.at(GO_LIVE + timedelta(hours=2))
        later = _sync(store, pack, conn, GO_LIVE + timedelta(hours=2))
        assert later.cutoff_moves == {"zendesk": EARLIER.isoformat()}
        assert later.cutoff_reevaluated == 0
        assert _planned_for(_ledger(store), ids) == {"middle", "late"}
        assert later.planned == 1 and _tagged(fake) == {ids["middle"], ids["late"]}
        assert store.recorded_cutoff("zendesk") == GO_LIVE

        # Earlier once more: every open ticket is looked at again (the late one read, as its
        # tag changed it; the two others from their snapshots), and the ledger keeps each
        # escalation once.
        writes = len(fake.writes)
        fake.at(GO_LIVE + timedelta(hours=3))
        twice = _sync(store, pack, conn, GO_LIVE + timedelta(hours=3), escalate_from=earlier)
        assert (twice.tickets_read, twice.cutoff_reevaluated, twice.planned) == (1, 2, 0)
        assert len(fake.writes) == writes


def test_the_command_line_says_what_a_moved_cutoff_did(tmp_path: Path) -> None:
    """`sync --once --escalate-from` after go-live (QA finding 3): the dry run and the real
    run plan the breach since the new cutoff, and say how many stored tickets were
    re-evaluated because the cutoff moved; the real run writes it once."""
    import yaml

    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    with _helpdesk() as (fake, _, ids):
        config = tmp_path / "slaplug.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": f"sqlite:///{tmp_path / 's.db'}",
                    "rules": [str(tmp_path / "rules.yaml")],
                    "engine": "python",
                    "connectors": {
                        "zendesk": {
                            "plugin": "zendesk",
                            "base_url": fake.base_url,
                            "email": fake.email,
                            "api_token_env": "BACKFILL_ZD_TOKEN",
                            "job_poll_interval": 0.02,
                        }
                    },
                }
            )
        )

        def cli(now: datetime, *args: str) -> subprocess.CompletedProcess[str]:
            env = {
                **os.environ,
                "BACKFILL_ZD_TOKEN": fake.api_token,
                "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
                "SLAPLUG_NOW": now.isoformat(),
            }
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "slaplug.cli",
                    "sync",
                    "--once",
                    "--config",
                    str(config),
                    *args,
                ],
                capture_output=True,
                text=True,
                check=False,
                env=env,
                timeout=240,
            )

        live = cli(GO_LIVE, "--json")
        assert live.returncode == 0, live.stderr
        assert json.loads(live.stdout.splitlines()[-1])["planned"] == 0

        now = GO_LIVE + timedelta(hours=1)
        fake.at(now)
        dry = cli(now, "--dry-run", "--escalate-from", "2026-11-03T11:00:00Z")
        assert dry.returncode == 0, dry.stderr
        assert "actions: 1 planned" in dry.stdout
        assert (
            f"cutoff moved earlier: zendesk {GO_LIVE.isoformat()} -> {EARLIER.isoformat()}"
            in dry.stdout
        ), dry.stdout
        assert "2 stored open tickets re-evaluated from their snapshots" in dry.stdout
        assert f"zendesk:{ids['middle']} frt-breached L1: add_tag tag=frt_breached" in dry.stdout

        real = cli(now, "--json", "--escalate-from", "2026-11-03T11:00:00Z")
        assert real.returncode == 0, real.stderr
        figures = json.loads(real.stdout.splitlines()[-1])
        assert (figures["planned"], figures["applied"], figures["cutoff_reevaluated"]) == (1, 1, 2)
        assert figures["cutoff_moves"] == {
            "zendesk": {"from": GO_LIVE.isoformat(), "to": EARLIER.isoformat()}
        }
        assert _tagged(fake) == {ids["middle"]}

        again = cli(now, "--json", "--escalate-from", "2026-11-03T11:00:00Z")
        figures = json.loads(again.stdout.splitlines()[-1])
        assert (figures["planned"], figures["cutoff_reevaluated"], figures["cutoff_moves"]) == (
            0,
            0,
            {},
        )

        later = cli(now, "--escalate-from", "first-sync")
        assert later.returncode == 0, later.stderr
        assert (
            f"cutoff moved later: zendesk {EARLIER.isoformat()} -> {GO_LIVE.isoformat()}: "
            "thresholds crossed before it are held back from now on; nothing already "
            "planned or written is undone"
        ) in later.stdout
        assert _tagged(fake) == {ids["middle"]}
