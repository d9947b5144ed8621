"""Benchmark the dashboard and the customer pages of ``slaplug serve`` on a large store.

Run ``python bench/dashboard.py [n]``; it prints one JSON line::

    {"n": 20000, "measure_s": ..., "dashboard_cached_ms": ..., "customer_cached_ms": ...,
     "ticket_ms": ..., "activity_ms": ..., "compliance_json_ms": ...}

- ``measure_s``: the first dashboard view after a refresh: every stored ticket measured
  (the status view and the contracts' samples), on the plain-Python engine, then the page.
  It happens at most once per ``dashboard.refresh`` (60 s by default), whoever looks.
- ``*_cached_ms``: a page within the refresh interval, median of 20.
- ``ticket_ms``: one ticket's timeline (measured on demand); ``activity_ms``: what was
  written and notified (bounded, indexed); ``compliance_json_ms``: the report's figures.

Goals: a cached page under 100 ms at 20,000 tickets; a refresh under 30 s there.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # This folder holds calendar.py, which would shadow the standard library's module.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import asyncio
import json
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from slaplug.config import DashboardSettings, Settings
from slaplug.rules.pack import RulePack
from slaplug.runtime import Runtime
from slaplug.store import Store
from slaplug.testing.synthetic import synthetic_tickets
from slaplug.web.app import create_app

RULES = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


async def _run(n: int, folder: Path) -> dict[str, Any]:
    tickets = synthetic_tickets(n, NOW)
    with (
        Store.open(f"sqlite:///{folder / 'bench.db'}") as store,
        RulePack.load([RULES], engine="python") as pack,
    ):
        for i in range(0, n, 1000):
            store.save_snapshots(tickets[i : i + 1000])
        _, manager = store.issue_token("manager")
        contract = pack.source.contracts[0].name
        _, customer = store.issue_token("customer", contract=contract)
        settings = Settings(
            path=folder / "slaplug.yaml", store="", rules=[RULES], engine="python",
            dashboard=DashboardSettings(refresh_s=3600),
        )  # fmt: skip
        runtime = Runtime(settings=settings, store=store, pack=pack, connectors={})
        app = create_app(None, runtime=runtime, clock=lambda: NOW)
        auth = {"Authorization": f"Bearer {manager}"}
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://b")
            )

            async def timed(path: str, headers: dict[str, str] | None = None) -> float:
                t = time.perf_counter()
                r = await http.get(path, headers=headers or {}, timeout=600)
                assert r.status_code == 200, (path, r.status_code)
                return time.perf_counter() - t

            async def median_ms(path: str, headers: dict[str, str] | None = None) -> float:
                return round(
                    statistics.median([await timed(path, headers) for _ in range(20)]) * 1000, 1
                )

            measure = await timed("/dashboard", auth)
            first = tickets[0]
            return {
                "n": n,
                "measure_s": round(measure, 2),
                "dashboard_cached_ms": await median_ms("/dashboard", auth),
                "customer_cached_ms": await median_ms(f"/customer/{customer}"),
                "ticket_ms": round(
                    await timed(f"/dashboard/tickets/{first.connector}/{first.id}", auth) * 1000, 1
                ),
                "activity_ms": await median_ms("/dashboard/activity", auth),
                "compliance_json_ms": await median_ms("/dashboard/compliance.json", auth),
            }


def run(n: int = 20_000) -> dict[str, Any]:
    """Fill a store with ``n`` synthetic tickets and time the pages."""
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_run(n, Path(folder)))


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)))
