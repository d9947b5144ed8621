"""``slaplug fake freshdesk``: the fake Freshdesk from the command line."""

from __future__ import annotations

import sys

import click

from slaplug.testing.fakeserver import run_command, serve_until_stopped
from slaplug_freshdesk.fake.server import AGENT_ID, API_KEY, FakeFreshdesk

__all__ = ["fake_freshdesk_command", "main_fake_freshdesk"]


@click.command("freshdesk")
@click.option("--port", default=8767, show_default=True, help="Port on HOST (0: any free).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--tickets", default=5, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--custom-status",
    "custom_statuses",
    multiple=True,
    type=click.IntRange(min=6),
    help="A status code of the account's own (6 and up); repeat for several.",
)
@click.option("--api-key", default=API_KEY, show_default=True, help="Accepted API key.")
@click.option(
    "--legacy-field-names",
    is_flag=True,
    help="Name the custom fields without cf_ (sla_state), as Freshdesk named fields made "
    "in 2015-2016.",
)
def fake_freshdesk_command(
    port: int,
    host: str,
    tickets: int,
    custom_statuses: tuple[int, ...],
    api_key: str,
    legacy_field_names: bool,
) -> None:
    """Serve a fake Freshdesk API v2 on HOST:PORT until interrupted (Ctrl-C, SIGTERM)."""
    try:
        fake = FakeFreshdesk(
            tickets,
            custom_statuses=custom_statuses,
            api_key=api_key,
            legacy_field_names=legacy_field_names,
            host=host,
            port=port,
        ).start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"Fake Freshdesk listening on {fake.base_url}")
    click.echo(f"  auth: Basic {api_key}:X   agent id {AGENT_ID}; {tickets} tickets")
    click.echo(f"  custom fields: {', '.join(fake.custom_fields)}")
    click.echo("  connector config: base_url above, api_key_env naming a variable set to the key")
    sys.stdout.flush()
    serve_until_stopped(fake.stop)


def main_fake_freshdesk(argv: list[str] | None = None) -> int:
    """Serve a fake Freshdesk API v2 on 127.0.0.1 (``slaplug fake freshdesk``)."""
    return run_command(fake_freshdesk_command, argv, "slaplug fake freshdesk")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_fake_freshdesk())
