"""``slaplug doctor``: check the configuration against the real helpdesks."""

from __future__ import annotations

import json
import sys

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
)


@click.command()
@CONFIG_OPTION
@click.option("--connector", "only", help="Check only this configured connector.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON document.")
@friendly_errors
def doctor(config_path: str | None, only: str | None, as_json: bool) -> None:
    """Check the configuration against the live helpdesks before the first sync.

    One line per check; exits 1 if any check fails, 2 if the configuration or rules are
    invalid.
    """
    from slaplug.config import load_settings
    from slaplug.connectors.checks import CheckStatus
    from slaplug.doctor import format_line, run_checks

    settings = load_settings(config_path)
    if only is not None and only not in settings.connectors:
        known = ", ".join(settings.connectors) or "none"
        raise click.UsageError(f"no connector named {only!r}; configured: {known}")
    settings.require_credentials(None if only is None else [only], webhooks=True)
    checks = run_checks(settings, only=only)
    failed = sum(c.status is CheckStatus.FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.to_dict() for c in checks]}))
    else:
        for c in checks:
            click.echo(format_line(c))
        warned = sum(c.status is CheckStatus.WARN for c in checks)
        click.echo(f"{len(checks)} checks: {failed} failed, {warned} warning(s)")
    if failed:
        sys.exit(1)
