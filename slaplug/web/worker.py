"""The webhook worker: one thread that drains the inbox through the sync pipeline.

The web handler only stores deliveries (`slaplug.web.events`); everything slow happens here,
after the sender has its answer:

1. claim a batch of inbox items (a lease: another process sharing a PostgreSQL store never
   takes the same item; an item whose worker died is claimable again once its lease lapses);
2. parse each again (the stored raw bytes, not a trusted copy) and read each named ticket,
   once per batch however many deliveries name it, with its full history;
3. run the tickets through `Sync.process`: snapshots, measures, actions planned through the
   ledger (so a retry, a replay or a ticket named twice plans nothing new), outbox delivered;
4. mark the items done, or failed with backoff (`inbox_fail`): a failed item is retried,
   then parked as dead after the store's ``inbox_max_attempts``, never dropped.

Restart safety: the store holds the whole state. A new worker drains pending items at once
and those its killed predecessor held once their lease lapses (``outbox.lease``); it polls,
so neither needs a webhook to arrive first.

One thread, on purpose: a rules pack's matcher is used from one thread at a time (the
durable_rules engine is not thread-parallel), so every evaluation, including the ``/sla``
explain view (`Worker.call`), runs on this thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

from slaplug.connectors.base import Connector
from slaplug.connectors.redact import RedactingFilter, scrub
from slaplug.crashpoints import crashpoint
from slaplug.errors import ConnectorError, RetriableAPIError, TicketNotFoundError
from slaplug.model import Ticket
from slaplug.notify.channels import Channel
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.store import InboxItem, Store
from slaplug.store.tickets import DUE_BUCKETS
from slaplug.sync import Sync
from slaplug.web.events import header_map, loggable
from slaplug.web.metrics import Metrics

__all__ = ["Worker"]

log = logging.getLogger("slaplug.web.worker")
# Its lines can quote an API answer (a failed action's detail): scrub every one.
log.addFilter(RedactingFilter())

T = TypeVar("T")


class Worker:
    """Drains the webhook inbox on one background thread.

    Args:
        store: The store holding the inbox, snapshots, ledger and outbox.
        pack: The rules (a pack, or its versions by effective date); evaluated only on this
            worker's thread.
        connectors: Configured connectors by name.
        metrics: Where to count what the worker does (a fresh `Metrics` if None).
        batch: Inbox items claimed together; their tickets are evaluated together.
        claim_batch: Outbox actions applied together (``outbox.batch``).
        poll_interval: Seconds between looks at the inbox when nothing woke the worker:
            retries whose backoff ended and leases that lapsed need no webhook to be seen.
        outbox_every: Seconds between deliveries of due outbox retries while idle, so a
            write that failed transiently is retried without waiting for the next sync.
        clock: The current time (tests move it).
        escalate_from: Explicit go-live cutoffs by connector (`Settings.escalate_from`).
    """

    def __init__(
        self,
        store: Store,
        pack: RulePack | VersionedPack,
        connectors: Mapping[str, Connector],
        *,
        metrics: Metrics | None = None,
        batch: int = 50,
        claim_batch: int = 100,
        poll_interval: float = 1.0,
        outbox_every: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channels: Mapping[str, Channel] | None = None,
        escalate_from: Mapping[str, datetime | None] | None = None,
    ) -> None:
        self.store = store
        self.connectors = dict(connectors)
        self.metrics = metrics or Metrics()
        self.batch = batch
        self.poll_interval = poll_interval
        self.outbox_every = outbox_every
        self.clock = clock
        self.sync = Sync(
            store,
            pack,
            connectors,
            claim_batch=claim_batch,
            clock=clock,
            escalate_from=escalate_from,
            channels=channels,
        )
        self.pack = pack
        #: Who holds this worker's inbox leases (its heartbeat extends only its own).
        self.worker_id = self.sync.worker_id
        #: Items processed, waiting to be marked done together (`_flush_done`).
        self._pending_done: list[InboxItem] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._last_outbox = time.monotonic()
        #: Runs a job function by name (`slaplug.jobs.JOBS`) in this worker's context; set
        #: by the embedded ``slaplug serve`` worker process (`use_jobs`). None: the rounds
        #: call `drain` and `deliver_outbox` directly.
        self.run_job: Callable[[str, Any], Any] | None = None
        self.due_every: float | None = None
        self._last_due = time.monotonic()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; it begins with whatever the inbox already holds."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="slaplug-webhook-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then stop. Unfinished items stay in the inbox."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._cancel_calls()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look at the inbox now (the web handler calls this after storing a delivery)."""
        self._wake.set()

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the worker's thread (anything that evaluates rules); its future.

        Raises:
            RuntimeError: The worker is not running.
        """
        if not self.alive or self._stopping.is_set():
            raise RuntimeError("the webhook worker is not running")
        future: Future[T] = Future()
        self._calls.put((fn, future))
        self._wake.set()
        return future

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        self.metrics.worker_alive.set(1)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                self._run_calls()
                try:
                    done = self._round()
                except Exception:
                    # The store is down, or a bug: keep the thread; items keep their leases
                    # or their pending state and are tried again.
                    log.exception("the webhook worker failed a round; it goes on")
                    done = 0
                if not done:
                    self._wake.wait(self.poll_interval)
        finally:
            self.metrics.worker_alive.set(0)

    def use_jobs(self, run_job: Callable[[str, Any], Any], due_every: float | None) -> None:
        """Run the rounds through the job functions: ``drain(connector)`` for each connector,
        ``deliver(connector)`` while idle every ``outbox_every``, and, every ``due_every``
        seconds (None: never), ``due(bucket)`` for every bucket of the due index."""
        self.run_job = run_job
        self.due_every = due_every

    def _round(self) -> int:
        """One round of work; how many inbox items it claimed (0: the worker may wait)."""
        if self.run_job is None:
            done = self.drain()
            if not done and time.monotonic() - self._last_outbox >= self.outbox_every:
                self.deliver_outbox()
            return done
        done = sum(int(self.run_job("drain", name)) for name in self.connectors)
        if not done and time.monotonic() - self._last_outbox >= self.outbox_every:
            self._last_outbox = time.monotonic()
            for name in self.connectors:
                self._job("deliver", name)
        if self.due_every is not None and time.monotonic() - self._last_due >= self.due_every:
            self._last_due = time.monotonic()
            for bucket in range(DUE_BUCKETS):
                self._job("due", bucket)
        return done

    def _job(self, job: str, arg: Any) -> None:
        assert self.run_job is not None
        try:
            self.run_job(job, arg)
        except Exception as exc:  # one connector's (or bucket's) failure spares the rest
            log.warning("job %s(%s) failed; tried again later: %s", job, arg, exc)

    def _run_calls(self) -> None:
        while True:
            try:
                fn, future = self._calls.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _cancel_calls(self) -> None:
        while True:
            try:
                _, future = self._calls.get_nowait()
            except queue.Empty:
                return
            future.cancel()

    # -- one batch ----------------------------------------------------------------------------

    def drain(self, connector: str | None = None) -> int:
        """Claim and process one batch of inbox items; returns how many were claimed.

        Public so tests can drive the worker without its thread, and for the ``drain`` job
        (`slaplug.jobs`), which passes its ``connector``: only that one's items are claimed.
        """
        items = self.store.inbox_claim(
            self.batch, connector=connector, now=self.clock(), worker_id=self.worker_id
        )
        if not items:
            return 0
        crashpoint("inbox-claimed")
        started = time.monotonic()
        groups: dict[str, list[InboxItem]] = {}
        for item in items:
            groups.setdefault(item.connector, []).append(item)
        # The leases are extended while the batch runs (slow helpdesk reads), and the items
        # processed are marked done together, one commit per connector's group.
        with self.store.inbox_lease_heartbeat(
            [i.id for i in items], self.worker_id, clock=self.clock
        ):
            for name, group in groups.items():
                try:
                    self._process(name, group)
                finally:
                    self._flush_done()
        self.metrics.worker_batch.observe(time.monotonic() - started)
        return len(items)

    def deliver_outbox(self) -> None:
        """Apply due outbox retries of every connector (no tickets read, none evaluated)."""
        self._last_outbox = time.monotonic()
        for name in self.connectors:
            try:
                self.sync.process(name, [])
            except Exception as exc:  # one connector's failure spares the rest
                log.warning("outbox delivery for %s failed; tried again later: %s", name, exc)

    def _process(self, name: str, items: Sequence[InboxItem]) -> None:
        conn = self.connectors.get(name)
        if conn is None:
            for item in items:
                self._fail(item, f"connector {name!r} is no longer configured")
            return
        by_ticket: dict[str, list[InboxItem]] = {}
        for item in items:
            try:
                event = conn.parse_webhook(header_map(item.headers), item.body)
            except Exception as exc:
                self._fail(item, f"the stored delivery cannot be parsed: {exc}")
                continue
            if event.ticket_id is None:
                self._done(item)  # a delivery about no ticket (a user, a project): nothing to do
                continue
            by_ticket.setdefault(event.ticket_id, []).append(item)
        tickets: list[Ticket] = []
        read: list[InboxItem] = []
        for ticket_id, waiting in by_ticket.items():
            try:
                tickets.append(conn.read_ticket(ticket_id))
            except TicketNotFoundError:
                # Deleted since the delivery: there is no clock left to measure.
                log.info("%s ticket %s no longer exists; its deliveries are done", name, ticket_id)
                for item in waiting:
                    self._done(item)
                continue
            except ConnectorError as exc:
                retry_after = exc.retry_after if isinstance(exc, RetriableAPIError) else None
                for item in waiting:
                    self._fail(item, f"reading ticket {ticket_id} failed: {exc}", retry_after)
                continue
            except Exception as exc:
                # Not the API (its failures are ConnectorErrors): the connector could not make
                # a ticket of what it read. Retrying reads the same data; set the ticket aside
                # with the reason and let the rest of the batch go on.
                reason = f"the connector could not read it: {type(exc).__name__}: {exc}"
                self.store.quarantine([(name, ticket_id, "read", reason)], now=self.clock())
                log.warning("%s ticket %s quarantined (read): %s", name, ticket_id, scrub(reason))
                for item in waiting:
                    self._done(item)
                continue
            read.extend(waiting)
        if not tickets:
            return
        try:
            self.sync.process(name, tickets)
        except Exception as exc:
            # Nothing is lost: the ledger kept what was planned, the outbox what was not yet
            # written; the items are processed again after their backoff.
            log.warning(
                "processing %d %s deliveries failed; retried later: %s", len(read), name, exc
            )
            for item in read:
                self._fail(item, f"processing failed: {exc}")
            return
        crashpoint("inbox-processed")
        for item in read:
            self._done(item)

    def _done(self, item: InboxItem) -> None:
        # Recorded by `_flush_done`, once per group: a commit per delivery cost a burst of
        # webhooks a commit (and SQLite's write lock, which the acknowledgements need) each.
        self._pending_done.append(item)

    def _flush_done(self) -> None:
        done, self._pending_done = self._pending_done, []
        if not done:
            return
        self.store.inbox_done_many([i.id for i in done], now=self.clock())
        for item in done:
            self.metrics.worker_items.labels(item.connector, "done").inc()
            lag = (self.clock() - item.received_at).total_seconds()
            self.metrics.worker_lag.labels(item.connector).observe(max(lag, 0.0))
            log.info(
                "webhook to %s processed: delivery %s, %.1fs after it arrived",
                item.connector,
                loggable(item.delivery_id),
                max(lag, 0.0),
            )

    def _fail(self, item: InboxItem, error: str, retry_after: float | None = None) -> None:
        error = scrub(error)  # stored and logged: an error can quote a helpdesk's answer
        state = self.store.inbox_fail(item.id, error, retry_after=retry_after, now=self.clock())
        outcome = "dead" if state == "dead" else "retry"
        self.metrics.worker_items.labels(item.connector, outcome).inc()
        if state == "dead":
            log.error(
                "%s delivery %s is dead after its last attempt: %s",
                item.connector,
                item.delivery_id,
                error,
            )
