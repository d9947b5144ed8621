"""Slots in the ledger and the outbox: each value written once, never an old one last.

A live field's write (`slaplug.rules.live`) is an ordinary ledger row and outbox entry with
two more columns: its *slot* (``live:<field>``, per connector and ticket) and *seq*, the
value's number in that slot's history. An escalation's write to something a later
escalation may write again (a field, a tag, the priority, the status, the assignee) has a
slot too (`write_slot`: ``field:<field>``, ``tag:<tag>``, ``priority``...), numbered by
`OutboxMixin.plan` in the order the sync plans them. They give three guarantees:

- **Bounded writes.** The slot's newest row holds the value last planned (`live_heads`);
  the sync plans a new value only when it differs, so an unchanged deadline costs nothing
  and a moved one costs one write.
- **Exactly once.** The key holds the seq and the value, and the ledger's keys are unique:
  a crash and a re-run plan nothing twice. Two planners racing for one slot cannot both take
  the next seq (a unique index); the loser's ticket is marked due and re-evaluated.
- **No stale value last.** A row older than its slot's newest is *superseded* (ledger status
  ``superseded``, taken off the outbox) instead of being written, when a newer value is
  planned and again when the outbox is claimed (an older row a failure put back). And a slot
  row is not claimed while another row of its slot is leased: one write per field is in
  flight at a time, so an older value can never land after a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, select, update

from slaplug.model import Action
from slaplug.store._base import StoreBase, aware, chunks
from slaplug.store.codec import action_from_json, action_to_json
from slaplug.store.schema import due, ledger, outbox

__all__ = [
    "LiveHead",
    "LiveMixin",
    "LiveWrite",
    "claimable_live",
    "live_slot",
    "mark_due_now",
    "mark_lost_races",
    "newest_seqs",
    "supersede_behind",
    "write_slot",
]

#: The ledger status of a slot's value replaced by a newer one before it was written.
SUPERSEDED = "superseded"

#: The slots of live fields start with this; `write_slot`'s never do.
LIVE_PREFIX = "live:"


def live_slot(field: str) -> str:
    """The ledger slot of live field ``field``."""
    return f"live:{field}"


def write_slot(action: Action) -> str | None:
    """The ledger slot of an escalation's write: what it sets, which a later write replaces.

    Two escalations that set one field (``half_used`` at 50%, ``at_risk`` at 75%), add and
    remove one tag, or set the priority, status or assignee, write the same slot: only the
    newest value planned may be what the ticket shows. Comments and notifications add, they
    replace nothing: None.
    """
    kind, p = action.kind.value, action.params
    if kind == "set_field":
        return f"field:{p.get('field')}"
    if kind in ("add_tag", "remove_tag"):
        return f"tag:{p.get('tag')}"
    if kind == "assign":
        return "assign:user" if "user" in p else "assign:group"
    if kind in ("set_priority", "set_status"):
        return kind.removeprefix("set_")
    return None


@dataclass(frozen=True)
class LiveHead:
    """The value last planned for one live field of one ticket.

    Attributes:
        seq: Its number in the field's history (1 for the first).
        value: The value; None for empty.
        status: Its ledger status (pending, applied, failed...).
    """

    seq: int
    value: str | None
    status: str


@dataclass(frozen=True)
class LiveWrite:
    """One value planned for a live field of a ticket, as the ledger holds it.

    Attributes:
        field: The field.
        seq: Its number in the field's history (1 for the first).
        value: The value; None for empty.
        status: Its ledger status: pending (waiting or in flight), applied, failed, dead,
            superseded (a newer value replaced it before it was written).
        planned_at: When the sync planned it.
        done_at: When it was written, failed for good or superseded; None while pending.
        detail: The ledger's note (the error of a failure, what superseded it).
    """

    field: str
    seq: int
    value: str | None
    status: str
    planned_at: datetime
    done_at: datetime | None
    detail: str


class LiveMixin(StoreBase):
    """Live fields' values: what was planned last, and planning a new one."""

    def live_history(self, connector: str, ticket_id: str) -> dict[str, list[LiveWrite]]:
        """Every value planned for each live field of one ticket, newest first, by field
        (``slaplug explain``)."""
        out: dict[str, list[LiveWrite]] = {}
        with self._read() as conn:
            rows = conn.execute(
                select(
                    ledger.c.slot,
                    ledger.c.seq,
                    ledger.c.status,
                    ledger.c.action,
                    ledger.c.planned_at,
                    ledger.c.done_at,
                    ledger.c.detail,
                )
                .where(
                    ledger.c.connector == connector,
                    ledger.c.ticket_id == ticket_id,
                    ledger.c.slot.startswith(LIVE_PREFIX, autoescape=True),
                )
                .order_by(ledger.c.slot, ledger.c.seq.desc())
            )
            for r in rows:
                field = str(r.slot).removeprefix(LIVE_PREFIX)
                value = action_from_json(r.action).params.get("value")
                out.setdefault(field, []).append(
                    LiveWrite(
                        field,
                        int(r.seq),
                        None if value is None else str(value),
                        r.status,
                        r.planned_at,
                        r.done_at,
                        r.detail or "",
                    )
                )
        return out

    def live_heads(
        self, connector: str, ticket_ids: Iterable[str]
    ) -> dict[tuple[str, str], LiveHead]:
        """The newest planned value per ``(ticket id, field)`` of these tickets."""
        ids = sorted(set(ticket_ids))
        newest = (
            select(ledger.c.ticket_id, ledger.c.slot, func.max(ledger.c.seq).label("seq"))
            .where(
                ledger.c.connector == connector,
                ledger.c.slot.startswith(LIVE_PREFIX, autoescape=True),
            )
            .group_by(ledger.c.ticket_id, ledger.c.slot)
        )
        out: dict[tuple[str, str], LiveHead] = {}
        with self._read() as conn:
            for part in chunks(ids):
                sub = newest.where(ledger.c.ticket_id.in_(part)).subquery()
                rows = conn.execute(
                    select(ledger.c.ticket_id, ledger.c.slot, ledger.c.seq, ledger.c.status)
                    .add_columns(ledger.c.action)
                    .join(
                        sub,
                        and_(
                            ledger.c.ticket_id == sub.c.ticket_id,
                            ledger.c.slot == sub.c.slot,
                            ledger.c.seq == sub.c.seq,
                        ),
                    )
                    .where(ledger.c.connector == connector)
                )
                for r in rows:
                    value = action_from_json(r.action).params.get("value")
                    field = str(r.slot).removeprefix(LIVE_PREFIX)
                    out[(r.ticket_id, field)] = LiveHead(
                        int(r.seq), None if value is None else str(value), r.status
                    )
        return out

    def plan_live(
        self, writes: Iterable[tuple[Action, str, int]], *, now: datetime | None = None
    ) -> list[str]:
        """Queue live fields' new values, in one transaction.

        Args:
            writes: ``(action, field, seq)`` per value, ``seq`` one more than the field's
                `live_heads` seq (1 for a field never written).
            now: The current time.

        Returns:
            The keys queued, sorted. A key planned before is left out (a re-run after a
            crash). A seq another planner took meanwhile is left out too, and its ticket is
            marked due, so that it is evaluated again against the newer value.
        """
        at = aware(now)
        writes = list(writes)  # read twice: the rows, and where each goes
        rows = {
            a.key: {
                "key": a.key,
                "connector": a.connector,
                "ticket_id": a.ticket_id,
                "status": "pending",
                "detail": "",
                "action": action_to_json(a),
                "planned_at": at,
                "slot": live_slot(field),
                "seq": seq,
            }
            for a, field, seq in writes
            if not a.shadow
        }
        if not rows:
            return []
        #: Where each value goes: (connector, ticket id, slot, seq).
        placed = {
            a.key: (a.connector, a.ticket_id, live_slot(field), seq) for a, field, seq in writes
        }
        queued: list[str] = []
        with self._write() as conn:
            for key in sorted(rows):  # one at a time: a conflict on either index skips it
                stmt = self._insert(ledger).on_conflict_do_nothing().returning(ledger.c.key)
                queued.extend(conn.execute(stmt, rows[key]).scalars())
            taken = set(queued)
            mark_lost_races(self, conn, {k: placed[k][:2] for k in rows if k not in taken}, at)
            queued.sort()
            if queued:
                conn.execute(
                    outbox.insert(),
                    [
                        {
                            "key": key,
                            "connector": rows[key]["connector"],
                            "ticket_id": rows[key]["ticket_id"],
                            "state": "pending",
                            "attempts": 0,
                            "next_try_at": at,
                        }
                        for key in queued
                    ],
                )
                supersede_behind(conn, (placed[key] for key in queued), at)
        return queued


