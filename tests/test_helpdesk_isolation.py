"""One helpdesk that is down must not stop the others (QA finding 2).

``slaplug sync`` against two connectors, through ``python -m slaplug.cli``: a fake Jira on
127.0.0.1 and a Zendesk whose base_url is a port nothing listens on, configured *first*, so a
pass that stopped at the first failing helpdesk would never read Jira. Jira's tickets are read
and its escalations written; the summary and the exit code (3) name the failed connector.
The clocks are pinned (the fakes' ``now=``, ``SLAPLUG_NOW``): nothing depends on the real date.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from lines import Lines
from slaplug_jira.fake import FakeJira

pytest.importorskip("slaplug_zendesk.fake", reason="the Zendesk plugin is not installed")

REPO = Path(__file__).resolve().parent.parent
#: Wednesday 4 Nov 2026, 15:00 in Berlin: inside the shipped pack's business hours.
NOW = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
#: Two days on (Friday, 15:00 in Berlin): the fake's open issues have breached their targets.
SYNC_AT = NOW + timedelta(days=2)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connecting is refused


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira.start(now=NOW, issues=40, days=10, bulk_polls=1) as fake:
        yield fake


def _configure(tmp_path: Path, jira: FakeJira) -> tuple[Path, str]:
    down = f"http://127.0.0.1:{_closed_port()}"
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": [str(REPO / "rules" / "default.yaml")],
                "engine": "python",
                # The shipped pack notifies these; declared empty, their messages are dropped.
                "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                # A backfill: the fake's history is escalated, so Jira has writes to show.
                "escalate_from": "2000-01-01",
                "connectors": {
                    # First in the file: the old pass stopped here and never reached Jira.
                    "zendesk": {
                        "plugin": "zendesk",
                        "base_url": down,
                        "email": "ops@example.com",
                        "api_token_env": "ISO_ZD_TOKEN",
                        "fields": {"sla_resolution_status": 360000000103},
                    },
                    "jira": {
                        "plugin": "jira",
                        "base_url": jira.base_url,
                        "email": jira.email,
                        "api_token_env": "ISO_JIRA_TOKEN",
                        "projects": ["SUP"],
                        "fields": {"sla_resolution_status": "customfield_10050"},
                        "bulk_poll_interval": 0.02,
                    },
                },
            },
            sort_keys=False,
        )
    )
    return config, down


def _env(jira: FakeJira) -> dict[str, str]:
    env = {
        **os.environ,
        "ISO_ZD_TOKEN": "z" * 20,
        "ISO_JIRA_TOKEN": jira.api_token,
        "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk,slaplug-jira",
        "SLAPLUG_NOW": SYNC_AT.isoformat(),
    }
    env.pop("SLAPLUG_CRASH_AT", None)
    return env


def _sync(config: Path, jira: FakeJira, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "sync", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=_env(jira),
        timeout=240,
        check=False,
    )


def test_a_helpdesk_that_is_down_leaves_the_others_synced_and_exits_3(
    tmp_path: Path, jira: FakeJira
) -> None:
    config, down = _configure(tmp_path, jira)
    done = _sync(config, jira, "--once")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    # Jira's pass ran in full: read, planned, written back.
    assert jira.writes, done.stdout + done.stderr
    title = done.stdout.splitlines()[0]
    assert title.startswith("Sync done in ") and "(zendesk failed" in title, title
    read = re.search(r"(\d+) tickets read", title)
    assert read and int(read.group(1)) >= 40, title  # every Jira issue
    # The failed one is named, with its cause and what to do, as the last words.
    lines = done.stderr.splitlines()
    assert lines[-2].startswith("zendesk: stopped by its helpdesk; 0 claimed actions released")
    assert lines[-2].endswith("the other connectors (jira) were synced"), lines[-2]
    assert lines[-1] == (
        f"error: connector 'zendesk': cannot reach {down}: connection refused (nothing "
        "listens there); check base_url and that the helpdesk is up"
    )


def test_the_json_summary_lists_the_failed_helpdesk(tmp_path: Path, jira: FakeJira) -> None:
    config, down = _configure(tmp_path, jira)
    done = _sync(config, jira, "--once", "--json")
    assert done.returncode == 3, done.stderr
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["connectors_failed"] == 1
    [failure] = doc["helpdesk_failures"]
    assert failure["connector"] == "zendesk" and f"cannot reach {down}" in failure["error"]
    assert doc["applied"] == len(jira.writes) > 0
    assert set(doc["cutoffs"]) == {"zendesk", "jira"}


def test_sync_every_logs_a_failed_helpdesk_in_the_log_format_and_counts_the_pass(
    tmp_path: Path, jira: FakeJira
) -> None:
    config, down = _configure(tmp_path, jira)
    argv = [sys.executable, "-m", "slaplug.cli", "sync", "--every", "10s", "--log-format", "json"]
    with subprocess.Popen(
        [*argv, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(jira),
        start_new_session=True,
    ) as proc:
        try:
            err = Lines(proc.stderr)
            assert err.wait_for("next pass in 10s", 180), err.text()
            assert proc.poll() is None  # the loop outlives the outage
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        stderr = err.text()
    # Every line on standard error is a log record in the chosen format, errors included.
    records = [json.loads(line) for line in stderr.splitlines()]
    [error] = [r for r in records if r["level"] == "error"]
    assert error["msg"].startswith(f"connector 'zendesk': cannot reach {down}: connection refused")
    assert any(r["msg"] == "next pass in 10s" for r in records)
    assert jira.writes  # the other helpdesk was synced in the same pass
    [stopped] = [r for r in records if r["msg"].startswith("interrupted after")]
    assert stopped["msg"].startswith(
        "interrupted after 1 complete pass(es) (1 with a helpdesk that failed)"
    ), stopped
