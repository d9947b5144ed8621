"""Chaos on the distributed engine: workers SIGKILLed under webhook load (issue 20).

`bench/scale.py`'s chaos run, shortened: `slaplug serve` (procrastinate) receives the fake
Zendesks' signed webhooks while their users keep changing tickets, two `slaplug worker`
processes run the jobs, and one of them is SIGKILLed (and restarted) every three seconds.
Afterwards every delivery is done, every action final, and no note or tag was written twice.
The bench runs it for a minute; `python bench/scale.py --chaos 300` for longer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from test_store import pg_database  # noqa: F401  (fixture: a database for this run)

REPO = Path(__file__).resolve().parent.parent


def _bench() -> ModuleType:
    # Loaded from its file: putting bench/ on sys.path would let its calendar.py shadow the
    # standard library's.
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "bench" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_killed_workers_lose_nothing_and_write_nothing_twice(pg_database: str) -> None:  # noqa: F811
    pytest.importorskip("procrastinate")
    bench = _bench()
    bench.PG = pg_database
    result = bench.chaos_run(15, helpdesks=2, tickets=40, kill_every=3.0, workers=2)["chaos"]
    assert result["kills"] >= 4
    assert result["inbox"].get("done", 0) > 0, "the webhook load reached the workers"
    assert set(result["inbox"]) == {"done"}, result["inbox"]  # nothing pending, leased, dead
    assert result["outbox_pending"] == 0 and result["outbox_dead"] == 0
    assert result["ledger"].get("pending", 0) == 0
    assert result["effects"] > 0
    assert result["duplicate_writes"] == 0
    assert result["r429"] == 0
