"""What ``slaplug credits``, ``report`` and ``backtest`` share: settings in, store and pack out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from slaplug.config import Settings, load_settings
from slaplug.credits.freeze import Settled, settle
from slaplug.credits.source import ContractBook, rules_digest
from slaplug.errors import ConfigError
from slaplug.rules.pack import RulePack
from slaplug.store import Store

__all__ = [
    "CreditsContext",
    "load_offline_settings",
    "open_credits",
    "parse_since",
    "settle_period",
]

#: What an unset credential reads as offline (never sent anywhere: no connector is built).
_PLACEHOLDER = "unused-offline"


class _OfflineEnviron(Mapping[str, str]):
    """The environment, where a credential that is not set reads as a placeholder.

    Credits, reports and backtests read only the store and the rules; they never call a
    helpdesk, so they should run where the tokens are not (a laptop with a copy of the store,
    a cron job for reports) without anyone setting fake ones.
    """

    def __getitem__(self, key: str) -> str:
        if key in os.environ:
            return os.environ[key]
        if key == "SLAPLUG_CONFIG":  # where the settings are is not a credential
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
    """The store, the pack in force and its contracts."""

    store: Store
    pack: RulePack
    book: ContractBook
    digest: str


@contextmanager
def open_credits(
    settings: Settings,
    rules: Sequence[Path] | None = None,
    engine: Literal["durable", "python"] | None = None,
) -> Iterator[CreditsContext]:
    """Open the store and load the rules (no connector is built: nothing is read or written
    on a helpdesk, so no credentials are needed).

    Args:
        settings: Validated settings.
        rules: Rules files instead of the configured ones.
        engine: The matching engine; default the configured one.

    Raises:
        ConfigError: No rules are configured.
    """
    paths = list(rules or settings.rules)
    if not paths:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    with (
        Store.open(settings.store) as store,
        RulePack.load(paths, engine=engine or settings.engine) as pack,
    ):
        yield CreditsContext(store, pack, ContractBook(pack), rules_digest(paths))


def settle_period(
    ctx: CreditsContext,
    period: str,
    now: datetime,
    contract: str | None = None,
    recalculate: bool = False,
    reason: str = "",
    freeze: bool = False,
) -> list[Settled]:
    """`slaplug.credits.freeze.settle` with the context's store, contracts and digest.

    Unlike `settle`, a closed period is frozen only when ``freeze`` says so: commands show
    a preview first (``slaplug credits --freeze`` freezes).

    Raises:
        ConfigError: The rules declare no contracts, or see `settle`.
    """
    if not ctx.book.contracts:
        raise ConfigError("the rules declare no contracts; add a contracts: section")
    return settle(
        ctx.store,
        ctx.book,
        period,
        now=now,
        digest=ctx.digest,
        only=contract,
        recalculate=recalculate,
        reason=reason,
        freeze=freeze,
    )
