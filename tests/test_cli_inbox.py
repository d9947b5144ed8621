"""``slaplug inbox list`` / ``retry`` / ``purge`` through a real process, on a store holding
a dead, a done, an old done and a pending delivery."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slaplug.store import Store, StoreSettings

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=30)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url, settings=StoreSettings(inbox_max_attempts=1)) as store:
        # d-dead: failed once, parked; its error quotes a token, which must not be printed.
        store.inbox_put("zd", "d-dead", {}, b"{}", now=OLD)
        [item] = store.inbox_claim(now=OLD)
        assert store.inbox_fail(item.id, "400: Authorization: Bearer s3cr3t-token bad", now=OLD)
        store.inbox_put("zd", "d-old", {}, b"{}", now=OLD)  # processed a month ago
        [item] = store.inbox_claim(now=OLD)
        store.inbox_done(item.id, now=OLD)
        store.inbox_put("jira", "d-new", {}, b"{}", now=NOW)  # processed just now
        [item] = store.inbox_claim(now=NOW)
        store.inbox_done(item.id, now=NOW)
        store.inbox_put("jira", "d-wait", {}, b"{}", now=NOW + timedelta(hours=1))
    path = tmp_path / "slaplug.yaml"
    path.write_text(f"store: {url}\nrules: []\n")
    return path


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "inbox", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_shows_dead_deliveries_with_their_error_scrubbed(config: Path) -> None:
    done = _run(config, "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "inbox: 1 pending, 0 leased, 2 done, 1 dead"
    assert lines[1].startswith("DEAD #1 zd delivery d-dead  attempts=1  received ")
    assert "last error: 400" in lines[2] and "s3cr3t-token" not in done.stdout
    assert len(lines) == 3


def test_list_json_by_state_and_connector(config: Path) -> None:
    done = _run(config, "list", "--json", "--state", "done", "--state", "pending")
    doc = json.loads(done.stdout)
    assert doc["counts"] == {"dead": 1, "done": 2, "pending": 1}
    assert [d["delivery_id"] for d in doc["deliveries"]] == ["d-old", "d-new", "d-wait"]
    only = json.loads(
        _run(config, "list", "--json", "--state", "done", "--connector", "jira").stdout
    )
    assert [d["delivery_id"] for d in only["deliveries"]] == ["d-new"]


def test_retry_requeues_the_dead_one_and_refuses_an_unknown_id(config: Path) -> None:
    done = _run(config, "retry", "1", "2", "99")
    assert done.returncode == 2, done.stdout + done.stderr  # a typo does not look like success
    assert "1 dead delivery back in the inbox" in done.stdout
    assert "#2: no dead delivery" in done.stderr and "#99: no dead delivery" in done.stderr
    url = config.read_text().split()[1]
    with Store.open(url) as store:
        assert store.inbox_stats() == {"done": 2, "pending": 2}
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert [i.delivery_id for i in store.inbox_claim(now=later)] == ["d-dead"]


def test_retry_needs_ids_or_all(config: Path) -> None:
    done = _run(config, "retry")
    assert done.returncode == 2 and "--all" in done.stderr


def test_purge_deletes_old_done_deliveries_and_keeps_dead_ones_unless_asked(
    config: Path,
) -> None:
    first = json.loads(_run(config, "purge", "--older-than", "7d", "--json").stdout)
    assert first["deleted"] == 1  # d-old; d-new is too young, d-dead is kept
    second = json.loads(_run(config, "purge", "--older-than", "7d", "--dead", "--json").stdout)
    assert second["deleted"] == 1  # d-dead
    left = json.loads(_run(config, "list", "--json", "--state", "done").stdout)
    assert [d["delivery_id"] for d in left["deliveries"]] == ["d-new"]


def test_purge_refuses_an_age_under_a_day(config: Path) -> None:
    done = _run(config, "purge", "--older-than", "2h")
    assert done.returncode == 2
    assert "under 24h" in done.stderr and "Traceback" not in done.stderr
