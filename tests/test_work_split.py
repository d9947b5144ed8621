"""Several processes on one store split the work instead of repeating or undoing it (issue 20).

On SQLite (a file) and PostgreSQL (a schema of the test database, `test_store`'s fixtures):

* a snapshot read before a newer one was saved never replaces it;
* a slower reader cannot move a connector's cursor back;
* due thresholds are claimed with a lease, so two syncs never both evaluate a due ticket;
* inbox deliveries processed in one batch are marked done in one statement, and their
  leases, like due leases, are extended while the batch runs.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event
from test_store import pg_database, ticket, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.connectors import ApplyResult, CallStats, Capability, TicketPage, WebhookEvent
from slaplug.model import Action, Ticket
from slaplug.rules.pack import RulePack
from slaplug.store import Store, StoreSettings
from slaplug.store.tickets import DUE_BUCKETS, Saved, due_bucket
from slaplug.sync import Sync
from slaplug.web.worker import Worker

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "default.yaml"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(url: str) -> Iterator[Store]:  # noqa: F811
    with Store.open(url) as s:
        yield s


def _version(tid: str, minutes: int, status: str = "open") -> Ticket:
    return ticket(tid, updated_at=T0 + timedelta(minutes=minutes), status=status)


# -- snapshots -------------------------------------------------------------------------------


def test_an_older_read_never_replaces_a_newer_snapshot(store: Store) -> None:
    newer, older = _version("1", 30, "pending"), _version("1", 10, "open")
    assert store.store_snapshots([newer]) == [Saved.WRITTEN]
    assert store.store_snapshots([older]) == [Saved.STALE]
    assert store.save_snapshots([older]) == [False]
    assert store.load_snapshot("zd", "1") == newer
    # The same time (a merged history) or a later one is written as before.
    later = _version("1", 45, "solved")
    assert store.save_snapshots([later]) == [True]
    assert store.load_snapshot("zd", "1") == later
    # Without an updated_at there is nothing to compare: written.
    assert store.save_snapshots([ticket("1", status="closed")]) == [True]


# -- cursors ---------------------------------------------------------------------------------


def test_a_cursor_commit_from_a_start_another_reader_moved_is_refused(store: Store) -> None:
    assert store.commit_cursor("zd", "p1", expected=None)
    assert store.commit_cursor("zd", "p2", expected="p1")
    assert store.commit_cursor("zd", "p3", expected="p2")
    # A slower reader that started before "p1" was stored commits its first page.
    assert not store.commit_cursor("zd", "p1", expected=None)
    assert not store.commit_cursor("zd", "p2", expected="p1")
    assert store.get_cursor("zd") == "p3"
    assert store.commit_cursor("zd", "p3", expected="p2")  # a repeat of what is stored: fine
    store.commit_cursor("zd", "reset")  # without expected: unconditional, as before
    assert store.get_cursor("zd") == "reset"


class PagedDesk:
    """A connector stand-in serving pages of tickets; ``hold`` pauses before the first page."""

    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK})

    def __init__(self, pages: list[TicketPage], hold: threading.Event | None = None) -> None:
        self.pages = pages
        self.hold = hold
        self.http = SimpleNamespace(stats=CallStats())

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        if self.hold is not None:
            assert self.hold.wait(20)
        start = 0 if cursor is None else int(cursor)
        yield from self.pages[start:]

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        return []


def test_a_slower_sync_neither_moves_the_cursor_back_nor_saves_its_older_tickets(
    url: str,  # noqa: F811
) -> None:
    # The slow reader asked when the helpdesk had one page; the fast one, later, three.
    old = [TicketPage([_version("0", 10)], "1")]
    new = [TicketPage([_version(str(i), 20, "pending")], str(i + 1)) for i in range(3)]
    hold = threading.Event()
    with Store.open(url) as one, Store.open(url) as two, RulePack.load(
        [RULES], engine="python"
    ) as pack:
        slow = Sync(one, pack, {"zd": PagedDesk(old, hold)})  # type: ignore[dict-item]
        fast = Sync(two, pack, {"zd": PagedDesk(new)})  # type: ignore[dict-item]
        out: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: out.update(slow=slow.run_once()))
        thread.start()  # it has read the cursor (none) and waits for its first page
        time.sleep(0.2)
        fast.run_once()
        assert two.get_cursor("zd") == "3"
        hold.set()
        thread.join(30)
        assert one.get_cursor("zd") == "3"  # not moved back to "1"
        assert {t.id: t.status for t in one.iter_snapshots("zd")} == {
            "0": "pending",
            "1": "pending",
            "2": "pending",
        }
        assert out["slow"].stale == 1 and out["slow"].cursor_conflicts == 1


# -- due rows --------------------------------------------------------------------------------


def test_due_rows_are_leased_to_one_worker_at_a_time(store: Store) -> None:
    for i in range(6):
        store.set_due("zd", str(i), T0 + timedelta(minutes=i))
    now = T0 + timedelta(hours=1)
    a = store.claim_due(now, 4, worker_id="a")
    b = store.claim_due(now, 4, worker_id="b")
    assert [d.ticket_id for d in a] == ["0", "1", "2", "3"]
    assert [d.ticket_id for d in b] == ["4", "5"]
    assert store.claim_due(now, 4, worker_id="c") == []
    # A new threshold ends the lease; a released row is free at once; a lapsed lease too.
    store.set_due("zd", "0", now - timedelta(minutes=1))
    assert store.release_due([("zd", "4"), ("zd", "1")], "b") == 1  # "1" is a's, not b's
    assert {d.ticket_id for d in store.claim_due(now, 9, worker_id="c")} == {"0", "4"}
    later = now + store.settings.lease + timedelta(seconds=1)
    assert store.extend_due_leases([("zd", "2")], "a", now=now + timedelta(minutes=1)) == 1
    taken = {d.ticket_id for d in store.claim_due(later, 9, worker_id="d")}
    assert taken == {"0", "1", "3", "4", "5"}  # "2"'s lease was extended past ``later``


def test_due_rows_are_split_into_stable_buckets(store: Store) -> None:
    ids = [str(i) for i in range(64)]
    store.set_due_many(("zd", i, T0) for i in ids)
    seen: list[str] = []
    for b in range(DUE_BUCKETS):
        got = store.claim_due(T0, 100, bucket=b, worker_id=f"w{b}")
        assert all(due_bucket("zd", d.ticket_id) == b for d in got)
        seen += [d.ticket_id for d in got]
    assert sorted(seen) == sorted(ids)
    assert len({due_bucket("zd", i) for i in ids}) > DUE_BUCKETS // 2  # spread, not one bucket


def test_two_syncs_at_once_evaluate_each_due_ticket_once(url: str) -> None:  # noqa: F811
    """The issue's measurement: 680 due rows, 680 evaluations in *each* process."""
    with Store.open(url) as setup:
        setup.save_snapshots([ticket(str(i)) for i in range(30)])
        setup.set_due_many(("zd", str(i), T0) for i in range(30))
    both = threading.Barrier(2, timeout=0.8)
    summaries: list[Any] = []

    def run() -> None:
        with Store.open(url) as store, RulePack.load([RULES], engine="python") as pack:
            assess = pack.assess_many

            def slow_assess(tickets: Sequence[Ticket], now: datetime) -> Any:
                with contextlib.suppress(threading.BrokenBarrierError):
                    both.wait()  # the other sync is evaluating too (on the old code)
                return assess(tickets, now)

            pack.assess_many = slow_assess  # type: ignore[method-assign]
            sync = Sync(store, pack, {"zd": PagedDesk([])})  # type: ignore[dict-item]
            summaries.append(sync.run_once())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(s.reevaluated for s in summaries) == 30
    with Store.open(url) as check:
        assert check.due_before(datetime.now(UTC)) == []


