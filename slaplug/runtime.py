"""Wiring for the runners: settings in, a ready store, rules pack and connectors out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from slaplug import plugins
from slaplug.config import Settings
from slaplug.connectors.base import Connector
from slaplug.connectors.markers import MarkerKey
from slaplug.errors import ConfigError, ProblemsError
from slaplug.notify.channels import unserved
from slaplug.rules.engines import EngineName
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import RulesVersion, VersionedPack
from slaplug.store import Store, StoreSettings
from slaplug.store.budgets import StoreBudget

__all__ = ["Runtime", "load_versions", "open_runtime"]


@dataclass
class Runtime:
    """Everything a sync pass or a webhook worker needs, opened from one settings file."""

    settings: Settings
    store: Store
    #: The rules: every configured version (`VersionedPack`), or one plain pack.
    pack: RulePack | VersionedPack
    connectors: dict[str, Connector]


def load_versions(
    settings: Settings, stack: ExitStack, engine: EngineName | None = None
) -> VersionedPack:
    """Load every configured rules version; each pack is closed when ``stack`` closes.

    Raises:
        ConfigError: No rules are configured.
        RuleError: A version's files have problems (each at ``file:line:col``).
    """
    if not settings.rules_versions:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    versions = []
    for v in settings.rules_versions:
        pack = stack.enter_context(
            RulePack.load(
                v.files,
                engine=engine or settings.engine,
                holiday_provider=plugins.holidays_for,
            )
        )
        versions.append(RulesVersion(v.label, v.effective_from, pack))
    return VersionedPack(versions)


@contextmanager
def open_runtime(
    settings: Settings,
    *,
    engine: EngineName | None = None,
    only: str | None = None,
) -> Iterator[Runtime]:
    """Open the store, load the rules and build the configured connectors; close them after.

    Args:
        settings: Validated settings.
        engine: Override the rules' engine.
        only: Build only this connector.

    Raises:
        ConfigError: ``only`` names no configured connector, or no rules are configured.
    """
    if only is not None and only not in settings.connectors:
        known = ", ".join(settings.connectors) or "none"
        raise ConfigError(f"no connector named {only!r} in {settings.path}; configured: {known}")
    if not settings.rules:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    with ExitStack() as stack:
        store = Store.open(
            settings.store,
            settings=StoreSettings(
                max_attempts=settings.outbox.max_attempts, lease=settings.outbox.lease_delta()
            ),
        )
        stack.callback(store.close)
        rules = load_versions(settings, stack, engine)
        # No silent skips: a rule that notifies a channel nothing delivers to stops here, in
        # any version (an older one still escalates the cycles it holds).
        problems = [
            p
            for v in rules.versions
            for p in unserved(v.pack.source.writes, settings.notify, str(settings.path))
        ]
        if problems:
            raise ProblemsError(problems)
        classes = plugins.get_connectors()
        # One secret per install keys every connector's note markers, so a customer cannot
        # forge them and a rerun on another host still recognises the notes it posted.
        marker_key = MarkerKey(store.install_secret())
        budget = StoreBudget(store)
        documented = settings.work.documented_budgets()
        connectors: dict[str, Connector] = {}
        for name, cs in settings.connectors.items():
            if only is not None and name != only:
                continue
            conn = classes[cs.plugin](cs.config, instance=name)
            conn.marker_key = marker_key
            # Request budgets live in the store: every worker and process of the install
            # takes from the same buckets (docs/operations/scaling.md).
            conn.http.budget = budget
            if not documented:
                conn.http.limits = conn.http.limits.only_configured()
            stack.callback(conn.close)
            connectors[name] = conn
        yield Runtime(settings=settings, store=store, pack=rules, connectors=connectors)
