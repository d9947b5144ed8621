"""What a customer is handed (QA pass 2, #1-#4 and #16): a statement only for a period of the
contract's kind, one customer's statement without another's tickets, business durations as
slaplug writes them and closed periods that no longer move, and a word when a period holds
no data.

Through real processes (`slaplug credits` / `report`), every clock pinned with ``--at``.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_credits import TICKETS, T

from slaplug.model import EventKind, Ticket, TicketEvent
from slaplug.store import Store

#: November 2026 has begun; October (Europe/Berlin) ended at 2026-10-31T23:00Z.
NOV_3 = "2026-11-03T12:00:00+00:00"
NOV_20 = "2026-11-20T12:00:00+00:00"

PACK = """\
version: 1
policies:
  - name: customer-sla
    pause_statuses: []
    targets:
      resolution: {urgent: 2h, low: 8h}
contracts:
  - name: enterprise
    match: {organization: [acme, globex]}
    timezone: Europe/Berlin
    freeze_after: 0h
    fee: 12000
    currency: EUR
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {at_least: 95%, below: 100%, credit: 5%}
          - {below: 95%, credit: 20%}
  - name: quarterly
    match: {organization: initech}
    timezone: Europe/Berlin
    period: quarter
    freeze_after: 0h
    fee: 30000
    currency: EUR
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {below: 100%, credit: 10%}
"""

LATE = datetime(2026, 10, 31, 20, tzinfo=UTC)  # 21:00 in Berlin, two hours before October ends


def _globex(n: int, created: datetime, solved_after: float | None) -> Ticket:
    """An urgent Globex ticket; None: never solved (its clock runs on after its breach)."""
    events = [TicketEvent(EventKind.CREATED, created)]
    if solved_after is not None:
        events.append(TicketEvent(EventKind.SOLVED, created + timedelta(hours=solved_after)))
    return Ticket(
        id=str(n),
        connector="zd",
        created_at=created,
        status="solved" if solved_after is not None else "open",
        priority="urgent",
        subject=f"Globex secret {n}",
        organization="globex",
        url=f"https://zd.example/{n}",
        events=tuple(events),
        updated_at=created,
    )


#: Acme's October: 18 met, 1 breached (zd:18), 1 breached on the policy clock (zd:19; no
#: customer pauses in this pack: breached). Globex's: 2 breached, one of them (zd:31) still
#: open at the end of October, 1h overdue then and more every day after. Initech (zd:20)
#: belongs to the quarterly contract.
GLOBEX = [_globex(30, T, 5), _globex(31, LATE, None)]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.save_snapshots([*TICKETS, *GLOBEX], now=T)
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK, encoding="utf-8")
    path = tmp_path / "slaplug.yaml"
    path.write_text(f"store: sqlite:///{db}\nrules: [{pack}]\nconnectors: {{}}\n", "utf-8")
    return path


def _run(config: Path, *args: str, at: str = NOV_3) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", args[0], "--config", str(config), *args[1:],
         "--at", at],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _stored(config: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(config.parent / "s.db") as db:
        return list(db.execute("select contract, period, revision from credit_periods"))


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- #1: a label of the other kind than the contract's period ------------------------------------


def test_a_quarter_of_a_monthly_contract_is_refused_by_credits_freeze_and_report(
    config: Path,
) -> None:
    expected = "enterprise is billed monthly: use --period 2026-10, 2026-11 or 2026-12"
    for args in (
        ("credits", "--period", "2026-Q4", "--contract", "enterprise"),
        ("credits", "--period", "2026-Q4", "--contract", "enterprise", "--freeze"),
        ("report", "--period", "2026-Q4", "--contract", "enterprise", "--format", "csv"),
    ):
        done = _run(config, *args, at="2027-01-05T00:00:00+00:00")
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr and done.stdout == ""
        assert "Traceback" not in done.stderr
    assert _stored(config) == []  # the old code froze 2026-Q4 at one month's fee


def test_a_month_of_a_quarterly_contract_is_refused_naming_its_quarter(config: Path) -> None:
    done = _run(config, "credits", "--period", "2026-11", "--contract", "quarterly")
    assert done.returncode == 2
    assert "quarterly is billed quarterly: use --period 2026-Q4" in done.stderr


def test_without_contract_each_contract_settles_only_its_own_kind(config: Path) -> None:
    month = _run(config, "credits", "--period", "2026-10", "--json")
    assert month.returncode == 0, month.stderr
    assert [r["contract"] for r in json.loads(month.stdout)["results"]] == ["enterprise"]
    assert "note: quarterly is billed quarterly: use --period 2026-Q4" in month.stderr
    quarter = _run(config, "credits", "--period", "2026-Q4", "--json", at="2027-01-05T00:00:00Z")
    assert [r["contract"] for r in json.loads(quarter.stdout)["results"]] == ["quarterly"]
    assert "enterprise is billed monthly" in quarter.stderr


def test_a_quarter_an_earlier_slaplug_froze_for_a_monthly_contract_is_named_void(
    config: Path,
) -> None:
    with Store.open(f"sqlite:///{config.parent / 's.db'}") as store:
        store.add_credit_period(
            "enterprise", "2026-Q3", "{}", reason="frozen", expect_revision=1, now=T
        )
    done = _run(config, "credits", "--period", "2026-Q3", "--contract", "enterprise")
    assert done.returncode == 2
    assert "enterprise 2026-Q3 was frozen as revision 1 on 2026-10-06" in done.stderr
    assert "is void" in done.stderr


# -- #2: one customer's statement ------------------------------------------------------------


def test_a_report_for_one_organization_holds_only_its_tickets(config: Path) -> None:
    acme = _run(config, "report", "--period", "2026-10", "--format", "csv",
                "--organization", "acme")  # fmt: skip
    assert acme.returncode == 0, acme.stderr
    rows = _csv(acme.stdout)
    assert {r["customer"] for r in rows} == {"acme"}
    assert [r["ticket"] for r in rows if r["row"] == "breach"] == ["zd:18", "zd:19"]
    assert "zd:3" not in acme.stdout and "globex" not in acme.stdout.lower()
    # 18 of 20 met = 90 %: 20 % of 12000
    total = next(r for r in rows if r["row"] == "total")
    assert (total["credit_percent"], total["amount"]) == ("20", "2400.00")
    assert "several customers" not in acme.stderr

    page = config.parent / "acme.html"
    html = _run(config, "report", "--period", "2026-10", "--organization", "acme", "-o",
                str(page))  # fmt: skip
    assert html.returncode == 0, html.stderr
    text = page.read_text()
    assert "<title>Service report acme 2026-10</title>" in text
    assert "enterprise: 2026-10 for acme" in text
    assert "Globex secret" not in text and "zd.example/30" not in text


def test_a_report_over_several_organizations_says_so_and_warns(config: Path) -> None:
    page = config.parent / "all.html"
    done = _run(config, "report", "--period", "2026-10", "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert (
        "warning: enterprise 2026-10 covers several customers (acme, globex): this report is "
        "not for handing to one customer" in done.stderr
    )
    assert "These figures cover several customers: acme, globex." in page.read_text()
    credits = _run(config, "credits", "--period", "2026-10", "--contract", "enterprise")
    assert "Customers: acme, globex: several; not a statement for one customer." in credits.stdout
    # A contract whose period holds one organization's tickets names it, and does not warn.
    one = _run(config, "report", "--period", "2026-Q4", "--contract", "quarterly")
    assert "Customer: <strong>initech</strong>" in one.stdout
    assert "several customers" not in one.stdout + one.stderr


def test_a_frozen_period_gives_each_customer_its_frozen_part(config: Path) -> None:
    frozen = _run(config, "credits", "--period", "2026-10", "--contract", "enterprise",
                  "--freeze")  # fmt: skip
    assert frozen.returncode == 0, frozen.stderr
    # Later, a Globex ticket of October is re-read with another outcome (solved in time):
    # the frozen part holds.
    with Store.open(f"sqlite:///{config.parent / 's.db'}") as store:
        store.save_snapshots([_globex(30, T, 1)], now=T)
    globex = _run(config, "credits", "--period", "2026-10", "--organization", "globex",
                  "--json", at=NOV_20)  # fmt: skip
    assert globex.returncode == 0, globex.stderr
    [r] = json.loads(globex.stdout)["results"]
    assert (r["customer"], r["revision"], r["frozen"]) == ("globex", 1, True)
    assert [b["ticket"] for b in r["breaches"]] == ["zd:30", "zd:31"]
    assert (r["credit"], r["amount"]) == ("20", "2400.00")
    text = _run(config, "credits", "--period", "2026-10", "--organization", "GLOBEX", at=NOV_20)
    assert "Service credit enterprise 2026-10 for globex: 20 % = 2400.00 EUR" in text.stdout
    assert "Status: frozen (revision 1)" in text.stdout


def test_an_organization_no_contract_has_is_refused_with_the_customers(config: Path) -> None:
    done = _run(config, "report", "--period", "2026-10", "--organization", "umbrella")
    assert done.returncode == 2
    assert "no ticket of organization 'umbrella'" in done.stderr
    # quarterly (initech) is billed per quarter: not a contract of 2026-10
    assert "belongs to enterprise; their customers: acme, globex" in done.stderr


# -- #3: durations as slaplug writes them; a closed period does not move -----------------------


def test_overdue_reads_as_business_time_and_a_closed_period_stays_put(config: Path) -> None:
    early = _run(config, "report", "--period", "2026-10", "--contract", "enterprise",
                 "--format", "csv")  # fmt: skip
    late = _run(config, "report", "--period", "2026-10", "--contract", "enterprise",
                "--format", "csv", at=NOV_20)  # fmt: skip
    assert early.returncode == late.returncode == 0, early.stderr + late.stderr
    overdue = {r["ticket"]: r["detail"] for r in _csv(early.stdout) if r["row"] == "breach"}
    # zd:31 breached at 22:00Z, still open when October ended at 23:00Z: 1h overdue then.
    assert overdue == {
        "zd:18": "overdue 1h",
        "zd:19": "overdue 1h",
        "zd:30": "overdue 3h",
        "zd:31": "overdue 1h",
    }
    assert early.stdout == late.stdout  # November's passing does not change October
    page = _run(config, "report", "--period", "2026-10", "--contract", "enterprise", at=NOV_20)
    assert "<td>3h</td>" in page.stdout and "day" not in page.stdout.split("<h3>Breaches (")[1]


# -- #4: no data, not started; the CSV's status ------------------------------------------------


def test_a_period_before_the_first_data_warns_and_cannot_be_frozen(config: Path) -> None:
    done = _run(config, "credits", "--period", "2025-01", "--contract", "enterprise")
    assert done.returncode == 0, done.stderr
    assert (
        "warning: enterprise 2025-01: no tickets measured in this period; the store's first "
        "data is 2026-10-06" in done.stderr
    )
    assert "--freeze" not in done.stderr  # no hint to freeze what cannot be frozen
    freeze = _run(config, "credits", "--period", "2025-01", "--contract", "enterprise",
                  "--freeze")  # fmt: skip
    assert freeze.returncode == 2
    assert "ended before the store's first data" in freeze.stderr
    assert _stored(config) == []


def test_a_future_period_warns_and_cannot_be_frozen_saying_when_it_starts(config: Path) -> None:
    report = _run(config, "report", "--period", "2027-03", "--contract", "enterprise",
                  "--format", "csv")  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "warning: enterprise 2027-03 has not started (it starts 2027-03-01" in report.stderr
    assert {r["status"] for r in _csv(report.stdout)} == {"provisional"}
    freeze = _run(config, "credits", "--period", "2027-03", "--contract", "enterprise",
                  "--freeze")  # fmt: skip
    assert freeze.returncode == 2
    assert (
        "enterprise 2027-03 has not started: it starts 2027-03-01T00:00:00+01:00 and can be "
        "frozen from 2027-04-01T00:00:00+02:00" in freeze.stderr
    )


def test_the_csv_says_preview_then_frozen(config: Path) -> None:
    args = ("report", "--period", "2026-10", "--contract", "enterprise", "--format", "csv")
    assert {r["status"] for r in _csv(_run(config, *args).stdout)} == {"preview"}
    _run(config, "credits", "--period", "2026-10", "--contract", "enterprise", "--freeze")
    assert {r["status"] for r in _csv(_run(config, *args).stdout)} == {"frozen"}


def test_a_period_frozen_before_parts_were_kept_is_refused_then_recalculated(
    config: Path,
) -> None:
    _run(config, "credits", "--period", "2026-10", "--contract", "enterprise", "--freeze")
    with sqlite3.connect(config.parent / "s.db") as db:  # as an earlier slaplug stored it
        (body,) = db.execute("select body from credit_periods").fetchone()
        old = {k: v for k, v in json.loads(body).items() if k not in ("parts", "customers")}
        db.execute("update credit_periods set body = ?", (json.dumps(old),))
    refused = _run(config, "report", "--period", "2026-10", "--organization", "acme")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "was frozen (revision 1) before slaplug kept each customer's figures" in refused.stderr
    recalc = _run(config, "credits", "--period", "2026-10", "--contract", "enterprise",
                  "--recalculate", "--reason", "per-customer figures")  # fmt: skip
    assert recalc.returncode == 0, recalc.stderr
    assert "Recalculated: revision 1 -> 2" in recalc.stdout
    assert "per-customer figures added: acme, globex" in recalc.stdout
    acme = _run(config, "credits", "--period", "2026-10", "--organization", "acme")
    assert "for acme: 20 % = 2400.00 EUR" in acme.stdout
    assert "Status: frozen (revision 2)" in acme.stdout


@pytest.mark.parametrize(
    ("label", "kind", "labels"),
    [
        ("2026-Q3", "month", ["2026-07", "2026-08", "2026-09"]),
        ("2026-q4", "month", ["2026-10", "2026-11", "2026-12"]),
        ("2026-08", "quarter", ["2026-Q3"]),
        ("2026-12", "quarter", ["2026-Q4"]),
        ("2026-08", "month", ["2026-08"]),
    ],
)
def test_the_labels_a_contract_takes_instead(label: str, kind: str, labels: list[str]) -> None:
    from slaplug.credits.periods import labels_of_kind

    assert labels_of_kind(label, kind) == labels


def test_a_version_that_bills_quarterly_from_january_takes_quarters_from_then(
    tmp_path: Path,
) -> None:
    """v1 bills monthly, v2 (from 1 January 2027) quarterly: each label is checked against
    the terms in force at its start, and the refusal names that version."""
    from test_effective_dates import ZONED, invoke, ticket, versioned_config

    (tmp_path / "v1.yaml").write_text(ZONED.format(zone="UTC"), encoding="utf-8")
    quarterly = ZONED.format(zone="UTC").replace("    freeze_after:", "    period: quarter\n"
                                                 "    freeze_after:")  # fmt: skip
    (tmp_path / "v2.yaml").write_text(quarterly, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 's.db'}"
    config = versioned_config(
        tmp_path,
        db,
        "rules:\n  - {files: [v1.yaml], label: v1}\n"
        "  - {files: [v2.yaml], label: v2, effective_from: '2027-01-01T00:00:00+00:00'}\n",
    )
    with Store.open(db) as store:
        store.save_snapshots(
            [ticket("1", datetime(2026, 12, 10, 9, tzinfo=UTC), timedelta(hours=1))],
            now=datetime(2027, 4, 5, tzinfo=UTC),
        )

    def credits(period: str) -> tuple[int, str]:
        out = invoke("credits", "--config", str(config), "--period", period, "--at",
                     "2027-04-05T00:00:00+00:00", "--json")  # fmt: skip
        return out.exit_code, out.output

    code, text = credits("2026-12")
    assert code == 0, text
    assert json.loads(text.split("\npreview:")[0])["results"][0]["period"] == "2026-12"
    code, text = credits("2026-Q4")
    assert code == 2 and "acme is billed monthly under rules v1: use --period 2026-10" in text
    code, text = credits("2027-02")
    assert code == 2 and "acme is billed quarterly under rules v2: use --period 2027-Q1" in text
    code, text = credits("2027-Q1")
    assert code == 0, text