def _valid_lease(state: str, lease_until: datetime | None, now: datetime) -> bool:
    return state == "leased" and lease_until is not None and aware(lease_until) > now


def mark_lost_races(
    store: StoreBase, conn: Connection, missed: Mapping[str, tuple[str, str]], at: datetime
) -> None:
    """After inserting slot rows: of the keys left out (``key -> (connector, ticket id)``),
    those not in the ledger lost their number to another planner; their tickets are marked
    due, to be evaluated again against the winner's value. The others were planned before."""
    wanted = sorted(missed)
    known: set[str] = set()
    for part in chunks(wanted):
        known.update(conn.execute(select(ledger.c.key).where(ledger.c.key.in_(part))).scalars())
    for key in wanted:
        if key not in known:
            mark_due_now(store, conn, *missed[key], at)


def supersede_behind(
    conn: Connection, queued: Iterable[tuple[str, str, str, int]], now: datetime
) -> None:
    """Supersede, for each ``(connector, ticket id, slot, seq)`` just queued, the slot's
    rows older than it that are waiting (pending, failed): they will never be written. A
    row in flight (validly leased) is left to finish; the newer one waits for it
    (`claimable_live`)."""
    newest: dict[str, dict[tuple[str, str], int]] = {}
    for connector, ticket_id, slot, seq in queued:
        mine = newest.setdefault(connector, {})
        mine[(ticket_id, slot)] = max(seq, mine.get((ticket_id, slot), 0))
    for connector, seqs in newest.items():
        supersede_older_many(conn, connector, seqs, now)


