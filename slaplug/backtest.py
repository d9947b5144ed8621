"""``slaplug backtest``: replay the stored history under other rules, before switching.

Two comparisons: the rules as configured (each cycle under the version in force when it
started) against another pack (``--rules``), or against a *re-measure*: every cycle under
the newest version (``--remeasure``), listing each measure whose verdict would change
(`remeasure_changes`) as well as the contracts' figures.

Each stored ticket snapshot carries its whole event history, so a pack can be replayed on it
exactly as a sync would have run it: the ticket is assessed at each of its events and at each
threshold the pack's escalations watch (`RulePack.next_due`), so an escalation that fired at
75 % and no longer holds today is still counted. Both packs see the same tickets and the same
instants; the difference is the rules'.

Counted per contract (a ticket belongs to the first contract of *each* pack that matches it):

- breaches: measures whose target ran out in the window;
- escalations: escalation levels that would have fired in the window (once per ticket,
  policy, metric, cycle and level: what the ledger would have let through);
- credits: each period overlapping the window, computed live (never read from the frozen
  results: both packs must be judged on the same footing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from slaplug.credits.compute import compute
from slaplug.credits.model import PeriodResult, Sample
from slaplug.credits.periods import periods_between
from slaplug.credits.source import ContractBook
from slaplug.model import MeasureState, SlaMeasure, Ticket
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack

__all__ = [
    "NO_CONTRACT",
    "MeasureChange",
    "Outcome",
    "backtest",
    "remeasure_changes",
    "render_changes",
    "render_text",
    "replay",
]

Rules = RulePack | VersionedPack

#: Where tickets that no contract matches are counted.
NO_CONTRACT = "(no contract)"
#: A ticket is assessed at most this often; a pack that asks for more is stepped to ``now``.
MAX_STEPS = 400
#: Thresholds are stepped past by this much: at the exact instant, float rounding may leave a
#: percent a hair below the literal the escalation compares it with.
_PAST = timedelta(seconds=1)


@dataclass
class Outcome:
    """What one pack did to one contract's tickets in the window."""

    tickets: int = 0
    breaches: int = 0
    escalations: int = 0
    credits: list[PeriodResult] = field(default_factory=list)

    @property
    def amount(self) -> Decimal | None:
        """Total credit amount over the periods, when the contract has a fee."""
        amounts = [c.amount for c in self.credits if c.amount is not None]
        return sum(amounts, Decimal(0)) if amounts else None


def _fired(pack: VersionedPack, ticket: Ticket, since: datetime, now: datetime) -> int:
    """Escalation levels that fire for ``ticket`` in ``[since, now]``, replaying its history."""
    seen: set[str] = set()
    counted = 0
    events = sorted({e.at for e in ticket.events if e.at <= now})
    t = ticket.created_at
    for _ in range(MAX_STEPS):
        a = pack.assess(ticket, t)
        for action in a.actions:
            level = action.key.rsplit(":", 1)[0]  # the key without the action's index
            if level not in seen:
                seen.add(level)
                counted += t >= since
        nexts = [e for e in events if e > t]
        due = pack.next_due(a, t)
        if due is not None:
            nexts.append(due + _PAST)
        if not nexts or min(nexts) > now:
            break
        t = min(nexts)
    else:
        pack.assess(ticket, now)  # too many thresholds: settle for the state at now
    return counted


def replay(
    rules: Rules, tickets: Sequence[Ticket], since: datetime, now: datetime
) -> dict[str, Outcome]:
    """Breaches, escalations and credits per contract of ``rules`` over ``[since, now)``.

    With versions, each cycle is measured and escalated under the version in force when it
    started, and each period's credit under the contract terms in force at its start.
    """
    pack = VersionedPack.of(rules)
    book = ContractBook(pack)
    out: dict[str, Outcome] = {}
    assessments = pack.assess_many(tickets, now)
    for ticket, a in zip(tickets, assessments, strict=True):
        contract = book.contract_of(ticket)
        o = out.setdefault(contract.name if contract else NO_CONTRACT, Outcome())
        o.tickets += 1
        o.breaches += sum(
            1 for m in a.measures if m.breached_at is not None and since <= m.breached_at < now
        )
        o.escalations += _fired(pack, ticket, since, now)
    samples: dict[str, dict[str, list[Sample]]] = {}  # terms version -> contract -> samples
    for c in book.contracts:
        o = out.setdefault(c.name, Outcome())
        for nominal in periods_between(since, now, c.zone, c.period_kind):
            # Each period in its own terms' zone, joined to the period before (`period`).
            found = book.period(c.name, nominal.label)
            if found is None:
                continue  # the contract was not in force then
            terms, version, period = found
            if version not in samples:
                samples[version] = {}
                for contract, sample in book.samples(tickets, now, terms=version):
                    samples[version].setdefault(contract.name, []).append(sample)
            o.credits.append(
                compute(terms, period, samples[version].get(c.name, []), computed_at=now)
            )
    return out


@dataclass(frozen=True)
class ContractDiff:
    """One contract's outcome under the current pack and under the new one."""

    contract: str
    before: Outcome
    after: Outcome


