"""Benchmark the distributed engine: many fake helpdesks, 1, 2 and 4 workers, and chaos.

Run ``python bench/scale.py [--helpdesks 8] [--tickets 200] [--workers 1,2,4] [--chaos 60]``
(``--workers ""`` for the chaos alone), or ``python bench/scale.py --large 50000 --workers 1,2``
for one large helpdesk (`large_run`); it prints one JSON line per measurement, then one with
every figure side by side::

    {"workers": 2, "wall_s", "tickets_per_s", "throughput_vs_1", "api_reads", "reads_vs_1",
     "api_writes", "r429", "duplicate_writes", "jobs"}
    {"chaos": {"seconds", "kills", "deliveries", "inbox", "outbox_pending", "duplicate_writes"}}
    {"large": N, "workers", "wall_s", "api_reads", "ceil_n_1000", "reads_over_pages", "r429",
     "duplicate_writes", "ticks_during_pull", ...}

Set-up, all real: the fake Zendesks run in a process of their own (each its own HTTP server,
every API answer delayed 50 to 150 ms, the platform's rate limits enforced: 429 past
700/min, past 10/min on incremental exports); the store and procrastinate's queue are a
fresh schema of the PostgreSQL at 127.0.0.1:5432/test; the workers are ``slaplug worker``
processes. A run queues one ``pull`` per helpdesk (read every ticket, evaluate, write
back) and starts the workers with ``--burst``; the wall time runs from their start to the
last one's exit. ``api_reads``/``api_writes`` are what the fakes served, ``r429`` the rate
limit answers they gave, ``duplicate_writes`` the notes and tags written more than once.

Chaos (``--chaos SECONDS``): ``slaplug serve`` (distributed) receives the fakes' signed
webhooks while the fakes' agents and requesters keep changing tickets, three workers run the
jobs with their periodic ticks, and one worker is SIGKILLed (and restarted) every 4 s. Then
the load stops, the workers settle, and the bench checks that every delivery is done, every
action final, and no note or tag was written twice.

Goals (issue 20): throughput near-linear while the helpdesks' latency dominates, reads at
most 1.1x one worker's, 0 duplicates, no 429 (the request budgets stay under the limits).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # This folder holds calendar.py, which would shadow the standard library's module.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import contextlib
import json
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PG = os.environ.get("SLAPLUG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-scale-webhook-secret"
TOKEN = "fake-api-token"
MARKER = re.compile(r"\[slaplug [0-9a-f]{16}\]")  # keyed note markers (slaplug_zendesk.write)


# -- the fakes' process -----------------------------------------------------------------------


def _host(n: int, tickets: int, lift_exports: bool = False) -> None:
    """Child process: ``n`` fake Zendesks with latency and rate limits; answers on stdin.

    ``lift_exports``: the fakes do not enforce the 10/min limit on incremental exports (the
    700/min account limit stays enforced), for ``--large``, where that limit alone would set
    the time (one export page every 6.7 s).

    Commands: ``stats`` (prints one JSON line), ``hooks URL`` (send signed webhooks there),
    ``load RATE`` (agents and requesters change tickets, RATE changes a second in all),
    ``stop`` (no more changes). End of input stops the fakes.
    """
    from slaplug_zendesk.fake import FakeZendesk
    from slaplug_zendesk.fake.server import ZendeskApp

    served: Counter[str] = Counter()
    guard = threading.Lock()
    original = ZendeskApp.__call__

    def slow(self: Any, req: Any) -> Any:
        if not req.path.startswith("/_fake/"):
            time.sleep(random.uniform(0.05, 0.15))  # a helpdesk across the internet
            if req.method == "GET" and "/job_statuses/" not in req.path:
                with guard:  # reads by endpoint (ids folded), to tell pages from lookups
                    served["GET " + re.sub(r"/\d+", "/N", req.path)] += 1
        resp = original(self, req)
        if resp.status == 429:
            with guard:
                served["r429"] += 1
        return resp

    ZendeskApp.__call__ = slow  # type: ignore[method-assign]
    if lift_exports:
        rate_headers = ZendeskApp._rate_headers

        def no_export_limit(self: Any, path: str) -> dict[str, str]:
            # Counted against the account's 700/min, not the exports' 10/min.
            return rate_headers(self, path.replace("/incremental/", "/incremental-/"))

        ZendeskApp._rate_headers = no_export_limit  # type: ignore[method-assign]
    start = datetime.now(UTC) - timedelta(days=4)  # clocks at risk and breached: writes
    fakes = [
        FakeZendesk.start(
            tickets=tickets,
            days=28,
            now=start,
            random_seed=i,
            enforce_rate_limit=True,
            job_complete_after=0.2,
        )
        for i in range(n)
    ]
    print(json.dumps([f.base_url for f in fakes]), flush=True)
    stop = threading.Event()

    def churn(rate: float) -> None:
        rng = random.Random(7)
        kinds = ("agent_reply", "requester_reply", "internal_note")
        while not stop.wait(1.0 / rate):
            fake = rng.choice(fakes)
            with fake.lock:
                ids = list(fake.store.tickets)
            with contextlib.suppress(ValueError):  # a closed ticket refuses some changes
                fake.simulate(rng.choice(kinds), rng.choice(ids))

    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "stats":
            stats = []
            for f in fakes:
                counts = f.requests
                effects = _written(f.writes)
                stats.append(
                    {
                        "reads": counts.get("read", 0),
                        "writes": counts.get("write", 0),
                        "polls": counts.get("poll", 0),
                        "duplicates": sum(c - 1 for c in effects.values() if c > 1),
                        "effects": len(effects),
                    }
                )
            with guard:
                reads = {k[4:]: v for k, v in served.items() if k.startswith("GET ")}
            print(json.dumps({"fakes": stats, "r429": served["r429"], "reads": reads}), flush=True)
        elif cmd == "hooks":  # a URL template: {i} is the fake's index (connector zd{i})
            for i, f in enumerate(fakes):
                f.configure_webhook(arg.format(i=i), SECRET)
        elif cmd == "load":
            stop.clear()
            threading.Thread(target=churn, args=(float(arg),), daemon=True).start()
        elif cmd == "stop":
            stop.set()
    stop.set()
    for f in fakes:
        f.stop()


def _written(writes: Any) -> Counter[tuple[int, str]]:
    """Per (ticket, note marker or tag): times an accepted write carried it."""
    effects: Counter[tuple[int, str]] = Counter()
    for w in writes:
        if not w.accepted or not isinstance(w.body, dict):
            continue
        items = list(w.body.get("tickets", []))
        if "ticket" in w.body:
            found = re.search(r"/tickets/(\d+)", w.path)
            items.append({"id": int(found.group(1)) if found else 0, **w.body["ticket"]})
        for t in items:
            tid = int(t.get("id", 0))
            for m in MARKER.findall(json.dumps(t.get("comment") or {})):
                effects[(tid, m)] += 1
            for tag in t.get("additional_tags", []):
                effects[(tid, "tag:" + tag)] += 1
    return effects


class Fakes:
    """The fakes' process, driven through its standard input."""

    def __init__(self, n: int, tickets: int, lift_exports: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--host", str(n), str(tickets), str(int(lift_exports))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.urls: list[str] = json.loads(self.proc.stdout.readline())

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline()) if command == "stats" else None

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        if self.proc.stdout:
            self.proc.stdout.close()


