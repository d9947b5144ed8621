"""``on_breach`` is never lost: a sync process SIGKILLed around the call delivers it on rerun.

Each case runs one real sync process (tests/hook_worker.py) against tinydesk, kills it at one
step (inside the plugin's call, or at a named crash point), waits out its leases and runs a
second one to the end. Then every breached clock reached the plugin; only a kill between a
call's return and its record may repeat that one call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tinydesk import TinyFake

RULES = """\
policies:
  - name: p
    targets: {first_response: {"*": 1h}}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions:
      - add_tag: sla_breached
"""
#: tinydesk's five tickets each missed a 1h first response (answered after 3 hours).
BREACHES = {f"tiny:{i} p/first_response 1" for i in range(1, 6)}
WORKER = Path(__file__).with_name("hook_worker.py")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SLAPLUG_CRASH_AT", "KILL_IN_HOOK")}
    return subprocess.run(
        [sys.executable, str(WORKER), *args],
        env={**clean, "SLAPLUG_LOAD_PLUGINS": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("kill", "repeats"),
    [
        # Inside the plugin's second call: the old code had recorded every breach already,
        # so the calls after the kill were never made.
        ({"KILL_IN_HOOK": "2"}, 0),
        # Planned, breach not yet recorded.
        ({"SLAPLUG_CRASH_AT": "breach-hooks-planned"}, 0),
        # Breach recorded, nothing delivered yet.
        ({"SLAPLUG_CRASH_AT": "measures-recorded"}, 0),
        # A call returned, not yet recorded as made: that one call may come again.
        ({"SLAPLUG_CRASH_AT": "hook-called:3"}, 1),
    ],
    ids=["inside-the-call", "breach-hooks-planned", "measures-recorded", "hook-called"],
)
def test_a_killed_sync_delivers_every_breach_on_rerun(
    tmp_path: Path, kill: dict[str, str], repeats: int
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    record = tmp_path / "breaches.txt"
    store = f"sqlite:///{tmp_path / 's.db'}"
    with TinyFake() as fake:
        args = [fake.base_url, store, str(rules), str(record)]
        killed = _run(args, kill)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        before = record.read_text().splitlines() if record.exists() else []
        assert set(before) < BREACHES  # the kill struck before every breach was delivered
        time.sleep(1.2)  # the dead process's leases lapse
        final = _run(args, {})
        assert final.returncode == 0, final.stderr[-2000:]
    calls = Counter(record.read_text().splitlines())
    assert set(calls) == BREACHES
    assert sum(calls.values()) - len(BREACHES) <= repeats, calls
