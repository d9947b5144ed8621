"""Every SLA clock of the synced tickets, measured now from their stored snapshots.

One computation for every view of the clocks: ``slaplug status``, the digest
(`slaplug.notify.digest`) and the web dashboard all call `measure_clocks` and filter its
rows with `ClockQuery`. Nothing here calls a helpdesk: the tickets are the snapshots the last
sync or webhook stored, measured again at ``now`` under the rules pack in force.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from slaplug.connectors.base import Connector
from slaplug.credits.source import ContractBook
from slaplug.model import MeasureState, SlaMeasure, Ticket
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.store import Store

__all__ = [
    "AT_RISK_WITHIN",
    "ClockQuery",
    "ClockRow",
    "ClockState",
    "LinkFor",
    "classify",
    "connector_links",
    "count_states",
    "measure_clocks",
    "measure_tickets",
    "select",
    "snapshot_link",
]

#: A running clock whose deadline falls within this wall time of now is at risk (the default
#: of ``slaplug status --within``).
AT_RISK_WITHIN = timedelta(hours=4)

#: Tickets assessed per batch (the rules engine is entered once per batch).
_BATCH = 500

#: How a row finds its ticket's page on the helpdesk.
LinkFor = Callable[[Ticket], str | None]


class ClockState(StrEnum):
    """Where a clock stands, as people ask about it (finer than `MeasureState`).

    Each clock is in exactly one state; the first that applies, in this order:
    """

    #: The target was missed (the clock may still run, be paused, or have stopped).
    BREACHED = "breached"
    #: Running, and its deadline falls within the at-risk horizon.
    AT_RISK = "at_risk"
    #: Paused (a pause status), not breached: no deadline until it runs again.
    PAUSED = "paused"
    #: Running, with more time left than the horizon.
    RUNNING = "running"
    #: Stopped within its target.
    MET = "met"
    #: Stopped by a condition meaning the target does not apply (neither met nor breached).
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, text: str) -> ClockState:
        """``"at-risk"``, ``"at_risk"`` or ``"AT RISK"`` as a state.

        Raises:
            ValueError: Not a state; the message lists the valid ones.
        """
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(s.value.replace("_", "-") for s in cls)
            raise ValueError(f"{text!r} is not a clock state; use one of {known}") from None


def classify(m: SlaMeasure, now: datetime, within: timedelta = AT_RISK_WITHIN) -> ClockState:
    """The `ClockState` of measure ``m`` at ``now``, with an at-risk horizon of ``within``."""
    if m.state is MeasureState.CANCELLED:
        return ClockState.CANCELLED
    if m.breached_at is not None:
        return ClockState.BREACHED
    if m.stopped_at is not None or m.state is MeasureState.ACHIEVED:
        return ClockState.MET
    if m.deadline is None or m.state is MeasureState.PAUSED:
        return ClockState.PAUSED
    if m.deadline <= now + within:
        return ClockState.AT_RISK
    return ClockState.RUNNING


@dataclass(frozen=True)
class ClockRow:
    """One clock of one synced ticket, measured at ``at``.

    Attributes:
        ticket: The ticket as last synced (its stored snapshot).
        measure: The clock, measured at ``at``.
        state: Where it stands (`classify`).
        at: When it was measured.
        link: The ticket's page on its helpdesk (`Connector.ticket_url`, or the URL the
            connector stored with the snapshot), None if unknown.
        contract: The contract the ticket belongs to (the first whose ``match`` holds), if
            the rules declare contracts.
    """

    ticket: Ticket
    measure: SlaMeasure
    state: ClockState
    at: datetime
    link: str | None = None
    contract: str | None = None

    @property
    def open(self) -> bool:
        """Whether the clock still counts or waits (not stopped, not cancelled)."""
        return self.measure.stopped_at is None and self.state is not ClockState.CANCELLED

    @property
    def due(self) -> datetime | None:
        """When it breached, or will (wall clock); None while paused before a breach."""
        return self.measure.breached_at or self.measure.deadline

    @property
    def time_left(self) -> timedelta | None:
        """Wall time from ``at`` to `due` (negative once breached); None when there is no
        due time (paused, or stopped within target)."""
        if self.state is ClockState.MET or self.state is ClockState.CANCELLED:
            return None
        due = self.due
        return None if due is None else due - self.at

    def sort_key(self) -> tuple[int, float, str, str, str, str, int]:
        """Least time left first: breached (most overdue first), then by deadline; then
        paused clocks by business time remaining; then stopped clocks. Ties by ticket."""
        left = self.time_left
        if left is not None and self.open:
            rank, value = 0, left.total_seconds()
        elif self.open:
            rank, value = 1, self.measure.remaining.total_seconds()
        else:
            rank, value = 2, self.measure.remaining.total_seconds()
        m = self.measure
        return (
            rank,
            value,
            self.ticket.connector,
            self.ticket.id,
            m.policy,
            m.metric.value,
            m.cycle,
        )


def snapshot_link(ticket: Ticket) -> str | None:
    """The URL the connector stored with the ticket's snapshot (no connector needed)."""
    return ticket.url


