"""Backtest: the same stored history replayed under two packs, per contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_credits import TICKETS, T, write_pack

from slaplug.backtest import NO_CONTRACT, backtest, render_text, replay
from slaplug.cli import main
from slaplug.rules.pack import RulePack

ESCALATIONS = """
escalations:
  - name: at-risk
    when: {metric: resolution, state: running, percent: {gte: 75}}
    actions:
      - add_tag: at_risk
"""

NOW = datetime(2026, 11, 5, tzinfo=UTC)


def pack_file(tmp_path: Path, target: str, name: str) -> Path:
    path = write_pack(tmp_path, target=target, name=name)
    path.write_text(path.read_text() + ESCALATIONS, encoding="utf-8")
    return path


def test_an_escalation_that_no_longer_holds_today_is_still_counted(tmp_path: Path) -> None:
    # Every ticket is solved today, so no "running" escalation holds now; replaying each
    # ticket's history finds the 75 % crossing of the 2h tickets (1.5h) and not of the 1h ones.
    with RulePack.load([pack_file(tmp_path, "2h", "a.yaml")], engine="python") as pack:
        out = replay(pack, TICKETS, NOW - timedelta(days=90), NOW)
    assert out["enterprise"].escalations == 2  # tickets 18 and 19 (3h each)
    assert out["enterprise"].breaches == 2  # the policy does not pause on pending
    assert out[NO_CONTRACT].tickets == 1 and out[NO_CONTRACT].escalations == 1


def test_a_stricter_pack_shows_more_breaches_escalations_and_credit(tmp_path: Path) -> None:
    a = pack_file(tmp_path, "2h", "a.yaml")
    b = pack_file(tmp_path, "30m", "b.yaml")
    with RulePack.load([a], engine="python") as pa, RulePack.load([b], engine="python") as pb:
        (ent, none) = backtest(pa, pb, TICKETS, NOW - timedelta(days=90), NOW)
    assert (ent.contract, none.contract) == ("enterprise", NO_CONTRACT)
    assert (ent.before.breaches, ent.after.breaches) == (2, 20)
    assert (ent.before.escalations, ent.after.escalations) == (2, 20)
    october = {c.period: c for c in ent.after.credits}["2026-10"]
    assert october.credit == Decimal(20)
    assert {c.period: c.credit for c in ent.before.credits}["2026-10"] == Decimal(10)
    text = render_text([ent, none], NOW - timedelta(days=90), NOW)
    assert "enterprise" in text and "2 -> 20 (+18)" in text
    assert "2026-10  10 % (1000.00 EUR) -> 20 % (2000.00 EUR)" in text


def test_the_backtest_command_reads_the_store_and_needs_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slaplug.store import Store

    a = pack_file(tmp_path, "2h", "a.yaml")
    b = pack_file(tmp_path, "30m", "b.yaml")
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.save_snapshots(TICKETS, now=T)
    config = tmp_path / "slaplug.yaml"
    config.write_text(f"store: sqlite:///{db}\nrules: [{a}]\nconnectors: {{}}\n", encoding="utf-8")
    monkeypatch.delenv("SLAPLUG_CONFIG", raising=False)
    res = CliRunner().invoke(
        main,
        [
            "backtest",
            "--config",
            str(config),
            "--rules",
            str(b),
            "--since",
            "90d",
            "--at",
            NOW.isoformat(),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "enterprise" in res.output and "2 -> 20 (+18)" in res.output
    res = CliRunner().invoke(
        main, ["credits", "--config", str(config), "--period", "2026-10", "--at", NOW.isoformat()]
    )
    assert res.exit_code == 0, res.output
    assert "Service credit enterprise 2026-10: 10 % = 1000.00 EUR" in res.output
    assert "Status: preview" in res.output  # closed, frozen only when asked (--freeze)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        main,
        [
            "report",
            "--config",
            str(config),
            "--period",
            "2026-10",
            "--format",
            "html",
            "-o",
            str(out),
            "--at",
            NOW.isoformat(),
        ],
    )
    assert res.exit_code == 0, res.output
    assert 'href="https://zd.example/18"' in out.read_text()