# -- the install ----------------------------------------------------------------------------


def _schema(name: str, drop: bool = False) -> str:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        if not drop:
            conn.execute(f"CREATE SCHEMA {name}")
    return f"{PG}?options=-csearch_path%3D{name}"


def _config(
    tmp: Path,
    store: str,
    urls: list[str],
    lease: str = "1m",
    budgets: dict[str, Any] | None = None,
    **work: Any,
) -> Path:
    path = tmp / "slaplug.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store": store,
                "rules": [str(REPO / "rules" / "default.yaml")],
                "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                "escalate_from": "2000-01-01",  # write back the history, not only from now
                "sync": {"every": "5s"},
                "outbox": {"lease": lease},
                "work": {"engine": "procrastinate", **work},
                "connectors": {
                    f"zd{i}": {
                        "plugin": "zendesk",
                        "base_url": url,
                        "email": "admin@fake-zendesk.test",
                        "api_token_env": "BENCH_ZD_TOKEN",
                        "webhook_secret_env": ["BENCH_ZD_HOOK"],
                        "fields": {"sla_resolution_status": 360000000103},
                        "job_poll_interval": 0.2,
                        **(budgets or {}),
                    }
                    for i, url in enumerate(urls)
                },
            }
        )
    )
    return path


ENV = {
    **os.environ,
    "BENCH_ZD_TOKEN": TOKEN,
    "BENCH_ZD_HOOK": SECRET,
    "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
    "SLAPLUG_MIN_LEASE": "1s",
}


