"""What ``slaplug credits``, ``report`` and ``backtest`` share: settings in, store and pack out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from slaplug.config import MIN_LEASE_ENV, Settings, load_settings
from slaplug.credits.freeze import Settled, settle
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
) -> list[Settled]:
    """`slaplug.credits.freeze.settle` with the context's store, contracts and digest.

    Unlike `settle`, a closed period is frozen only when ``freeze`` says so: commands show
    a preview first (``slaplug credits --freeze`` freezes).

    Args:
        remeasure: With ``recalculate``: measure every cycle, and read every contract,
            under the newest rules version, instead of each under the version in force when
            it started (`VersionedPack.latest`). Only ever done when asked for.
        freeze: Freeze a closed period not frozen yet; a period still open is then an
            error, raised before anything is measured.

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
    return settle(
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
    )
