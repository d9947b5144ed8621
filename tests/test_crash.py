"""Exactly once, nothing lost: a real `slaplug sync` killed at 20 points, then run again.

Each scenario starts a fake Zendesk whose tickets are four days old (so many clocks are at
risk or breached), kills `slaplug sync --once` with SIGKILL at one named step, runs it again to
completion, and runs it a third time. Then it checks what the platform saw:

* nothing doubled: every comment marker appears once, no tag was added twice, and the third
  run wrote nothing;
* nothing lost: every action is final in the ledger (none pending, none dead), and each
  applied comment and tag is on the ticket.

The suite runs on SQLite and, when it is reachable, on the PostgreSQL at 127.0.0.1:5432.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from slaplug_zendesk.fake import FakeZendesk

pytest.importorskip("slaplug_zendesk.write", reason="the Zendesk plugin is not installed")

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Keyed markers (16 hex digits of an HMAC under the install's secret: slaplug_zendesk.write).
MARKER = re.compile(r"\[slaplug [0-9a-f]{16}\]")
#: The first run's "now" (``SLAPLUG_NOW``), pinned: a Friday, 13:00 in Berlin; each later run
#: is `RUN_GAP` later, past the lapsed leases of a killed one. With the real clock, what the
#: shipped rules (Berlin business hours) planned depended on the weekday and hour the test ran,
#: and a threshold crossed between the second and third runs made the third one write. The
#: fake's clock starts four days earlier, at the instant its account is built against
#: (``DEFAULT_END``, a Monday noon UTC).
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
RUN_GAP = timedelta(seconds=2)  # more than the configured outbox lease (1s)

#: Named steps of slaplug/sync.py and the Zendesk connector, with the visit to die on.
POINTS = [
    "page-read:1", "page-read:2",
    "snapshots-saved:1", "snapshots-saved:3",
    "measures-recorded:1", "measures-recorded:2",
    "actions-planned:1", "actions-planned:2", "actions-planned:3",
    "before-cursor:1", "before-cursor:2",
    "cursor-committed:1", "cursor-committed:3",
    "claimed:1", "claimed:2",
    "zendesk-job-submitted:1",
    "applied:1", "applied:2", "applied:3",
    "completed:1", "completed:2",
]


def _pg_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slaplug.db'}"
        return
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (trust auth, database test)")
    name = f"slaplug_crash_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _configure(tmp_path: Path, fake: FakeZendesk, store_url: str) -> Path:
    config = tmp_path / "slaplug.yaml"
    config.write_text(yaml.safe_dump({
        "store": store_url,
        "rules": [str(REPO / "rules" / "default.yaml")],
        # The shipped rules notify these channels; declared empty, their messages are dropped.
        "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
        "engine": "python",
        # A backfill: the scenario is the history's writes (a default go-live holds them).
        "escalate_from": "2000-01-01",
        "connectors": {"zendesk": {
            "plugin": "zendesk",
            "base_url": fake.base_url,
            "email": fake.email,
            "api_token_env": "CRASH_ZD_TOKEN",
            "fields": {"sla_resolution_status": 360000000103},
            "page_size": 50,
            "job_poll_interval": 0.05,
        }},
        # A killed sync's leases lapse after this; the test waits it out before the rerun.
        "outbox": {"lease": "1s", "batch": 5},
    }))
    return config


def _exit_for(run: subprocess.CompletedProcess[str]) -> int:
    """The exit code a finished `sync --once --json` owes: 4 when actions failed for good."""
    lines = run.stdout.strip().splitlines()
    return 4 if lines and json.loads(lines[-1]).get("failed") else 0


def _sync(
    config: Path, token: str, now: datetime, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CRASH_ZD_TOKEN": token,
        "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
        "SLAPLUG_NOW": now.isoformat(),
    }
    env.pop("SLAPLUG_CRASH_AT", None)
    if crash_at:
        env["SLAPLUG_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "sync", "--once", "--json", "--config", str(config)],
        capture_output=True, text=True, check=False, env=env, timeout=240,
    )


def _accepted_bodies(fake: FakeZendesk) -> list[dict[str, Any]]:
    """Per-ticket update bodies the platform accepted (bulk bodies split per ticket)."""
    out = []
    for w in fake.writes:
        if not w.accepted or w.method != "PUT":
            continue
        body = w.body if isinstance(w.body, dict) else json.loads(w.body or "{}")
        if "tickets" in body:
            out.extend(body["tickets"])
        elif "ticket" in body:
            ticket_id = int(re.search(r"/tickets/(\d+)", w.path).group(1))  # type: ignore[union-attr]
            out.append({"id": ticket_id, **body["ticket"]})
    return out


def _ledger(store_url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT key, status, detail, action FROM ledger")).mappings().all()
            pending = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
    finally:
        engine.dispose()
    assert pending == 0, "the outbox still holds actions after a clean run"
    return [dict(r) for r in rows]


@pytest.mark.parametrize("point", POINTS)
def test_sync_killed_at_a_step_then_rerun_applies_every_action_exactly_once(
    point: str, store_url: str, tmp_path: Path
) -> None:
    with FakeZendesk.start(
        now=NOW - timedelta(days=4), tickets=120, days=14, job_complete_after=0.1, job_polls=1
    ) as fake:
        config = _configure(tmp_path, fake, store_url)
        crashed = _sync(config, fake.api_token, NOW, crash_at=point)
        assert crashed.returncode == -signal.SIGKILL, (
            f"the sync did not reach {point}:\n{crashed.stdout}\n{crashed.stderr}"
        )
        time.sleep(1.2)  # the dead process's leases lapse
        recovered = _sync(config, fake.api_token, NOW + RUN_GAP)
        # 4: the shipped rules assign to a group "escalations" the fake lacks; those actions
        # fail for good, and the sync says so (issue 16). Anything else is a crash.
        assert recovered.returncode == _exit_for(recovered), recovered.stderr
        before_third = len(fake.writes)
        third = _sync(config, fake.api_token, NOW + 2 * RUN_GAP)
        assert third.returncode == _exit_for(third), third.stderr
        assert json.loads(third.stdout.strip().splitlines()[-1])["applied"] == 0
        assert len(fake.writes) == before_third, "a third run over unchanged tickets wrote"

        bodies = _accepted_bodies(fake)
        # Nothing doubled on the platform.
        markers = [m for b in bodies for m in MARKER.findall((b.get("comment") or {}).get("body", ""))]
        assert markers, "the scenario must write comments to be meaningful"
        assert [m for m, n in Counter(markers).items() if n > 1] == []
        tag_adds = Counter((b["id"], t) for b in bodies for t in b.get("additional_tags", []))
        assert [k for k, n in tag_adds.items() if n > 1] == []
        # Nothing lost: every action final, and its effect on the ticket.
        ledger = _ledger(store_url)
        # Final means applied, already there, skipped or failed for good (a 4xx the platform
        # will never accept, such as a group it does not have): never pending, never dead.
        final = ("applied", "already", "skipped", "failed")
        assert ledger and all(r["status"] in final for r in ledger), [
            (r["key"], r["status"], r["detail"]) for r in ledger if r["status"] not in final
        ]
        seen_markers = set(markers)
        noted = 0
        for row in ledger:
            action = json.loads(row["action"])
            if row["status"] not in ("applied", "already"):
                continue
            ticket = fake.ticket(int(action["ticket_id"]))
            if action["kind"] == "comment":
                noted += 1  # the marker is keyed by a secret: count them, one per note
            if action["kind"] == "add_tag":
                removed = any(
                    json.loads(r["action"])["kind"] == "remove_tag"
                    and json.loads(r["action"])["ticket_id"] == action["ticket_id"]
                    and json.loads(r["action"])["params"]["tag"] == action["params"]["tag"]
                    for r in ledger
                )
                assert removed or action["params"]["tag"] in ticket["tags"], (row["key"], ticket["tags"])
        assert len(seen_markers) >= noted, "a note the ledger calls applied is missing"


def test_two_syncs_at_once_on_one_postgresql_store_never_write_twice(tmp_path: Path) -> None:
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (trust auth, database test)")
    name = f"slaplug_pair_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        with FakeZendesk.start(
            now=NOW - timedelta(days=4), tickets=120, days=14, job_complete_after=0.1, job_polls=1
        ) as fake:
            config = _configure(tmp_path, fake, url)
            env = {
                **os.environ,
                "CRASH_ZD_TOKEN": fake.api_token,
                "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
                "SLAPLUG_NOW": NOW.isoformat(),
            }
            env.pop("SLAPLUG_CRASH_AT", None)
            cmd = [sys.executable, "-m", "slaplug.cli", "sync", "--once", "--json", "--config", str(config)]
            procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
            outs = [p.communicate(timeout=240) for p in procs]
            assert [p.returncode for p in procs] == [
                4 if json.loads(o[0].strip().splitlines()[-1])["failed"] else 0 for o in outs
            ], [o[1][-2000:] for o in outs]
            applied = [json.loads(o[0].strip().splitlines()[-1])["applied"] for o in outs]
            assert sum(applied) > 0
            bodies = _accepted_bodies(fake)
            markers = [m for b in bodies for m in MARKER.findall((b.get("comment") or {}).get("body", ""))]
            assert markers and [m for m, n in Counter(markers).items() if n > 1] == []
            tag_adds = Counter((b["id"], t) for b in bodies for t in b.get("additional_tags", []))
            assert [k for k, n in tag_adds.items() if n > 1] == []
            ledger = _ledger(url)
            assert all(r["status"] in ("applied", "already", "skipped", "failed") for r in ledger)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