def newest_seqs(
    conn: Connection, connector: str, ticket_ids: Iterable[str]
) -> dict[tuple[str, str], int]:
    """The newest seq of each ``(ticket id, slot)`` of these tickets that has one."""
    out: dict[tuple[str, str], int] = {}
    for part in chunks(sorted(set(ticket_ids))):
        for m in conn.execute(
            select(ledger.c.ticket_id, ledger.c.slot, func.max(ledger.c.seq))
            .where(
                ledger.c.connector == connector,
                ledger.c.ticket_id.in_(part),
                ledger.c.slot.is_not(None),
            )
            .group_by(ledger.c.ticket_id, ledger.c.slot)
        ):
            out[(m[0], m[1])] = int(m[2])
    return out


def supersede_older_many(
    conn: Connection, connector: str, newest: Mapping[tuple[str, str], int], now: datetime
) -> None:
    """Supersede the waiting rows older than ``(ticket id, slot) -> seq`` of one connector,
    reading each chunk of tickets' waiting slot rows once (`supersede_behind`)."""
    by_ticket: dict[str, list[tuple[str, int]]] = {}
    for (ticket_id, slot), seq in newest.items():
        by_ticket.setdefault(ticket_id, []).append((slot, seq))
    stale: dict[tuple[str, int], list[str]] = {}
    for part in chunks(sorted(by_ticket)):
        rows = conn.execute(
            select(
                ledger.c.key,
                ledger.c.ticket_id,
                ledger.c.slot,
                ledger.c.seq,
                outbox.c.state,
                outbox.c.lease_until,
            )
            .outerjoin(outbox, outbox.c.key == ledger.c.key)
            .where(
                ledger.c.connector == connector,
                ledger.c.ticket_id.in_(part),
                ledger.c.slot.is_not(None),
                ledger.c.status.in_(("pending", "failed")),
            )
        ).all()
        for r in rows:
            newer = newest.get((r.ticket_id, r.slot))
            if (
                newer is not None
                and r.seq < newer
                and not _valid_lease(r.state or "", r.lease_until, now)
            ):
                stale.setdefault((r.slot, newer), []).append(r.key)
    for (slot, seq), keys in stale.items():
        _supersede(conn, keys, seq, now, slot)


