"""Effective-dated rules end to end: configuration, engine, store, sync, explain, credits, backtest.

The must-show of issue 16: v1, then v2 with an effective date. Credits of cycles started before
it are unchanged, ``explain`` names the version of each clock, ``backtest --remeasure`` shows the
difference, and only ``credits --recalculate --remeasure`` applies it (real ``slaplug``
processes on a real SQLite store; the sync and the store also on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from test_web_events import Client, tiny_delivery
from tinydesk import TOKEN, WEBHOOK_SECRET, TinyConfig, TinyConnector, TinyFake

from slaplug.cli import main
from slaplug.config import Settings, load_settings
from slaplug.errors import ProblemsError
from slaplug.explain import explain, render_text
from slaplug.model import EventKind, Ticket, TicketEvent
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import RulesVersion, VersionedPack
from slaplug.runtime import Runtime
from slaplug.store import Store
from slaplug.store.migrations import MIGRATIONS, migrate
from slaplug.store.schema import measures, schema_version
from slaplug.sync import Sync
from slaplug.web.app import create_app

#: v2 takes effect at midnight in Berlin on 2 December 2026 (23:00 UTC on the 1st).
EFFECTIVE = datetime(2026, 12, 2, tzinfo=timezone(timedelta(hours=1)))
EFFECTIVE_TEXT = "2026-12-02T00:00:00+01:00"

RULES = """\
policies:
  - name: p
    targets: {{resolution: {{"*": {hours}h}}}}
escalations:
  - name: breached
    when: {{metric: resolution, breached: true}}
    actions:
      - add_tag: sla_breached
contracts:
  - name: acme
    timezone: Europe/Berlin
    freeze_after: 0h
    fee: 10000
    currency: EUR
    cap: 20%
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {{at_least: 95%, below: 100%, credit: 10%}}
          - {{below: 95%, credit: 20%}}
