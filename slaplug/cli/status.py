"""``slaplug status``: the synced tickets' SLA clocks from the store; and the helper behind
``slaplug explain CONNECTOR:ID``. Neither calls a helpdesk (credentials may be unset)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from slaplug.cli._common import CONFIG_OPTION, friendly_errors, parse_time

if TYPE_CHECKING:
    from slaplug.config import Settings
    from slaplug.rules.pack import RulePack
    from slaplug.rules.versions import VersionedPack
    from slaplug.store import Store
    from slaplug.views import LinkFor

__all__ = ["explain_synced_ticket", "status"]


@dataclass
class _Offline:
    settings: Settings
    store: Store
    pack: RulePack | VersionedPack
    links: LinkFor


@contextmanager
def _open_offline(
    config_path: str | None, rules: tuple[str, ...] = (), engine: str | None = None
) -> Iterator[_Offline]:
    """The store, the rules pack and links to the helpdesks, with no helpdesk call: the
    connectors are built only for `Connector.ticket_url`."""
    from slaplug.credits.run import load_offline_settings
    from slaplug.errors import ConfigError
    from slaplug.plugins import get_connectors, holidays_for
    from slaplug.rules.pack import RulePack
    from slaplug.runtime import load_versions
    from slaplug.store import Store
    from slaplug.views import connector_links

    settings = load_offline_settings(config_path)
    if not rules and not settings.rules_versions:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    with ExitStack() as stack:
        store = stack.enter_context(Store.open(settings.store))
        chosen = engine or settings.engine
        pack: RulePack | VersionedPack
        if rules:
            pack = stack.enter_context(
                RulePack.load(
                    rules,
                    engine=chosen,  # type: ignore[arg-type]
                    holiday_provider=holidays_for,
                )
            )
        else:
            # Every configured version: each clock under the one in force when it started.
            pack = load_versions(settings, stack, chosen)  # type: ignore[arg-type]
        classes = get_connectors()
        connectors = {}
        for name, cs in settings.connectors.items():
            conn = classes[cs.plugin](cs.config, instance=name)
            stack.callback(conn.close)
            connectors[name] = conn
        yield _Offline(settings, store, pack, connector_links(connectors))


def _zone(value: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(value or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{value!r} is not a time zone; write an IANA name such as Europe/Berlin or UTC",
            param_hint="--tz",
        ) from None


def _states(values: tuple[str, ...]) -> list[str]:
    from slaplug.views import ClockState

    out: list[str] = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                try:
                    out.append(ClockState.parse(part).value)
                except ValueError as exc:
                    raise click.BadParameter(str(exc), param_hint="--state") from None
    return out


@click.command()
@CONFIG_OPTION
@click.option(
    "--connector", "connectors", multiple=True, help="Only this connector's (repeat for several)."
)
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="breached, at-risk, paused, running, met or cancelled (repeat, or comma-separate).",
)
@click.option("--policy", "policies", multiple=True, help="Only this policy's clocks.")
@click.option("--team", "teams", multiple=True, help="A group or an assignee (any case).")
@click.option(
    "--customer", "customers", multiple=True, help="An organization or a contract (any case)."
)
@click.option(
    "--all", "include_closed", is_flag=True, help="Stopped clocks too (met, past cycles)."
)
@click.option(
    "--within",
    default="4h",
    show_default=True,
    help="A running clock due within this wall time is at risk.",
)
@click.option("--limit", type=click.IntRange(min=0), help="Show at most this many clocks.")
@click.option("--tz", "tz", help="Show times, and start today and the period, in this zone [UTC].")
@click.option("--at", "at", help="As of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def status(
    config_path: str | None,
    connectors: tuple[str, ...],
    states: tuple[str, ...],
    policies: tuple[str, ...],
    teams: tuple[str, ...],
    customers: tuple[str, ...],
    include_closed: bool,
    within: str,
    limit: int | None,
    tz: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """The synced tickets' SLA clocks, least time left first, from the store (no helpdesk is
    called): open clocks by default, with breaches today and this period."""
    from slaplug.durations import parse_duration
    from slaplug.views import ClockQuery, status_to_dict, status_view
    from slaplug.views.terminal import render_plain, render_rich

    try:
        horizon = parse_duration(within)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--within") from None
    zone = _zone(tz)
    now = parse_time(at)
    query = ClockQuery.build(
        connectors=connectors,
        states=_states(states),
        policies=policies,
        teams=teams,
        customers=customers,
        include_closed=include_closed,
        within=horizon,
        limit=limit,
    )
    with _open_offline(config_path) as off:
        unknown = sorted(set(connectors) - set(off.settings.connectors))
        if unknown:
            known = ", ".join(sorted(off.settings.connectors)) or "none"
            raise click.BadParameter(
                f"no connector named {unknown[0]!r} in {off.settings.path}; configured: {known}",
                param_hint="--connector",
            )
        view = status_view(off.store, off.pack, now, query, links=off.links, zone=zone)
    if as_json:
        click.echo(json.dumps(status_to_dict(view), indent=2))
    elif sys.stdout.isatty():
        render_rich(view, zone)
    else:
        click.echo(render_plain(view, zone), nl=False)


def explain_synced_ticket(
    ref: str,
    config_path: str | None,
    rules: tuple[str, ...],
    at: str | None,
    as_json: bool,
    engine: str | None = None,
) -> None:
    """``slaplug explain CONNECTOR:ID``: the explain view of a synced ticket's snapshot.

    Raises:
        click.BadParameter: ``ref`` is not ``CONNECTOR:ID``.
        UnknownTicketError: No such connector, or the ticket is not in the store.
    """
    from slaplug.explain import render_text
    from slaplug.views import explain_synced, parse_ticket_ref

    try:
        connector, ticket_id = parse_ticket_ref(ref)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="CONNECTOR:ID") from None
    now = parse_time(at)
    with _open_offline(config_path, rules, engine) as off:
        doc = explain_synced(
            off.store,
            off.pack,
            connector,
            ticket_id,
            now,
            known=off.settings.connectors.keys(),
            links=off.links,
        )
    click.echo(json.dumps(doc, indent=2) if as_json else render_text(doc))
