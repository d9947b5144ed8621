"""`make demo` runs `slaplug demo`: the whole job against the bundled fakes, as a user sees it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


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
    assert "Escalations that would fire:" in out
    # The at-risk queue, as `slaplug status` prints it.
    assert "$ slaplug status --state breached,at-risk --limit 8 --config demo/slaplug.yaml" in out
    assert re.search(r"^\w+:\S+ +breached +-\d", out, re.M), out
    # The commands the demo suggests work as printed, after it (its fakes are gone by then).
    suggested = re.search(r"^\$ slaplug (explain (\w+):(\S+) --config demo/slaplug\.yaml)$", out, re.M)
    assert suggested, out
    explained = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *suggested.group(1).split()],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith(f"Ticket {suggested.group(2)}:{suggested.group(3)} ")
    status = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "status", "--config", "demo/slaplug.yaml", "--json"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert {c["connector"] for c in json.loads(status.stdout)["clocks"]} == {"zendesk", "jira"}
    assert (tmp_path / "demo" / "slaplug.yaml").is_file()
    # Per-organization contracts on Jira tickets: JSM's Organizations field picks the contract.
    assert "Contracts on Jira tickets, by JSM organization" in out
    assert re.search(r"enterprise +Acme Corp +\d+ met +\d+ missed", out), out
    assert re.search(r"standard +Initech +\d+ met", out), out
