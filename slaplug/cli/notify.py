"""``slaplug notify``: notification digests."""

from __future__ import annotations

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
    parse_time,
)


@click.group("notify")
def notify_group() -> None:
    """Notifications beyond the rules' own: digests."""


@notify_group.command("digest")
@CONFIG_OPTION
@click.argument("channel")
@click.option(
    "--within", default="24h", show_default=True, help="List clocks due within this wall time."
)
@click.option("--at", "at", help="As of this time (ISO 8601 with offset); default now.")
@click.option("--force", is_flag=True, help="Send even if today's digest went out already.")
@friendly_errors
def notify_digest(
    config_path: str | None, channel: str, within: str, at: str | None, force: bool
) -> None:
    """Send CHANNEL the tickets at risk across every helpdesk, once a day (run it from cron)."""
    from slaplug.config import load_settings
    from slaplug.durations import parse_duration
    from slaplug.notify.digest import send_digest
    from slaplug.runtime import open_runtime

    try:
        horizon = parse_duration(within)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--within") from None
    settings = load_settings(config_path)
    if channel not in settings.notify:
        known = ", ".join(sorted(settings.notify)) or "none"
        raise click.UsageError(
            f"no channel {channel!r} under notify: in {settings.path}; declared: {known}"
        )
    with open_runtime(settings) as rt:
        listed, sent = send_digest(
            rt.store,
            rt.pack,
            settings.notify[channel],
            rt.connectors,
            now=parse_time(at),
            within=horizon,
            force=force,
        )
    if sent:
        click.echo(f"digest sent to {channel} ({sent} service(s)): {listed} clock(s) listed")
    else:
        click.echo(f"today's digest for {channel} went out already; --force sends it again")
