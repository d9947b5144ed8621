"""``slaplug fake zendesk``: the fake from the command line (``python -m slaplug_zendesk.fake`` too)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from slaplug.testing.fakeserver import iso_z, run_command, serve_until_stopped
from slaplug.testing.fakeserver.command import fault_and_webhook_options, webhook_secret
from slaplug_zendesk.fake.running import FakeZendesk

__all__ = ["fake_zendesk_command", "main_fake_zendesk"]


@click.command("zendesk")
@click.option("--port", default=8765, show_default=True, help="Port on 127.0.0.1 (0: any free).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed JSON file (see docs/testing/fake-zendesk.md); default: the built-in account.",
)
@click.option("--tickets", default=300, show_default=True, help="Tickets to generate.")
@click.option("--days", default=28, show_default=True, help="Days of generated history.")
@click.option("--random-seed", default=0, show_default=True, help="Seed of the generator.")
@fault_and_webhook_options
@click.option(
    "--api-token", default="fake-api-token", show_default=True, help="Accepted API token."
)
@click.option("--enforce-rate-limit", is_flag=True, help="Answer 429 past Zendesk's limits.")
def fake_zendesk_command(
    port: int,
    host: str,
    seed_file: str | None,
    tickets: int,
    days: int,
    random_seed: int,
    fault_rate: float,
    fault_statuses: tuple[int, ...],
    retry_after: int,
    fault_seed: int,
    webhook_url: str | None,
    webhook_secret_env: str | None,
    api_token: str,
    enforce_rate_limit: bool,
) -> None:
    """Serve a fake Zendesk on HOST:PORT until interrupted (Ctrl-C)."""
    secret = webhook_secret(webhook_url, webhook_secret_env)
    try:
        fake = FakeZendesk.start(
            port,
            Path(seed_file) if seed_file else None,
            host=host,
            tickets=tickets,
            days=days,
            random_seed=random_seed,
            api_token=api_token,
            fault_rate=fault_rate,
            fault_statuses=fault_statuses,
            retry_after=retry_after,
            fault_seed=fault_seed,
            webhook_url=webhook_url,
            webhook_secret=secret,
            enforce_rate_limit=enforce_rate_limit,
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Fake Zendesk listening on {fake.base_url}")
    click.echo(f"  auth: {fake.email}/token : {fake.api_token}   (or Bearer {fake.oauth_token})")
    click.echo(
        f"  {len(fake.store.tickets)} tickets, clock {iso_z(fake.now)}; admin: /_fake/health"
    )
    sys.stdout.flush()
    serve_until_stopped(fake.stop)


def main_fake_zendesk(argv: Sequence[str] | None = None) -> int:
    """Run ``slaplug fake zendesk`` with ``argv``; return the exit code."""
    return run_command(fake_zendesk_command, argv, "slaplug fake zendesk")
