"""``slaplug assess`` and ``slaplug explain``: rules applied to tickets."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
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
    from slaplug.plugins import holidays_for
    from slaplug.rules.engines.fields import human_duration
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import TicketFormatError, ticket_from_dict, ticket_problem

    now = parse_time(at)
    docs = json.load(tickets)
    items = [ticket_from_dict(d, source=f"{tickets.name}[{i}]") for i, d in enumerate(docs)]
    for i, item in enumerate(items):
        problem = ticket_problem(item)
        if problem is not None:  # what a sync would quarantine: say why, not a traceback
            raise TicketFormatError(f"{tickets.name}[{i}]: {problem}")
    with RulePack.load(
        rules,
        engine=engine,  # type: ignore[arg-type]
        holiday_provider=holidays_for,
    ) as pack:
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
@click.argument("ref", required=False, metavar="[CONNECTOR:ID]")
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Rules file (repeat for several); with --ticket FILE, these or --config. A synced "
    "ticket is explained under the configuration's rules (every version) unless given.",
)
@click.option(
    "--ticket",
    help="A ticket as JSON (see docs/rules/language.md), or - for stdin; a synced ticket's "
    "CONNECTOR:ID works here too.",
)
@CONFIG_OPTION
@click.option("--at", "at", help="Explain as of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@ENGINE_OPTION
@friendly_errors
def explain(
    ref: str | None,
    rules: tuple[str, ...],
    ticket: str | None,
    config_path: str | None,
    at: str | None,
    as_json: bool,
    engine: str | None,
) -> None:
    """Explain one ticket's clocks: counted and paused time, closures, state, escalations.

    Name a synced ticket as CONNECTOR:ID (slaplug explain zendesk:286: its snapshot in the
    store, under the configuration's rules, no helpdesk call), or give a ticket file with
    --ticket FILE.json --rules RULES.yaml.
    """
    from slaplug.cli.status import explain_synced_ticket
    from slaplug.explain import explain as build
    from slaplug.explain import render_text
    from slaplug.plugins import holidays_for
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import ticket_from_dict

    if ref is not None and ticket is not None:
        raise click.UsageError(
            "name a synced ticket (CONNECTOR:ID) or give --ticket FILE, not both"
        )
    if ticket is not None and ticket != "-" and not Path(ticket).exists() and ":" in ticket:
        # `explain --ticket zendesk:286` (what the demo used to suggest): no such file, so
        # the synced ticket it names.
        ref, ticket = ticket, None
    if ref is not None and ":" not in ref and Path(ref).is_file():
        raise click.UsageError(
            f"{ref} is a file: explain a ticket file with --ticket {ref} --rules RULES.yaml; "
            "a synced ticket is named CONNECTOR:ID, e.g. zendesk:286"
        )
    if ref is not None:
        explain_synced_ticket(ref, config_path, rules, at, as_json, engine)
        return
    if ticket is None:
        raise click.UsageError(
            "name a ticket: slaplug explain CONNECTOR:ID for a synced one (e.g. zendesk:286), "
            "or --ticket FILE.json --rules RULES.yaml"
        )
    if not rules and config_path is None:
        raise click.UsageError(
            "--ticket FILE needs --rules RULES.yaml (repeat for several), or --config "
            "slaplug.yaml for the configured rules versions"
        )
    try:
        with click.open_file(ticket, "r", encoding="utf-8") as fh:
            name = "<stdin>" if ticket == "-" else ticket
            doc = json.load(fh)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {ticket!r}: {exc.strerror or exc}; give a ticket JSON file, or a "
            "synced ticket as CONNECTOR:ID",
            param_hint="--ticket",
        ) from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{name}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    item = ticket_from_dict(doc, source=name)
    with ExitStack() as stack:
        if rules:
            pack: Any = stack.enter_context(
                RulePack.load(
                    rules,
                    engine=engine,  # type: ignore[arg-type]
                    holiday_provider=holidays_for,
                )
            )
        else:
            # The configured rules, every version: each clock names the one it is measured under.
            from slaplug.credits.run import load_offline_settings
            from slaplug.runtime import load_versions

            settings = load_offline_settings(config_path)
            pack = load_versions(settings, stack, engine)  # type: ignore[arg-type]
        data = build(pack, item, parse_time(at))
    click.echo(json.dumps(data, indent=2) if as_json else render_text(data, source=name))