def backtest(
    current: Rules, new: Rules, tickets: Iterable[Ticket], since: datetime, now: datetime
) -> list[ContractDiff]:
    """Replay ``tickets`` under both; one row per contract either declares."""
    items = list(tickets)
    a, b = replay(current, items, since, now), replay(new, items, since, now)
    names = [*a, *(n for n in b if n not in a)]
    names.sort(key=lambda n: (n == NO_CONTRACT, n))
    return [ContractDiff(n, a.get(n, Outcome()), b.get(n, Outcome())) for n in names]


def _change(x: int, y: int) -> str:
    return f"{x} -> {y} ({y - x:+d})"


def _credits(o: Outcome) -> dict[str, PeriodResult]:
    return {c.period: c for c in o.credits}


def render_text(
    diffs: Sequence[ContractDiff],
    since: datetime,
    now: datetime,
    sides: tuple[str, str] = ("current rules", "new rules"),
) -> str:
    """The comparison as a table, then each contract's credits per period."""
    lines = [
        f"Backtest {since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC: {sides[0]} -> {sides[1]}",
        "",
        f"{'contract':<16}{'tickets':>9}  {'breaches':<20}{'escalations':<22}credit total",
    ]
    for d in diffs:
        tickets = (
            f"{d.before.tickets}"
            if d.before.tickets == d.after.tickets
            else (f"{d.before.tickets}/{d.after.tickets}")
        )
        total = "-"
        if d.before.amount is not None or d.after.amount is not None:
            cur = next((c.currency for c in d.after.credits + d.before.credits), "")
            total = f"{d.before.amount or 0} -> {d.after.amount or 0} {cur}".rstrip()
        lines.append(
            f"{d.contract:<16}{tickets:>9}  {_change(d.before.breaches, d.after.breaches):<20}"
            f"{_change(d.before.escalations, d.after.escalations):<22}{total}"
        )
    for d in diffs:
        before, after = _credits(d.before), _credits(d.after)
        if not before and not after:
            continue
        lines += ["", f"{d.contract}:"]
        for period in sorted({*before, *after}):
            x, y = before.get(period), after.get(period)
            lines.append(f"  {period}  {_credit(x)} -> {_credit(y)}")
            if y is not None:
                lines += [f"      {w}" for w in y.why[:-1] if "below the target" in w]
    return "\n".join(lines) + "\n"


def _credit(r: PeriodResult | None) -> str:
    if r is None:
        return "no contract"
    text = f"{r.credit.normalize():f} %"
    if r.amount is not None:
        text += f" ({r.amount} {r.currency})".replace(" )", ")")
    return text


# -- a re-measure under the newest version -------------------------------------------------------


@dataclass(frozen=True)
class MeasureChange:
    """One measure whose verdict a re-measure under the newest version would change.

    Attributes:
        ticket_key: ``connector:id``.
        policy: The policy.
        metric: The metric.
        cycle: The cycle.
        version: The version that measures it now (in force when the cycle started).
        before: Its verdict now: ``met``, ``breached``, ``running``, ``paused``,
            ``cancelled`` or ``none`` (no such clock).
        after: Its verdict re-measured under the newest version.
        newest: The newest version's label.
    """

    ticket_key: str
    policy: str
    metric: str
    cycle: int
    version: str
    before: str
    after: str
    newest: str


def _verdict(m: SlaMeasure | None) -> str:
    if m is None:
        return "none"
    if m.breached:
        return "breached"
    if m.state is MeasureState.ACHIEVED:
        return "met"
    return m.state.value


def _in_window(m: SlaMeasure | None, since: datetime) -> bool:
    if m is None:
        return False
    decided = m.breached_at or m.stopped_at
    return m.start >= since or decided is None or decided >= since


def remeasure_changes(
    rules: VersionedPack, tickets: Sequence[Ticket], since: datetime, now: datetime
) -> list[MeasureChange]:
    """The measures whose verdict changes when every cycle is measured under the newest
    version, among those running or decided in ``[since, now)``; in ticket order."""
    latest = rules.latest()
    newest = rules.newest.label
    out: list[MeasureChange] = []
    for a, b in zip(rules.assess_many(tickets, now), latest.assess_many(tickets, now), strict=True):
        before = {(m.policy, m.metric.value, m.cycle): m for m in a.measures}
        after = {(m.policy, m.metric.value, m.cycle): m for m in b.measures}
        for mid in [*before, *(k for k in after if k not in before)]:
            x, y = before.get(mid), after.get(mid)
            if not (_in_window(x, since) or _in_window(y, since)):
                continue
            if _verdict(x) == _verdict(y):
                continue
            version = a.version_of(x) if x is not None else ""
            out.append(
                MeasureChange(
                    a.ticket.key, mid[0], mid[1], mid[2], version, _verdict(x), _verdict(y), newest
                )
            )
    return out


def render_changes(changes: Sequence[MeasureChange]) -> str:
    """One line per measure whose verdict would change, then how many."""
    if not changes:
        return "Re-measured under the newest version, no measure changes its verdict.\n"
    lines = ["Measures whose verdict a re-measure would change:"]
    for c in changes:
        under = f" (measured under {c.version})" if c.version else ""
        lines.append(
            f"  {c.ticket_key} {c.policy}/{c.metric} cycle {c.cycle}{under}: "
            f"{c.before} -> {c.after} under {c.newest or 'the newest rules'}"
        )
    lines.append(f"{len(changes)} measure(s) would change.")
    return "\n".join(lines) + "\n"