def _queue(config: Path, jobs: list[tuple[str, Any]]) -> int:
    import slaplug_zendesk

    from slaplug.config import load_settings
    from slaplug.jobs.engine import Enqueuer, apply_schema, build_app, conninfo
    from slaplug.plugins import load_plugins, pm

    # Plugins are loaded before the environment below is set: a process that loads them
    # here for the first time must not take SLAPLUG_LOAD_PLUGINS for good (a test run
    # loads none unless told to); the connector is registered for this call only.
    load_plugins()
    # The configuration names $BENCH_* credentials; set for this call only, so a test
    # process's later subprocesses do not inherit SLAPLUG_LOAD_PLUGINS.
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in ENV.items() if k.startswith(("BENCH_", "SLAPLUG_"))})
    registered = not pm.is_registered(slaplug_zendesk)
    if registered:
        pm.register(slaplug_zendesk, name="zendesk")
    try:
        settings = load_settings(config)
        apply_schema(conninfo(settings.store))
        app = build_app(settings, lambda: None, periodic=False)  # type: ignore[arg-type,return-value]
        with app.open():
            return Enqueuer(app).defer_many(jobs)
    finally:
        if registered:  # leave the process's plugins and environment as they were
            pm.unregister(name="zendesk")
        os.environ.clear()
        os.environ.update(saved)


def _log(name: str) -> Any:
    """Where a child's stderr goes: ``$BENCH_LOGS/NAME.log`` when set, else nowhere."""
    folder = os.environ.get("BENCH_LOGS")
    if not folder:
        return subprocess.DEVNULL
    return open(Path(folder) / f"{name}.log", "a")  # the child keeps it open


def _spawn(argv: list[str], name: str) -> subprocess.Popen[bytes]:
    log = _log(name)
    try:
        return subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=log)
    finally:
        if log is not subprocess.DEVNULL:
            log.close()  # the child has its own copy


def _worker(config: Path, *extra: str) -> subprocess.Popen[bytes]:
    return _spawn(
        [sys.executable, "-m", "slaplug.cli", "worker", "--config", str(config), *extra],
        "worker",
    )


def _busy_seconds(schema: str) -> float:
    """From the first snapshot saved to the last action settled or cursor committed.

    The workers' start-up (imports, connections: a few seconds each) is left out; a pull's
    first request goes before its first save, so this misses only that one round trip.
    """
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        row = conn.execute(
            "SELECT extract(epoch FROM greatest((SELECT max(done_at) FROM ledger),"
            " (SELECT max(updated_at) FROM cursors)) - (SELECT min(saved_at) FROM snapshots))"
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else float("nan")


def scale_run(workers: int, helpdesks: int, tickets: int) -> dict[str, Any]:
    """One round over ``helpdesks`` fresh fakes with ``workers`` burst workers."""
    fakes = Fakes(helpdesks, tickets)
    name = f"bench_scale_{os.getpid()}_{workers}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(Path(tmp), _schema(name), fakes.urls)
            jobs = _queue(config, [("pull", f"zd{i}") for i in range(helpdesks)])
            started = time.monotonic()
            procs = [_worker(config, "--burst") for _ in range(workers)]
            codes = [p.wait(timeout=1800) for p in procs]
            wall = time.monotonic() - started
            busy = _busy_seconds(name)
        stats = fakes.ask("stats")
    finally:
        fakes.close()
        _schema(name, drop=True)
    per = stats["fakes"]
    return {
        "workers": workers,
        "helpdesks": helpdesks,
        "tickets": helpdesks * tickets,
        # From the workers' start to the last one's exit (their start-up, ~3 s each here,
        # included); work_s: from the first snapshot saved to the last write (`_busy_seconds`).
        "wall_s": round(wall, 2),
        "work_s": round(busy, 2),
        "tickets_per_s": round(helpdesks * tickets / wall, 1),
        "api_reads": sum(f["reads"] for f in per),
        "api_writes": sum(f["writes"] for f in per),
        "job_polls": sum(f["polls"] for f in per),
        "r429": stats["r429"],
        "duplicate_writes": sum(f["duplicates"] for f in per),
        "effects": sum(f["effects"] for f in per),
        "jobs": jobs,
        "exit_codes": sorted(set(codes)),
    }


def _doing_pull(schema: str) -> list[int]:
    """Ids of the pull jobs running now."""
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        rows = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE task_name = 'slaplug.pull'"
            " AND status = 'doing'"
        ).fetchall()
    return [int(r[0]) for r in rows]


