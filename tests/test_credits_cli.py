"""``slaplug credits`` on a closed period: a preview first, frozen only when asked (issue 18).

Through real processes: what is printed, what is stored, and the exit codes.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_credits import NOW, TICKETS, T, write_pack

from slaplug.store import Store

OPEN = "2026-10-20T00:00:00+00:00"  # October not over yet


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.save_snapshots(TICKETS, now=T)
    path = tmp_path / "slaplug.yaml"
    pack = write_pack(tmp_path)
    path.write_text(f"store: sqlite:///{db}\nrules: [{pack}]\nconnectors: {{}}\n", "utf-8")
    return path


def _credits(config: Path, *args: str, at: str = NOW.isoformat()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "credits", "--config", str(config),
         "--period", "2026-10", "--at", at, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def _revisions(config: Path) -> list[int]:
    with sqlite3.connect(config.parent / "s.db") as db:
        return [r[0] for r in db.execute("select revision from credit_periods order by revision")]


def test_a_closed_period_is_previewed_then_frozen_only_with_freeze(config: Path) -> None:
    preview = _credits(config)
    assert preview.returncode == 0, preview.stderr
    assert "Service credit enterprise 2026-10: 10 % = 1000.00 EUR" in preview.stdout
    assert "Status: preview" in preview.stdout
    # The hint repeats the --config given (QA2 #16): pasted as it is, it freezes this store.
    assert f"slaplug credits --config {config} --period 2026-10 --freeze" in preview.stderr
    assert _revisions(config) == []  # nothing stored by a preview

    as_json = _credits(config, "--json")
    [result] = json.loads(as_json.stdout)["results"]
    assert result["revision"] == 0 and _revisions(config) == []

    frozen = _credits(config, "--freeze")
    assert frozen.returncode == 0, frozen.stderr
    assert "Status: frozen (revision 1)" in frozen.stdout
    assert "preview" not in frozen.stderr
    assert _revisions(config) == [1]
    # From then on, read back: no flag needed, no new revision.
    again = _credits(config)
    assert "Status: frozen (revision 1)" in again.stdout and _revisions(config) == [1]


def test_freeze_of_an_open_period_deliver_of_a_preview_and_recalculate_of_nothing_exit_2(
    config: Path,
) -> None:
    still_open = _credits(config, "--freeze", at=OPEN)
    assert still_open.returncode == 2, still_open.stderr
    assert "is still open: nothing to freeze" in still_open.stderr
    assert still_open.stdout == ""  # refused before the report (QA #13 printed it all first)
    deliver = _credits(config, "--deliver")
    assert deliver.returncode == 2 and "run again with --freeze --deliver" in deliver.stderr
    recalc = _credits(config, "--recalculate", "--reason", "x")
    assert recalc.returncode == 2 and "was never frozen" in recalc.stderr, recalc.stderr
    assert "Traceback" not in still_open.stderr + deliver.stderr + recalc.stderr
    assert _revisions(config) == []


def test_a_report_never_freezes_and_says_it_shows_a_preview(config: Path) -> None:
    page = config.parent / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "report", "--config", str(config), "--period",
         "2026-10", "--at", NOW.isoformat(), "--format", "html", "-o", str(page)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "preview: the period has ended and is not frozen yet" in page.read_text()
    assert "--freeze" in done.stderr
    assert _revisions(config) == []