def _supersede(
    conn: Connection, keys: Sequence[str], seq: Any, now: datetime, slot: str | None = None
) -> None:
    if slot is None or slot.startswith(LIVE_PREFIX):
        why = f"a newer value (number {seq}) of this live field replaced it"
    else:
        why = f"a write planned later (number {seq}) to the same {slot} replaced it"
    for part in chunks(sorted(keys)):
        conn.execute(
            update(ledger)
            .where(ledger.c.key.in_(part), ledger.c.status.in_(("pending", "failed")))
            .values(status=SUPERSEDED, detail=why, done_at=now)
        )
        conn.execute(delete(outbox).where(outbox.c.key.in_(part)))


def claimable_live(conn: Connection, connector: str, now: datetime) -> list[Any]:
    """Conditions keeping `claim` from writing a slot's value out of order.

    Supersedes first every waiting row older than its slot's newest (a failure may have put
    one back), then returns a condition that leaves out each slot row while another row of
    its slot is in flight. Run inside the claim's transaction, for every claim: it asks the
    database for those two kinds of rows only (a few, normally none), not for every waiting
    slot row, which a backfill counts in thousands.
    """
    newer = ledger.alias("newer")
    # Every outbox row's ledger row is pending.
    waiting = (
        select(
            outbox.c.key,
            outbox.c.ticket_id,
            outbox.c.state,
            outbox.c.lease_until,
            ledger.c.slot,
            ledger.c.seq,
        )
        .select_from(ledger)
        .join(outbox, outbox.c.key == ledger.c.key)
        .where(
            ledger.c.connector == connector,
            ledger.c.slot.is_not(None),
            ledger.c.status == "pending",
        )
    )
    older = conn.execute(
        waiting.where(
            exists().where(
                newer.c.connector == ledger.c.connector,
                newer.c.ticket_id == ledger.c.ticket_id,
                newer.c.slot == ledger.c.slot,
                newer.c.seq > ledger.c.seq,
            )
        )
    ).all()
    leased = [
        r
        for r in conn.execute(waiting.where(outbox.c.state == "leased")).all()
        if _valid_lease(r.state, r.lease_until, now)
    ]
    stale_rows = [r for r in older if not _valid_lease(r.state, r.lease_until, now)]
    if stale_rows:
        newest = newest_seqs(conn, connector, (r.ticket_id for r in stale_rows))
        stale: dict[tuple[str, int], list[str]] = {}
        for r in stale_rows:
            stale.setdefault((r.slot, newest[(r.ticket_id, r.slot)]), []).append(r.key)
        for (name, seq), keys in stale.items():
            _supersede(conn, keys, seq, now, name)
    if not leased:
        return []
    flying = {(r.ticket_id, r.slot) for r in leased}
    gone = {r.key for r in stale_rows}
    blocked: list[str] = []
    for part in chunks(sorted({t for t, _ in flying})):
        for r in conn.execute(waiting.where(outbox.c.ticket_id.in_(part))).all():
            if (
                (r.ticket_id, r.slot) in flying
                and r.key not in gone
                and not _valid_lease(r.state, r.lease_until, now)
            ):
                blocked.append(r.key)
    if not blocked:
        return []
    return [and_(*(outbox.c.key.not_in(part) for part in chunks(blocked)))]


def mark_due_now(
    store: StoreBase, conn: Connection, connector: str, ticket_id: str, at: datetime
) -> None:
    """Make one ticket due at ``at``, to be evaluated again (a lost race for a slot)."""
    stmt = store._insert(due).values(connector=connector, ticket_id=ticket_id, due_at=at)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[due.c.connector, due.c.ticket_id], set_={"due_at": at}
        )
    )
