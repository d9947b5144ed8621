"""Benchmark the sync job: 50,000 tickets in the fake Zendesk, two passes, API calls and memory.

Run ``python bench/sync.py [n]``; it prints one JSON line::

    {"n": 50000, "first": {"wall_s", "read_calls", "write_calls", "poll_calls", "changed",
     "actions"}, "second": {...}, "peak_rss_mb": ..., "peak_rss_mb_fake": ...}

The fake Zendesk runs in its own process (its memory is not slaplug's); `slaplug sync --once`
runs twice as real processes against it with a SQLite store, and the fake counts the requests
it served. ``changed`` counts the tickets that got at least one write; ``read_calls`` excludes
job-status polls, reported as ``poll_calls``. ``peak_rss_mb`` is the larger of the two sync
processes' peak resident memory.

Goals (from the issue): read calls at most ceil(N/1000) plus a small constant, write calls at
most ceil(changed/100) plus job polls, zero writes on the second sync, peak RSS under 300 MB
and flat in N (compare runs with different n).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # This folder holds calendar.py, which would shadow the standard library's module.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import json
import re
import resource
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_fake(n: int, port: int) -> subprocess.Popen[bytes]:
    # Tickets four days old: many clocks at risk or breached, so the first pass writes.
    now = (datetime.now(UTC) - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code = (
        "import sys, time\n"
        "from datetime import datetime\n"
        "from slaplug_zendesk.fake import FakeZendesk\n"
        f"fake = FakeZendesk.start(port={port}, tickets={n}, days=28, now=datetime.fromisoformat('{now}'.replace('Z','+00:00')), job_complete_after=0.2)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"ready" not in line:
        raise RuntimeError("the fake Zendesk did not start")
    return proc


def _requests(base: str) -> dict[str, Any]:
    return dict(requests.get(f"{base}/_fake/requests", timeout=30).json()["requests"])


def _sync(config: Path, now: str) -> tuple[dict[str, Any], float, float]:
    env = {
        **os.environ,
        "BENCH_ZD_TOKEN": "fake-api-token",
        "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
        # Both passes evaluate at the same instant: the second must find nothing new to do,
        # not clocks that crossed a threshold while the first one ran.
        "SLAPLUG_NOW": now,
    }
    # /usr/bin/time is not everywhere; wrap the child to report its own peak RSS.
    code = (
        "import resource, sys\n"
        "from slaplug.cli import main\n"
        "try:\n"
        "    main(['sync', '--once', '--json', '--config', sys.argv[1]], standalone_mode=False)\n"
        "finally:\n"
        "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.monotonic() - started
    if run.returncode not in (0, 4):  # 4: it ran, some actions failed for good (counted)
        raise RuntimeError(f"sync failed:\n{run.stderr[-3000:]}")
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    rss = int(re.search(r"peak_rss_kb (\d+)", run.stderr).group(1)) / 1024  # type: ignore[union-attr]
    return summary, wall, rss


def _pass(config: Path, base: str, now: str) -> tuple[dict[str, Any], float]:
    requests.delete(f"{base}/_fake/writes", timeout=30)
    before = _requests(base)
    summary, wall, rss = _sync(config, now)
    after = _requests(base)
    writes = requests.get(f"{base}/_fake/writes", timeout=30).json()
    records = writes["writes"] if isinstance(writes, dict) else writes
    changed: set[Any] = set()
    for w in records:
        body = w.get("body") or {}
        if isinstance(body, dict):
            for t in body.get("tickets") or ([{"id": w.get("path")}] if "ticket" in body else []):
                changed.add(t.get("id"))
    counts = {k: after.get(k, 0) - before.get(k, 0) for k in ("read", "write", "poll")}
    return (
        {
            "wall_s": round(wall, 2),
            "read_calls": counts["read"],
            "write_calls": counts["write"],
            "poll_calls": counts["poll"],
            "changed": len(changed),
            "actions": summary["applied"],
        },
        rss,
    )


def run(n: int = 50_000) -> dict[str, Any]:
    """Run both passes once; returns the JSON-able figures."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    fake = _start_fake(n, port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "slaplug.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "store": f"sqlite:///{Path(tmp) / 'slaplug.db'}",
                        "rules": [str(REPO / "rules" / "default.yaml")],
                        # The shipped rules notify these channels; declared empty, their messages are dropped.
                        "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                        # A backfill: the bench measures writing back a history, which a default
                        # go-live (the first sync's start) would measure but not write.
                        "escalate_from": "2000-01-01",
                        "connectors": {
                            "zendesk": {
                                "plugin": "zendesk",
                                "base_url": base,
                                "email": "admin@fake-zendesk.test",
                                "api_token_env": "BENCH_ZD_TOKEN",
                                "fields": {"sla_resolution_status": 360000000103},
                                "job_poll_interval": 0.2,
                            }
                        },
                    }
                )
            )
            now = datetime.now(UTC).isoformat()
            first, rss1 = _pass(config, base, now)
            second, rss2 = _pass(config, base, now)
        fake_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        if fake.stdin:
            fake.stdin.close()
        fake.wait(timeout=30)
    return {
        "n": n,
        "first": first,
        "second": second,
        "peak_rss_mb": round(max(rss1, rss2), 1),
        "peak_rss_mb_children": round(fake_rss, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(*[int(a) for a in sys.argv[1:]])))
