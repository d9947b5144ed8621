"""``slaplug quarantine``: tickets set aside because they could not be processed."""

from __future__ import annotations

import json

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
)


@click.group()
def quarantine() -> None:
    """Tickets slaplug set aside because it cannot process them, and why."""


@quarantine.command("list")
@CONFIG_OPTION
@click.option("--connector", "only", help="Only this connector's.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@friendly_errors
def quarantine_list(config_path: str | None, only: str | None, as_json: bool) -> None:
    """List quarantined tickets with the reason; each leaves once a later read is processed."""
    from slaplug.credits.run import load_offline_settings
    from slaplug.store import Store

    settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        items = store.quarantined(only)
    if as_json:
        click.echo(json.dumps([q.as_dict() for q in items], indent=2))
        return
    click.echo(f"{len(items)} quarantined ticket(s)")
    for q in items:
        click.echo(
            f"{q.connector}:{q.ticket_id}  {q.stage}  seen {q.times}x, last {q.last_seen.isoformat()}"
        )
        click.echo(f"     {q.reason}")
