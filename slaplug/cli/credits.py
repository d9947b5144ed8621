"""``slaplug credits``, ``report`` and ``backtest``: compliance and service credits."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
    parse_time,
)

if TYPE_CHECKING:
    from datetime import datetime

    from slaplug.credits.freeze import Settled
    from slaplug.credits.run import CreditsContext

ORGANIZATION_OPTION = click.option(
    "--organization",
    "organization",
    metavar="ORG",
    help="One customer's statement: only the tickets of this organization (as the helpdesk "
    "names it, e.g. in a contract's match: {organization: ...}).",
)

_PERIOD_HELP = "A month (2026-10) or a quarter (2026-Q4), as the contract is billed (its period:)."


def _freeze_command(config_path: str | None, period: str, contract: str | None) -> str:
    """The command that freezes what was just previewed, with the --config given."""
    words = ["slaplug", "credits"]
    if config_path is not None:
        words += ["--config", config_path]
    words += ["--period", period]
    if contract is not None:
        words += ["--contract", contract]
    return shlex.join([*words, "--freeze"])


def _warn(
    ctx: CreditsContext,
    settled: Sequence[Settled],
    period: str,
    contract: str | None,
    now: datetime,
) -> set[str]:
    """On standard error: contracts left out for their period kind, and periods where no
    ticket was measured (before the store's first data, or not started yet). Returns the
    contracts whose period ended before the store's first data (nothing to freeze)."""
    from slaplug.credits.run import first_data

    if contract is None:
        for c in ctx.book.contracts:
            if (why := ctx.book.kind_mismatch(c.name, period)) is not None:
                click.echo(f"note: {why} (left out of {period})", err=True)
    first: datetime | None = None
    before_data: set[str] = set()
    for s in settled:
        r = s.result
        if r.measured:
            continue
        name = f"{r.contract} {r.period}"
        if now < r.start:
            click.echo(
                f"warning: {name} has not started (it starts {r.start.isoformat()}, ends "
                f"{r.end.isoformat()}): no tickets measured in it yet",
                err=True,
            )
            continue
        first = first or first_data(ctx.store)
        since = (
            f"the store's first data is {first.date().isoformat()}"
            if first is not None
            else "the store holds no ticket"
        )
        click.echo(f"warning: {name}: no tickets measured in this period; {since}", err=True)
        if first is None or r.end <= first:
            before_data.add(r.contract)
    return before_data


@click.command()
@CONFIG_OPTION
@click.option("--period", required=True, help=_PERIOD_HELP)
@click.option("--contract", "contract", help="Only this contract.")
@click.option(
    "--recalculate", is_flag=True, help="Compute a frozen period again; show what changed."
)
@click.option(
    "--remeasure",
    is_flag=True,
    help="With --recalculate: measure every cycle under the newest rules version, not the "
    "version in force when it started (see `slaplug backtest --remeasure` first).",
)
@click.option("--reason", default="", help="Recorded with a recalculation.")
@click.option(
    "--freeze",
    is_flag=True,
    help="Freeze a closed period (stored as revision 1, never to change by itself); without "
    "it a closed period not frozen yet is shown as a preview.",
)
@click.option(
    "--deliver",
    is_flag=True,
    help="Hand each statement to on_credit_statement plugins (a closed period: once frozen).",
)
@click.option("--at", "at", help="Compute as of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@ORGANIZATION_OPTION
@friendly_errors
def credits(
    config_path: str | None,
    period: str,
    contract: str | None,
    recalculate: bool,
    remeasure: bool,
    reason: str,
    freeze: bool,
    deliver: bool,
    at: str | None,
    as_json: bool,
    organization: str | None,
) -> None:
    """Service credits per contract for a period.

    A closed period is shown as a preview until frozen with --freeze; a frozen one is read
    back unchanged (--recalculate computes a new revision and shows what changed). Exits 2
    when --freeze names a period still open, or --deliver one not frozen.
    """
    from slaplug.credits.run import load_offline_settings, open_credits, settle_period
    from slaplug.credits.statement import statement_for
    from slaplug.errors import ConfigError
    from slaplug.plugins import load_plugins, pm
    from slaplug.reports import render_json

    settings = load_offline_settings(config_path)
    now = parse_time(at)
    with open_credits(settings) as ctx:
        settled = settle_period(
            ctx,
            period,
            now,
            contract,
            recalculate,
            reason,
            remeasure=remeasure,
            freeze=freeze,
            customer=organization,
        )
        no_data = _warn(ctx, settled, period, contract, now)
    previews = [s for s in settled if s.preview]
    if deliver and previews:
        # A customer must not be sent figures that may still change: freeze, then deliver.
        names = ", ".join(s.result.contract for s in previews)
        raise ConfigError(
            f"{period} is closed but not frozen for {names}: nothing was delivered; check the "
            f"preview (without --deliver), then run again with --freeze --deliver"
        )
    if as_json:
        click.echo(render_json([s.result for s in settled]), nl=False)
    for s in settled:
        if not as_json:
            click.echo(statement_for(s.result).text)
            if s.previous is not None and s.previous is s.result:
                click.echo(f"Recalculated: no difference; revision {s.result.revision} stands")
            elif s.previous is not None:
                click.echo(f"Recalculated: revision {s.previous.revision} -> {s.result.revision}")
                for line in s.changes or ("no difference",):
                    click.echo(f"  {line}")
            click.echo("")
        if deliver:
            load_plugins()
            pm.hook.on_credit_statement(statement=statement_for(s.result))
    for s in previews:
        if s.result.contract in no_data:
            continue  # nothing to freeze: the warning said why
        click.echo(
            f"preview: {s.result.contract} {s.result.period} is closed and not frozen; nothing "
            f"was stored. Once the figures are right, freeze them: "
            f"{_freeze_command(config_path, s.result.period, contract)}",
            err=True,
        )


@click.command()
@CONFIG_OPTION
@click.option("--period", required=True, help=_PERIOD_HELP)
@click.option("--contract", "contract", help="Only this contract.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not to stdout.")
@click.option("--at", "at", help="Compute as of this time (ISO 8601 with offset); default now.")
@ORGANIZATION_OPTION
@friendly_errors
def report(
    config_path: str | None,
    period: str,
    contract: str | None,
    fmt: str,
    output: str | None,
    at: str | None,
    organization: str | None,
) -> None:
    """A customer report: compliance, breaches with ticket links, the credit owed and why.

    Never freezes: a closed period not frozen yet is reported as a preview. With
    --organization, the statement of one customer (its tickets only); without it, a
    contract whose tickets belong to several organizations is reported as a whole, with a
    warning: not for handing to one customer.
    """
    from slaplug.credits.run import load_offline_settings, open_credits, settle_period
    from slaplug.credits.statement import customers_text, several_customers
    from slaplug.reports import RENDERERS

    settings = load_offline_settings(config_path)
    now = parse_time(at)
    with open_credits(settings) as ctx:
        settled = settle_period(ctx, period, now, contract, customer=organization)
        no_data = _warn(ctx, settled, period, contract, now)
    text = RENDERERS[fmt]([s.result for s in settled])
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    for s in settled:
        if s.preview and s.result.contract not in no_data:
            click.echo(
                f"preview: {s.result.contract} {s.result.period} is closed and not frozen; the "
                f"report says so. Freeze it first "
                f"({_freeze_command(config_path, s.result.period, contract)}) "
                "for figures that no longer change",
                err=True,
            )
        if several_customers(s.result):
            click.echo(
                f"warning: {s.result.contract} {s.result.period} covers several customers "
                f"({customers_text(s.result)}): this report is not for handing to one "
                "customer; make one per customer with --organization NAME",
                err=True,
            )


@click.command()
@CONFIG_OPTION
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The rules pack to try (repeat for several files).",
)
@click.option(
    "--remeasure",
    is_flag=True,
    help="Instead of --rules: what measuring every cycle under the newest rules version would "
    "change (each measure whose verdict changes, and the credits).",
)
@click.option("--since", default="90d", show_default=True, help="Window: 90d, 12h, 2w or a date.")
@click.option("--at", "at", help="Replay up to this time (ISO 8601 with offset); default now.")
@friendly_errors
def backtest(
    config_path: str | None, rules: tuple[str, ...], remeasure: bool, since: str, at: str | None
) -> None:
    """Replay the stored history under another rules pack (--rules), or every cycle under the
    newest rules version (--remeasure): breaches, escalations, credits."""
    from slaplug.backtest import backtest as run_backtest
    from slaplug.backtest import remeasure_changes, render_changes, render_text
    from slaplug.credits.run import load_offline_settings, open_credits, parse_since
    from slaplug.errors import ConfigError
    from slaplug.rules.pack import RulePack

    if bool(rules) == remeasure:
        raise ConfigError(
            "backtest compares with --rules FILE (another pack) or --remeasure (every cycle "
            "under the newest configured version): give one of them"
        )
    settings = load_offline_settings(config_path)
    now = parse_time(at)
    start = parse_since(since, now)
    # The plain-Python engine: a replay assesses each ticket many times, one at a time, and
    # both engines give one meaning (a property test holds them equal).
    with open_credits(settings, engine="python") as ctx:
        tickets = list(ctx.store.iter_snapshots())
        if remeasure:
            newest = ctx.rules.newest.label or "the newest version"
            diffs = run_backtest(ctx.rules, ctx.rules.latest(), tickets, start, now)
            changes = remeasure_changes(ctx.rules, tickets, start, now)
            versions = ", ".join(
                f"{v.label or '(unlabelled)'} from "
                f"{v.effective_from.isoformat() if v.effective_from else 'the start'}"
                for v in ctx.rules.versions
            )
            click.echo(f"rules versions: {versions}\nre-measure:     every cycle under {newest}\n")
            click.echo(
                render_text(diffs, start, now, ("as measured", f"re-measured under {newest}")),
                nl=False,
            )
            click.echo("")
            click.echo(render_changes(changes), nl=False)
            return
        from slaplug.plugins import holidays_for

        with RulePack.load(
            [Path(r) for r in rules], engine="python", holiday_provider=holidays_for
        ) as new:
            diffs = run_backtest(ctx.rules, new, tickets, start, now)
    current = ", ".join(str(p) for p in settings.rules)
    click.echo(f"current rules: {current}\nnew rules:     {', '.join(rules)}\n")
    click.echo(render_text(diffs, start, now), nl=False)
