"""Benchmark the webhook server: acknowledgement latency and throughput, writes lost or doubled.

Run ``python bench/webhooks.py [--rate 200] [--seconds 60] [--duplicates 0.1]``; it prints one
JSON line::

    {"p50_ms": ..., "p99_ms": ..., "rps": ..., "lost": 0, "doubled": 0, "sent": ..., ...}

What it does:

- starts a fake Zendesk whose clock is ten days back and creates one urgent ticket per unique
  delivery (each is then days past its first-response target, so the shipped pack writes a tag
  and a comment to it: every delivery has a write to show for it);
- starts a real ``slaplug serve`` process (uvicorn and its worker process, the store given by
  ``--store``, SQLite by default, the Zendesk connector with a webhook secret) on loopback;
- sends signed Zendesk event envelopes open-loop at ``--rate`` per second for ``--seconds``
  (each request starts on its schedule, whether or not earlier ones were answered), a fraction
  ``--duplicates`` of them re-sending an earlier delivery id, as a platform's retry would;
- ``p50_ms`` / ``p99_ms``: from sending a request to its answer, measured by a load generator
  in a process of its own (it shares no GIL with the server or the fake); ``rps``: answers per
  second; ``server_acks``: the share of answers the server itself timed within 10/20/50/100 ms
  (a gap between the two is time a request waited before the handler ran);
- waits for the worker to finish the inbox (``drain_s``), then reads what the fake received:
  ``lost`` counts unique deliveries not acknowledged with a 2xx, or acknowledged but never
  written back (beyond ``unfinished``, those still in the inbox when ``--drain-timeout``
  ran out); ``doubled`` counts comments or tags written to a ticket more than once.

Goals (from the issue): p99 at most 50 ms at 200 requests per second, none lost, none doubled.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # This folder holds calendar.py, which would shadow the standard library's module.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from slaplug_zendesk.fake import FakeZendesk

from slaplug.connectors import sign

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
MARKER = re.compile(r"\[slaplug [0-9a-f]{16}\]")  # keyed markers (slaplug_zendesk.write)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _envelope(delivery_id: str, ticket_id: int) -> bytes:
    return json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "account_id": 1,
            "id": delivery_id,
            "time": datetime.now(UTC).isoformat(),
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {"id": str(ticket_id)},
            "event": {},
        }
    ).encode()


def _signed_headers(body: bytes) -> dict[str, str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01HBENCHWEBHOOK",
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": sign(SECRET, stamp.encode() + body),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> int:
    """One HTTP/1.1 POST on a kept-alive connection; the status (the body is read and dropped).

    A minimal client on purpose: at 200 requests per second a full async HTTP client spends
    more CPU than the server, and its own delays would be measured as the server's.
    """
    headers = _signed_headers(body)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _drive(
    url: str, plan: list[tuple[str, int]], rate: float, connections: int = 64
) -> tuple[list[float], dict[str, set[int]], Counter[int], float]:
    """Send ``plan`` open-loop at ``rate``; latencies (s), 2xx statuses by delivery, all statuses.

    Each request's latency runs from its scheduled start, so time spent waiting for a free
    connection counts against the server, as it would for a helpdesk.
    """
    latencies: list[float] = []
    acked: dict[str, set[int]] = {}
    statuses: Counter[int] = Counter()
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    queue: asyncio.Queue[tuple[float, str, int] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (job := await queue.get()) is not None:
            scheduled, delivery_id, ticket_id = job
            try:
                status = await _post(reader, writer, "/" + path, _envelope(delivery_id, ticket_id))
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            latencies.append(time.perf_counter() - scheduled)
            statuses[status] += 1
            if 200 <= status < 300:
                acked.setdefault(delivery_id, set()).add(status)
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    t0 = time.perf_counter()
    for i, (delivery_id, ticket_id) in enumerate(plan):
        scheduled = t0 + i / rate
        wait = scheduled - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        queue.put_nowait((scheduled, delivery_id, ticket_id))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, acked, statuses, time.perf_counter() - t0


def _drive_elsewhere(
    url: str, plan: list[tuple[str, int]], rate: float
) -> tuple[list[float], dict[str, set[int]], Counter[int], float]:
    """`_drive` in a process of its own: the fake helpdesk's threads, busy serving the
    worker's reads and writes, would otherwise hold the GIL the load generator needs, and its
    own delays would be measured as the server's."""
    job = json.dumps({"url": url, "plan": plan, "rate": rate})
    done = subprocess.run(
        [sys.executable, __file__, "--drive"],
        input=job,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(done.stdout)
    acked = {d: set(s) for d, s in out["acked"].items()}
    statuses = Counter({int(k): v for k, v in out["statuses"].items()})
    return out["latencies"], acked, statuses, out["elapsed"]


def _drive_main() -> None:
    """``--drive``: read a job on stdin, send it, print the raw results as JSON."""
    job = json.loads(sys.stdin.read())
    plan = [(d, int(t)) for d, t in job["plan"]]
    latencies, acked, statuses, elapsed = asyncio.run(_drive(job["url"], plan, job["rate"]))
    print(
        json.dumps(
            {
                "latencies": latencies,
                "acked": {d: sorted(s) for d, s in acked.items()},
                "statuses": dict(statuses),
                "elapsed": elapsed,
            }
        )
    )


def _written(fake: FakeZendesk) -> tuple[Counter[int], Counter[tuple[int, str]]]:
    """Per ticket: accepted update bodies; per (ticket, marker or tag): times written."""
    bodies: Counter[int] = Counter()
    effects: Counter[tuple[int, str]] = Counter()
    for w in fake.writes:
        if not w.accepted or not isinstance(w.body, dict):
            continue
        items = list(w.body.get("tickets", []))
        if "ticket" in w.body:
            found = re.search(r"/tickets/(\d+)", w.path)
            items.append({"id": int(found.group(1)) if found else 0, **w.body["ticket"]})
        for t in items:
            tid = int(t.get("id", 0))
            bodies[tid] += 1
            for m in MARKER.findall(json.dumps(t.get("comment") or {})):
                effects[(tid, m)] += 1
            for tag in t.get("additional_tags", []):
                effects[(tid, "tag:" + tag)] += 1
    return bodies, effects


def _server_acks(metrics: str) -> dict[str, float]:
    """The server's own acknowledgement histogram, as fractions answered within each bound.

    It times a request from the handler's start to its answer, so comparing it with
    ``p99_ms`` (send to answer, seen by the client) tells the handler's own time (parsing,
    signature, the inbox commit) from the time a request waits before it runs.
    """
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        found = re.match(r'slaplug_webhook_ack_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0.0) + float(found.group(2))
    total = counts.get("+Inf", 0.0)
    if not total:
        return {}
    return {
        f"le_{float(le) * 1000:g}ms": round(n / total, 4)
        for le, n in counts.items()
        if le != "+Inf" and float(le) in (0.01, 0.02, 0.05, 0.1)
    }


def run(
    rate: float = 200.0,
    seconds: float = 60.0,
    duplicates: float = 0.1,
    seed: int = 0,
    drain_timeout: float = 600.0,
    store: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return its figures (see the module docstring).

    Args:
        store: The store URL; default a SQLite file in a temporary folder.
    """
    rng = random.Random(seed)
    total = int(rate * seconds)
    with (
        tempfile.TemporaryDirectory(prefix="slaplug-bench-") as tmp,
        FakeZendesk.start(
            now=datetime.now(UTC) - timedelta(days=10),
            tickets=1,
            days=1,
            job_complete_after=0.02,
            job_polls=1,
        ) as fake,
    ):
        # The plan: unique deliveries, each for its own new ticket, and re-sent earlier ids.
        plan: list[tuple[str, int]] = []
        unique: dict[str, int] = {}
        for _ in range(total):
            if unique and rng.random() < duplicates:
                delivery_id = rng.choice(list(unique)[-50:])  # a retry comes soon after
                plan.append((delivery_id, unique[delivery_id]))
                continue
            created = fake.simulate("create", subject="bench", priority="urgent")
            delivery_id = str(uuid.UUID(int=rng.getrandbits(128)))
            unique[delivery_id] = int(created["ticket"]["id"])
            plan.append((delivery_id, unique[delivery_id]))

        config = Path(tmp) / "slaplug.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": store or f"sqlite:///{Path(tmp) / 'slaplug.db'}",
                    "rules": [str(REPO / "rules" / "default.yaml")],
                    # The shipped rules notify these channels; declared empty, their messages are dropped.
                    "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                    # A backfill: the fake's clock runs ten days behind, so to a default go-live
                    # (the server's start) the deliveries' thresholds are history, not written.
                    "escalate_from": "2000-01-01",
                    "connectors": {
                        "zendesk": {
                            "plugin": "zendesk",
                            "base_url": fake.base_url,
                            "email": fake.email,
                            "api_token_env": "BENCH_ZD_TOKEN",
                            "webhook_secret_env": "BENCH_ZD_HOOK",
                            "fields": {"sla_resolution_status": 360000000103},
                            "job_poll_interval": 0.02,
                        }
                    },
                }
            )
        )
        port = _free_port()
        env = {
            **os.environ,
            "BENCH_ZD_TOKEN": fake.api_token,
            "BENCH_ZD_HOOK": SECRET,
            "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
        }
        log = Path(tmp) / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "slaplug.cli", "serve", "--config", str(config)),
                    *("--port", str(port), "--log-level", "warning"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"slaplug serve did not start:\n{log.read_text()}")
                time.sleep(0.05)

            latencies, acked, statuses, elapsed = _drive_elsewhere(
                f"{base}/webhooks/zendesk", plan, rate
            )
            drain_started = time.monotonic()
            inbox: dict[str, int] = {}
            while time.monotonic() - drain_started < drain_timeout:
                health = httpx.get(f"{base}/healthz", timeout=10).json()
                inbox = health.get("inbox", inbox)  # a 503 (a worker restarting) has none
                if "inbox" in health and inbox.get("pending", 0) + inbox.get("leased", 0) == 0:
                    break
                time.sleep(0.2)
            drain_s = time.monotonic() - drain_started
            server_acks = _server_acks(httpx.get(f"{base}/metrics", timeout=10).text)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()

        bodies, effects = _written(fake)
        # Deliveries still in the inbox when the drain timed out are late, not lost: they are
        # reported as "unfinished" and not counted as lost.
        unfinished = inbox.get("pending", 0) + inbox.get("leased", 0)
        unacked = sum(1 for d in unique if d not in acked)
        unwritten = sum(1 for d, tid in unique.items() if d in acked and bodies[tid] == 0)
        lost = unacked + max(0, unwritten - unfinished)
        doubled = sum(n - 1 for n in effects.values() if n > 1)
        return {
            "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
            "rps": round(len(latencies) / elapsed, 1),
            "lost": lost,
            "doubled": doubled,
            "sent": len(plan),
            "unique": len(unique),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "drain_s": round(drain_s, 2),
            "server_acks": server_acks,
            "unfinished": unfinished,
            "inbox": inbox,
            "store": "postgresql" if store and store.startswith("postgres") else "sqlite",
            "rate": rate,
            "seconds": seconds,
            "duplicates": duplicates,
        }


def main() -> None:
    """Parse arguments, run, print one JSON line."""
    if sys.argv[1:] == ["--drive"]:
        _drive_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="Requests per second.")
    parser.add_argument("--seconds", type=float, default=60.0, help="How long to send.")
    parser.add_argument("--duplicates", type=float, default=0.1, help="Fraction re-sent.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--drain-timeout", type=float, default=600.0, help="Seconds to wait for the worker."
    )
    parser.add_argument(
        "--store",
        help="Store URL, e.g. postgresql://postgres@127.0.0.1:5432/bench (an empty database); "
        "default a fresh SQLite file.",
    )
    args = parser.parse_args()
    figures = run(
        args.rate, args.seconds, args.duplicates, args.seed, args.drain_timeout, args.store
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
