"""The sync job: read changed tickets, evaluate them, write back exactly once.

One pass, per connector:

1. Read the tickets changed since the stored cursor, page by page. Partial histories are merged
   with the stored ones; plugins enrich the tickets; snapshots are saved.
2. Evaluate the page (policies, clocks, escalations), plan the ``on_breach`` calls of the
   clocks newly breached (before their breach is recorded, so a crash never loses one),
   record the measures that changed, set each ticket's next threshold in the due index, and
   *plan* the actions: the ledger drops every key planned before, the rest go to the outbox. Only then is the page's cursor
   committed: a crash before that re-reads the page, and planning it again adds nothing.
3. Re-evaluate, from their snapshots and without an API read, the tickets whose next
   threshold has passed since the last run.
4. Deliver the outbox: claim actions (a lease: two processes never take the same one), apply
   them through the connector (in bulk where it can; only if it declares ``write_back``),
   and complete or fail each; then the plugin hook calls, in batches of their own
   (`slaplug.hookcalls`). A crash
   after a write and before `complete` lets the lease lapse and the action is applied again;
   connectors make that second write a no-op (comments carry their key).

A ticket slaplug cannot process (text that is not valid Unicode, a date out of range, an
evaluation that raises) is *quarantined* (`slaplug.store.quarantine`) with the reason, and
every other ticket goes on; it leaves the quarantine once a later read of it is processed.

``--dry-run`` does 1 to 3 without writing anything anywhere, and prints what it would plan.

Go-live (`slaplug.golive`): an action is planned only if its level's threshold was crossed at
or after the connector's cutoff (its first sync's start, or ``escalate_from``) and its ticket
is not solved or closed; the history before the cutoff is measured and recorded all the same.
Live fields (`slaplug.rules.live`) show current state and are not held by the cutoff: a value
is planned when it differs from the one last planned for the field (`slaplug.store.live`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from slaplug import plugins
from slaplug.connectors.base import ApplyResult, ApplyStatus, Capability, Connector
from slaplug.connectors.redact import RedactingFilter
from slaplug.crashpoints import crashpoint
from slaplug.errors import (
    ConnectorError,
    EngineError,
    FatalAPIError,
    RetriableAPIError,
)
from slaplug.golive import ThresholdTimes, is_done
from slaplug.hookcalls import HookCalls, breach_hook, implementers
from slaplug.model import Action, ActionKind, MeasureState, Ticket
from slaplug.notify.channels import Channel
from slaplug.notify.deliver import DeliveryError, Notifications
from slaplug.rules.live import LiveFields, LiveValue, live_action, versioned_values
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedAssessment, VersionedPack
from slaplug.serialize import ticket_problem
from slaplug.store import Claim, Store
from slaplug.store._base import default_worker_id
from slaplug.store.golive import ALREADY_LIVE
from slaplug.store.live import LiveHead, write_slot
from slaplug.store.quarantine import storable
from slaplug.store.tickets import DueTicket, Saved, due_bucket
from slaplug.summary import BreachFate, Summary

__all__ = ["Summary", "Sync"]

log = logging.getLogger("slaplug.sync")
# Its lines can quote an API answer (a failed action's detail): scrub every one.
log.addFilter(RedactingFilter())


Progress = Callable[[str, Summary], None]


@dataclass(frozen=True)
class CutoffMove:
    """A connector's cutoff that moved since the one last in force (`Sync.cutoff`).

    Attributes:
        connector: The connector.
        previous: The cutoff last in force (the go-live when none was recorded).
        current: The cutoff now.
        marked_at: For a move earlier, not dry: the instant its stored open tickets were
            marked due (their due rows say so until they are re-evaluated).
        marked: How many were marked.
    """

    connector: str
    previous: datetime
    current: datetime
    marked_at: datetime | None = None
    marked: int = 0

    @property
    def earlier(self) -> bool:
        """Whether the cutoff moved earlier: a backfill."""
        return self.current < self.previous

    def describe(self) -> str:
        """One log line."""
        moved = f"{self.connector}: the cutoff moved from {self.previous.isoformat()} to "
        moved += self.current.isoformat()
        if not self.earlier:
            return (
                f"{moved} (later): thresholds crossed before it are held from now on; "
                "nothing planned or written is undone"
            )
        if self.marked_at is None:  # a dry run
            return (
                f"{moved} (earlier): a dry run re-evaluates the stored open tickets, marking none"
            )
        return (
            f"{moved} (earlier): {self.marked} stored open tickets marked for re-evaluation "
            "from their snapshots; thresholds crossed since the new cutoff are escalated, once"
        )


class Sync:
    """One sync job over configured connectors, a rules pack and a store.

    Args:
        store: Where cursors, snapshots, the ledger and the outbox live.
        pack: The rules: a pack, or versions of it by effective date (each cycle is measured
            and escalated under the version in force when it started).
        connectors: Configured connectors by name (`Ticket.connector`).
        dry_run: Plan and report, write nothing, commit no cursor.
        batch: Tickets evaluated together (one engine call per batch).
        claim_batch: Actions claimed from the outbox and applied together.
        progress: Called with a short message and the running summary as work advances.
        clock: The current time (tests move it).
        escalate_from: Explicit cutoffs by connector name (``escalate_from`` in
            slaplug.yaml); a connector left out, or mapped to None, escalates from its go-live.
        plan_sink: For a dry run: called with every action it would plan, as it is found
            (`Summary.would_plan` keeps only the first `Summary.SAMPLE`).
    """

    def __init__(
        self,
        store: Store,
        pack: RulePack | VersionedPack,
        connectors: Mapping[str, Connector],
        *,
        dry_run: bool = False,
        batch: int = 1000,
        claim_batch: int = 5000,
        progress: Progress | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channels: Mapping[str, Channel] | None = None,
        escalate_from: Mapping[str, datetime | None] | None = None,
        plan_sink: Callable[[Action], None] | None = None,
    ) -> None:
        self.store = store
        self.rules = VersionedPack.of(pack)
        #: The newest version's pack.
        self.pack = self.rules.newest.pack
        self.connectors = dict(connectors)
        self.dry_run = dry_run
        self.batch = batch
        self.claim_batch = claim_batch
        self.progress = progress or (lambda message, summary: None)
        self.plan_sink = plan_sink
        self.clock = clock
        self.notifications = Notifications(
            store, self.rules, channels or {}, self.connectors, clock=clock
        )
        self.hooks = HookCalls(store, clock)
        self.escalate_from = dict(escalate_from or {})
        #: Per rules version: an action is held or not by its own version's levels, and a
        #: clock's live fields are those its own version declares.
        self._thresholds = {v.label: ThresholdTimes.for_pack(v.pack) for v in self.rules.versions}
        self._live = {v.label: LiveFields.for_pack(v.pack) for v in self.rules.versions}
        #: Go-lives read or recorded: they never change, so the store is asked once each.
        self._go_lives: dict[str, datetime] = {}
        #: Connectors whose cutoff this job compared with the one last in force (once each:
        #: a job's cutoffs do not change), and the move found, if any.
        self._followed: dict[str, CutoffMove | None] = {}
        #: The moves the current pass reports, per connector (`_cutoff_for`).
        self._pass_moves: dict[str, CutoffMove] = {}
        #: A dry run's tickets evaluated this pass, per connector: the dry backfill of a cutoff
        #: moved earlier evaluates each stored open ticket once, not again after the read.
        self._dry_seen: dict[str, set[str]] = {}
        self._dry_backfilled: set[str] = set()
        #: Who holds this job's outbox leases: ``host:pid:random``, unique per job, so that
        #: its heartbeat extends only its own leases, even beside another job in the process.
        self.worker_id = f"{default_worker_id()}:{secrets.token_hex(3)}"
        # Quarantined ticket ids per connector, read at the start of each pass: a ticket in
        # it that is processed again is released.
        self._held: dict[str, set[str]] = {}

    def cutoff(self, name: str, now: datetime) -> datetime:
        """Connector ``name``'s cutoff: no action is written for a threshold crossed before it.

        The explicit ``escalate_from`` if given, else the connector's go-live, recorded in the
        store as ``now`` by its first (not dry) run. The go-live is recorded either way, so
        dropping an explicit backfill later falls back to the first sync's start.

        The first time a job asks, the cutoff is compared with the one last in force (kept in
        the store): one moved earlier marks the connector's stored open tickets due now, so
        the due path re-evaluates them from their snapshots (`_follow_cutoff`).
        """
        live = self._go_lives.get(name) or self.store.peek_go_live(name)
        # No go-live yet: the connector's first sync, which reads (or a dry run: would read)
        # its whole history under this cutoff; nothing stored was judged under another one.
        first = live is None
        if live is None and not self.dry_run:
            live = self.store.go_live(name, now=now)
            first = live != ALREADY_LIVE  # not a store that synced before go-lives existed
        if live is not None:
            self._go_lives[name] = live
        explicit = self.escalate_from.get(name)
        cutoff = explicit if explicit is not None else live
        if cutoff is None:
            return now  # a dry run before the first sync: its start
        if name not in self._followed:
            self._followed[name] = move = self._follow_cutoff(name, cutoff, live, now, first)
            if move is not None:
                self._pass_moves[name] = move
        return cutoff

    def _follow_cutoff(
        self, name: str, cutoff: datetime, live: datetime | None, now: datetime, first: bool
    ) -> CutoffMove | None:
        """Compare the cutoff with the one last in force; record it; act on a move.

        Moved earlier (a backfill after go-live): thresholds between the two cutoffs were
        held on every ticket evaluated meanwhile, and a stored ticket is evaluated again only
        when it changes or its next threshold passes. So every stored open ticket of the
        connector is marked due now, in batches, and the due path re-evaluates them under the
        new cutoff, with no helpdesk read; the ledger keeps each action once. A dry run marks
        nothing: its due path evaluates them itself (`_dry_backfill`).

        Moved later: nothing to re-evaluate (a later cutoff only holds more back), and nothing
        planned or written is undone. Either way the new cutoff is recorded after the marking,
        so a crash in between marks again on the next run rather than losing the backfill.
        """
        recorded = self.store.recorded_cutoff(name)
        previous = recorded if recorded is not None else live
        move = None
        if not first and previous is not None and previous != cutoff:
            move = CutoffMove(name, previous, cutoff)
            if cutoff < previous and not self.dry_run:
                marked = self._mark_open_due(name, now)
                move = CutoffMove(name, previous, cutoff, marked_at=now, marked=marked)
            log.info("%s", move.describe())
        if not self.dry_run and recorded != cutoff:
            self.store.record_cutoff(name, cutoff, now=now)
        return move

    def _mark_open_due(self, name: str, now: datetime) -> int:
        """Mark connector ``name``'s stored open tickets due at ``now``, a batch at a time."""
        marked = 0
        ids: list[str] = []
        for t in self.store.iter_snapshots(name, batch=self.batch):
            if not is_done(t):
                ids.append(t.id)
            if len(ids) >= self.batch:
                marked += self.store.mark_due(name, ids, now)
                ids = []
        return marked + self.store.mark_due(name, ids, now)

    def _cutoff_for(self, name: str, summary: Summary, *, new_pass: bool = True) -> datetime:
        """`cutoff`, noted in ``summary`` with the move found, if any (``new_pass``: the start
        of a connector's turn; False for the due jobs of the same pass)."""
        if new_pass:
            self._pass_moves.pop(name, None)
            self._dry_seen[name] = set()
            self._dry_backfilled.discard(name)
        cutoff = self.cutoff(name, self.clock())
        summary.cutoffs[name] = cutoff.isoformat()
        move = self._pass_moves.get(name)
        if move is not None:
            summary.cutoff_moves[name] = move.previous.isoformat()
        return cutoff

    def release_leases(self) -> int:
        """Give back the outbox leases this job holds, due at once; how many there were.

        For a pass stopped in the middle of a batch (Ctrl-C, SIGTERM, a helpdesk gone): the
        actions it claimed go to the next sync now, not after ``outbox.lease``. Only this
        job's own leases (its `worker_id`): another job's batch in the same store is its own.
        """
        return self.store.outbox_release_leases(self.worker_id, now=self.clock())

    def run_once(self, only: str | None = None) -> Summary:
        """One full pass over every connector (or ``only`` the one named).

        Raises:
            FatalAPIError: A connector cannot go on (credentials rejected...); the message
                names it and what to fix. Work already done stays done.
        """
        names = [only] if only else list(self.connectors)
        with self._counted(names, None) as summary:
            for name in names:
                conn = self.connectors[name]
                self._held[name] = self.store.quarantined_ids(name)
                cutoff = self._cutoff_for(name, summary)
                if Capability.READ in conn.capabilities:
                    self._read(name, conn, summary, cutoff)
                else:
                    log.info("%s: its connector declares no read capability; nothing read", name)
                self._reevaluate_due(name, summary, cutoff)
                if not self.dry_run:
                    self._deliver(name, conn, summary)
        return summary

    @contextmanager
    def _counted(self, names: Sequence[str], summary: Summary | None) -> Iterator[Summary]:
        """Count a pass or a job into ``summary`` (a new one when None): the API calls the
        ``names`` connectors made meanwhile and, in a summary of its own, the seconds."""
        started = time.monotonic()
        own = summary is None
        summary = Summary() if summary is None else summary
        before = {n: self._calls(n) for n in names}
        yield summary
        for n in names:
            reads, writes = self._calls(n)
            summary.api_reads += reads - before[n][0]
            summary.api_writes += writes - before[n][1]
        if own:
            summary.seconds = round(time.monotonic() - started, 3)

    def process(
        self, name: str, tickets: Sequence[Ticket], *, summary: Summary | None = None
    ) -> Summary:
        """Evaluate tickets read outside a sync pass (a webhook's re-read) and write back.

        The same pipeline as `run_once`: snapshots saved, measures recorded, actions planned
        through the ledger (a ticket processed twice plans nothing new), then the connector's
        outbox delivered. Tickets must carry their full history (`Connector.read_ticket`).
        With no tickets, it only delivers (the ``deliver(connector)`` job).

        Args:
            summary: Count into this one (a pass made of several jobs) rather than a new one.
        """
        with self._counted([name], summary) as counted:
            conn = self.connectors[name]
            self._held[name] = self.store.quarantined_ids(name)
            tickets = self._enrich(self._admit(tickets, counted), counted)
            counted.tickets_read += len(tickets)
            cutoff = self._cutoff_for(name, counted)
            if not self.dry_run:
                saved = self.store.store_snapshots(tickets, now=self.clock())
                counted.tickets_changed += sum(1 for s in saved if s is Saved.WRITTEN)
                # Older than the stored snapshot: a newer read was saved and evaluated already.
                tickets = [t for t, s in zip(tickets, saved, strict=True) if s is not Saved.STALE]
                counted.stale += len(saved) - len(tickets)
            self._evaluate(tickets, counted, cutoff)
            if not self.dry_run:
                self._deliver(name, conn, counted)
        return counted

    # -- reading and evaluating ----------------------------------------------------------------

    def _read(self, name: str, conn: Connector, summary: Summary, cutoff: datetime) -> None:
        cursor = self.store.get_cursor(name)
        # The cursor this reader last saw stored: each commit is a compare-and-set on it, so
        # a slower process that read the same pages cannot move the cursor back.
        expected = cursor
        for page in conn.read_changed(cursor):
            crashpoint("page-read")
            tickets = self._admit(page.tickets, summary)
            if not page.complete_history:
                tickets = self.store.merge_histories(tickets)
            tickets = self._enrich(tickets, summary)
            summary.tickets_read += len(tickets)
            if self.dry_run:
                self._dry_seen.setdefault(name, set()).update(t.id for t in tickets)
                self._evaluate(tickets, summary, cutoff)
                self.progress(f"{name}: {summary.tickets_read} tickets read", summary)
                continue
            saved = self.store.store_snapshots(tickets, now=self.clock())
            summary.tickets_changed += sum(1 for s in saved if s is Saved.WRITTEN)
            # A ticket older than its stored snapshot was read before another process read
            # (and evaluated) a newer version: evaluating the old one could plan from a past
            # state, so it is left to the newer one.
            tickets = [t for t, s in zip(tickets, saved, strict=True) if s is not Saved.STALE]
            summary.stale += len(saved) - len(tickets)
            crashpoint("snapshots-saved")
            for start in range(0, len(tickets), self.batch):
                self._evaluate(tickets[start : start + self.batch], summary, cutoff)
            if page.cursor is not None:
                crashpoint("before-cursor")
                if not self.store.commit_cursor(
                    name, page.cursor, now=self.clock(), expected=expected
                ):
                    # Another reader moved the cursor since this one started: it is ahead,
                    # and goes on from there. Stop here rather than move it back.
                    log.info(
                        "%s: another process moved the cursor; this read stops and leaves "
                        "the rest to it",
                        name,
                    )
                    summary.cursor_conflicts += 1
                    self._deliver(name, conn, summary)
                    return
                expected = page.cursor
                crashpoint("cursor-committed")
            self.progress(f"{name}: {summary.tickets_read} tickets read", summary)
            # Write each page's actions back before reading the next: escalations reach the
            # helpdesk sooner, and the connector still holds the page it planned them from.
            # Plugin hook calls wait for the pass's last delivery: one claim for them a pass.
            self._deliver(name, conn, summary, hooks=False)

    def pull(self, name: str, *, summary: Summary | None = None) -> Summary:
        """Read connector ``name``'s changed tickets from its cursor, evaluate, deliver.

        The ``pull(connector)`` job (`slaplug.jobs`): `run_once` without the due thresholds
        (the ``due(bucket)`` jobs take those).

        Args:
            summary: Count into this one (a pass made of several jobs) rather than a new one.
        """
        with self._counted([name], summary) as counted:
            conn = self.connectors[name]
            self._held[name] = self.store.quarantined_ids(name)
            cutoff = self._cutoff_for(name, counted)
            if Capability.READ in conn.capabilities:
                self._read(name, conn, counted, cutoff)
            else:
                log.info("%s: its connector declares no read capability; nothing read", name)
            if self.dry_run:
                # The due jobs visit only connectors with something due, and a dry run marks
                # nothing: a cutoff moved earlier is shown here, after the read.
                self._dry_backfill(name, counted, cutoff)
            else:
                self._deliver(name, conn, counted)
        return counted

    def reevaluate_due(
        self,
        name: str | None = None,
        *,
        bucket: int | None = None,
        summary: Summary | None = None,
    ) -> Summary:
        """Re-evaluate the passed thresholds of one connector, or of one due bucket, and deliver.

        The ``due(bucket)`` job: the rows are claimed (leased) first, so several workers
        running it at once evaluate each due ticket once. A connector whose helpdesk fails
        does not stop the bucket's other connectors: its error is raised after they ran.

        Args:
            summary: Count into this one (a pass made of several jobs) rather than a new one.
        """
        if name is not None:
            names = [name]
        else:  # only the connectors with something due (10,000 helpdesks: a handful)
            found = self.store.due_connectors(self.clock(), bucket=bucket)
            names = [n for n in self.connectors if n in found]
        failures: list[ConnectorError] = []
        with self._counted(names, summary) as counted:
            for n in names:
                self._held[n] = self.store.quarantined_ids(n)
                cutoff = self._cutoff_for(n, counted, new_pass=False)
                try:
                    self._reevaluate_due(n, counted, cutoff, bucket=bucket)
                    if not self.dry_run:
                        self._deliver(n, self.connectors[n], counted)
                except ConnectorError as exc:
                    if len(names) == 1:
                        raise
                    # A bucket spans connectors: one helpdesk that fails must not keep the
                    # others' due thresholds (and their writes) waiting behind it.
                    self.release_leases()
                    log.warning("%s: %s; the other connectors' due tickets go on", n, exc)
                    failures.append(exc)
            if failures:
                raise failures[0]  # the job is recorded as failed; the next round retries it
        return counted

    def _reevaluate_due(
        self, name: str, summary: Summary, cutoff: datetime, *, bucket: int | None = None
    ) -> None:
        """Tickets whose next threshold passed: re-evaluated from snapshots, no API read.

        Each batch is claimed like outbox rows (a lease, SKIP LOCKED on PostgreSQL), so two
        processes never both evaluate the same due ticket; the leases are extended while the
        batch is evaluated, and end when its new thresholds are recorded.
        """
        if self.dry_run:
            self._dry_backfill(name, summary, cutoff)
            # Nothing is claimed or recorded in a dry run: look once and stop (the index is
            # not updated, so the same tickets would come again).
            due = self.store.due_before(self.clock(), self.batch, connector=name)
            if bucket is not None:  # the same first look, each bucket taking its own share
                due = [d for d in due if due_bucket(name, d.ticket_id) == bucket]
            evaluated = self._dry_seen.setdefault(name, set())
            due = [d for d in due if d.ticket_id not in evaluated]  # by the backfill, say
            snapshots = self.store.load_snapshots(name, [d.ticket_id for d in due])
            tickets = [snapshots[d.ticket_id] for d in due if d.ticket_id in snapshots]
            summary.reevaluated += len(tickets)
            self._evaluate(tickets, summary, cutoff)
            return
        # Rows due at the instant this job marked them for a cutoff moved earlier.
        move = self._pass_moves.get(name)
        marked_at = move.marked_at if move is not None else None
        seen: set[str] = set()
        while True:
            claimed = self.store.claim_due(
                self.clock(), self.batch, connector=name, bucket=bucket, worker_id=self.worker_id
            )
            due = [d for d in claimed if d.ticket_id not in seen]
            if not due:
                self._release_due(name, claimed)
                return
            seen.update(d.ticket_id for d in due)
            idents = [(name, d.ticket_id) for d in due]
            with self.store.due_lease_heartbeat(idents, self.worker_id, clock=self.clock):
                snapshots = self.store.load_snapshots(name, [d.ticket_id for d in due])
                tickets = [snapshots[d.ticket_id] for d in due if d.ticket_id in snapshots]
                summary.reevaluated += len(tickets)
                if marked_at is not None:
                    summary.cutoff_reevaluated += sum(
                        1 for d in due if d.due_at == marked_at and d.ticket_id in snapshots
                    )
                crashpoint("due-loaded")
                self._evaluate(tickets, summary, cutoff)
            # Rows evaluated got their next threshold (and lost the lease); the rest (no
            # snapshot, quarantined, seen twice) are given back for a later pass.
            self._release_due(name, claimed)

    def _dry_backfill(self, name: str, summary: Summary, cutoff: datetime) -> None:
        """A dry run's view of a cutoff moved earlier: every stored open ticket of the
        connector not yet evaluated this pass, evaluated from its snapshot in batches (what
        the real run's due path will do with the tickets it marks). Once a pass."""
        move = self._pass_moves.get(name)
        if move is None or not move.earlier or name in self._dry_backfilled:
            return
        self._dry_backfilled.add(name)
        evaluated = self._dry_seen.setdefault(name, set())
        batch: list[Ticket] = []

        def flush() -> None:
            if not batch:
                return
            evaluated.update(t.id for t in batch)
            summary.reevaluated += len(batch)
            summary.cutoff_reevaluated += len(batch)
            self._evaluate(batch, summary, cutoff)
            batch.clear()

        for t in self.store.iter_snapshots(name, batch=self.batch):
            if is_done(t) or t.id in evaluated:
                continue
            batch.append(t)
            if len(batch) >= self.batch:
                flush()
        flush()

    def _release_due(self, name: str, claimed: Sequence[DueTicket]) -> None:
        if claimed:
            self.store.release_due([(name, d.ticket_id) for d in claimed], self.worker_id)

    # -- the quarantine ------------------------------------------------------------------------

    def _admit(self, tickets: Sequence[Ticket], summary: Summary) -> list[Ticket]:
        """The tickets slaplug can process; the others are quarantined with the reason."""
        good: list[Ticket] = []
        bad: list[tuple[Ticket, str, str]] = []
        for t in tickets:
            problem = ticket_problem(t)
            if problem is None:
                good.append(t)
            else:
                bad.append((t, "check", problem))
        self._quarantine(bad, summary)
        return good

    def _enrich(self, tickets: Sequence[Ticket], summary: Summary) -> list[Ticket]:
        """The tickets with the fields plugins add (``enrich_ticket``); a ticket on which a
        plugin raises is quarantined with the plugin's name and the error, the others go on."""
        good: list[Ticket] = []
        bad: list[tuple[Ticket, str, str]] = []
        for t in tickets:
            try:
                good.append(plugins.enrich_ticket(t))
            except Exception as exc:  # third-party code: one ticket set aside, the pass goes on
                bad.append((t, "enrich", plugins.enrich_failure(exc)))
        self._quarantine(bad, summary)
        return good

    def _quarantine(self, bad: Sequence[tuple[Ticket, str, str]], summary: Summary) -> None:
        if not bad:
            return
        summary.quarantined += len(bad)
        for t, stage, reason in bad:
            log.warning(
                "%s ticket %s quarantined (%s): %s; the other tickets go on",
                t.connector,
                storable(t.id),
                stage,
                storable(reason),
            )
            self._held.setdefault(t.connector, set()).add(storable(t.id))
        if not self.dry_run:
            self.store.quarantine(
                ((t.connector, t.id, stage, reason) for t, stage, reason in bad), now=self.clock()
            )

    def _release(self, tickets: Sequence[Ticket]) -> None:
        """Let quarantined tickets go once they were processed."""
        for connector in {t.connector for t in tickets}:
            held = self._held.get(connector)
            if not held:
                continue
            done = {storable(t.id) for t in tickets if t.connector == connector} & held
            if done and not self.dry_run:
                self.store.release(connector, done)
                held -= done
                log.info("%s tickets %s left the quarantine", connector, ", ".join(sorted(done)))

    def _assess(
        self, tickets: Sequence[Ticket], now: datetime, summary: Summary
    ) -> tuple[list[VersionedAssessment], list[datetime | None]]:
        """Assess tickets and find their next thresholds; quarantine those that raise.

        The whole batch is tried first (one engine call). If it raises, each ticket is tried
        alone and those that still raise are quarantined. A failure every ticket of a batch
        shares (the engine died, a bug) is not the tickets' fault and is raised.
        """
        try:
            assessments = self.rules.assess_many(tickets, now)
            return assessments, [self.rules.next_due(a, now) for a in assessments]
        except (EngineError, MemoryError):
            raise
        except Exception as exc:
            if len(tickets) == 0:
                raise
            first = exc
        good: list[VersionedAssessment] = []
        dues: list[datetime | None] = []
        bad: list[tuple[Ticket, str, str]] = []
        for t in tickets:
            try:
                (a,) = self.rules.assess_many([t], now)
                d = self.rules.next_due(a, now)
            except (EngineError, MemoryError):
                raise
            except Exception as exc:
                bad.append((t, "evaluate", f"evaluating it raised {type(exc).__name__}: {exc}"))
                continue
            good.append(a)
            dues.append(d)
        if len(bad) == len(tickets) > 1:
            raise first
        self._quarantine(bad, summary)
        return good, dues

    def _evaluate(self, tickets: Sequence[Ticket], summary: Summary, cutoff: datetime) -> None:
        now = self.clock()
        assessments, dues = self._assess(tickets, now, summary)
        actions: list[Action] = []
        for a in assessments:
            live = [x for x in a.actions if not x.shadow]
            summary.shadow += len(a.actions) - len(live)
            actions.extend(self._in_crossing_order(a, self._go_live_gate(a, live, cutoff, summary)))
        _note_breaches(assessments, summary, cutoff)
        if self.dry_run:
            live = [a for a, _, _ in self._live_writes(assessments)]
            summary.live_writes += len(live)
            actions.extend(live)
            new = [x for x in actions if self.store.ledger_status(x.key) is None]
            summary.would_plan.extend(new[: max(0, Summary.SAMPLE - len(summary.would_plan))])
            if self.plan_sink is not None:
                for x in new:  # every one, as it is found: the plan may be far longer
                    self.plan_sink(x)
            summary.planned += len(new)
            summary.past_breaches += self._unrecorded_past_breaches(assessments, cutoff)
            return
        # on_breach goes through the outbox, planned before the breach is recorded: a crash
        # between the two plans it again (the ledger keeps it once), never loses it.
        self.store.plan(self._new_breach_hooks(assessments, cutoff), now=now)
        crashpoint("breach-hooks-planned")
        changes = self.store.record_measure_changes(
            ((a.ticket.key, a.measures) for a in assessments),
            at=now,
            # Each measure is recorded with the label of the version that measured it.
            versions={a.ticket.key: a.version_of for a in assessments}
            if self.rules.labelled
            else None,
        )
        summary.measures_changed += len(changes)
        for _, m in changes:
            # Recorded once per clock: the moment it was first seen breached. A breach from
            # before the cutoff is history: recorded, counted, and escalated by no one.
            if m.breached and m.breached_at is not None and m.breached_at < cutoff:
                summary.past_breaches += 1
        crashpoint("measures-recorded")
        planned = self.store.plan(actions, now=now)
        summary.planned += len(planned)
        crashpoint("actions-planned")
        live_keys = self.store.plan_live(self._live_writes(assessments), now=now)
        summary.planned += len(live_keys)
        summary.live_writes += len(live_keys)
        self.store.set_due_many(
            (a.ticket.connector, a.ticket.id, d) for a, d in zip(assessments, dues, strict=True)
        )
        self._release([a.ticket for a in assessments])

    def _new_breach_hooks(
        self, assessments: Sequence[VersionedAssessment], cutoff: datetime
    ) -> list[Action]:
        """The ``on_breach`` calls for clocks breached after the cutoff and not yet recorded
        as breached: the breaches this evaluation sees first. None while no plugin
        implements the hook: the outbox carries no calls to nobody."""
        if not implementers("on_breach"):
            return []
        breached = {
            (a.ticket.key, m.policy, m.metric.value, m.cycle): (a.ticket, m)
            for a in assessments
            for m in a.measures
            if m.breached and m.breached_at is not None and m.breached_at >= cutoff
        }
        if not breached:
            return []
        seen = self.store.recorded_breaches(breached)
        return [breach_hook(t, m) for head, (t, m) in breached.items() if head not in seen]

    def _go_live_gate(
        self, a: VersionedAssessment, actions: Sequence[Action], cutoff: datetime, summary: Summary
    ) -> list[Action]:
        """The actions that may be written: none on a done ticket, none from before the cutoff."""
        if not actions:
            return []
        if is_done(a.ticket):
            summary.held_done += len(actions)
            return []
        kept: list[Action] = []
        held_levels: set[str] = set()
        for x in actions:
            if self._thresholds[a.version_of_action(x)].before(x, a.measures, cutoff):
                summary.held_before_cutoff += 1
                held_levels.add(x.key.rsplit(":", 1)[0])  # the level's key, less the action
            else:
                kept.append(x)
        summary.past_crossings += len(held_levels)
        return kept

    def _in_crossing_order(self, a: VersionedAssessment, actions: list[Action]) -> list[Action]:
        """The ticket's actions, oldest threshold crossing first, where two write one slot.

        The store numbers a slot's writes in the order planned (`slaplug.store.live`), and
        only the newest is written: ``half_used`` at 50% and ``at_risk`` at 75% planned in one
        pass leave the field at ``at_risk``, whatever order the rules declare them in. Ties
        (and crossings the pack cannot time) keep the rules' order.
        """
        slots = [s for x in actions if (s := write_slot(x)) is not None]
        if len(slots) == len(set(slots)):
            return actions  # no slot written twice: the order changes nothing

        def crossed(x: Action) -> datetime:
            t = self._thresholds[a.version_of_action(x)].crossed_at(x, a.measures)
            return t if t is not None else datetime.max.replace(tzinfo=UTC)

        return sorted(actions, key=crossed)

    def _live_writes(
        self, assessments: Sequence[VersionedAssessment]
    ) -> list[tuple[Action, str, int]]:
        """The live fields (`slaplug.rules.live`) whose value moved since it was last planned,
        as ``(action, field, seq)``.

        A live field shows the current state, not an escalation of history: the go-live
        cutoff does not hold it back, so every open ticket shows its deadline from the first
        sync on (one write each). Solved and closed tickets get none, as for escalations, and
        a shadow pack writes none. With rules versions, each clock fills the live fields its
        own version declares (the clock started last wins a field, as within one version).
        """
        fields = sorted({name for lf in self._live.values() for name in lf.fields})
        if not fields or self.pack.source.shadow:
            return []
        open_tickets = [a for a in assessments if not is_done(a.ticket)]
        heads: dict[tuple[str, str, str], LiveHead] = {}
        for connector in sorted({a.ticket.connector for a in open_tickets}):
            found = self.store.live_heads(
                connector, [a.ticket.id for a in open_tickets if a.ticket.connector == connector]
            )
            for (tid, name), last in found.items():
                heads[(connector, tid, name)] = last
        out: list[tuple[Action, str, int]] = []
        for a in open_tickets:
            values = self._live_values(a)
            for name in fields:
                head = heads.get((a.ticket.connector, a.ticket.id, name))
                shown = head.value if head is not None else None
                v = values.get(name) or LiveValue(a.ticket, name, None, None)
                if v.value == shown:
                    continue  # unchanged, or empty and never shown: nothing to write
                seq = (head.seq if head is not None else 0) + 1
                out.append((live_action(v, seq), name, seq))
        return out

    def _live_values(self, a: VersionedAssessment) -> dict[str, LiveValue]:
        """Each live field's value for one ticket, each clock under its own version."""
        return versioned_values(self._live, a)

    def _unrecorded_past_breaches(
        self, assessments: Sequence[VersionedAssessment], cutoff: datetime
    ) -> int:
        """Breaches before the cutoff a real run would record now (a dry run's count)."""
        heads = {
            (a.ticket.key, m.policy, m.metric.value, m.cycle)
            for a in assessments
            for m in a.measures
            if m.breached_at is not None and m.breached_at < cutoff
        }
        return len(heads - self.store.recorded_breaches(heads)) if heads else 0

    # -- writing back --------------------------------------------------------------------------

    def _deliver(self, name: str, conn: Connector, summary: Summary, *, hooks: bool = True) -> None:
        # The helpdesk's writes first, then (unless ``hooks`` is False) plugin hook calls,
        # each in batches of their own: a hook call never takes a place in a write batch.
        self._deliver_lane(name, conn, summary, hooks=False)
        if hooks:
            self._deliver_lane(name, conn, summary, hooks=True)

    def _deliver_lane(self, name: str, conn: Connector, summary: Summary, *, hooks: bool) -> None:
        while True:
            claims = self.store.outbox_claim(
                name,
                limit=self.claim_batch,
                now=self.clock(),
                worker_id=self.worker_id,
                hooks=hooks,
            )
            if not claims:
                return
            # The leases are extended while the batch runs: a batch slower than its lease
            # must not be claimed, and written, a second time by another process.
            with self.store.outbox_lease_heartbeat(
                [c.key for c in claims], self.worker_id, clock=self.clock
            ):
                self._deliver_batch(name, conn, claims, summary)

    def _deliver_batch(
        self, name: str, conn: Connector, claims: Sequence[Claim], summary: Summary
    ) -> None:
        """Apply one claimed batch and record each outcome."""
        crashpoint("claimed")
        by_key = {c.key: c for c in claims}
        notify = [c.action for c in claims if c.action.kind is ActionKind.NOTIFY]
        hooks = [c.action for c in claims if c.action.kind is ActionKind.HOOK]
        platform = [c.action for c in claims if c.action.kind not in _NOT_PLATFORM]
        for a in notify:
            # Each settled on its own, right after its sends: a crash repeats one at most.
            self._notify(a, summary)
        for a in hooks:
            self._call_hook(a, summary)
        results: list[ApplyResult] = []
        if platform and Capability.WRITE_BACK not in conn.capabilities:
            # Never handed to a connector that does not say it writes: final, and visible.
            why = f"connector {name!r} declares no write_back capability; nothing is written"
            results = [ApplyResult(a.key, ApplyStatus.SKIPPED, why) for a in platform]
            platform = []
        try:
            if platform:
                # First claims were never handed to a connector: nothing to look for.
                fresh = {c.key for c in claims if c.attempts == 1}
                results += conn.apply(platform, fresh=fresh)
        except FatalAPIError:
            raise  # the message says what to fix; leases lapse and nothing is lost
        except (RetriableAPIError, ConnectorError) as exc:
            retry_after = getattr(exc, "retry_after", None)
            for a in platform:
                self._fail(a.key, str(exc), retry_after, summary)
        crashpoint("applied")
        self._settle_all([(by_key[r.key].action, r) for r in results], summary)
        crashpoint("completed")
        self.progress(f"{name}: {summary.applied} actions applied", summary)

    def _notify(self, action: Action, summary: Summary) -> None:
        try:
            result = self.notifications.deliver(action)
        except DeliveryError as exc:
            self._fail(action.key, str(exc), None, summary)
            return
        self._settle_all([(action, result)], summary)

    def _call_hook(self, action: Action, summary: Summary) -> None:
        """Deliver a plugin hook call; recorded apart from the helpdesk's writes (not counted
        as applied, no ``on_action_applied``), failures retried like a notifier's."""
        try:
            result = self.hooks.deliver(action)
        except DeliveryError as exc:
            self._fail(action.key, str(exc), None, summary)
            return
        self.store.complete_many(
            [(result.key, result.status.value, result.detail)], now=self.clock()
        )

    def _settle_all(self, outcomes: Sequence[tuple[Action, ApplyResult]], summary: Summary) -> None:
        """Record a batch's outcomes: finals in one transaction, conflicts back to the outbox."""
        final = [(a, r) for a, r in outcomes if r.status is not ApplyStatus.CONFLICT]
        for _, r in outcomes:
            if r.status is ApplyStatus.CONFLICT:
                # The ticket changed under us (409), a bulk job did not finish, or a notifier
                # failed: try again later; the next read re-evaluates the ticket.
                summary.conflicts += 1
                self.store.reschedule(r.key, now=self.clock())
        self.store.complete_many(
            ((r.key, r.status.value, r.detail) for _, r in final), now=self.clock()
        )
        for action, r in final:
            if r.status is ApplyStatus.APPLIED:
                summary.note_written(action)
            elif r.status is ApplyStatus.ALREADY:
                summary.already += 1
            elif r.status is ApplyStatus.SKIPPED:
                summary.note_skip(r.detail)
            else:
                summary.failed += 1
                log.warning("action %s failed for good: %s", r.key, r.detail)
            self.hooks.action_applied(action, r)

    def _fail(self, key: str, error: str, retry_after: float | None, summary: Summary) -> None:
        state = self.store.outbox_fail(key, error, retry_after=retry_after, now=self.clock())
        if state == "dead":
            summary.dead_lettered += 1
            log.error("action %s is a dead letter after its last try: %s", key, error)
        else:
            summary.retried_later += 1

    def _calls(self, name: str) -> tuple[int, int]:
        stats = self.connectors[name].http.stats
        return stats.reads, stats.writes


#: Actions the sync delivers itself, never handed to a connector.
_NOT_PLATFORM = frozenset({ActionKind.NOTIFY, ActionKind.HOOK})


def _note_breaches(
    assessments: Iterable[VersionedAssessment], summary: Summary, cutoff: datetime
) -> None:
    for a in assessments:
        done = is_done(a.ticket)
        for m in a.measures:
            if m.state is not MeasureState.BREACHED:
                continue
            if m.breached_at is not None and m.breached_at < cutoff:
                fate = BreachFate.BEFORE_CUTOFF
            elif done:
                fate = BreachFate.TICKET_DONE
            else:
                fate = BreachFate.SINCE_CUTOFF
            summary.note_breach(
                a.ticket.connector, a.ticket.id, f"{m.policy}/{m.metric.value}", m.cycle, fate
            )
