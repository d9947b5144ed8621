"""`make demo` runs `slaplug demo`: the whole job against the bundled fakes, as a user sees it."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from slaplug.demo import demo_instant


def test_demo_syncs_writes_back_once_and_explains(tmp_path: Path) -> None:
    # Started outside the checkout, as after `pip install slaplug`: the pack is package data.
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "demo", "--dir", "demo"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    first = re.search(r"First sync: (\d+) tickets read, (\d+) actions planned, (\d+) written", out)
    assert first, out
    assert int(first.group(1)) > 100 and int(first.group(3)) > 0
    assert "Second sync (the platform changed only by our own writes): " in out
    assert re.search(r"Second sync .*: \d+ tickets read, 0 actions planned, 0 written", out), out
    assert "Breached clocks:" in out and "Written back:" in out
    # The demo's helpdesk has what the shipped rules write to: nothing fails.
    assert re.search(r"First sync: .* 0 failed;", out), out
    assert "failed for good" not in run.stderr, run.stderr
    _check_breached_clocks(out, tmp_path / "demo" / "slaplug.db")
    # Every write says which escalation level, on which clock, planned it.
    written = re.search(r"Written back: (\d+) actions on (\d+) tickets", out)
    assert written and int(written.group(1)) == int(first.group(3)), out
    whys = re.findall(r"^ +<- ([\w-]+) L(\d+): ([\w-]+/\w+)", out, re.MULTILINE)
    assert len(whys) == min(15, int(written.group(1))), out
    assert "Escalations that would fire:" in out
    # The at-risk queue, as `slaplug status` prints it.
    at = re.search(r"^  runs at  Thu (\S+) 12:00 UTC,", out, re.M)
    assert at, out
    instant = f"{at.group(1)}T12:00:00Z"
    assert (
        f"$ slaplug status --state breached,at-risk --limit 8 --config demo/slaplug.yaml "
        f"--at {instant}"
    ) in out
    assert re.search(r"^\w+:\S+ +breached +-\d", out, re.M), out
    # The commands the demo suggests work as printed, after it (its fakes are gone by then).
    suggested = re.search(
        r"^\$ slaplug (explain (\w+):(\S+) --config demo/slaplug\.yaml --at (\S+))$", out, re.M
    )
    assert suggested, out
    explained = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *suggested.group(1).split()],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith(f"Ticket {suggested.group(2)}:{suggested.group(3)} ")
    # At the demo's instant, from the store alone, it says what the demo said.
    assert suggested.group(4) == instant
    assert explained.stdout.strip() in out, (explained.stdout, out)
    status = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "status", "--config", "demo/slaplug.yaml", "--json"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert {c["connector"] for c in json.loads(status.stdout)["clocks"]} == {"zendesk", "jira"}
    # The store commands docs/getting-started.md suggests after the demo need no token: the
    # demo set its helpdesks' tokens in its own process only (QA #4).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLAPLUG_DEMO_")}
    for command in ("outbox", "inbox", "quarantine"):
        listed = subprocess.run(
            [sys.executable, "-m", "slaplug.cli", command, "list", "--config", "demo/slaplug.yaml"],
            capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120, env=env,
        )
        assert listed.returncode == 0, (command, listed.stderr)
        assert command in listed.stdout, listed.stdout
    assert (tmp_path / "demo" / "slaplug.yaml").is_file()
    # Per-organization contracts on Jira tickets: JSM's Organizations field picks the contract.
    assert "Contracts on Jira tickets, by JSM organization" in out
    assert re.search(r"enterprise +Acme Corp +\d+ met +\d+ missed", out), out
    assert re.search(r"standard +Initech +\d+ met", out), out
    # Run at the same point of the week, the demo always reaches a person: each channel the
    # shipped rules notify got its mail (on the real clock, a Sunday noon reached nobody).
    mail = re.search(r"Notifications in the local mailbox: (\d+)\n((?:  \S+ +\d+\n)+)", out)
    assert mail, out
    assert {line.split()[0] for line in mail.group(2).splitlines()} == {
        "team-lead@demo.example", "support-manager@demo.example", "second-line-lead@demo.example",
    }  # fmt: skip


def _check_breached_clocks(out: str, store: Path) -> None:
    """The demo's table of breached clocks: each clock once, as the store recorded them."""
    total = re.search(r"Breached clocks: (\d+), each counted once", out)
    assert total, out
    rows = re.findall(r"^  (zendesk|jira) +([\w-]+/\w+) +(\d+) +(\d+) +(\d+)$", out, re.MULTILINE)
    shown = Counter({(c, clock): int(a) + int(b) + int(d) for c, clock, a, b, d in rows})
    with sqlite3.connect(store) as db:
        heads = db.execute(
            "select ticket_key, policy, metric from measure_heads where state = 'breached'"
        ).fetchall()
    recorded = Counter((key.split(":", 1)[0], f"{policy}/{metric}") for key, policy, metric in heads)
    assert sum(shown.values()) == int(total.group(1)) > 0
    assert shown == recorded, (shown, recorded)
    # The go-live line counts the breaches recorded as history; the table's column agrees.
    history = re.search(r"(\d+) breaches from before the cutoff recorded", out)
    assert history and int(history.group(1)) == sum(int(b) for _, _, _, b, _ in rows), out


@pytest.mark.parametrize(
    ("real", "instant"),
    [
        ("2026-12-06T12:00:00Z", "2026-12-03T12:00:00Z"),  # a Sunday: the Thursday before
        ("2026-12-03T12:00:00Z", "2026-12-03T12:00:00Z"),  # Thursday noon itself
        ("2026-12-03T11:59:59Z", "2026-11-26T12:00:00Z"),  # before it: the week before
        ("2026-12-04T08:00:00+09:00", "2026-12-03T12:00:00Z"),  # Thursday 23:00 UTC
        ("2027-03-28T01:30:00Z", "2027-03-25T12:00:00Z"),  # Berlin's clocks go forward
    ],
)
def test_the_demo_runs_at_the_latest_thursday_noon(real: str, instant: str) -> None:
    assert demo_instant(datetime.fromisoformat(real)) == datetime.fromisoformat(instant)
