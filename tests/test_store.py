"""The store on SQLite (a temporary file) and on PostgreSQL (a fresh database per run).

PostgreSQL tests run against ``SLAPLUG_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each test in its own schema of a database
created for the run; they are skipped, saying why, only when that server cannot be reached.
Tests never wait on the wall clock: leases and backoff are checked by passing ``now``.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from store_worker import T0, action

from slaplug.errors import ConfigError, TimeError
from slaplug.model import (
    EventKind,
    MeasureState,
    Metric,
    SlaMeasure,
    Ticket,
    TicketEvent,
)
from slaplug.store import Store, StoreSettings
from slaplug.store.migrations import MIGRATIONS, current_version, migrate
from slaplug.store.schema import SCHEMA_VERSION, schema_version

WORKER = Path(__file__).with_name("store_worker.py")
PG_ADMIN = os.environ.get("SLAPLUG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_schemas = itertools.count()


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database created for this test run, dropped at its end; yields its URL."""
    psycopg = pytest.importorskip(
        "psycopg", reason="psycopg not installed: pip install 'slaplug[postgres]'"
    )
    conninfo = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN} (set SLAPLUG_TEST_POSTGRES): {exc}")
    name = f"slaplug_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield conninfo.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for an empty store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    import psycopg

    base = request.getfixturevalue("pg_database")
    schema = f"t{next(_schemas)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    # Each test gets a schema of its own through the connection's search_path.
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as s:
        yield s


def ticket(tid: str = "1", connector: str = "zd", **kw: Any) -> Ticket:
    kw.setdefault(
        "events",
        (
            TicketEvent(EventKind.CREATED, T0),
            TicketEvent(EventKind.AGENT_REPLY, T0 + timedelta(hours=1)),
        ),
    )
    return Ticket(id=tid, connector=connector, created_at=T0, status=kw.pop("status", "open"), **kw)


def measure(
    state: MeasureState = MeasureState.RUNNING, cycle: int = 1, breached: bool = False
) -> SlaMeasure:
    return SlaMeasure(
        policy="gold",
        metric=Metric.RESOLUTION,
        cycle=cycle,
        state=state,
        target=timedelta(hours=4),
        start=T0,
        deadline=T0 + timedelta(hours=4),
        elapsed=timedelta(hours=1),
        remaining=timedelta(hours=3),
        percent=25.0,
        breached_at=T0 + timedelta(hours=4) if breached else None,
        stopped_at=None,
        calendar="office",
        priority="high",
        pauses=((T0, T0 + timedelta(minutes=5)),),
    )


# -- running workers in processes of their own ------------------------------------------------


