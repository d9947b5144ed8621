"""The quarantine table and lease extension on both databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from slaplug.model import Action, ActionKind, Metric
from slaplug.store import Store, StoreSettings

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


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
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    settings = StoreSettings(lease=timedelta(seconds=10))
    if request.param == "sqlite":
        with Store.open(f"sqlite:///{tmp_path / 's.db'}", settings=settings) as s:
            yield s
        return
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (trust auth, database test)")
    name = f"slaplug_quarantine_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        with Store.open(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                        settings=settings) as s:
            yield s
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_quarantine_counts_meetings_drops_the_due_entry_and_releases(store: Store) -> None:
    store.set_due("z", "1", T0)
    store.quarantine([("z", "1", "check", "first"), ("z", "2\ud800", "evaluate", "bad \udfff")],
                     now=T0)
    store.quarantine([("z", "1", "evaluate", "second")], now=T0 + timedelta(minutes=1))
    held = {q.ticket_id: q for q in store.quarantined("z")}
    assert set(held) == {"1", "2\\ud800"}
    one = held["1"]
    assert (one.stage, one.reason, one.times) == ("evaluate", "second", 2)
    assert (one.first_seen, one.last_seen) == (T0, T0 + timedelta(minutes=1))
    assert held["2\\ud800"].reason == "bad \\udfff"
    assert store.due_before(T0 + timedelta(days=1)) == [], "a held ticket has no due entry"
    assert store.quarantined_ids("z") == {"1", "2\\ud800"} and store.quarantine_count() == 2
    assert store.release("z", ["1", "2\ud800", "3"]) == 2
    assert store.quarantined() == []
    with pytest.raises(ValueError, match="stage"):
        store.quarantine([("z", "1", "lunch", "x")])


def test_extend_leases_on_both_databases(store: Store) -> None:
    action = Action(kind=ActionKind.ADD_TAG, params={"tag": "t"}, connector="z", ticket_id="1",
                    key="z:1:k", escalation="e", level=1, policy="p",
                    metric=Metric.FIRST_RESPONSE, cycle=1)
    store.plan([action], now=T0)
    (claim,) = store.outbox_claim("z", now=T0, worker_id="me")
    assert store.outbox_extend_leases([claim.key], "someone-else", now=T0 + timedelta(seconds=8)) == 0
    assert store.outbox_extend_leases([claim.key], "me", now=T0 + timedelta(seconds=8)) == 1
    assert store.outbox_claim("z", now=T0 + timedelta(seconds=12), worker_id="other") == []
    assert len(store.outbox_claim("z", now=T0 + timedelta(seconds=19), worker_id="other")) == 1
