"""One sync pass in its own process, with a plugin that records each ``on_breach`` in a file.

Run by tests/test_hook_crash.py, which kills it (``SLAPLUG_CRASH_AT``, or ``KILL_IN_HOOK=N``:
the process SIGKILLs itself inside its Nth ``on_breach`` call, before the call's effect).

    python tests/hook_worker.py BASE_URL STORE_URL RULES_FILE RECORD_FILE
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from tinydesk import TOKEN, TinyConfig, TinyConnector

from slaplug import hookimpl
from slaplug.plugins import pm
from slaplug.rules.pack import RulePack
from slaplug.store import Store, StoreSettings
from slaplug.sync import Sync


class Recorder:
    """Appends ``ticket policy/metric cycle`` per call, flushed to disk before returning."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = 0
        self.kill_at = int(os.environ.get("KILL_IN_HOOK", "0"))

    @hookimpl
    def on_breach(self, ticket: Any, measure: Any) -> None:
        self.calls += 1
        if self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash in the middle of the call
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{ticket.key} {measure.policy}/{measure.metric.value} {measure.cycle}\n")
            f.flush()
            os.fsync(f.fileno())


def main(base_url: str, store_url: str, rules: str, record: str) -> None:
    pm.register(Recorder(record), name="breach-recorder")
    config = TinyConfig.load(
        {"base_url": base_url, "api_token_env": "T"}, connector="tiny", environ={"T": TOKEN}
    )
    # A short lease: the test waits it out after each kill, as a restarted job would.
    settings = StoreSettings(lease=timedelta(seconds=1), max_attempts=50)
    with (
        Store.open(store_url, settings=settings) as store,
        RulePack.load([rules], engine="python") as pack,
        TinyConnector(config, instance="tiny") as conn,
    ):
        backfill = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}  # the history's breaches count
        Sync(store, pack, {"tiny": conn}, escalate_from=backfill, claim_batch=2).run_once()


if __name__ == "__main__":
    main(*sys.argv[1:5])