"""


def write_rules(folder: Path) -> tuple[Path, Path]:
    """v1: 8 hours to resolve; v2: 4 hours."""
    v1, v2 = folder / "v1.yaml", folder / "v2.yaml"
    v1.write_text(RULES.format(hours=8), encoding="utf-8")
    v2.write_text(RULES.format(hours=4), encoding="utf-8")
    return v1, v2


def versioned_config(folder: Path, store: str, rules: str | None = None) -> Path:
    config = folder / "slaplug.yaml"
    config.write_text(
        f"store: {store}\n"
        + (
            rules
            or "rules:\n"
            "  - {files: [v1.yaml], label: v1}\n"
            f"  - {{files: [v2.yaml], label: v2, effective_from: {EFFECTIVE_TEXT}}}\n"
        ),
        encoding="utf-8",
    )
    return config


# -- the configuration ---------------------------------------------------------------------------


def test_versions_are_read_from_the_configuration_oldest_first(tmp_path: Path) -> None:
    write_rules(tmp_path)
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        "rules:\n"
        f"  - {{files: [v2.yaml], label: v2, effective_from: {EFFECTIVE_TEXT}}}\n"
        "  - {files: [v1.yaml], label: v1}\n",
        encoding="utf-8",
    )
    s = load_settings(config, environ={})
    assert [(v.label, v.effective_from) for v in s.rules_versions] == [
        ("v1", None),
        ("v2", EFFECTIVE),
    ]
    assert s.rules == [tmp_path / "v2.yaml"]  # the newest version's files
    # The plain list of files keeps working: one version, unlabelled, since forever.
    config.write_text("rules: [v1.yaml, v2.yaml]\n", encoding="utf-8")
    (plain,) = load_settings(config, environ={}).rules_versions
    assert (plain.label, plain.effective_from, plain.files) == (
        "",
        None,
        (tmp_path / "v1.yaml", tmp_path / "v2.yaml"),
    )


def test_each_version_problem_is_reported_at_its_place(tmp_path: Path) -> None:
    write_rules(tmp_path)
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        "rules:\n"
        "  - {files: [v1.yaml], label: v1}\n"  # line 2
        "  - {files: [v2.yaml], label: v2}\n"  # 3: a later version without a date
        "  - {files: [v2.yaml], label: v3, effective_from: 2026-12-01T00:00:00}\n"  # 4: no zone
        f"  - {{files: [v2.yaml], label: v4, effective_from: {EFFECTIVE_TEXT}}}\n"  # 5
        f"  - {{files: [v2.yaml], label: v5, effective_from: {EFFECTIVE_TEXT}}}\n"  # 6: same date
        "  - {files: [v2.yaml], label: v6, effective: 2027-01-01T00:00:00Z}\n"  # 7: unknown key
        "  - {files: [v2.yaml], label: v7, effective_from: 2027-02-01}\n",  # 8: a date alone
        encoding="utf-8",
    )
    with pytest.raises(ProblemsError) as err:
        load_settings(config, environ={})
    shown = [str(p) for p in err.value.problems]
    name = str(config)
    assert shown[0].startswith(f"{name}:3:5: rules[1]: rules version 'v2' has no effective_from")
    assert shown[1].startswith(f"{name}:4:51: rules[2].effective_from: 2026-12-01T00:00:00 has no ")
    assert "time zone" in shown[1]
    assert shown[2].startswith(f"{name}:6:51: rules[4].effective_from: rules versions 'v4' and ")
    assert "both take effect at 2026-12-02T00:00:00+01:00" in shown[2]
    assert f"{name}:7:5: rules[5]: rules version 'v6' has no effective_from" in shown[3]
    assert shown[4] == (
        f'{name}:7:35: rules[5].effective: unknown key "effective" in a rules version; '
        "use files, label, effective_from"
    )
    assert shown[5].startswith(f"{name}:8:51: rules[6].effective_from: 2027-02-01 is a date ")
    assert len(shown) == 6


def test_rules_check_with_the_configuration_checks_every_version(tmp_path: Path) -> None:
    v1, _ = write_rules(tmp_path)
    config = versioned_config(tmp_path, "sqlite:///s.db")
    ok = invoke("rules", "check", "--config", str(config))
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == [
        "ok: rules v1: 1 policy, 1 escalation, 0 calendars, 1 contract in 1 file",
        "ok: rules v2: 1 policy, 1 escalation, 0 calendars, 1 contract in 1 file",
    ]
    # A mistake in the older version is found too: it still measures the cycles it holds.
    v1.write_text(
        v1.read_text().replace("metric: resolution, breached", "metric: resolve, breached")
    )
    bad = invoke("rules", "check", "--config", str(config))
    assert bad.exit_code == 2 and f"{v1}:6:20:" in bad.output and "is not a metric" in bad.output


# -- the engine ----------------------------------------------------------------------------------


def ticket(tid: str, created: datetime, solved_after: timedelta | None = None) -> Ticket:
    events = [TicketEvent(EventKind.CREATED, created)]
    if solved_after is not None:
        events.append(TicketEvent(EventKind.SOLVED, created + solved_after))
    return Ticket(
        id=tid,
        connector="zd",
        created_at=created,
        status="solved" if solved_after is not None else "open",
        priority="urgent",
        organization="acme",
        events=tuple(events),
        updated_at=events[-1].at,
    )


@pytest.mark.parametrize("engine", ["python", "durable"])
def test_a_cycle_is_measured_where_it_started_on_either_engine(tmp_path: Path, engine: str) -> None:
    v1_path, v2_path = write_rules(tmp_path)
    with (
        RulePack.load([v1_path], engine=engine) as v1,  # type: ignore[arg-type]
        RulePack.load([v2_path], engine=engine) as v2,  # type: ignore[arg-type]
    ):
        rules = VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", EFFECTIVE, v2)])
        now = EFFECTIVE + timedelta(hours=5)
        running = ticket("1", EFFECTIVE - timedelta(hours=1))  # 6h: v1 runs, v2 would breach
        fresh = ticket("2", EFFECTIVE)  # 5h into v2's 4h
        a, b = rules.assess_many([running, fresh], now)
        assert [(m.breached, a.version_of(m)) for m in a.measures] == [(False, "v1")]
        assert a.actions == ()
        assert [(m.breached, b.version_of(m)) for m in b.measures] == [(True, "v2")]
        assert [x.params["tag"] for x in b.actions] == ["sla_breached"]
        # Its next threshold is v1's breach at 8h, not v2's (passed already).
        assert rules.next_due(a, now) == running.created_at + timedelta(hours=8)
        # One version assesses straight through its pack: the same measures and actions.
        single = VersionedPack.of(v2)
        (alone,) = single.assess_many([running], now)
        assert (
            alone.assessment == v2.assess(running, now)
            and alone.version_of(alone.measures[0]) == ""
        )
        assert (latest := rules.latest()).versions[0].label == "v2"
        assert latest.assess(running, now).measures[0].breached


def test_a_cycle_whose_start_each_calendar_puts_elsewhere_keeps_the_version_it_opened_in(
    tmp_path: Path,
) -> None:
    """v1's office opens at 09:00, v2 counts round the clock: a ticket opened at 22:00 the
    evening before v2's date counts nothing under v1 until the next morning (after the date);
    its cycle opened under v1 all the same, and keeps v1's calendar and target."""
    office = (
        "calendars:\n  office:\n    timezone: UTC\n    hours: {mon-fri: '09:00-17:00'}\n"
        "policies:\n  - name: p\n    calendar: office\n    targets: {resolution: {'*': 8h}}\n"
    )
    around = "policies:\n  - name: p\n    targets: {resolution: {'*': 4h}}\n"
    (tmp_path / "a.yaml").write_text(office, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(around, encoding="utf-8")
    cutover = datetime(2026, 12, 2, tzinfo=UTC)  # a Wednesday
    with (
        RulePack.load([tmp_path / "a.yaml"], engine="python") as v1,
        RulePack.load([tmp_path / "b.yaml"], engine="python") as v2,
    ):
        rules = VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", cutover, v2)])
        t = ticket("1", cutover - timedelta(hours=2))
        (a,) = rules.assess_many([t], cutover + timedelta(hours=12))
        (m,) = a.measures
        assert (a.version_of(m), m.target, m.calendar) == ("v1", timedelta(hours=8), "office")
        assert m.elapsed == timedelta(hours=3)  # 09:00 to 12:00 on v1's office hours


# -- the store -----------------------------------------------------------------------------------


def test_a_version_5_store_gains_the_version_column_and_keeps_its_history(url: str) -> None:  # noqa: F811
    with Store.open(url) as s, s.engine.begin() as conn:  # make it look like version 5
        conn.execute(sa.text("ALTER TABLE measures DROP COLUMN rules_version"))
        conn.execute(sa.delete(schema_version).where(schema_version.c.version >= 6))
        conn.execute(
            measures.insert().values(
                ticket_key="zd:1",
                policy="p",
                metric="resolution",
                cycle=1,
                state="running",
                breached=False,
                at=EFFECTIVE,
                body="{}",
            )
        )
    with Store.open(url, migrate_schema=False) as s:
        # 6, then later steps (numbers are reserved per branch: a gap is fine)
        assert migrate(s.engine) == [m.version for m in MIGRATIONS if m.version >= 6]
        assert migrate(s.engine) == []
        assert s.measure_versions("zd:1") == {("p", "resolution", 1): None}


# -- the sync and the webhook path ---------------------------------------------------------------


@pytest.fixture
def desk() -> Iterator[tuple[TinyFake, TinyConnector]]:
    with TinyFake() as fake:
        config = TinyConfig.load(
            {"base_url": fake.base_url, "api_token_env": "T"},
            connector="tiny",
            environ={"T": TOKEN},
        )
        with TinyConnector(config, instance="tiny") as conn:
            yield fake, conn


def test_deploying_v2_moves_no_open_clock_and_each_measure_is_recorded_with_its_version(
    tmp_path: Path,
    url: str,  # noqa: F811
    desk: tuple[TinyFake, TinyConnector],
) -> None:
    fake, conn = desk
    opened = EFFECTIVE - timedelta(hours=3)  # 20:00 UTC on 1 December: under v1
    fake.tickets = {
        "1": _tiny("1", opened),
        "2": _tiny("2", EFFECTIVE + timedelta(hours=1)),  # under v2
    }
    v1_path, v2_path = write_rules(tmp_path)
    engine: Any = "durable" if url.startswith("sqlite") else "python"
    clock = [opened + timedelta(hours=1)]
    with (
        Store.open(url) as store,
        RulePack.load([v1_path], engine=engine) as v1,
        RulePack.load([v2_path], engine=engine) as v2,
    ):
        # Before v2 exists: v1 alone, no versions declared.
        before = Sync(
            store, v1, {"tiny": conn}, clock=lambda: clock[0], escalate_from={"tiny": opened}
        )
        before.process("tiny", [conn.read_ticket("1")])
        assert store.measure_versions("tiny:1") == {("p", "resolution", 1): None}

        # v2 deployed. Ticket 1 is 5h old: v2's 4h would breach it; its period does not move.
        rules = VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", EFFECTIVE, v2)])
        job = Sync(
            store, rules, {"tiny": conn}, clock=lambda: clock[0], escalate_from={"tiny": opened}
        )
        clock[0] = opened + timedelta(hours=5)
        done = job.process(
            "tiny", [conn.read_ticket("1"), conn.read_ticket("2")]
        )  # a webhook's path
        assert done.planned == 0 and fake.tickets["1"]["tags"] == []
        due = {d.ticket_id: d.due_at for d in store.due_before(opened + timedelta(days=1))}
        assert due == {"1": opened + timedelta(hours=8), "2": EFFECTIVE + timedelta(hours=5)}

        # Past v1's 8h and v2's 4h for the second: each breaches under its own version.
        clock[0] = opened + timedelta(hours=8, minutes=30)
        summary = job.run_once()
        assert summary.applied == 2
        assert fake.tickets["1"]["tags"] == fake.tickets["2"]["tags"] == ["sla_breached"]
        assert store.measure_versions("tiny:1") == {("p", "resolution", 1): "v1"}
        assert store.measure_versions("tiny:2") == {("p", "resolution", 1): "v2"}
        # explain shows the version each clock is measured under, and the one recorded.
        snapshot = store.load_snapshot("tiny", "1")
        assert snapshot is not None
        shown = explain(rules, snapshot, clock[0], store.measure_versions("tiny:1"))
        assert [(c["version"], c["recorded_version"]) for c in shown["clocks"]] == [("v1", "v1")]
        assert render_text(shown).count("rules v1 (in force when the cycle started") == 1
        history = list(store.measures_between(opened, opened + timedelta(days=1)))
        assert [(r.ticket_key, r.measure.state.value, r.version) for r in history] == [
            ("tiny:1", "running", None),
            ("tiny:2", "running", "v2"),
            ("tiny:1", "breached", "v1"),
            ("tiny:2", "breached", "v2"),
        ]


def test_the_webhook_worker_assesses_by_version_and_the_sla_view_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliveries drained by `slaplug serve`'s worker thread: each clock under its version,
    recorded with it, and ``/tickets/.../sla`` shows both (the app and worker in process)."""
    monkeypatch.setenv("TINY_TOKEN", TOKEN)
    monkeypatch.setenv("TINY_HOOK", WEBHOOK_SECRET)
    v1_path, v2_path = write_rules(tmp_path)
    with (
        TinyFake() as fake,
        Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
        RulePack.load([v1_path], engine="python") as v1,
        RulePack.load([v2_path], engine="python") as v2,
    ):
        fake.tickets = {
            "1": _tiny("1", EFFECTIVE - timedelta(hours=3)),
            "2": _tiny("2", EFFECTIVE + timedelta(hours=1)),
        }
        config = TinyConfig(
            base_url=fake.base_url, api_token_env="TINY_TOKEN", webhook_secret_env=["TINY_HOOK"]
        )
        rules = VersionedPack([RulesVersion("v1", None, v1), RulesVersion("v2", EFFECTIVE, v2)])
        settings = Settings(path=tmp_path / "slaplug.yaml", store="", rules=[], engine="python")
        with TinyConnector(config, instance="tiny") as conn:
            runtime = Runtime(settings=settings, store=store, pack=rules, connectors={"tiny": conn})
            client = Client(
                create_app(None, runtime=runtime, worker_options={"poll_interval": 0.05})
            )
            try:
                for tid in ("1", "2"):
                    headers, body = tiny_delivery(f"d-{tid}", tid)
                    assert (
                        client.post("/webhooks/tiny", content=body, headers=headers).status_code
                        == 202
                    )
                deadline = datetime.now(UTC) + timedelta(seconds=10)
                while store.inbox_stats() != {"done": 2}:
                    assert datetime.now(UTC) < deadline, "the worker did not finish"
                # The explain view needs a manager token (docs/dashboard.md).
                auth = {"Authorization": f"Bearer {store.issue_token('manager')[1]}"}
                views = [
                    client.get(f"/tickets/tiny/{tid}/sla", headers=auth).json()
                    for tid in ("1", "2")
                ]
            finally:
                client.close()
    assert [[(c["version"], c["recorded_version"]) for c in v["clocks"]] for v in views] == [
        [("v1", "v1")],
        [("v2", "v2")],
    ]
    # Each measured against its own version's target.
    assert [v["clocks"][0]["target_s"] for v in views] == [8 * 3600, 4 * 3600]


def _tiny(tid: str, created: datetime) -> dict[str, Any]:
    """A tinydesk ticket as its fake serves it (tests/tinydesk.py)."""
    return {
        "id": int(tid),
        "created": created.isoformat(),
        "status": "open",
        "tags": [],
        "comments": [],
        "events": [{"kind": "created", "at": created.isoformat()}],
    }


# -- the must-show, through real slaplug processes -------------------------------------------------

#: 11 urgent tickets of acme in December: ticket 1, opened on 1 December (under v1), took 6 hours
#: (met under v1's 8h, breached under v2's 4h); ticket 11 opened after v2's date, took 2 hours.
#: 3 in November, one of them 6 hours.
DECEMBER = [ticket("1", datetime(2026, 12, 1, 8, tzinfo=UTC), timedelta(hours=6))] + [
    ticket(str(i), datetime(2026, 12, 1, 9, tzinfo=UTC), timedelta(hours=1)) for i in range(2, 11)
]
LATER = ticket("11", datetime(2026, 12, 3, 9, tzinfo=UTC), timedelta(hours=2))
NOVEMBER = [
    ticket("21", datetime(2026, 11, 10, 9, tzinfo=UTC), timedelta(hours=6)),
    ticket("22", datetime(2026, 11, 10, 9, tzinfo=UTC), timedelta(hours=1)),
    ticket("23", datetime(2026, 11, 10, 9, tzinfo=UTC), timedelta(hours=1)),
]
AT = "2026-12-04T12:00:00+00:00"


def slaplug(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real ``slaplug`` process."""
    # As a user runs it: none of the test harness's SLAPLUG_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLAPLUG_")}
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def invoke(*args: str) -> Result:
    """``slaplug`` in this process (the checks around the must-show, kept fast)."""
    return CliRunner().invoke(main, list(args))


def test_v1_then_v2_credits_explain_and_backtest(tmp_path: Path) -> None:
    write_rules(tmp_path)
    db = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(db) as store:
        store.save_snapshots([*NOVEMBER, *DECEMBER, LATER], now=datetime(2026, 12, 4, tzinfo=UTC))
    # Before v2: the plain list of v1. November freezes at 0 (closed since 1 December).
    plain = versioned_config(tmp_path, db, "rules: [v1.yaml]\n")
    first = invoke(
        "credits", "--config", str(plain), "--period", "2026-11", "--at", AT, "--freeze"
    )
    assert first.exit_code == 0, first.output
    assert "Service credit acme 2026-11: 0 %" in first.output and "revision 1" in first.output

    # Deploying v2 in place of v1 (no dates) would rewrite December: 0 -> 2,000 EUR.
    rewritten = versioned_config(tmp_path, db, "rules: [v2.yaml]\n")
    moved = invoke(
        "credits", "--config", str(rewritten), "--period", "2026-12", "--at", AT, "--json"
    )
    assert json.loads(moved.output)["results"][0]["amount"] == "2000.00"

    # v2 with its effective date: December's cycles that started before it keep v1.
    config = versioned_config(tmp_path, db)
    dec = slaplug(
        "credits",
        "--config",
        str(config),
        "--period",
        "2026-12",
        "--at",
        AT,
        "--json",
        cwd=tmp_path,
    )
    assert dec.returncode == 0, dec.stderr
    (result,) = json.loads(dec.stdout)["results"]
    assert (result["credit"], result["amount"]) == ("0", "0.00")
    assert result["rules_versions"] == [
        {"label": "v1", "measures": 10},
        {"label": "v2", "measures": 1},
    ]
    assert result["terms_version"] == "v1"  # December started under v1
    text = invoke("credits", "--config", str(config), "--period", "2026-12", "--at", AT)
    assert "Rules: measures under v1 (10), v2 (1); contract terms of v1." in text.output
    report = invoke("report", "--config", str(config), "--period", "2026-12", "--at", AT)
    assert "Rules: measures under v1 (10), v2 (1); contract terms of v1." in report.output
    same = invoke(
        "credits", "--config", str(config), "--period", "2026-11", "--recalculate", "--at", AT
    )
    assert "Recalculated: no difference; revision 1 stands" in same.output, same.output

    # explain names the version each clock is measured under (a synced ticket: its helpdesk
    # must be configured; no call is made, no credential needed).
    synced = tmp_path / "synced.yaml"
    synced.write_text(
        config.read_text()
        + "connectors:\n  zd: {plugin: zendesk, base_url: 'https://acme.zendesk.com', "
        "email: ops@acme.example, api_token_env: ZD_TOKEN}\n",
        encoding="utf-8",
    )
    one = slaplug("explain", "zd:1", "--config", str(synced), "--at", AT, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "p / resolution (cycle 1): ACHIEVED" in one.stdout
    assert "  rules v1 (in force when the cycle started; the first version)" in one.stdout
    later = slaplug("explain", "zd:11", "--config", str(synced), "--at", AT, "--json", cwd=tmp_path)
    doc = json.loads(later.stdout)
    assert [c["version"] for c in doc["clocks"]] == ["v2"]
    assert doc["versions"] == [
        {"label": "v1", "effective_from": None},
        {"label": "v2", "effective_from": EFFECTIVE_TEXT},
    ]

    # backtest shows what a re-measure under v2 would change, and changes nothing.
    bt = slaplug(
        "backtest",
        "--config",
        str(config),
        "--remeasure",
        "--since",
        "2026-11-01",
        "--at",
        AT,
        cwd=tmp_path,
    )
    assert bt.returncode == 0, bt.stderr
    assert "zd:1 p/resolution cycle 1 (measured under v1): met -> breached under v2" in bt.stdout
    assert "zd:21 p/resolution cycle 1 (measured under v1): met -> breached under v2" in bt.stdout
    assert "2 measure(s) would change." in bt.stdout
    assert "2026-12  0 % (0.00 EUR) -> 20 % (2000.00 EUR)" in bt.stdout
    assert "2026-11  0 % (0.00 EUR) -> 20 % (2000.00 EUR)" in bt.stdout
    # docs/backtesting.md shows this very output.
    page = (Path(__file__).parent.parent / "docs" / "backtesting.md").read_text(encoding="utf-8")
    shown = page.split("## A re-measure under the newest version")[1]
    assert shown.split("```text\n")[1].split("```")[0] == bt.stdout
    again = invoke("credits", "--config", str(config), "--period", "2026-11", "--at", AT)
    assert "Service credit acme 2026-11: 0 %" in again.output

    # A re-measure happens only when asked for, as a recorded recalculation.
    refused = invoke(
        "credits", "--config", str(config), "--period", "2026-11", "--remeasure", "--at", AT
    )
    assert refused.exit_code == 2 and "--recalculate" in refused.output
    asked = slaplug(
        "credits",
        "--config",
        str(config),
        "--period",
        "2026-11",
        "--recalculate",
        "--remeasure",
        "--at",
        AT,
        cwd=tmp_path,
    )
    assert asked.returncode == 0, asked.stderr
    assert "Service credit acme 2026-11: 20 % = 2000.00 EUR" in asked.stdout
    assert "Rules: measures under v2 (3); contract terms of v2." in asked.stdout
    assert "Recalculated: revision 1 -> 2" in asked.stdout
    assert "breach added: zd:21 resolution cycle 1" in asked.stdout
    with Store.open(db) as store:
        row = store.credit_period("acme", "2026-11")
        assert row is not None and row.revision == 2 and row.reason == "re-measured under v2"


# -- a contract whose calendar's zone differs between versions -------------------------------------

ZONED = """\
calendars:
  desk: {{timezone: {zone}, hours: {{mon-sun: "00:00-24:00"}}}}
policies:
  - name: p
    calendar: desk
    targets: {{resolution: {{"*": 4h}}}}
contracts:
  - name: acme
    calendar: desk      # its periods are in this calendar's zone, which v2 changes
    freeze_after: 0h
    fee: 10000
    currency: EUR
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {{below: 100%, credit: 10%}}
"""


@pytest.mark.parametrize(
    ("v1_zone", "v2_zone", "effective", "counted_in", "january_starts"),
    [
        # Berlin's December ends at 23:00 UTC, New York's January starts at 05:00 UTC: the
        # breach at 02:00 UTC fell in neither period (0 EUR both months).
        ("Europe/Berlin", "America/New_York", "2027-01-01T00:00:00-05:00", "2027-01",
         "2026-12-31T18:00:00-05:00"),
        # New York's December ends at 05:00 UTC, Berlin's January starts at 23:00 UTC the day
        # before: the breach fell in both (1,000 EUR twice).
        ("America/New_York", "Europe/Berlin", "2027-01-01T00:00:00+01:00", "2026-12",
         "2027-01-01T06:00:00+01:00"),
    ],
)
def test_a_contract_whose_zone_changes_between_versions_counts_each_measure_once(
    tmp_path: Path, v1_zone: str, v2_zone: str, effective: str, counted_in: str,
    january_starts: str,
) -> None:
    """December is settled on v1's terms in v1's zone, January on v2's in v2's zone; January
    starts where December ended, so a measure decided between the two zones' midnights of
    New Year counts once."""
    (tmp_path / "v1.yaml").write_text(ZONED.format(zone=v1_zone), encoding="utf-8")
    (tmp_path / "v2.yaml").write_text(ZONED.format(zone=v2_zone), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 's.db'}"
    config = versioned_config(
        tmp_path,
        db,
        "rules:\n  - {files: [v1.yaml], label: v1}\n"
        f"  - {{files: [v2.yaml], label: v2, effective_from: '{effective}'}}\n",
    )
    # 1: opened at 22:00 UTC on New Year's Eve (under v1), breached at 02:00 UTC on 1 January,
    # between the two zones' midnights. 2: met in December; 3: met in January.
    late = ticket("1", datetime(2026, 12, 31, 22, tzinfo=UTC), timedelta(hours=6))
    with Store.open(db) as store:
        store.save_snapshots(
            [
                late,
                ticket("2", datetime(2026, 12, 10, 9, tzinfo=UTC), timedelta(hours=1)),
                ticket("3", datetime(2027, 1, 10, 9, tzinfo=UTC), timedelta(hours=1)),
            ],
            now=datetime(2027, 2, 5, tzinfo=UTC),
        )
    results = {}
    for period in ("2026-12", "2027-01"):
        out = invoke("credits", "--config", str(config), "--period", period, "--at",
                     "2027-02-05T00:00:00+00:00", "--json")
        assert out.exit_code == 0, out.output
        (results[period],) = json.loads(out.output.split("\npreview:")[0])["results"]
    dec, jan = results["2026-12"], results["2027-01"]
    assert (dec["terms_version"], dec["timezone"]) == ("v1", v1_zone)
    assert (jan["terms_version"], jan["timezone"]) == ("v2", v2_zone)
    assert dec["start"] == datetime(2026, 12, 1, tzinfo=ZoneInfo(v1_zone)).isoformat()
    # January starts where December ends, and ends at midnight of 1 February in v2's zone.
    assert jan["start"] == january_starts
    assert datetime.fromisoformat(jan["start"]) == datetime.fromisoformat(dec["end"])
    assert jan["end"] == datetime(2027, 2, 1, tzinfo=ZoneInfo(v2_zone)).isoformat()
    # Ticket 1's breach counts once, in the period whose bounds hold it; each met measure
    # once in its own month.
    counted = {p: r["objectives"][0]["counted"] for p, r in results.items()}
    assert sum(counted.values()) == 3
    breaches = {p: [b["ticket"] for b in r["breaches"]] for p, r in results.items()}
    other = "2026-12" if counted_in == "2027-01" else "2027-01"
    assert (breaches[counted_in], breaches[other]) == (["zd:1"], [])
    assert (results[counted_in]["amount"], results[other]["amount"]) == ("1000.00", "0.00")
    # Its cycle started before v2's date: measured under v1 wherever it is counted.
    assert "v1" in [v["label"] for v in results[counted_in]["rules_versions"]]
