"""What ``slaplug credits``, ``report`` and ``backtest`` share: settings in, store and pack out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from slaplug.config import MIN_LEASE_ENV, Settings, load_settings
from slaplug.credits.compute import compute
from slaplug.credits.freeze import Settled, settle
from slaplug.credits.model import PeriodResult, customer_name
from slaplug.credits.source import ContractBook, rules_digest
from slaplug.errors import ConfigError
from slaplug.plugins import holidays_for
from slaplug.rules.engines import EngineName
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.store import Store

__all__ = [
    "CreditsContext",
    "configured_digest",
    "empty_part",
    "first_data",
    "for_customer",
    "load_offline_settings",
    "open_credits",
    "parse_since",
    "settle_period",
]

#: Variables slaplug reads that are settings, not credentials: unset, they stay unset (a
#: placeholder there would be read as a value, e.g. a lease floor "unused-offline").
_NOT_CREDENTIALS = frozenset({"SLAPLUG_CONFIG", MIN_LEASE_ENV})

#: What an unset credential reads as offline (never sent anywhere: no connector is built).
#: Long enough to pass any length check a credential has (the dashboard's token's).
_PLACEHOLDER = "unused-offline-placeholder"


class _OfflineEnviron(Mapping[str, str]):
    """The environment, where a credential that is not set reads as a placeholder.

    Credits, reports and backtests read only the store and the rules; they never call a
    helpdesk, so they should run where the tokens are not (a laptop with a copy of the store,
    a cron job for reports) without anyone setting fake ones.
    """

    def __getitem__(self, key: str) -> str:
        if key in os.environ:
            return os.environ[key]
        if key in _NOT_CREDENTIALS:
            raise KeyError(key)
        return _PLACEHOLDER

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def load_offline_settings(path: str | None) -> Settings:
    """`load_settings` for commands that never call a helpdesk: credentials may be unset.

    Raises:
        ConfigError: See `slaplug.config.load_settings`.
    """
    return load_settings(path, environ=_OfflineEnviron())


_UNITS = {"d": "days", "h": "hours", "w": "weeks"}
_SINCE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_since(value: str, now: datetime) -> datetime:
    """``"90d"``, ``"12h"``, ``"2w"`` (wall-clock, back from ``now``) or an ISO date or time.

    Raises:
        ConfigError: Neither form.
    """
    m = _SINCE.match(value.lower())
    if m:
        n, unit = int(m[1]), m[2]
        return now - timedelta(**{_UNITS[unit]: n})
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{value!r}: write --since as 90d, 12h, 2w or an ISO date") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=now.tzinfo)


@dataclass
class CreditsContext:
    """The store, the rules (every version) and their contracts."""

    store: Store
    rules: VersionedPack
    book: ContractBook
    digest: str


def configured_digest(settings: Settings, labelled: bool) -> str:
    """The fingerprint of the configured rules, as results record it (`rules_digest` over
    every version's files, and their labels and dates when versions are labelled)."""
    return rules_digest(
        [p for v in settings.rules_versions for p in v.files],
        [(v.label, v.effective_from) for v in settings.rules_versions] if labelled else (),
    )


@contextmanager
def open_credits(
    settings: Settings,
    rules: Sequence[Path] | None = None,
    engine: EngineName | None = None,
) -> Iterator[CreditsContext]:
    """Open the store and load the rules (no connector is built: nothing is read or written
    on a helpdesk, so no credentials are needed).

    Args:
        settings: Validated settings.
        rules: Rules files instead of the configured ones (one version, unlabelled).
        engine: The matching engine; default the configured one.

    Raises:
        ConfigError: No rules are configured.
    """
    from slaplug.runtime import load_versions  # noqa: PLC0415 - runtime builds connectors

    with ExitStack() as stack:
        store = stack.enter_context(Store.open(settings.store))
        if rules:
            paths = list(rules)
            pack = stack.enter_context(
                RulePack.load(
                    paths, engine=engine or settings.engine, holiday_provider=holidays_for
                )
            )
            versions = VersionedPack.of(pack)
            digest = rules_digest(paths)
        else:
            versions = load_versions(settings, stack, engine)
            digest = configured_digest(settings, versions.labelled)
        yield CreditsContext(store, versions, ContractBook(versions), digest)


def settle_period(
    ctx: CreditsContext,
    period: str,
    now: datetime,
    contract: str | None = None,
    recalculate: bool = False,
    reason: str = "",
    remeasure: bool = False,
    freeze: bool = False,
    customer: str | None = None,
) -> list[Settled]:
    """`slaplug.credits.freeze.settle` with the context's store, contracts and digest.

    Unlike `settle`, a closed period is frozen only when ``freeze`` says so: commands show
    a preview first (``slaplug credits --freeze`` freezes).

    Args:
        remeasure: With ``recalculate``: measure every cycle, and read every contract,
            under the newest rules version, instead of each under the version in force when
            it started (`VersionedPack.latest`). Only ever done when asked for.
        freeze: Freeze a closed period not frozen yet; a period still open, or one that
            ended before the store's first data, is then an error, raised before anything is
            measured.
        customer: One organization's part of each contract's result (``--organization``),
            instead of the whole; contracts with no ticket of it are left out.

    Raises:
        ConfigError: The rules declare no contracts; ``remeasure`` without ``recalculate``;
            or see `settle`.
    """
    if not ctx.book.contracts:
        raise ConfigError("the rules declare no contracts; add a contracts: section")
    book = ctx.book
    if remeasure:
        if not recalculate:
            raise ConfigError(
                "--remeasure changes frozen results: give it with --recalculate (and a --reason)"
            )
        book = ContractBook(ctx.rules.latest())
        newest = ctx.rules.newest.label
        reason = reason or (f"re-measured under {newest}" if newest else "re-measured")
    settled = settle(
        ctx.store,
        book,
        period,
        now=now,
        digest=ctx.digest,
        only=contract,
        recalculate=recalculate,
        reason=reason,
        freeze=freeze,
        open_is_error=freeze,
        not_before=(first_data(ctx.store) or now) if freeze else None,
    )
    return settled if customer is None else for_customer(ctx, settled, customer, period)


def empty_part(
    book: ContractBook, r: PeriodResult, customer: str, label: str
) -> PeriodResult | None:
    """The part of ``r`` (a contract's result for period ``label``) for an organization none
    of whose tickets' measures fell in the period: all zero, of ``r``'s revision. None when
    the contract has no terms for the period."""
    found = book.period(r.contract, label)
    if found is None:
        return None
    terms, _, bounds = found
    return replace(
        compute(
            terms,
            bounds,
            [],
            computed_at=r.computed_at,
            rules_digest=r.rules_digest,
            customer=customer,
        ),
        revision=r.revision,
        recalculation_of=r.recalculation_of,
        terms_version=r.terms_version,
    )


def first_data(store: Store) -> datetime | None:
    """When the store's data starts: the oldest stored ticket's creation (None: no ticket)."""
    return min((t.created_at for t in store.iter_snapshots()), default=None)


def _customers_of(ctx: CreditsContext, names: set[str]) -> dict[str, set[str]]:
    """The organizations of the stored tickets each contract in ``names`` matches."""
    out: dict[str, set[str]] = {n: set() for n in names}
    for t in ctx.store.iter_snapshots():
        c = ctx.book.contract_of(t)
        if c is not None and c.name in out:
            out[c.name].add(t.organization or "")
    return out


def _pick(customer: str, known: Iterable[str]) -> str | None:
    """``customer`` as ``known`` spells it: exactly, or else the one equal ignoring case."""
    names = set(known)
    if customer in names:
        return customer
    folded = [n for n in names if n.casefold() == customer.casefold()]
    return folded[0] if len(folded) == 1 else None


def for_customer(
    ctx: CreditsContext, settled: Sequence[Settled], customer: str, label: str
) -> list[Settled]:
    """Each contract's part for organization ``customer`` (`PeriodResult.parts`): its
    tickets only. A contract that has tickets of it but none measured in the period gets an
    empty part; one with no ticket of it is left out.

    Raises:
        ConfigError: A frozen result without parts (frozen before slaplug kept them: a
            recalculation adds them); no contract has a ticket of ``customer``.
    """
    known: dict[str, set[str]] | None = None
    for s in settled:
        if s.result.parts is None:
            r = s.result
            known = known or _customers_of(ctx, {x.result.contract for x in settled})
            if _pick(customer, known[r.contract]) is None:
                continue  # not a customer of this contract: it is left out below anyway
            raise ConfigError(
                f"{r.contract} {r.period} was frozen (revision {r.revision}) before slaplug "
                "kept each customer's figures; store them as a new revision with `slaplug "
                f"credits --period {r.period} --contract {r.contract} --recalculate --reason "
                "'per-customer figures'`"
            )
    out: list[Settled] = []
    for s in settled:
        r = s.result
        if r.parts is None:
            continue  # frozen without parts, and not a customer of this contract (above)
        org = _pick(customer, r.customers)
        part = r.part(org) if org is not None else None
        if part is None:
            if known is None:
                known = _customers_of(ctx, {x.result.contract for x in settled})
            org = _pick(customer, known[r.contract])
            if org is None:
                continue
            part = empty_part(ctx.book, r, org, label)
            if part is None:
                continue
        previous = s.previous
        if previous is not None:
            previous = part if previous is r else (previous.part(org or "") or previous)
        out.append(replace(s, result=part, previous=previous))
    if not out:
        if known is None:
            known = _customers_of(ctx, {x.result.contract for x in settled})
        names = sorted({customer_name(o) for orgs in known.values() for o in orgs})
        raise ConfigError(
            f"no ticket of organization {customer!r} belongs to "
            f"{', '.join(s.result.contract for s in settled) or 'any contract'}; their "
            f"customers: {', '.join(names) or 'none'}"
        )
    return out
