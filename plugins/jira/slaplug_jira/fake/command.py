"""``slaplug fake jira``: the fake from the command line (``python -m slaplug_jira.fake`` too)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from slaplug.testing.fakeserver import iso_z, run_command, serve_until_stopped
from slaplug.testing.fakeserver.command import fault_and_webhook_options, webhook_secret
from slaplug_jira.fake.running import FakeJira

__all__ = ["fake_jira_command", "main_fake_jira"]


@click.command("jira")
@click.option("--port", default=8766, show_default=True, help="Port on 127.0.0.1 (0: any free).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed JSON file (see docs/testing/fake-jira.md); default: the built-in site.",
)
@click.option("--issues", default=250, show_default=True, help="Issues to generate.")
@click.option("--days", default=28, show_default=True, help="Days of generated history.")
@click.option("--random-seed", default=0, show_default=True, help="Seed of the generator.")
@click.option("--time-zone", help="Users' time zone, for JQL dates (default UTC).")
@fault_and_webhook_options
@click.option(
    "--api-token", default="fake-api-token", show_default=True, help="Accepted API token."
)
def fake_jira_command(
    port: int,
    host: str,
    seed_file: str | None,
    issues: int,
    days: int,
    random_seed: int,
    time_zone: str | None,
    fault_rate: float,
    fault_statuses: tuple[int, ...],
    retry_after: int,
    fault_seed: int,
    webhook_url: str | None,
    webhook_secret_env: str | None,
    api_token: str,
) -> None:
    """Serve a fake Jira Cloud site on HOST:PORT until interrupted (Ctrl-C)."""
    secret = webhook_secret(webhook_url, webhook_secret_env)
    try:
        fake = FakeJira.start(
            port,
            Path(seed_file) if seed_file else None,
            host=host,
            issues=issues,
            days=days,
            random_seed=random_seed,
            time_zone=time_zone,
            api_token=api_token,
            fault_rate=fault_rate,
            fault_statuses=fault_statuses,
            retry_after=retry_after,
            fault_seed=fault_seed,
            webhook_url=webhook_url,
            webhook_secret=secret,
        )
    except (OSError, ValueError, LookupError) as exc:  # LookupError: unknown time zone
        raise click.ClickException(str(exc)) from None
    click.echo(f"Fake Jira listening on {fake.base_url}")
    click.echo(
        f"  auth: {fake.email} : {fake.api_token}   (or Bearer {fake.oauth_token}, "
        f"or Bearer {fake.pat})"
    )
    click.echo(
        f"  {len(fake.store.issues)} issues in {fake.store.project_key}, clock "
        f"{iso_z(fake.now)}, time zone {fake.time_zone}; admin: /_fake/health"
    )
    sys.stdout.flush()
    serve_until_stopped(fake.stop)


def main_fake_jira(argv: Sequence[str] | None = None) -> int:
    """Run ``slaplug fake jira`` with ``argv``; return the exit code."""
    return run_command(fake_jira_command, argv, "slaplug fake jira")
