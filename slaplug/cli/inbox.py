"""``slaplug inbox``: the webhook deliveries stored by ``slaplug serve``: list, retry, purge.

Until now dead deliveries (a webhook that failed ``inbox.max_attempts`` times) and the done
ones kept for de-duplication could only be reached with SQL.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import click

from slaplug.cli._common import CONFIG_OPTION, friendly_errors
from slaplug.exitcodes import ExitCode

#: Done deliveries younger than this are kept by ``purge`` whatever is asked: Zendesk and Jira
#: retry a delivery for hours, and a purged id no longer de-duplicates its late retries.
MIN_KEEP_HOURS = 24


@click.group()
def inbox() -> None:
    """Webhook deliveries stored by `slaplug serve`: list dead ones, retry, purge old ones."""


@inbox.command("list")
@CONFIG_OPTION
@click.option("--connector", "only", help="Only this connector's.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["dead", "pending", "leased", "done"]),
    help="Deliveries in this state (repeat for several); default dead.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def inbox_list(
    config_path: str | None, only: str | None, states: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """List stored deliveries (dead ones by default), oldest first, and the counts by state."""
    from slaplug.connectors.redact import scrub
    from slaplug.credits.run import load_offline_settings
    from slaplug.store import Store

    settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        counts = store.inbox_stats()
        entries = store.inbox_list(states=states or ("dead",), connector=only, limit=limit)
    rows = []
    for e in entries:
        row = e.as_dict()
        # Scrubbed again: an error text can quote a request, and older rows were stored as is.
        row["last_error"] = scrub(e.last_error) if e.last_error else None
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"counts": counts, "deliveries": rows}))
        return
    shown = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "leased", "done", "dead"))
    click.echo(f"inbox: {shown}")
    for row in rows:
        click.echo(
            f"{str(row['state']).upper()} #{row['id']} {row['connector']} delivery {row['delivery_id']}"
            f"  attempts={row['attempts']}  received {row['received_at']}"
        )
        if row["last_error"]:
            click.echo(f"     last error: {row['last_error']}")


@inbox.command("retry")
@CONFIG_OPTION
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead delivery.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def inbox_retry(
    config_path: str | None, ids: tuple[int, ...], retry_all: bool, as_json: bool
) -> None:
    """Put dead deliveries (the IDS named, or --all) back for the workers of `slaplug serve`."""
    from slaplug.credits.run import load_offline_settings
    from slaplug.store import Store

    if not ids and not retry_all:
        raise click.UsageError(
            "name the delivery ids to retry (see `slaplug inbox list`), or --all"
        )
    settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        dead = {e.id for e in store.inbox_list(states=("dead",))} if ids else set()
        requeued = store.inbox_retry_dead(None if retry_all else list(ids))
    missed = [] if retry_all else [i for i in dict.fromkeys(ids) if i not in dead]
    if as_json:
        click.echo(json.dumps({"requeued": requeued, "not_dead": missed}))
    else:
        click.echo(f"{requeued} dead deliver{'y' if requeued == 1 else 'ies'} back in the inbox")
    if missed:
        # A typo in an id must not look like success to a script.
        for i in missed:
            click.echo(f"error: #{i}: no dead delivery with this id", err=True)
        click.echo("see them with: slaplug inbox list", err=True)
        sys.exit(ExitCode.BAD_INPUT)


@inbox.command("purge")
@CONFIG_OPTION
@click.option(
    "--older-than",
    "older_than",
    default="7d",
    show_default=True,
    help="Age of the deliveries to delete: 7d, 48h, 2w (at least 24h).",
)
@click.option("--dead", is_flag=True, help="Delete dead deliveries that old too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def inbox_purge(config_path: str | None, older_than: str, dead: bool, as_json: bool) -> None:
    """Delete processed deliveries older than --older-than (their ids stop de-duplicating)."""
    from slaplug.credits.run import load_offline_settings, parse_since
    from slaplug.store import Store

    now = datetime.now(UTC)
    before = parse_since(older_than, now)
    if now - before < timedelta(hours=MIN_KEEP_HOURS):
        raise click.BadParameter(
            f"{older_than!r} is under {MIN_KEEP_HOURS}h: helpdesks retry a delivery for hours, "
            "and a purged id would let its retry be processed again",
            param_hint="--older-than",
        )
    settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        deleted = store.inbox_purge(before, dead=dead)
    if as_json:
        click.echo(json.dumps({"deleted": deleted, "before": before.isoformat()}))
    else:
        click.echo(
            f"{deleted} deliver{'y' if deleted == 1 else 'ies'} deleted (before {before:%Y-%m-%d %H:%M}Z)"
        )
