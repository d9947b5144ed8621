"""A batch slower than its lease is not claimed again while it runs (issue 14.3, runtime side).

Two sync jobs, each with its own store connection to one SQLite file, deliver the same
outbox. The first one's apply takes longer than the lease; without a heartbeat the second
claims the lapsed leases and writes every action a second time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from slaplug.connectors import ApplyResult, ApplyStatus, CallStats, Capability
from slaplug.model import Action, ActionKind, Metric
from slaplug.rules.pack import RulePack
from slaplug.store import Store, StoreSettings
from slaplug.sync import Sync

REPO = Path(__file__).resolve().parent.parent
LEASE = timedelta(seconds=1)
APPLY_SECONDS = 2.5  # longer than two leases


class SlowDesk:
    """A connector stand-in whose bulk apply takes `APPLY_SECONDS` and counts each write."""

    capabilities = frozenset({Capability.WRITE_BACK})  # the sync applies only with it

    def __init__(self) -> None:
        self.http = SimpleNamespace(stats=CallStats())
        self.writes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.started = threading.Event()

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        self.started.set()
        time.sleep(APPLY_SECONDS)
        with self.lock:
            self.writes.update(a.key for a in actions)
        return [ApplyResult(a.key, ApplyStatus.APPLIED) for a in actions]


def _actions(n: int) -> list[Action]:
    return [
        Action(
            kind=ActionKind.COMMENT,
            params={"body": "SLA at 75 %", "public": False},
            connector="slow",
            ticket_id=str(i),
            key=f"slow:{i}:p:first_response:1:warn:1",
            escalation="warn",
            level=1,
            policy="p",
            metric=Metric.FIRST_RESPONSE,
            cycle=1,
        )
        for i in range(20)
    ][:n]


def test_a_slow_batch_keeps_its_leases_and_no_note_is_posted_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    settings = StoreSettings(lease=LEASE)
    desk = SlowDesk()
    with Store.open(url, settings=settings) as first, Store.open(url, settings=settings) as second, \
            RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack:
        assert len(first.plan(_actions(20))) == 20
        one = Sync(first, pack, {"slow": desk})  # type: ignore[dict-item]
        two = Sync(second, pack, {"slow": desk})  # type: ignore[dict-item]
        assert one.worker_id != two.worker_id
        results: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: results.update(one=one.process("slow", [])))
        thread.start()
        assert desk.started.wait(10)
        time.sleep(LEASE.total_seconds() * 1.4)  # the first batch's original lease has lapsed
        results["two"] = two.process("slow", [])
        thread.join(30)
        assert not thread.is_alive()
        assert results["two"].applied == 0, "the second job took actions the first still held"
        assert results["one"].applied == 20
        assert sorted(desk.writes.values()) == [1] * 20, "an action was written twice"
        assert first.outbox_stats().ledger == {"applied": 20}


def test_extend_leases_touches_only_the_holders_rows(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}", settings=StoreSettings(lease=LEASE)) as s:
        s.plan(_actions(4), now=now)
        mine = s.outbox_claim("slow", limit=2, now=now, worker_id="a")
        theirs = s.outbox_claim("slow", limit=2, now=now, worker_id="b")
        later = now + timedelta(seconds=30)
        assert s.outbox_extend_leases([c.key for c in mine + theirs], "a", now=later) == 2
        # Only a's leases moved: b's lapsed and are claimable again; a's are not.
        again = s.outbox_claim("slow", limit=10, now=later + timedelta(milliseconds=500), worker_id="c")
        assert sorted(c.key for c in again) == sorted(c.key for c in theirs)
