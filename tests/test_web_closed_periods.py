"""The dashboard's figures of a closed period are those of ``slaplug report``/``credits``:
measured as of the period's end while it is not frozen, the frozen figures (each customer's
part) once it is. Every clock pinned: the app's ``clock`` and the commands' ``--at``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner
from test_credits import T
from test_credits_statements import NOV_3, NOV_20, _globex, config  # noqa: F401 - fixture
from test_web_events import Client

from slaplug.cli import main
from slaplug.config import load_settings
from slaplug.runtime import open_runtime
from slaplug.store import Store
from slaplug.web.app import create_app


@contextmanager
def _served(path: Path, at: str) -> Iterator[tuple[Client, dict[str, str], str]]:
    """The app on configuration ``path``'s store with its clock at ``at``; a manager's
    headers and a Globex customer link."""
    settings = load_settings(path, environ={})
    now = datetime.fromisoformat(at)
    with open_runtime(settings) as rt:
        _, manager = rt.store.issue_token("manager", label="test")
        _, globex = rt.store.issue_token("customer", contract="enterprise", organization="globex")
        client = Client(create_app(settings, runtime=rt, clock=lambda: now))
        try:
            yield client, {"Authorization": f"Bearer {manager}"}, globex
        finally:
            client.close()


def _cli(path: Path, *args: str, at: str) -> str:
    done = CliRunner().invoke(main, [args[0], "--config", str(path), *args[1:], "--at", at])
    assert done.exit_code == 0, done.output
    return done.stdout


def test_a_closed_period_not_frozen_is_measured_as_of_its_end_as_report_does(
    config: Path,  # noqa: F811 - the fixture
) -> None:
    # zd:31 (Globex) breached at 22:00Z on October 31 and is still open after October ends
    # (23:00Z): as of the end it is 1h overdue; as of a refresh in November, far more.
    for at in (NOV_3, NOV_20):
        report = _cli(config, "report", "--period", "2026-10", "--format", "json", at=at)
        with _served(config, at) as (client, manager, _):
            served = client.get("/dashboard/compliance.json?period=2026-10", headers=manager)
            assert served.status_code == 200
            assert served.text == report
            page = client.get("/dashboard/compliance?period=2026-10", headers=manager).text
        [r] = json.loads(report)["results"]
        assert (r["revision"], r["frozen"]) == (0, False)
        overdue = {b["ticket"]: b["overdue_seconds"] for b in r["breaches"]}
        assert overdue["zd:31"] == 3600  # as of October's end, whenever it is computed
        assert f"{r['amount']} {r['currency']}" in page
    assert "2026-10" not in {p for _, p, _ in _frozen(config)}  # looking froze nothing


def _frozen(path: Path) -> list[tuple[str, str, int]]:
    with Store.open(f"sqlite:///{path.parent / 's.db'}") as store:
        row = store.credit_period("enterprise", "2026-10")
        return [] if row is None else [("enterprise", "2026-10", row.revision)]


def test_a_frozen_period_shows_the_customer_its_frozen_part(
    config: Path,  # noqa: F811 - the fixture
) -> None:
    _cli(config, "credits", "--period", "2026-10", "--contract", "enterprise", "--freeze", at=NOV_3)
    # Later, a Globex ticket of October is re-read with another outcome (solved in time):
    # the frozen part holds, on the customer's page as in `credits --organization`.
    with Store.open(f"sqlite:///{config.parent / 's.db'}") as store:
        store.save_snapshots([_globex(30, T, 1)], now=T)
    statement = _cli(
        config, "credits", "--period", "2026-10", "--organization", "globex", "--json", at=NOV_20
    )
    [part] = json.loads(statement)["results"]
    assert (part["revision"], part["credit"]) == (1, "20")
    with _served(config, NOV_20) as (client, _, globex):
        doc = client.get(f"/customer/{globex}/figures.json").json()
        page = client.get(f"/customer/{globex}").text
    [shown] = [p for p in doc["periods"] if p["period"] == "2026-10"]
    assert shown == part
    assert [b["ticket"] for b in shown["breaches"]] == ["zd:30", "zd:31"]
    assert '2026-10 <span class="mute">(final)</span>' in page
    assert "Credit owed for 2026-10: <b>20 % of the fee = 2400.00 EUR</b>" in page
