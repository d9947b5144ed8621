"""The ledger and the outbox: each planned action applied once, retried, or parked as dead.

A key is reserved in the ledger when it is planned and stays there; the outbox holds the work
for keys still pending. `plan` inserts into the ledger first with ON CONFLICT DO NOTHING and
queues only the keys that insert took, so a key planned before (pending, dead or applied) is
never queued again, whichever process plans it. Ledger rows are never deleted once final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, bindparam, delete, func, select, update

from slaplug.connectors.redact import scrub
from slaplug.model import Action
from slaplug.store._base import StoreBase, aware, chunks, default_worker_id
from slaplug.store.codec import action_from_json, action_to_json
from slaplug.store.legacy_keys import adopt_legacy_keys
from slaplug.store.live import (
    claimable_live,
    mark_lost_races,
    newest_seqs,
    supersede_behind,
    write_slot,
)
from slaplug.store.queue import LeasedQueue
from slaplug.store.schema import due, ledger, outbox
from slaplug.store.tickets import due_bucket

__all__ = [
    "FINAL_STATUSES",
    "HOOK_KEY_PART",
    "Claim",
    "DeadLetter",
    "FailedAction",
    "OutboxMixin",
    "OutboxStats",
]

log = logging.getLogger("slaplug.store.outbox")

#: What the key of a plugin hook call holds (``<clock>!on_breach``, `slaplug.hookcalls`).
HOOK_KEY_PART = "!on_"

#: What `complete` accepts: the `ApplyStatus` values that end an action's life.
FINAL_STATUSES = frozenset({"applied", "already", "skipped", "failed"})

#: The outbox's claims, leases, retries and dead letters: the queue the inbox shares.
QUEUE: LeasedQueue[str] = LeasedQueue(
    outbox, outbox.c.key, "outbox", lambda settings: settings.max_attempts
)

# Ends one pending ledger row; run with executemany by `complete_many`.
_COMPLETE = (
    update(ledger)
    .where(ledger.c.key == bindparam("k"), ledger.c.status == "pending")
    .values(status=bindparam("status"), detail=bindparam("detail"))
)


@dataclass(frozen=True)
class Claim:
    """An action leased to one worker, to apply and then `complete`, `outbox_fail` or
    `reschedule`.

    Attributes:
        key: The idempotency key.
        action: The action, as planned.
        attempts: This claim included (1 on the first try).
        lease_until: When the lease lapses and another worker may take the action.
    """

    key: str
    action: Action
    attempts: int
    lease_until: datetime


@dataclass(frozen=True)
class DeadLetter:
    """An action that used its attempts; it waits for `outbox_retry_dead` (or a human).

    Attributes:
        key: The idempotency key.
        action: The action.
        attempts: Attempts made.
        last_error: The last failure.
        dead_at: When it was parked.
    """

    key: str
    action: Action
    attempts: int
    last_error: str | None
    dead_at: datetime | None


@dataclass(frozen=True)
class FailedAction:
    """An action the platform refused for good (status ``failed`` in the ledger): an unmapped
    field, an unknown group... It waits for the fix and `retry_failed`.

    Attributes:
        key: The idempotency key.
        action: The action, as planned.
        detail: Why it failed, as the connector said.
        failed_at: When the failure was recorded.
    """

    key: str
    action: Action
    detail: str
    failed_at: datetime | None


@dataclass(frozen=True)
class OutboxStats:
    """Counts for monitoring.

    Attributes:
        pending: Waiting for their next try (new or after a failure).
        leased: Held by a worker now (or by one that died, until the lease lapses).
        dead: Dead letters.
        ledger: Ledger keys by status (pending, applied, already, skipped, failed).
    """

    pending: int
    leased: int
    dead: int
    ledger: Mapping[str, int]


class OutboxMixin(StoreBase):
    """Ledger and outbox."""

    def plan(self, actions: Iterable[Action], *, now: datetime | None = None) -> list[str]:
        """Queue actions whose keys were never planned before.

        Shadow actions are not stored: they are only logged, and must stay free to fire for
        real once shadow mode is switched off.

        Returns:
            The keys queued now, sorted; keys already in the ledger (pending, dead or done)
            are left out.
        """
        at = aware(now)
        fresh = {a.key: a for a in actions if not a.shadow}
        if not fresh:
            return []
        queued: list[str] = []
        with self._write() as conn:
            slots = _number_slots(conn, fresh.values())
            rows = [
                {
                    "key": key,
                    "connector": a.connector,
                    "ticket_id": a.ticket_id,
                    "status": "pending",
                    "detail": "",
                    "action": action_to_json(a),
                    "planned_at": at,
                    "slot": slots[key][0] if key in slots else None,
                    "seq": slots[key][1] if key in slots else None,
                }
                for key, a in sorted(fresh.items())  # one lock order for concurrent planners
            ]
            for part in chunks(rows):
                # No conflict target: a key planned before is skipped, and so is a slot
                # number another planner took meanwhile (both unique indexes).
                stmt = self._insert(ledger).on_conflict_do_nothing().returning(ledger.c.key)
                queued.extend(conn.execute(stmt, list(part)).scalars())
            taken = set(queued)
            lost = {k: (fresh[k].connector, fresh[k].ticket_id) for k in slots if k not in taken}
            mark_lost_races(self, conn, lost, at)
            if queued:
                adopted = adopt_legacy_keys(conn, [a for k, a in fresh.items() if k in taken])
                queued = [k for k in queued if k not in adopted]
            queued.sort()
            if queued:
                conn.execute(
                    outbox.insert(),
                    [
                        {
                            "key": key,
                            "connector": fresh[key].connector,
                            "ticket_id": fresh[key].ticket_id,
                            "state": "pending",
                            "attempts": 0,
                            "next_try_at": at,
                        }
                        for key in queued
                    ],
                )
                # A write planned now replaces what waits in its slot (a value planned
                # earlier, or put back by a failure): only the newest may land.
                supersede_behind(
                    conn,
                    (
                        (fresh[k].connector, fresh[k].ticket_id, *slots[k])
                        for k in queued
                        if k in slots
                    ),
                    at,
                )
        return queued

    def outbox_release_leases(
        self, worker_id: str | None = None, *, now: datetime | None = None
    ) -> int:
        """Give back every outbox lease ``worker_id`` (default: this process) holds, due at once.

        For a run stopped by Ctrl-C or SIGTERM: without it, the batch it had claimed waits for
        its leases to lapse (``outbox.lease``, 5 minutes by default) before another sync may
        take it. The attempts are kept, so the next claim counts as a retry and the connector
        first looks for what the interrupted attempt may already have written.

        Returns:
            How many leases were released.
        """
        return QUEUE.release_leases(self, worker_id or default_worker_id(), now=now)

    def outbox_claim(
        self,
        connector: str,
        limit: int = 50,
        *,
        now: datetime | None = None,
        worker_id: str | None = None,
        hooks: bool | None = None,
    ) -> list[Claim]:
        """Lease up to ``limit`` due actions of ``connector`` to this worker.

        No two workers hold the same action: PostgreSQL skips rows another transaction has
        locked, SQLite runs one writer at a time. An action whose worker died is handed out
        again once its lease lapses, as a further attempt; after the last attempt it becomes
        a dead letter instead (`slaplug.store.queue.LeasedQueue.claim`).

        Args:
            connector: The connector whose actions to take.
            limit: At most this many.
            now: The current time (tests move it); leases run from it.
            worker_id: Who holds the lease; defaults to ``host:pid``.
            hooks: True: only plugin hook calls (keys with `HOOK_KEY_PART`, `slaplug.hookcalls`);
                False: none of them; None: every action. The sync claims the two apart, so
                hook calls never take places in the connector's write batches.
        """
        at = aware(now)
        where = [outbox.c.connector == connector]
        if hooks is not None:
            is_hook = outbox.c.key.contains(HOOK_KEY_PART, autoescape=True)
            where.append(is_hook if hooks else ~is_hook)
        with self._write() as conn:
            # Live fields' values go out in order, one per field in flight (slaplug.store.live).
            in_order = claimable_live(conn, connector, at)
            keys = QUEUE.claim(
                self,
                conn,
                [*where, *in_order],
                limit=limit,
                now=at,
                worker_id=worker_id or default_worker_id(),
            )
            if not keys:
                return []
            rows = conn.execute(
                select(outbox.c.key, outbox.c.attempts, outbox.c.lease_until, ledger.c.action)
                .join(ledger, ledger.c.key == outbox.c.key)
                .where(outbox.c.key.in_(keys))
                .order_by(outbox.c.next_try_at, outbox.c.key)
            ).all()
        return [Claim(r.key, action_from_json(r.action), r.attempts, r.lease_until) for r in rows]

    def outbox_extend_leases(
        self, keys: Iterable[str], worker_id: str, *, now: datetime | None = None
    ) -> int:
        """Push the leases ``worker_id`` still holds on ``keys`` to ``now`` + the lease.

        A batch slower than its lease would otherwise be claimed again by another worker
        while this one is still applying it, and written twice. Keys completed meanwhile, or
        whose lease lapsed and went to another worker, are left alone.

        Returns:
            How many leases were extended.
        """
        return QUEUE.extend_leases(self, keys, worker_id, now=now)

    @contextmanager
    def outbox_lease_heartbeat(
        self,
        keys: Iterable[str],
        worker_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Iterator[None]:
        """Keep extending the leases on ``keys`` while the ``with`` block runs.

        A background thread calls `outbox_extend_leases` every third of the lease, so a
        lease lapses only if this process stops (killed, frozen) for longer than two thirds
        of it. The block runs unchanged if an extension fails (the store is briefly busy):
        the next one tries again.

        Args:
            keys: The claimed keys (`Claim.key`).
            worker_id: The worker that claimed them (the ``worker_id`` given to
                `outbox_claim`).
            clock: The current time; the real time by default.
        """
        with QUEUE.heartbeat(self, keys, worker_id, clock=clock):
            yield

    def complete(
        self, key: str, status: str = "applied", detail: str = "", *, now: datetime | None = None
    ) -> bool:
        """Record an action's final outcome and take it off the outbox, in one transaction.

        Args:
            key: The action's idempotency key.
            status: applied, already, skipped or failed (an `ApplyStatus` value). For a
                conflict use `reschedule`; for a transient failure, `outbox_fail`.
            detail: Why, for skipped and failed.
            now: The time to record.

        Returns:
            True if this call recorded the outcome; False if the key had one already (another
            worker finished it after this one's lease lapsed) or was never planned.

        Raises:
            ValueError: ``status`` is not final.
        """
        return self.complete_many([(key, status, detail)], now=now)[0]

    def complete_many(
        self, outcomes: Iterable[tuple[str, str, str]], *, now: datetime | None = None
    ) -> list[bool]:
        """`complete` for many actions in one transaction (one commit, not one per action).

        Args:
            outcomes: ``(key, status, detail)`` per action.
            now: The time to record.

        Returns:
            Per outcome, in order, what `complete` would return.

        Raises:
            ValueError: A status is not final; nothing is recorded then.
        """
        outcomes = [(key, str(status), detail) for key, status, detail in outcomes]
        for key, status, _ in outcomes:
            if status not in FINAL_STATUSES:
                raise ValueError(
                    f"complete({key!r}): status {status!r} does not end an action; use one of "
                    f"{', '.join(sorted(FINAL_STATUSES))} (a conflict is reschedule(), a retry outbox_fail())"
                )
        done_at = aware(now)
        keys = [key for key, _, _ in outcomes]
        with self._write() as conn:
            # Which keys are still pending, then one executemany: a statement per action held
            # SQLite's one write lock for up to 0.7 s per batch, and the webhook acks with it.
            # On PostgreSQL the rows stay locked until commit, so the answer stays exact when
            # two workers complete the same key at once (one of them sees it final).
            pending: set[str] = set()
            for chunk in chunks(sorted(set(keys))):
                query = select(ledger.c.key).where(
                    ledger.c.key.in_(chunk), ledger.c.status == "pending"
                )
                if self.dialect == "postgresql":
                    query = query.with_for_update()
                pending.update(conn.execute(query).scalars())
            done: list[bool] = []
            rows: dict[str, dict[str, object]] = {}
            for key, status, detail in outcomes:
                first = key in pending and key not in rows  # a key twice: the first one ends it
                if first:
                    rows[key] = {"k": key, "status": status, "detail": scrub(detail)}
                done.append(first)
            if rows:
                conn.execute(_COMPLETE.values(done_at=done_at), list(rows.values()))
            for chunk in chunks(keys):
                conn.execute(delete(outbox).where(outbox.c.key.in_(chunk)))
        return done

    def outbox_fail(
        self,
        key: str,
        error: str,
        *,
        retry_after: float | None = None,
        now: datetime | None = None,
    ) -> Literal["pending", "dead"] | None:
        """Record a transient failure: try again later, or park the action after the last try.

        The next try waits ``backoff_base * 2**(attempts-1)`` (capped at ``backoff_cap``) and
        never less than ``retry_after``. Attempts are counted by `outbox_claim`.

        Args:
            key: The action's idempotency key.
            error: What went wrong (kept as ``last_error``; never put a secret in it).
            retry_after: The platform's ``Retry-After`` in seconds, if it sent one.
            now: The current time.

        Returns:
            "pending" when it will be retried, "dead" when it was parked, None when the key is
            not in the outbox (already completed, or unknown).
        """
        # Scrubbed here too, whoever called: an error text can quote a helpdesk's body.
        return QUEUE.fail(self, key, scrub(error), retry_after=retry_after, now=now)

    def reschedule(self, key: str, *, now: datetime | None = None) -> bool:
        """Give up a conflicting action (409) and have its ticket re-evaluated.

        The key is released (taken off the outbox and the ledger) so the re-evaluation may plan
        it again if it still applies, and the ticket is marked due now. Only pending keys are
        released: an applied key is never planned again.

        Returns:
            True if the key was pending and is now released.
        """
        at = aware(now)
        with self._write() as conn:
            row = conn.execute(
                select(ledger.c.connector, ledger.c.ticket_id).where(
                    ledger.c.key == key, ledger.c.status == "pending"
                )
            ).one_or_none()
            if row is None:
                return False
            conn.execute(delete(outbox).where(outbox.c.key == key))
            conn.execute(delete(ledger).where(ledger.c.key == key, ledger.c.status == "pending"))
            stmt = self._insert(due).values(
                connector=row.connector,
                ticket_id=row.ticket_id,
                due_at=at,
                bucket=due_bucket(row.connector, row.ticket_id),
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[due.c.connector, due.c.ticket_id],
                    set_={"due_at": at, "lease_owner": None, "lease_until": None},
                )
            )
        return True

    def outbox_dead_letters(
        self, connector: str | None = None, limit: int = 1000
    ) -> list[DeadLetter]:
        """The parked actions, oldest first."""
        query = (
            select(
                outbox.c.key,
                outbox.c.attempts,
                outbox.c.last_error,
                outbox.c.dead_at,
                ledger.c.action,
            )
            .join(ledger, ledger.c.key == outbox.c.key)
            .where(outbox.c.state == "dead")
        )
        if connector is not None:
            query = query.where(outbox.c.connector == connector)
        query = query.order_by(outbox.c.dead_at, outbox.c.key).limit(limit)
        with self._read() as conn:
            return [
                DeadLetter(r.key, action_from_json(r.action), r.attempts, r.last_error, r.dead_at)
                for r in conn.execute(query)
            ]

    def outbox_retry_dead(
        self, keys: Iterable[str] | None = None, *, now: datetime | None = None
    ) -> int:
        """Put dead letters back in the queue with fresh attempts: the given keys, or all.

        Returns:
            How many were requeued.
        """
        return QUEUE.retry_dead(self, keys, now=now)

    def failed_actions(self, connector: str | None = None, limit: int = 1000) -> list[FailedAction]:
        """The actions recorded as ``failed`` (refused for good), oldest first."""
        query = select(ledger.c.key, ledger.c.action, ledger.c.detail, ledger.c.done_at).where(
            ledger.c.status == "failed"
        )
        if connector is not None:
            query = query.where(ledger.c.connector == connector)
        query = query.order_by(ledger.c.done_at, ledger.c.key).limit(limit)
        with self._read() as conn:
            return [
                FailedAction(r.key, action_from_json(r.action), r.detail, r.done_at)
                for r in conn.execute(query)
            ]

    def retry_failed(
        self,
        keys: Iterable[str] | None = None,
        *,
        connector: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Queue failed actions again, after the fix (a field mapped, a group created).

        Each goes back to ``pending`` in the ledger with fresh attempts in the outbox, so the
        next sync applies it once; whatever it did stays applied only once, since connectors
        compare before they write. Keys that are not ``failed`` are left alone.

        Args:
            keys: The keys to retry; None for every failed action (of ``connector``).
            connector: Only this connector's.
            now: When they are due.

        Returns:
            The keys queued again, sorted.
        """
        at = aware(now)
        with self._write() as conn:
            query = select(ledger.c.key, ledger.c.connector, ledger.c.ticket_id).where(
                ledger.c.status == "failed"
            )
            if connector is not None:
                query = query.where(ledger.c.connector == connector)
            parts = (
                [query]
                if keys is None
                else [query.where(ledger.c.key.in_(part)) for part in chunks(sorted(set(keys)))]
            )
            rows: list[tuple[str, str, str]] = [
                (r.key, r.connector, r.ticket_id) for q in parts for r in conn.execute(q)
            ]
            for part in chunks(rows):
                conn.execute(
                    update(ledger)
                    .where(ledger.c.key.in_([k for k, _, _ in part]), ledger.c.status == "failed")
                    .values(status="pending", detail="", done_at=None)
                )
                conn.execute(
                    outbox.insert(),
                    [
                        {
                            "key": k,
                            "connector": c,
                            "ticket_id": t,
                            "state": "pending",
                            "attempts": 0,
                            "next_try_at": at,
                        }
                        for k, c, t in part
                    ],
                )
        return sorted(k for k, _, _ in rows)

    def ledger_status(self, key: str) -> str | None:
        """The key's status in the ledger (pending or a final one), None if never planned."""
        with self._read() as conn:
            return conn.execute(
                select(ledger.c.status).where(ledger.c.key == key)
            ).scalar_one_or_none()

    def outbox_stats(self) -> OutboxStats:
        """Outbox counts by state and ledger counts by status."""
        with self._read() as conn:
            states = QUEUE.counts(conn)
            statuses: dict[str, int] = {
                row[0]: row[1]
                for row in conn.execute(
                    select(ledger.c.status, func.count()).group_by(ledger.c.status)
                )
            }
        return OutboxStats(
            pending=states.get("pending", 0),
            leased=states.get("leased", 0),
            dead=states.get("dead", 0),
            ledger=statuses,
        )


def _number_slots(conn: Connection, actions: Iterable[Action]) -> dict[str, tuple[str, int]]:
    """Each slotted action's slot and number (`slaplug.store.live.write_slot`), by key.

    Numbered after the slot's newest, in the order given: the order the sync planned them,
    oldest threshold crossing first, so the value of the threshold crossed last is newest.
    """
    slotted = [(a, slot) for a in actions if (slot := write_slot(a)) is not None]
    out: dict[str, tuple[str, int]] = {}
    for connector in sorted({a.connector for a, _ in slotted}):
        mine = [(a, slot) for a, slot in slotted if a.connector == connector]
        newest = newest_seqs(conn, connector, (a.ticket_id for a, _ in mine))
        for a, slot in mine:
            seq = newest.get((a.ticket_id, slot), 0) + 1
            newest[(a.ticket_id, slot)] = seq
            out[a.key] = (slot, seq)
    return out