def connector_links(connectors: Mapping[str, Connector]) -> LinkFor:
    """Links from the configured connectors' `Connector.ticket_url` (no call is made), for
    tickets of other connectors the URL stored with the snapshot."""

    def link(ticket: Ticket) -> str | None:
        conn = connectors.get(ticket.connector)
        url = conn.ticket_url(ticket.id) if conn is not None else None
        return url or ticket.url

    return link


def _fold(values: Iterable[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out = frozenset(v.strip().casefold() for v in values if v.strip())
    return out or None


@dataclass(frozen=True)
class ClockQuery:
    """Which clocks to show. Every criterion left as None matches everything; several values
    for one criterion match any of them. Text matches ignore case.

    Attributes:
        connectors: Connector names (``zendesk``, ``jira-eu``).
        states: Clock states; clocks that are no longer open (met, cancelled, or breached
            and stopped) are shown only with ``include_closed``, or when ``states`` asks for
            ``met`` or ``cancelled``.
        policies: Policy names.
        teams: Matches the ticket's group or its assignee (the id or the display name).
        customers: Matches the ticket's organization (the id or the display name) or its
            contract's name.
            (``teams`` and ``customers`` are kept case-folded.)
        include_closed: Show stopped clocks too (past cycles, solved tickets).
        within: The at-risk horizon (wall time before the deadline).
        limit: Show at most this many rows (after sorting).
    """

    connectors: frozenset[str] | None = None
    states: frozenset[ClockState] | None = None
    policies: frozenset[str] | None = None
    teams: frozenset[str] | None = None
    customers: frozenset[str] | None = None
    include_closed: bool = False
    within: timedelta = AT_RISK_WITHIN
    limit: int | None = None

    def __post_init__(self) -> None:
        # Text criteria are kept case-folded, so each row compares without folding them again.
        for name in ("teams", "customers"):
            object.__setattr__(self, name, _fold(getattr(self, name)))
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit {self.limit} is negative; give 0 or more")

    @classmethod
    def build(
        cls,
        *,
        connectors: Iterable[str] | str | None = None,
        states: Iterable[ClockState | str] | ClockState | str | None = None,
        policies: Iterable[str] | str | None = None,
        teams: Iterable[str] | str | None = None,
        customers: Iterable[str] | str | None = None,
        include_closed: bool = False,
        within: timedelta = AT_RISK_WITHIN,
        limit: int | None = None,
    ) -> ClockQuery:
        """A query from loose values (a string or several; state names as ``at-risk``).

        Empty sequences mean "no filter", like None.

        Raises:
            ValueError: A state name is not one of `ClockState`, or ``limit`` is negative.
        """

        def names(v: Iterable[str] | str | None) -> frozenset[str] | None:
            if v is None:
                return None
            got = frozenset([v] if isinstance(v, str) else v)
            return got or None

        if isinstance(states, str | ClockState):
            states = [states]
        parsed = (
            frozenset(s if isinstance(s, ClockState) else ClockState.parse(s) for s in states)
            if states is not None
            else None
        )
        return cls(
            connectors=names(connectors),
            states=parsed or None,
            policies=names(policies),
            teams=names(teams),
            customers=names(customers),
            include_closed=include_closed,
            within=within,
            limit=limit,
        )

    @property
    def shows_closed(self) -> bool:
        """Whether stopped clocks are shown (asked for, or implied by the states asked for)."""
        return self.include_closed or bool(
            self.states and self.states & {ClockState.MET, ClockState.CANCELLED}
        )

    def wants_ticket(self, ticket: Ticket) -> bool:
        """Whether the ticket passes the connector and team filters (customer and contract
        are checked per row: the contract is known only then)."""
        if self.connectors is not None and ticket.connector not in self.connectors:
            return False
        if self.teams is not None:
            mine = {
                (v or "").casefold()
                for v in (
                    ticket.group,
                    ticket.assignee,
                    ticket.name_of("group"),
                    ticket.name_of("assignee"),
                )
            }
            if not mine & self.teams:
                return False
        return True

    def wants(self, row: ClockRow) -> bool:
        """Whether ``row`` passes every criterion (but the limit)."""
        if not row.open and not self.shows_closed:
            return False
        if self.states is not None and row.state not in self.states:
            return False
        return self.in_scope(row)

    def in_scope(self, row: ClockRow) -> bool:
        """Whether ``row`` passes the connector, policy, team and customer criteria, whatever
        its state: the clocks whose breaches `slaplug.views.breach_summary` counts."""
        if not self.wants_ticket(row.ticket):
            return False
        if self.policies is not None and row.measure.policy not in self.policies:
            return False
        if self.customers is not None:
            t = row.ticket
            mine = {
                (v or "").casefold()
                for v in (t.organization, t.name_of("organization"), row.contract)
            }
            if not mine & self.customers:
                return False
        return True


def measure_tickets(
    tickets: Iterable[Ticket],
    pack: RulePack | VersionedPack,
    now: datetime,
    *,
    within: timedelta = AT_RISK_WITHIN,
    links: LinkFor = snapshot_link,
    keep: Callable[[Ticket], bool] | None = None,
) -> Iterator[ClockRow]:
    """Every clock (every policy, metric and cycle) of ``tickets``, measured at ``now``.

    Tickets are assessed under ``pack`` in batches of 500 (memory stays flat); rows come in
    the tickets' order. `select` filters and sorts them.

    Args:
        tickets: The tickets, e.g. ``store.iter_snapshots()``.
        pack: The rules pack in force, or its versions (each clock measured under the version
            in force when its cycle started). It is used from the calling thread only.
        now: The moment to measure at (timezone-aware).
        within: The at-risk horizon for `classify`.
        links: The ticket's link: pass ``lambda t: connectors[t.connector].ticket_url(t.id)``
            where connectors are built; the default is the URL the connector stored with the
            snapshot.
        keep: Skip tickets for which this returns False before measuring them (the cheap
            filters: `ClockQuery.wants_ticket`).
    """
    rules = VersionedPack.of(pack)
    book = ContractBook(rules)
    batch: list[Ticket] = []

    def flush() -> Iterator[ClockRow]:
        for assessment in rules.assess_many(batch, now):
            t = assessment.ticket
            if not assessment.measures:
                continue
            link = links(t) or t.url
            contract = book.contract_of(t) if book.contracts else None
            name = contract.name if contract is not None else None
            for m in assessment.measures:
                yield ClockRow(t, m, classify(m, now, within), now, link, name)
        batch.clear()

    for t in tickets:
        if keep is not None and not keep(t):
            continue
        batch.append(t)
        if len(batch) >= _BATCH:
            yield from flush()
    yield from flush()


def measure_clocks(
    store: Store,
    pack: RulePack | VersionedPack,
    now: datetime,
    *,
    connector: str | None = None,
    within: timedelta = AT_RISK_WITHIN,
    links: LinkFor = snapshot_link,
    keep: Callable[[Ticket], bool] | None = None,
) -> Iterator[ClockRow]:
    """`measure_tickets` over every synced ticket: the store's snapshots, as the last sync or
    webhook stored them. No helpdesk is called.

    Args:
        store: The store the sync and the webhook worker fill.
        pack: The rules pack in force.
        now: The moment to measure at.
        connector: Only this connector's tickets (read from the store by connector).
        within: See `measure_tickets`.
        links: See `measure_tickets`.
        keep: See `measure_tickets`.
    """
    return measure_tickets(
        store.iter_snapshots(connector), pack, now, within=within, links=links, keep=keep
    )


def select(rows: Iterable[ClockRow], query: ClockQuery) -> list[ClockRow]:
    """The rows ``query`` wants, least time left first (`ClockRow.sort_key`), at most
    ``query.limit`` of them."""
    found = sorted((r for r in rows if query.wants(r)), key=ClockRow.sort_key)
    return found if query.limit is None else found[: query.limit]


def count_states(rows: Sequence[ClockRow]) -> dict[str, int]:
    """How many of ``rows`` are in each state, every state named (zeros included)."""
    out = {s.value: 0 for s in ClockState}
    for r in rows:
        out[r.state.value] += 1
    return out