# -- the inbox -------------------------------------------------------------------------------


class NoTicket:
    """Deliveries about no ticket (a user changed): each is done at once, nothing read."""

    webhook_headers = ()

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return WebhookEvent(json.loads(body)["id"], None, "user", T0)


def test_a_drained_batch_is_marked_done_in_one_statement(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, RulePack.load(
        [RULES], engine="python"
    ) as pack:
        for i in range(10):
            store.inbox_put("desk", f"d{i}", {}, json.dumps({"id": f"d{i}"}).encode())
        updates: list[str] = []

        @event.listens_for(store.engine, "before_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE INBOX"):
                updates.append(statement)

        worker = Worker(store, pack, {"desk": NoTicket()}, batch=50)  # type: ignore[dict-item]
        assert worker.drain() == 10
        assert store.inbox_stats() == {"done": 10}
        claim_updates = 1  # the claim leases the batch in one UPDATE
        assert len(updates) - claim_updates == 1


def test_inbox_leases_are_extended_while_a_batch_runs(tmp_path: Path) -> None:
    lease = timedelta(seconds=0.6)
    path = f"sqlite:///{tmp_path / 's.db'}"
    settings = StoreSettings(lease=lease)
    with Store.open(path, settings=settings) as store, Store.open(path, settings=settings) as other:
        store.inbox_put("desk", "d1", {}, b"{}")
        [item] = store.inbox_claim(10, worker_id="w1")
        with store.inbox_lease_heartbeat([item.id], "w1"):
            time.sleep(1.5)  # more than two leases
            assert other.inbox_claim(10, worker_id="w2") == []
        store.inbox_done_many([item.id])
        assert other.inbox_claim(10, worker_id="w2") == []


def test_migration_8_gives_existing_due_rows_a_bucket_and_no_lease(url: str) -> None:  # noqa: F811
    from sqlalchemy import text

    from slaplug.store.migrations import migrate

    with Store.open(url) as store:
        store.set_due("zd", "7", T0)
        with store.engine.begin() as conn:  # back to the schema of version 7
            conn.execute(text("DROP INDEX ix_due_bucket"))
            for column in ("bucket", "lease_owner", "lease_until"):
                conn.execute(text(f"ALTER TABLE due DROP COLUMN {column}"))
            conn.execute(text("DROP TABLE request_budgets"))
            conn.execute(text("DELETE FROM slaplug_schema_version WHERE version >= 8"))
        assert 8 in migrate(store.engine)
        assert migrate(store.engine) == []  # and only once
        [row] = store.claim_due(T0, 10, bucket=due_bucket("zd", "7"), worker_id="w")
        assert row.ticket_id == "7"
        assert store.take_budget("zd", 60, 1) == 0.0