def _run_together(*argvs: list[str]) -> list[Any]:
    """Start one store_worker.py process per argv, release them at once, return their JSON."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        for p in procs:  # every worker is connected and waiting...
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in procs:  # ...then they all go
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate()[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * len(procs)
    return [json.loads(out) for out in outputs]


# -- migrations ------------------------------------------------------------------------------


def test_migrations_are_versioned_and_idempotent(store: Store) -> None:
    assert migrate(store.engine) == []  # already current: nothing to do
    assert migrate(store.engine) == []
    with store.engine.connect() as conn:
        assert current_version(conn) == SCHEMA_VERSION
        assert (
            conn.execute(select(func.count()).select_from(schema_version)).scalar_one()
            == len(MIGRATIONS)
        )


def test_a_schema_newer_than_this_slaplug_is_refused(url: str) -> None:
    with Store.open(url) as store, store.engine.begin() as conn:
        conn.execute(
            schema_version.insert().values(version=999, description="future", applied_at=T0)
        )
    with pytest.raises(ConfigError, match="newer than this slaplug"):
        Store.open(url)


def test_two_processes_opening_a_fresh_store_migrate_it_once(url: str) -> None:
    assert _run_together(["open", url], ["open", url]) == ["opened", "opened"]
    with Store.open(url) as store, store.engine.connect() as conn:
        versions = conn.execute(select(schema_version.c.version)).scalars().all()
        # each step recorded once (numbers are reserved per branch: a gap is fine)
        assert versions == [m.version for m in MIGRATIONS]


# -- cursors, snapshots, due index -----------------------------------------------------------


def test_cursor_round_trip(store: Store) -> None:
    assert store.get_cursor("zd") is None
    store.commit_cursor("zd", "c1")
    store.commit_cursor("zd", "c2")
    store.commit_cursor("jira", "j1")
    assert (store.get_cursor("zd"), store.get_cursor("jira")) == ("c2", "j1")


def test_save_snapshots_writes_only_changed_tickets(store: Store) -> None:
    a, b = ticket("1"), ticket("2", fields={"tier": "gold"}, tags=frozenset({"vip"}))
    assert store.save_snapshots([a, b]) == [True, True]
    assert store.save_snapshots([a, b]) == [False, False]
    b2 = ticket("2", fields={"tier": "gold"}, tags=frozenset({"vip"}), status="pending")
    assert store.save_snapshots([a, b2]) == [False, True]
    assert store.load_snapshot("zd", "2") == b2
    assert store.load_snapshot("zd", "404") is None
    # A ticket read without its creation event hashes like its stored form, which has one.
    bare = ticket("3", events=(TicketEvent(EventKind.AGENT_REPLY, T0),))
    assert store.save_snapshots([bare]) == [True]
    loaded = store.load_snapshot("zd", "3")
    assert loaded is not None and [e.kind for e in loaded.events] == [
        EventKind.AGENT_REPLY,
        EventKind.CREATED,
    ]
    # Events at one instant listed in another order are the same history.
    swapped = ticket(
        "3", events=(TicketEvent(EventKind.CREATED, T0), TicketEvent(EventKind.AGENT_REPLY, T0))
    )
    assert store.save_snapshots([loaded, bare, swapped]) == [False, False, False]
    hashes = store.snapshot_hashes("zd", ["1", "2", "404"])
    assert set(hashes) == {"1", "2"} and hashes["1"] != hashes["2"]


def test_merge_history_deduplicates_by_kind_time_and_value(store: Store) -> None:
    reply = TicketEvent(EventKind.AGENT_REPLY, T0 + timedelta(hours=1))
    pending = TicketEvent(EventKind.STATUS_CHANGED, T0 + timedelta(hours=2), "pending")
    store.save_snapshots([ticket("1", events=(reply, pending))])
    # The same reply in another offset, the same instant with another value, and a new event.
    cet = reply.at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    again = TicketEvent(EventKind.AGENT_REPLY, cet, actor="agent-7")
    open_ = TicketEvent(EventKind.STATUS_CHANGED, T0 + timedelta(hours=2), "open")
    solved = TicketEvent(EventKind.SOLVED, T0 + timedelta(hours=3))
    merged = store.merge_history(ticket("1", events=(again, open_, solved)))
    kinds = [(e.kind.value, e.value) for e in merged.events]
    assert kinds == [
        ("created", None),
        ("agent_reply", None),
        ("status_changed", "pending"),
        ("status_changed", "open"),
        ("solved", None),
    ]
    assert merged.events[1].actor == "agent-7"  # the newer copy wins
    unknown = ticket("99", events=(solved,))
    assert store.merge_histories([unknown]) == [unknown]


def test_a_large_first_import_refreshes_postgresql_statistics(store: Store) -> None:
    # Until a table is analyzed PostgreSQL plans its look-ups for an empty table; a first
    # import must not wait for autovacuum to notice (reltuples is -1 before any ANALYZE).
    if store.dialect != "postgresql":
        pytest.skip("statistics are PostgreSQL's concern; SQLite plans these by its indexes")

    def estimated_rows() -> float:
        with store.engine.connect() as conn:
            return float(
                conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('snapshots')")
                ).scalar_one()
            )

    for start in range(0, 6000, 1000):
        store.save_snapshots([ticket(str(i)) for i in range(start, start + 1000)])
    assert estimated_rows() >= 5000


def test_iter_snapshots_pages_through_every_ticket(store: Store) -> None:
    store.save_snapshots(
        [ticket(str(i)) for i in range(7)] + [ticket(str(i), "jira") for i in range(4)]
    )
    assert sorted(t.key for t in store.iter_snapshots(batch=3)) == sorted(
        [f"zd:{i}" for i in range(7)] + [f"jira:{i}" for i in range(4)]
    )
    assert [t.id for t in store.iter_snapshots("jira", batch=2)] == ["0", "1", "2", "3"]


def test_due_index_lists_passed_thresholds_earliest_first(store: Store) -> None:
    store.set_due("zd", "1", T0 + timedelta(hours=2))
    store.set_due_many(
        [("zd", "2", T0 + timedelta(hours=1)), ("jira", "9", T0 + timedelta(hours=3))]
    )
    store.set_due("zd", "3", T0 + timedelta(days=1))
    due = store.due_before(T0 + timedelta(hours=3))
    assert [(d.connector, d.ticket_id) for d in due] == [("zd", "2"), ("zd", "1"), ("jira", "9")]
    assert due[0].due_at == T0 + timedelta(hours=1)
    assert [d.ticket_id for d in store.due_before(T0 + timedelta(hours=3), limit=1)] == ["2"]
    assert [d.ticket_id for d in store.due_before(T0 + timedelta(hours=3), connector="jira")] == [
        "9"
    ]
    store.set_due("zd", "2", None)  # no threshold left
    store.set_due("zd", "1", T0 + timedelta(hours=5))  # moved on
    assert [d.ticket_id for d in store.due_before(T0 + timedelta(hours=3))] == ["9"]


# -- ledger and outbox -----------------------------------------------------------------------


def test_plan_refuses_keys_already_in_the_outbox_or_the_ledger(store: Store) -> None:
    assert store.plan(
        [action("1/warn"), action("2/warn"), action("3/warn", shadow=True)], now=T0
    ) == ["1/warn", "2/warn"]
    assert store.plan([action("1/warn"), action("2/warn")], now=T0) == []  # pending
    for c in store.outbox_claim("zd", now=T0):
        assert store.complete(c.key, "applied")
    assert store.plan([action("1/warn"), action("2/warn"), action("4/warn")], now=T0) == ["4/warn"]
    assert store.ledger_status("1/warn") == "applied"
    assert store.ledger_status("3/warn") is None  # shadow actions are never stored
    stats = store.outbox_stats()
    assert (stats.pending, stats.leased, stats.dead) == (1, 0, 0)
    assert stats.ledger == {"applied": 2, "pending": 1}


def test_complete_many_ends_each_pending_key_once(store: Store) -> None:
    store.plan([action("1/warn"), action("2/warn"), action("3/warn")], now=T0)
    assert store.complete("3/warn", "skipped")
    done = store.complete_many(
        [
            ("1/warn", "applied", ""),
            ("2/warn", "failed", "422: no such field"),
            ("1/warn", "failed", "a second outcome for one key does not count"),
            ("3/warn", "applied", "already final"),
            ("9/warn", "applied", "never planned"),
        ],
        now=T0,
    )
    assert done == [True, True, False, False, False]
    assert [store.ledger_status(k) for k in ("1/warn", "2/warn", "3/warn", "9/warn")] == [
        "applied",
        "failed",
        "skipped",
        None,
    ]
    stats = store.outbox_stats()
    assert (stats.pending, stats.leased, stats.dead) == (0, 0, 0)
    with pytest.raises(ValueError, match="does not end an action"):
        store.complete_many([("1/warn", "pending", "")])


def test_two_processes_completing_the_same_keys_end_each_once(url: str) -> None:
    with Store.open(url) as store:
        store.plan([action(f"{i}/warn") for i in range(200)], now=T0)
    first, second = _run_together(["complete", url, "applied"], ["complete", url, "skipped"])
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(f"{i}/warn" for i in range(200))
    with Store.open(url) as store:
        statuses = [store.ledger_status(f"{i}/warn") for i in range(200)]
    assert statuses == ["applied" if f"{i}/warn" in first else "skipped" for i in range(200)]


def test_claimed_actions_round_trip(store: Store) -> None:
    a = action("7/warn")
    store.plan([a], now=T0)
    [c] = store.outbox_claim("zd", now=T0, worker_id="w1")
    assert (c.action, c.attempts, c.lease_until) == (a, 1, T0 + store.settings.lease)
    assert store.outbox_claim("zd", now=T0) == []  # leased
    assert store.outbox_claim("jira", now=T0) == []  # another connector's queue


def test_claims_are_exclusive_across_two_processes(url: str) -> None:
    with Store.open(url) as store:
        keys = store.plan([action(f"{i}/warn") for i in range(300)], now=T0)
    results = _run_together(["claim", url, "w0"], ["claim", url, "w1"])
    taken = [r["taken"] for r in results]
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == sorted(keys)  # each key exactly once, none lost
    assert all(all(r["recorded"]) for r in results)
    with Store.open(url) as store:
        stats = store.outbox_stats()
        assert (stats.pending, stats.leased, stats.dead, dict(stats.ledger)) == (
            0,
            0,
            0,
            {"applied": 300},
        )


def test_two_processes_planning_the_same_actions_queue_each_once(url: str) -> None:
    Store.open(url).close()
    queued = _run_together(["plan", url], ["plan", url])
    assert sorted(queued[0] + queued[1]) == sorted(f"{i}/warn" for i in range(200))
    with Store.open(url) as store:
        assert store.outbox_stats().pending == 200


def test_fail_backs_off_honours_retry_after_and_dead_letters(url: str) -> None:
    settings = StoreSettings(max_attempts=3, backoff_base=timedelta(seconds=10))
    with Store.open(url, settings=settings) as store:
        store.plan([action("1/warn")], now=T0)
        [c] = store.outbox_claim("zd", now=T0)
        assert store.outbox_fail(c.key, "503", now=T0) == "pending"
        assert store.outbox_claim("zd", now=T0 + timedelta(seconds=9)) == []
        [c] = store.outbox_claim("zd", now=T0 + timedelta(seconds=10))
        assert c.attempts == 2
        t1 = T0 + timedelta(seconds=10)
        # Backoff would be 20 s; the platform asked for 100.
        assert store.outbox_fail(c.key, "429", retry_after=100, now=t1) == "pending"
        assert store.outbox_claim("zd", now=t1 + timedelta(seconds=99)) == []
        t2 = t1 + timedelta(seconds=100)
        [c] = store.outbox_claim("zd", now=t2)
        assert store.outbox_fail(c.key, "timeout", now=t2) == "dead"
        assert store.outbox_claim("zd", now=t2 + timedelta(days=30)) == []
        [dead] = store.outbox_dead_letters()
        assert (dead.key, dead.attempts, dead.last_error, dead.dead_at) == (
            "1/warn",
            3,
            "timeout",
            t2,
        )
        assert dead.action == action("1/warn")
        assert store.plan([action("1/warn")], now=t2) == []  # parked, not forgotten
        assert store.outbox_retry_dead(["other"], now=t2) == 0
        assert store.outbox_retry_dead(now=t2) == 1
        [c] = store.outbox_claim("zd", now=t2)
        assert c.attempts == 1
        assert store.complete(c.key, "applied")
        assert store.outbox_fail(c.key, "late", now=t2) is None


def test_a_worker_killed_holding_a_lease_loses_nothing(url: str) -> None:
    with Store.open(url) as store:
        store.plan([action("1/warn")], now=T0)
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), "crash", url], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "1/warn"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        lease = store.settings.lease
        assert store.outbox_claim("zd", now=T0 + lease - timedelta(seconds=1)) == []  # still leased
        [c] = store.outbox_claim("zd", now=T0 + lease, worker_id="heir")
        assert (c.key, c.attempts) == ("1/warn", 2)
        assert store.complete(c.key, "already")  # the connector found the earlier write
        assert store.ledger_status("1/warn") == "already"


def test_an_expired_lease_on_the_last_attempt_becomes_a_dead_letter(url: str) -> None:
    with Store.open(url, settings=StoreSettings(max_attempts=1)) as store:
        store.plan([action("1/warn")], now=T0)
        assert len(store.outbox_claim("zd", now=T0)) == 1
        assert store.outbox_claim("zd", now=T0 + timedelta(hours=1)) == []
        [dead] = store.outbox_dead_letters("zd")
        assert "lease" in (dead.last_error or "")


def test_complete_is_recorded_once_and_only_with_a_final_status(store: Store) -> None:
    store.plan([action("1/warn")], now=T0)
    with pytest.raises(ValueError, match="reschedule"):
        store.complete("1/warn", "conflict")
    assert store.complete("1/warn", "failed", "422: tag rejected")
    assert not store.complete("1/warn", "applied")  # a second worker after a lapsed lease
    assert store.ledger_status("1/warn") == "failed"
    assert not store.complete("never-planned")


def test_reschedule_releases_a_conflicting_key_and_marks_the_ticket_due(store: Store) -> None:
    store.plan([action("5/warn")], now=T0)
    store.outbox_claim("zd", now=T0)
    assert store.reschedule("5/warn", now=T0)
    assert [(d.ticket_id, d.due_at) for d in store.due_before(T0)] == [("5", T0)]
    assert store.plan([action("5/warn")], now=T0) == ["5/warn"]  # re-evaluation may plan it again
    store.complete("5/warn")
    assert not store.reschedule("5/warn", now=T0)  # applied keys stay applied
    assert store.plan([action("5/warn")], now=T0) == []


# -- measures ------------------------------------------------------------------------------


def test_record_measure_changes_in_one_batch_names_exactly_the_changed_heads(store: Store) -> None:
    # Hundreds of tickets in one call (more than one statement's worth of rows), half of
    # them changed since the last call: exactly those come back, and are appended once.
    first = [(f"zd:{i}", [measure()]) for i in range(700)]
    assert len(store.record_measure_changes(first, T0)) == 700
    breached = measure(MeasureState.BREACHED, breached=True)
    second = [(f"zd:{i}", [breached if i % 2 else measure()]) for i in range(700)]
    second.append(("zd:1", [breached]))  # one ticket twice in the batch counts once
    changes = store.record_measure_changes(second, T0 + timedelta(minutes=1))
    assert sorted(k for k, _ in changes) == sorted(f"zd:{i}" for i in range(1, 700, 2))
    assert all(m == breached for _, m in changes)
    assert store.record_measure_changes(second, T0 + timedelta(minutes=2)) == []
    assert len(list(store.measures_between(T0, T0 + timedelta(hours=1)))) == 700 + 350


def test_record_measures_appends_only_changes(store: Store) -> None:
    assert store.record_measures("zd:1", [measure()], T0) == 1
    assert store.record_measures("zd:1", [measure()], T0 + timedelta(minutes=1)) == 0
    assert store.record_measures("zd:1", [measure(breached=True)], T0 + timedelta(minutes=2)) == 1
    assert (
        store.record_measures(
            "zd:1", [measure(MeasureState.BREACHED, breached=True)], T0 + timedelta(minutes=3)
        )
        == 1
    )
    assert (
        store.record_measures(
            "zd:1",
            [measure(MeasureState.BREACHED, breached=True), measure(cycle=2)],
            T0 + timedelta(minutes=4),
        )
        == 1
    )
    assert store.record_measures("zd:2", [measure()], T0 + timedelta(minutes=5)) == 1
    history = list(store.measures_between(T0, T0 + timedelta(hours=1), batch=2))
    assert [
        (r.ticket_key, r.measure.state.value, r.measure.cycle, r.measure.breached) for r in history
    ] == [
        ("zd:1", "running", 1, False),
        ("zd:1", "running", 1, True),
        ("zd:1", "breached", 1, True),
        ("zd:1", "running", 2, False),
        ("zd:2", "running", 1, False),
    ]
    assert history[0].measure == measure() and history[0].at == T0
    assert (
        len(list(store.measures_between(T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)))) == 2
    )
    assert len(list(store.measures_between(T0, T0 + timedelta(hours=1), ticket_key="zd:2"))) == 1


# -- inbox ---------------------------------------------------------------------------------


def test_inbox_deduplicates_and_survives_a_restart(url: str) -> None:
    with Store.open(url) as store:
        assert store.inbox_put("zd", "d-1", {"X-Zendesk-Webhook-Id": "w"}, b'{"id": 1}', now=T0)
        assert not store.inbox_put("zd", "d-1", {}, b"retry", now=T0)
        assert store.inbox_put("jira", "d-1", {}, b"{}", now=T0)  # ids are per connector
        [first, _] = store.inbox_claim(now=T0)
        store.inbox_done(first.id, now=T0)
    with Store.open(url) as store:  # a restart: the undone item is still there
        [item] = store.inbox_claim(now=T0 + timedelta(hours=1))
        assert (item.connector, item.delivery_id, item.body, item.attempts) == (
            "jira",
            "d-1",
            b"{}",
            2,
        )
        assert not store.inbox_put("zd", "d-1", {}, b"late retry", now=T0)  # done ids still count
        assert store.inbox_fail(item.id, "boom", now=T0 + timedelta(hours=1)) == "pending"
        assert store.inbox_stats() == {"done": 1, "pending": 1}
        assert store.inbox_purge(T0 + timedelta(seconds=1)) == 1


def test_inbox_items_round_trip_and_dead_letter(url: str) -> None:
    with Store.open(url, settings=StoreSettings(inbox_max_attempts=1)) as store:
        store.inbox_put("zd", "d-9", {"A": "b"}, b"\x00\xff", now=T0)
        [item] = store.inbox_claim(connector="zd", now=T0, worker_id="w")
        assert (dict(item.headers), item.body, item.received_at) == ({"A": "b"}, b"\x00\xff", T0)
        assert store.inbox_fail(item.id, "bad payload", now=T0) == "dead"
        assert store.inbox_claim(now=T0 + timedelta(days=1)) == []
        assert store.inbox_retry_dead(now=T0) == 1
        assert len(store.inbox_claim(now=T0)) == 1


# -- opening, errors ---------------------------------------------------------------------


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(TimeError):
        store.set_due("zd", "1", datetime(2026, 3, 2, 9))
    with pytest.raises(TimeError):
        store.outbox_claim("zd", now=datetime(2026, 3, 2, 9))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a url", "is not a URL"),
        ("mysql://u@h/db", "SQLite .* or PostgreSQL"),
        ("postgresql+psycopg2://u@127.0.0.1/db", r"pip install 'slaplug\[postgres\]'"),
        ("sqlite:////nonexistent-dir/x/slaplug.db", "cannot open the store"),
        ("postgresql://postgres@127.0.0.1:1/db", "cannot open the store"),
    ],
)
def test_bad_urls_are_config_errors_saying_what_to_do(bad: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Store.open(bad)


def test_a_dedicated_store_runs_every_transaction_on_one_held_connection(store: Store) -> None:
    with store.dedicated(busy_timeout_s=0) as mine:
        assert mine.inbox_put("zd", "d-1", {}, b"{}", now=T0)
        assert [i.delivery_id for i in mine.inbox_claim(now=T0)] == ["d-1"]
        assert store.engine.pool.checkedout() == 1  # the held one, between transactions too
        assert store.inbox_stats() == {"leased": 1}  # committed: the pool's others see it
    assert store.engine.pool.checkedout() == 0


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
