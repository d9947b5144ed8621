"""Frozen periods: a closed period's result is computed once, stored, and read back unchanged.

A period may be frozen once it is closed: its end plus the contract's ``freeze_after`` has
passed (so that a sync running late still counts). Freezing is asked for (``slaplug credits
--freeze``); until then a closed period is computed live and shown as a *preview*, so that its
figures can be checked before they are fixed. From then on ``slaplug credits`` reads the
stored result, whatever happens to the rules: an edited policy, a new holiday, a contract whose
tiers changed. A recalculation happens only when asked for (``--recalculate``); it stores a
new revision beside the old one and reports what changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from slaplug.credits.compute import compute
from slaplug.credits.model import (
    BreachLine,
    Contract,
    ExclusionLine,
    ObjectiveResult,
    PeriodResult,
    Sample,
    Tier,
    customer_name,
    percent_text,
)
from slaplug.credits.periods import Period, label_kind, parse_period
from slaplug.credits.source import ContractBook
from slaplug.errors import ConfigError
from slaplug.model import Metric, Ticket
from slaplug.store import Store

__all__ = [
    "Settled",
    "differences",
    "measure_samples",
    "result_from_dict",
    "result_to_dict",
    "settle",
    "versions_text",
]


@dataclass(frozen=True)
class Settled:
    """A period's result as ``slaplug credits`` shows it.

    Attributes:
        result: The result: frozen (``revision`` > 0) or live (0, the period is still open).
        previous: For a recalculation, the revision it replaces (``result`` itself when the
            recalculation changed nothing: no new revision is stored then).
        changes: For a recalculation, what differs, one line each (empty: nothing).
        preview: The period is closed but was not frozen (not asked to): ``result`` is
            computed live and stored nowhere.
    """

    result: PeriodResult
    previous: PeriodResult | None = None
    changes: tuple[str, ...] = ()
    preview: bool = False


def settle(
    store: Store,
    book: ContractBook,
    label: str,
    *,
    now: datetime,
    digest: str,
    only: str | None = None,
    recalculate: bool = False,
    reason: str = "",
    tickets: Iterable[Ticket] | None = None,
    samples: Mapping[str, Mapping[str, Sequence[Sample]]] | None = None,
    freeze: bool = True,
    open_is_error: bool = False,
    not_before: datetime | None = None,
) -> list[Settled]:
    """Each contract's result for the period ``label``: read if frozen, else computed.

    A closed period computed for the first time is frozen (stored as revision 1) when
    ``freeze`` is true, and shown as a preview, stored nowhere, when it is false.

    Args:
        store: The store (snapshots in, frozen results in and out).
        book: The contracts of the rules pack in force.
        label: ``2026-10`` or ``2026-Q4``.
        now: The time to compute at.
        digest: The rules' fingerprint, recorded with each result.
        only: One contract's name; default every contract of the pack.
        recalculate: Compute closed periods again, storing a new revision with its changes.
        reason: Recorded with a recalculation.
        tickets: The tickets to measure; default every stored snapshot.
        samples: The decided measures already taken from the tickets as of ``now``, by
            version of terms, then by contract name (`ContractBook.samples` with ``terms``):
            the dashboard takes them once per refresh for every page and period instead of
            measuring every ticket again.
        freeze: Store a closed period's first result (the default). False only reads: a
            closed period not frozen yet is computed and returned with revision 0, as an open
            one is, marked `Settled.preview` (``slaplug credits`` without ``--freeze``; the
            web pages, which must not freeze a period by being looked at).
        open_is_error: Refuse a period still open for any contract, before measuring
            anything (``slaplug credits --freeze``: nothing to freeze yet).
        not_before: With ``open_is_error``: the store's first data; a period that ended
            before it is refused too (nothing was measured in it: freezing would fix a credit
            of nothing on no data).

    A label of the other kind than a contract's ``period`` (a quarter of a contract billed
    monthly, a month of one billed quarterly) is refused for ``only``; without ``only``, such
    contracts are left out (`ContractBook.kind_mismatch` says why), and the label is refused
    when every contract is. A closed period is measured as of its end: what became known
    after it (a clock stopping, or cancelled, later; time running on past a breach) does not
    change it, so its figures are the same whenever they are computed.

    Raises:
        ConfigError: ``only`` names no contract; ``label`` is not a period of the contract's
            kind; a recalculation of a period not closed or not frozen yet; with
            ``open_is_error``, a period still open or not measured (nothing is frozen).
    """
    contracts = book.contracts
    if only is not None:
        picked = book.get(only)
        if picked is None:
            known = ", ".join(c.name for c in contracts) or "none"
            raise ConfigError(f"no contract named {only!r} in the rules; contracts: {known}")
        contracts = [picked]
    plans: list[tuple[Contract, str, Period, bool, PeriodResult | None]] = []
    wrong_kind: list[str] = []
    for newest in contracts:
        mismatch = book.kind_mismatch(newest.name, label)
        if mismatch is not None:
            wrong_kind.append(mismatch + _void_note(store, newest.name, label))
            continue
        # The period's terms are the contract as the version in force at its start has it.
        found = book.period(newest.name, label)
        if found is None:
            if only is not None:
                period = parse_period(label, newest.zone, newest.period_kind)
                raise ConfigError(
                    f"contract {only!r} is not in the rules version in force at the start of "
                    f"{period.label} ({book.rules.version_at(period.start).label}): it has "
                    "nothing to settle for that period"
                )
            continue
        c, version, period = found
        closed = period.closed(now, c.freeze_after)
        if recalculate and not closed:
            raise ConfigError(
                f"{c.name} {period.label} is not closed until "
                f"{(period.end + c.freeze_after).isoformat()}; there is nothing frozen to recalculate"
            )
        row = store.credit_period(c.name, period.label)
        stored = _from_row(row.body, row.revision) if row is not None else None
        if recalculate and stored is None:
            raise ConfigError(
                f"{c.name} {period.label} was never frozen; there is nothing to recalculate "
                f"(`slaplug credits --period {period.label} --freeze` freezes it)"
            )
        plans.append((c, version, period, closed, stored))
    if wrong_kind and (only is not None or not plans):
        raise ConfigError("; ".join(wrong_kind))
    still_open = [(c, period) for c, _, period, closed, _ in plans if not closed]
    unmeasured = [
        (c, period)
        for c, _, period, closed, stored in plans
        if closed and stored is None and not_before is not None and period.end <= not_before
    ]
    if open_is_error and (still_open or unmeasured):
        lines = [_open_line(c, period, now) for c, period in still_open]
        lines += [
            f"{c.name} {period.label} ended before the store's first data "
            f"({not_before.isoformat() if not_before else ''}): no ticket was measured in it, "
            "nothing to freeze"
            for c, period in unmeasured
        ]
        if len(still_open) + len(unmeasured) < len(plans):
            lines.append("nothing was frozen; freeze the closed ones with --contract NAME --freeze")
        raise ConfigError("; ".join(lines))
    todo = {c.name: version for c, version, _, _, stored in plans if stored is None or recalculate}
    measured: Mapping[str, Sequence[Sample]]
    if samples is None:
        # A period that has ended is measured as of its end: its figures no longer move.
        ends = {c.name: min(now, period.end) for c, _, period, _, _ in plans}
        measured = measure_samples(
            book,
            {name: (version, ends[name]) for name, version in todo.items()},
            store.iter_snapshots if tickets is None else _again(tickets),
        )
    else:
        given = samples
        measured = {name: given.get(version, {}).get(name, ()) for name, version in todo.items()}
    out: list[Settled] = []
    for c, version, period, closed, stored in plans:
        if c.name not in todo:
            assert stored is not None
            out.append(Settled(stored))
            continue
        fresh = compute(
            c,
            period,
            measured.get(c.name, []),
            computed_at=now,
            rules_digest=digest,
            by_customer=True,
        )
        if book.rules.labelled:
            fresh = _labelled(fresh, version, [v.label for v in book.rules.versions])
        if not closed:
            out.append(Settled(fresh))
            continue
        if stored is None and not freeze:
            out.append(Settled(fresh, preview=True))
            continue
        if stored is not None and not differences(stored, fresh):
            # Recalculated to the same figures: the revision a customer was shown stands; a
            # new one would only say "nothing changed" with a later date.
            out.append(Settled(stored, stored, ()))
            continue
        revision = 1 if stored is None else stored.revision + 1
        body = json.dumps(result_to_dict(fresh), sort_keys=True, separators=(",", ":"))
        why = "frozen" if stored is None else (reason or "recalculated")
        row = store.add_credit_period(
            c.name, period.label, body, reason=why, expect_revision=revision, now=now
        )
        kept = _from_row(row.body, row.revision, stored.revision if stored else None)
        if stored is None:
            out.append(Settled(kept))
        else:
            out.append(Settled(kept, stored, tuple(differences(stored, kept))))
    return out


def _labelled(r: PeriodResult, version: str, order: list[str]) -> PeriodResult:
    """``r`` (and its parts) naming the version of its terms, its versions in their order."""
    return replace(
        r,
        terms_version=version,
        rules_versions=tuple(sorted(r.rules_versions, key=lambda lv: order.index(lv[0]))),
        parts=None if r.parts is None else tuple(_labelled(p, version, order) for p in r.parts),
    )


def _again(tickets: Iterable[Ticket]) -> Callable[[], Iterable[Ticket]]:
    items = list(tickets)
    return lambda: items


def measure_samples(
    book: ContractBook,
    names: Mapping[str, tuple[str, datetime]],
    tickets: Callable[[], Iterable[Ticket]],
) -> dict[str, list[Sample]]:
    """The samples of each contract in ``names`` (name -> the version of its terms, and the
    time to measure at): one pass over the tickets per version of terms and time (one,
    unless a period starts in another version or the contracts' periods end apart). Uses
    the rules engine: the web pages call it on its thread, for a period that has ended."""
    out: dict[str, list[Sample]] = {}
    for terms, at in dict.fromkeys(names.values()):
        wanted = {n for n, v in names.items() if v == (terms, at)}
        # A ticket created at or after ``at`` has nothing decided by then.
        known = (t for t in tickets() if t.created_at < at)
        for contract, sample in book.samples(known, at, terms=terms):
            if contract.name in wanted:
                out.setdefault(contract.name, []).append(sample)
    return out


def _open_line(c: Contract, period: Period, now: datetime) -> str:
    """Why ``period`` cannot be frozen yet: not started, or not closed."""
    closes = (period.end + c.freeze_after).isoformat()
    if now < period.start:
        return (
            f"{c.name} {period.label} has not started: it starts {period.start.isoformat()} "
            f"and can be frozen from {closes} (its end plus the contract's freeze_after)"
        )
    return (
        f"{c.name} {period.label} is still open: nothing to freeze until it closes at "
        f"{closes} (its end plus the contract's freeze_after)"
    )


def _void_note(store: Store, name: str, label: str) -> str:
    """For a label of the wrong kind: what an earlier slaplug, which did not check the kind,
    may have frozen under it (a quarter of a monthly contract, at one month's fee)."""
    if label_kind(label) != "quarter":
        return ""  # a month of a quarterly contract was always settled as its quarter
    shown = parse_period(label, ZoneInfo("UTC"), "quarter").label
    row = store.credit_period(name, shown)
    if row is None:
        return ""
    return (
        f" (note: {name} {shown} was frozen as revision {row.revision} on "
        f"{row.computed_at.date().isoformat()} by an earlier slaplug, which did not check "
        "the period: that statement applies one period's fee to a quarter and is void; the "
        "months' own statements are separate and unaffected)"
    )


def _from_row(body: str, revision: int, previous: int | None = None) -> PeriodResult:
    result = result_from_dict(json.loads(body))
    parts = result.parts
    if parts is not None:  # frozen with the whole: each customer's part is that revision too
        parts = tuple(replace(p, revision=revision, recalculation_of=previous) for p in parts)
    return replace(result, revision=revision, recalculation_of=previous, parts=parts)


# -- changes -------------------------------------------------------------------------------------


def differences(old: PeriodResult, new: PeriodResult) -> list[str]:
    """What changed between two results of one period, one line per figure."""
    out: list[str] = []
    olds = {(o.severity, o.metric): o for o in old.objectives}
    news = {(o.severity, o.metric): o for o in new.objectives}
    for key in [*olds, *(k for k in news if k not in olds)]:
        a, b = olds.get(key), news.get(key)
        name = f"{key[0]} {key[1].value}"
        if a is None or b is None:
            out.append(f"{name}: objective {'added' if a is None else 'removed'}")
            continue
        if (a.counted, a.met, a.credit) != (b.counted, b.met, b.credit):
            out.append(
                f"{name}: {_share(a)} -> {_share(b)}; credit {_pct(a.credit)} -> {_pct(b.credit)}"
            )
    if (old.credit, old.amount) != (new.credit, new.amount):
        cur = f" {new.currency}" if new.currency else ""
        money = f" ({old.amount}{cur} -> {new.amount}{cur})" if new.amount is not None else ""
        out.append(f"credit {_pct(old.credit)} -> {_pct(new.credit)}{money}")
    if old.rules_versions and new.rules_versions and old.rules_versions != new.rules_versions:
        out.append(
            f"rules versions {versions_text(old.rules_versions)} -> "
            f"{versions_text(new.rules_versions)}"
        )
    if old.terms_version and new.terms_version and old.terms_version != new.terms_version:
        out.append(f"contract terms of {old.terms_version} -> {new.terms_version}")
    if old.parts is None and new.parts:
        shown = ", ".join(customer_name(p.customer or "") for p in new.parts)
        out.append(f"per-customer figures added: {shown}")
    elif old.parts is not None and new.parts is not None:
        for org in sorted({*old.customers, *new.customers}):
            a_part, b_part = old.part(org), new.part(org)
            if a_part is None or b_part is None or a_part.credit != b_part.credit:
                before = "-" if a_part is None else _pct(a_part.credit)
                after = "-" if b_part is None else _pct(b_part.credit)
                out.append(f"customer {customer_name(org)}: credit {before} -> {after}")
    a_keys = {(b.ticket_key, b.metric, b.cycle) for b in old.breaches}
    b_keys = {(b.ticket_key, b.metric, b.cycle) for b in new.breaches}
    for label, keys in (("breach added", b_keys - a_keys), ("breach gone", a_keys - b_keys)):
        for t, m, cyc in sorted(keys):
            out.append(f"{label}: {t} {m.value} cycle {cyc}")
    return out


def versions_text(versions: Iterable[tuple[str, int]]) -> str:
    """``v1 (37), v2 (3)``: each version with the measures counted under it."""
    return ", ".join(f"{label} ({n})" for label, n in versions)


def _share(o: ObjectiveResult) -> str:
    c = o.compliance
    return f"{o.met}/{o.counted} ({percent_text(c)})" if c is not None else "0/0"


def _pct(d: Decimal) -> str:
    return f"{d.normalize():f} %"


# -- JSON ----------------------------------------------------------------------------------------


def _t(d: datetime) -> str:
    return d.isoformat()


def _dec(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def result_to_dict(r: PeriodResult) -> dict[str, Any]:
    """The result as plain JSON data (decimals as strings, times ISO 8601, durations seconds)."""
    return {
        "contract": r.contract,
        "period": r.period,
        "start": _t(r.start),
        "end": _t(r.end),
        "timezone": r.timezone,
        "objectives": [
            {
                "severity": o.severity,
                "metric": o.metric.value,
                "target": str(o.target),
                "counted": o.counted,
                "met": o.met,
                "compliance": None if o.compliance is None else percent_text(o.compliance)[:-2],
                "tier": None
                if o.tier is None
                else {k: str(getattr(o.tier, k)) for k in ("at_least", "below", "credit")},
                "credit": str(o.credit),
                "why": o.why,
            }
            for o in r.objectives
        ],
        "breaches": [
            {
                "ticket": b.ticket_key,
                "url": b.url,
                "subject": b.subject,
                "severity": b.severity,
                "metric": b.metric.value,
                "cycle": b.cycle,
                "breached_at": _t(b.breached_at),
                "overdue_seconds": b.overdue.total_seconds(),
            }
            for b in r.breaches
        ],
        "exclusions": [
            {
                "ticket": e.ticket_key,
                "url": e.url,
                "severity": e.severity,
                "metric": e.metric.value,
                "cycle": e.cycle,
                "reason": e.reason,
            }
            for e in r.exclusions
        ],
        "credit_sum": str(r.credit_sum),
        "cap": _dec(r.cap),
        "credit": str(r.credit),
        "fee": _dec(r.fee),
        "currency": r.currency,
        "amount": _dec(r.amount),
        "why": list(r.why),
        "computed_at": _t(r.computed_at),
        "rules_digest": r.rules_digest,
        "revision": r.revision,
        "frozen": r.frozen,
        "recalculation_of": r.recalculation_of,
        "rules_versions": [{"label": label, "measures": n} for label, n in r.rules_versions],
        "terms_version": r.terms_version,
        "customer": r.customer,
        "customers": list(r.customers),
        **({} if r.parts is None else {"parts": [result_to_dict(p) for p in r.parts]}),
    }


def _opt_dec(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def result_from_dict(d: dict[str, Any]) -> PeriodResult:
    """The inverse of `result_to_dict`."""
    when = datetime.fromisoformat
    return PeriodResult(
        contract=d["contract"],
        period=d["period"],
        start=when(d["start"]),
        end=when(d["end"]),
        timezone=d["timezone"],
        objectives=tuple(
            ObjectiveResult(
                severity=o["severity"],
                metric=Metric(o["metric"]),
                target=Decimal(o["target"]),
                counted=o["counted"],
                met=o["met"],
                tier=None
                if o["tier"] is None
                else Tier(*(Decimal(o["tier"][k]) for k in ("at_least", "below", "credit"))),
                credit=Decimal(o["credit"]),
                why=o["why"],
            )
            for o in d["objectives"]
        ),
        breaches=tuple(
            BreachLine(
                b["ticket"],
                b["url"],
                b["subject"],
                b["severity"],
                Metric(b["metric"]),
                b["cycle"],
                when(b["breached_at"]),
                timedelta(seconds=b["overdue_seconds"]),
            )
            for b in d["breaches"]
        ),
        exclusions=tuple(
            ExclusionLine(
                e["ticket"], e["url"], e["severity"], Metric(e["metric"]), e["cycle"], e["reason"]
            )
            for e in d["exclusions"]
        ),
        credit_sum=Decimal(d["credit_sum"]),
        cap=_opt_dec(d["cap"]),
        credit=Decimal(d["credit"]),
        fee=_opt_dec(d["fee"]),
        currency=d["currency"],
        amount=_opt_dec(d["amount"]),
        why=tuple(d["why"]),
        computed_at=when(d["computed_at"]),
        rules_digest=d.get("rules_digest", ""),
        revision=d.get("revision", 0),
        recalculation_of=d.get("recalculation_of"),
        rules_versions=tuple((v["label"], v["measures"]) for v in d.get("rules_versions", [])),
        terms_version=d.get("terms_version", ""),
        customer=d.get("customer"),
        customers=tuple(d.get("customers", ())),
        parts=None if "parts" not in d else tuple(result_from_dict(p) for p in d["parts"]),
    )
