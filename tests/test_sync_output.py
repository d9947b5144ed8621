"""What ``slaplug sync`` prints says something (QA finding 10).

The go-live block is printed on a run's first pass and afterwards only when it counts
something; a dry run does not claim "0 changed"; counts take their singular; progress lines
under a connector's name count that connector's tickets, not the pass's running total.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from slaplug_jira.fake import FakeJira
from slaplug_zendesk.fake import FakeZendesk

from slaplug.progress import print_summary
from slaplug.summary import Summary

REPO = Path(__file__).resolve().parent.parent
#: Wednesday 4 Nov 2026, 15:00 in Berlin: the fakes' clocks.
NOW = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
CUTOFF = "2026-11-01T00:00:00+00:00"


def _printed(s: Summary, **options: bool) -> str:
    @click.command()
    def show() -> None:
        print_summary(s, **options)

    return CliRunner().invoke(show, catch_exceptions=False).output


def _steady() -> Summary:
    """A later pass of a loop: nothing new about go-live."""
    return Summary(tickets_read=3, tickets_changed=3, cutoffs={"zendesk": CUTOFF})


def test_the_go_live_block_is_said_on_the_first_pass_and_then_only_when_it_counts() -> None:
    first = _printed(_steady(), go_live=True)
    assert f"go-live: cutoff zendesk {CUTOFF}" in first
    later = _printed(_steady(), go_live=False)
    assert "go-live" not in later and "held back" not in later
    counting = _steady()
    counting.held_done = 2
    shown = _printed(counting, go_live=False)
    assert f"go-live: cutoff zendesk {CUTOFF}" in shown
    assert "2 actions held back: ticket solved or closed" in shown


def test_counts_of_one_are_singular() -> None:
    s = _steady()
    s.past_breaches, s.held_before_cutoff, s.past_crossings, s.held_done = 1, 1, 1, 1
    out = _printed(s, go_live=False)
    assert "    1 breach from before the cutoff recorded, not escalated" in out
    assert "    1 action held back: 1 escalation level crossed before the cutoff" in out
    assert "    1 action held back: ticket solved or closed" in out


def test_a_dry_run_does_not_count_changed_tickets_it_never_compares() -> None:
    s = Summary(tickets_read=555, reevaluated=4, cutoffs={"zendesk": CUTOFF})
    [title] = [ln for ln in _printed(s, dry_run=True).splitlines() if ln.startswith("Dry run")]
    assert title.endswith(": 555 tickets read (4 re-evaluated from snapshots)"), title
    assert "changed" not in title


@pytest.fixture
def fakes() -> Iterator[tuple[FakeZendesk, FakeJira]]:
    with (
        FakeZendesk.start(now=NOW, tickets=30, days=10, job_complete_after=0.05, job_polls=1) as zd,
        FakeJira.start(now=NOW, issues=40, days=10, bulk_polls=1) as jira,
    ):
        yield zd, jira


def test_progress_lines_count_each_connectors_own_tickets(
    tmp_path: Path, fakes: tuple[FakeZendesk, FakeJira]
) -> None:
    zd, jira = fakes
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": [str(REPO / "rules" / "default.yaml")],
                "engine": "python",
                "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                "connectors": {
                    "zendesk": {
                        "plugin": "zendesk",
                        "base_url": zd.base_url,
                        "email": zd.email,
                        "api_token_env": "OUT_ZD_TOKEN",
                        "fields": {"sla_resolution_status": 360000000103},
                        "page_size": 10,
                        "job_poll_interval": 0.02,
                    },
                    "jira": {
                        "plugin": "jira",
                        "base_url": jira.base_url,
                        "email": jira.email,
                        "api_token_env": "OUT_JIRA_TOKEN",
                        "projects": ["SUP"],
                        "fields": {"sla_resolution_status": "customfield_10050"},
                        "bulk_poll_interval": 0.02,
                    },
                },
            },
            sort_keys=False,
        )
    )
    env = {
        **os.environ,
        "OUT_ZD_TOKEN": zd.api_token,
        "OUT_JIRA_TOKEN": jira.api_token,
        "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk,slaplug-jira",
        "SLAPLUG_NOW": (NOW + timedelta(minutes=2)).isoformat(),
    }
    env.pop("SLAPLUG_CRASH_AT", None)
    done = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "sync", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode in (0, 4), done.stderr
    read: dict[str, int] = {}
    for m in re.finditer(r"progress connector=(\w+) tickets_read=(\d+)", done.stderr):
        read[m.group(1)] = max(read.get(m.group(1), 0), int(m.group(2)))
    total = re.search(r"sync_done tickets_read=(\d+)", done.stderr)
    assert total, done.stderr
    # Jira comes second: its lines count its 40 issues, not Zendesk's tickets with them.
    assert read["jira"] == 40, done.stderr
    assert read["zendesk"] == int(total.group(1)) - 40 > 0, done.stderr
