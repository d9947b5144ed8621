"""``slaplug outbox list`` / ``retry`` through a real process: data out, exit codes kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from store_worker import T0, action

from slaplug.store import Store, StoreSettings


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration whose store holds one dead letter (1/warn) and one pending (2/warn)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url, settings=StoreSettings(max_attempts=1)) as store:
        store.plan([action("1/warn")], now=T0)
        [claim] = store.outbox_claim("zd", now=T0)
        assert store.outbox_fail(claim.key, "503 from the helpdesk", now=T0) == "dead"
        store.plan([action("2/warn")], now=T0)
    path = tmp_path / "slaplug.yaml"
    path.write_text(f"store: {url}\nrules: []\n")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "outbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_outbox_list_prints_data_not_a_python_dict(config: Path) -> None:
    done = _run("list", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "{" not in done.stdout and "'" not in done.stdout, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0] == "outbox: 1 pending, 0 leased, 1 dead"
    assert lines[1] == "ledger: 2 pending"
    assert lines[2] == "DEAD 1/warn  attempts=1  add_tag tag=sla_warn"
    assert lines[3] == "     last error: 503 from the helpdesk"


def test_outbox_list_json(config: Path) -> None:
    done = _run("list", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["pending"], doc["leased"], doc["dead"], doc["ledger"]) == (1, 0, 1, {"pending": 2})
    [dead] = doc["dead_letters"]
    assert dead["key"] == "1/warn" and dead["action"]["kind"] == "add_tag"
    assert dead["action"]["params"] == {"tag": "sla_warn"}
    assert dead["last_error"] == "503 from the helpdesk"


def test_outbox_retry_of_an_unknown_key_exits_2_and_names_it(config: Path) -> None:
    done = _run("retry", "nope/warn", "2/warn", "1/warn", "--config", str(config))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "1 dead letter(s) back in the outbox" in done.stdout  # the good key still went back
    assert "nope/warn: no such key" in done.stderr
    assert "2/warn: not a dead letter (pending)" in done.stderr


def test_outbox_retry_of_a_dead_letter_exits_0(config: Path) -> None:
    done = _run("retry", "1/warn", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "1 dead letter(s) back in the outbox" in done.stdout
