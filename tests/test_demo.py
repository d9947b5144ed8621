"""`make demo` runs `slaplug demo`: the whole job against the bundled fakes, as a user sees it."""

from __future__ import annotations

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
    assert "$ slaplug explain ..." in out and "Escalations that would fire:" in out
    assert (tmp_path / "demo" / "slaplug.yaml").is_file()
    # Per-organization contracts on Jira tickets: JSM's Organizations field picks the contract.
    assert "Contracts on Jira tickets, by JSM organization" in out
    assert re.search(r"enterprise +Acme Corp +\d+ met +\d+ missed", out), out
    assert re.search(r"standard +Initech +\d+ met", out), out