def large_run(workers: int, tickets: int, tick_every: float = 5.0) -> dict[str, Any]:
    """One helpdesk of ``tickets`` tickets, ``workers`` burst workers.

    One round of jobs is queued (pull, deliver, drain, every due bucket), and while the first
    pull runs the bench queues the connector's pull, deliver and drain again every
    ``tick_every`` seconds, as the periodic tick would: the ticks that arrive during a long
    pull must not read the helpdesk a second time (they wait on the pull's lane, coalesced,
    and go on from its cursor). The fake does not enforce the 10/min export limit and the
    connector's export budget is lifted to match (the limit would set the time: one page
    every 6.7 s); the account limit (700/min) is enforced and budgeted at 630/min.
    """
    from slaplug.store.tickets import DUE_BUCKETS

    fakes = Fakes(1, tickets, lift_exports=True)
    name = f"bench_large_{os.getpid()}_{workers}"
    ticks = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(
                Path(tmp),
                _schema(name),
                fakes.urls,
                lease="5m",
                budgets={
                    "requests_per_minute": 630,
                    "endpoint_requests_per_minute": {"incremental": 6000},
                },
            )
            round_ = [("pull", "zd0"), ("deliver", "zd0"), ("drain", "zd0")]
            jobs = _queue(config, round_ + [("due", b) for b in range(DUE_BUCKETS)])
            started = time.monotonic()
            procs = [_worker(config, "--burst") for _ in range(workers)]
            first: int | None = None
            while any(p.poll() is None for p in procs):
                time.sleep(tick_every)
                doing = _doing_pull(name)
                if first is None and doing:
                    first = doing[0]
                if first is None or first not in doing:
                    if first is not None:
                        break  # the first pull is done: no more ticks
                    continue
                jobs += _queue(config, round_)
                ticks += 1
            codes = [p.wait(timeout=3600) for p in procs]
            wall = time.monotonic() - started
            busy = _busy_seconds(name)
        stats = fakes.ask("stats")
    finally:
        fakes.close()
        _schema(name, drop=True)
    (per,) = stats["fakes"]
    pages = -(-tickets // 1000)
    return {
        "large": tickets,
        "workers": workers,
        "wall_s": round(wall, 2),
        "work_s": round(busy, 2),
        "api_reads": per["reads"],
        "reads_by_endpoint": stats["reads"],
        "ceil_n_1000": pages,
        "reads_over_pages": per["reads"] - pages,
        "api_writes": per["writes"],
        "job_polls": per["polls"],
        "r429": stats["r429"],
        "duplicate_writes": per["duplicates"],
        "effects": per["effects"],
        "jobs_queued": jobs,
        "ticks_during_pull": ticks,
        "exit_codes": sorted(set(codes)),
    }


def chaos_run(
    seconds: float, helpdesks: int, tickets: int, kill_every: float = 4.0, workers: int = 3
) -> dict[str, Any]:
    """Webhook load, ``workers`` workers, one SIGKILLed every ``kill_every`` s; then settle
    and check."""
    import socket

    from slaplug.store import Store

    fakes = Fakes(helpdesks, tickets)
    name = f"bench_chaos_{os.getpid()}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    serve: subprocess.Popen[bytes] | None = None
    procs: list[subprocess.Popen[bytes]] = []
    kills = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store_url = _schema(name)
            # Short leases: a killed worker's claims lapse within the settling time.
            config = _config(
                Path(tmp), store_url, fakes.urls, lease="15s", stalled_after="3s", due_every="5s"
            )
            _queue(config, [("pull", f"zd{i}") for i in range(helpdesks)])
            serve = _spawn(
                [
                    sys.executable,
                    "-m",
                    "slaplug.cli",
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    str(port),
                ],
                "serve",
            )
            procs = [_worker(config) for _ in range(workers)]
            time.sleep(3)
            fakes.ask(f"hooks http://127.0.0.1:{port}/webhooks/zd{{i}}")
            fakes.ask("load 10")
            rng = random.Random(3)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(kill_every)
                victim = rng.randrange(len(procs))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                kills += 1
                procs[victim] = _worker(config)
            fakes.ask("stop")
            # Settle: the workers keep running (ticks, recovery of the killed ones' jobs).
            with Store.open(store_url, migrate_schema=False) as store:
                # Until quiet: nothing waiting or in flight, and no delivery arriving (the
                # fakes' webhook senders retry for a while after the changes stopped).
                settle = time.monotonic() + 180
                last, quiet = -1, 0
                while time.monotonic() < settle and quiet < 3:
                    time.sleep(2)
                    inbox, out = store.inbox_stats(), store.outbox_stats()
                    busy = inbox.get("pending", 0) + inbox.get("leased", 0)
                    busy += out.pending + out.leased
                    total = sum(inbox.values())
                    quiet = quiet + 1 if busy == 0 and total == last else 0
                    last = total
                inbox, out = store.inbox_stats(), store.outbox_stats()
            stats = fakes.ask("stats")
    finally:
        for p in [*procs, *([serve] if serve else [])]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*procs, *([serve] if serve else [])]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        fakes.close()
        _schema(name, drop=True)
    return {
        "chaos": {
            "seconds": seconds,
            "kills": kills,
            "deliveries": sum(inbox.values()),
            "inbox": inbox,
            "outbox_pending": out.pending + out.leased,
            "outbox_dead": out.dead,
            "ledger": dict(out.ledger),
            "duplicate_writes": sum(f["duplicates"] for f in stats["fakes"]),
            "effects": sum(f["effects"] for f in stats["fakes"]),
            "r429": stats["r429"],
        }
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--host":
        _host(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:5] == ["1"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helpdesks", type=int, default=8)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--chaos", type=float, default=60.0, help="seconds; 0 skips it")
    parser.add_argument(
        "--large",
        type=int,
        default=0,
        metavar="N",
        help="instead: one helpdesk of N tickets on each --workers count (reads vs ceil(N/1000))",
    )
    args = parser.parse_args()
    if args.large:
        larges = []
        for w in [int(x) for x in args.workers.split(",")]:
            run = large_run(w, args.large)
            larges.append(run)
            print(json.dumps(run), flush=True)
        print(json.dumps({"large": larges}))
        return
    runs = []
    # --workers "" runs the chaos alone.
    for w in [int(x) for x in args.workers.split(",") if x.strip()]:
        run = scale_run(w, args.helpdesks, args.tickets)
        runs.append(run)
        print(json.dumps(run), flush=True)
    for run in runs:
        one = runs[0]
        run["throughput_vs_1"] = round(run["tickets_per_s"] / one["tickets_per_s"], 2)
        run["reads_vs_1"] = round(run["api_reads"] / max(1, one["api_reads"]), 3)
    result: dict[str, Any] = {"scale": runs}
    if args.chaos:
        chaos = chaos_run(args.chaos, min(args.helpdesks, 4), args.tickets)
        print(json.dumps(chaos), flush=True)
        result.update(chaos)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
