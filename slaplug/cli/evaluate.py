"""``slaplug assess`` and ``slaplug explain``: rules applied to tickets."""

from __future__ import annotations

import json
from typing import Any

import click

from slaplug.cli._common import (
    ENGINE_OPTION,
    RULES_OPTION,
    friendly_errors,
    parse_time,
)


@click.command()
@RULES_OPTION
@click.option(
    "--tickets", required=True, type=click.File("r"), help="JSON file with a list of tickets."
)
@click.option("--at", "at", help="Evaluate as of this time (ISO 8601 with offset); default now.")
@ENGINE_OPTION
@friendly_errors
def assess(rules: tuple[str, ...], tickets: Any, at: str | None, engine: str | None) -> None:
    """Print the SLA state of every ticket in a file and the escalations that would fire."""
    from slaplug.rules.fields import human_duration
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import TicketFormatError, ticket_from_dict, ticket_problem

    now = parse_time(at)
    docs = json.load(tickets)
    items = [ticket_from_dict(d, source=f"{tickets.name}[{i}]") for i, d in enumerate(docs)]
    for i, item in enumerate(items):
        problem = ticket_problem(item)
        if problem is not None:  # what a sync would quarantine: say why, not a traceback
            raise TicketFormatError(f"{tickets.name}[{i}]: {problem}")
    with RulePack.load(rules, engine=engine) as pack:  # type: ignore[arg-type]
        results = pack.assess_many(items, now)
    click.echo(f"SLA states at {now.isoformat()} ({len(items)} tickets, engine {pack.engine})")
    click.echo("")
    header = f"{'ticket':<14}{'policy':<17}{'metric':<16}{'cyc':>3}  {'state':<9}{'used':>8}  {'remaining':>10}  deadline"
    click.echo(header)
    click.echo("-" * len(header))
    for r in results:
        for m in r.measures:
            deadline = m.deadline.strftime("%a %d %b %H:%M") if m.deadline else "(paused)"
            click.echo(
                f"{r.ticket.key:<14}{m.policy:<17}{m.metric.value:<16}{m.cycle:>3}  "
                f"{m.state.value:<9}{m.percent:>7.0f}%  {human_duration(m.remaining):>10}  {deadline}"
            )
    click.echo("")
    actions = [a for r in results for a in r.actions]
    click.echo(f"Escalations planned: {len(actions)}")
    for a in actions:
        shadow = " [shadow]" if a.shadow else ""
        params = ", ".join(f"{k}={v}" for k, v in a.params.items())
        click.echo(
            f"  {a.connector}:{a.ticket_id:<6} {a.escalation} L{a.level}: {a.kind.value} {params}{shadow}"
        )


@click.command()
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Rules file (repeat for several); or --config for the configured versions.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Use the rules of this slaplug.yaml, every version: each clock names the version "
    "that measured it.",
)
@click.option(
    "--ticket",
    type=click.File("r"),
    help="A ticket as JSON (see docs/rules/language.md).",
)
@click.option(
    "--stored",
    "stored",
    metavar="CONNECTOR:ID",
    help="With --config: the ticket as the store holds it, with the version its measure "
    "history recorded.",
)
@click.option("--at", "at", help="Explain as of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@ENGINE_OPTION
@friendly_errors
def explain(
    rules: tuple[str, ...],
    config_path: str | None,
    ticket: Any,
    stored: str | None,
    at: str | None,
    as_json: bool,
    engine: str | None,
) -> None:
    """Explain one ticket's clocks: counted and paused time, closures, state, escalations,
    and (with --config and versions) the rules version each clock is measured under."""
    from contextlib import ExitStack

    from slaplug.errors import ConfigError
    from slaplug.explain import explain as build
    from slaplug.explain import render_text
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import ticket_from_dict

    if bool(rules) == (config_path is not None):
        raise ConfigError("explain with --rules FILE or with --config slaplug.yaml: give one")
    if (ticket is None) == (stored is None):
        raise ConfigError("explain --ticket FILE or --stored CONNECTOR:ID: give one")
    if stored is not None and config_path is None:
        raise ConfigError("--stored reads the configured store: give --config too")
    with ExitStack() as stack:
        recorded = None
        if config_path is not None:
            from slaplug.credits.run import load_offline_settings
            from slaplug.runtime import load_versions

            settings = load_offline_settings(config_path)
            pack: Any = load_versions(settings, stack, engine)  # type: ignore[arg-type]
        else:
            pack = stack.enter_context(RulePack.load(rules, engine=engine))  # type: ignore[arg-type]
        if stored is not None:
            from slaplug.store import Store

            connector, sep, tid = stored.partition(":")
            if not sep or not connector or not tid:
                raise ConfigError(f"--stored {stored!r}: write CONNECTOR:ID, e.g. zendesk:123")
            store = stack.enter_context(Store.open(settings.store))
            item = store.load_snapshot(connector, tid)
            if item is None:
                raise ConfigError(f"the store holds no ticket {stored}; has a sync read it?")
            recorded = store.measure_versions(item.key)
        else:
            try:
                doc = json.load(ticket)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(
                    f"{ticket.name}:{exc.lineno}:{exc.colno}: {exc.msg}"
                ) from None
            item = ticket_from_dict(doc, source=ticket.name)
        data = build(pack, item, parse_time(at), recorded)
    click.echo(json.dumps(data, indent=2) if as_json else render_text(data))
