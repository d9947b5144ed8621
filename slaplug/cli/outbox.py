"""``slaplug outbox``: the write-backs waiting, failed or parked, and their retry."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
)
from slaplug.exitcodes import ExitCode


@click.group()
def outbox() -> None:
    """Inspect and retry writes that failed (dead letters)."""


@outbox.command("list")
@CONFIG_OPTION
@click.option("--connector", "only", help="Only this connector's.")
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    help="List the actions the platform refused for good (ledger status failed) instead.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def outbox_list(config_path: str | None, only: str | None, failed: bool, as_json: bool) -> None:
    """List dead letters (or, with --failed, failed actions) and the outbox counts."""
    from slaplug.connectors.redact import scrub
    from slaplug.credits.run import load_offline_settings
    from slaplug.serialize import action_to_dict
    from slaplug.store import Store

    settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        stats = store.outbox_stats()
        counts: dict[str, Any] = {
            "pending": stats.pending,
            "leased": stats.leased,
            "dead": stats.dead,
            "ledger": dict(stats.ledger),
        }
        items: list[dict[str, Any]]
        if failed:
            items = [
                {
                    "key": f.key,
                    "action": action_to_dict(f.action),
                    "detail": scrub(f.detail),
                    "failed_at": f.failed_at.isoformat() if f.failed_at else None,
                }
                for f in store.failed_actions(only)
            ]
        else:
            items = [
                {
                    "key": d.key,
                    "action": action_to_dict(d.action),
                    "attempts": d.attempts,
                    # Scrubbed again: rows written by an older slaplug were stored as they came.
                    "last_error": scrub(d.last_error or ""),
                    "dead_at": d.dead_at.isoformat() if d.dead_at else None,
                }
                for d in store.outbox_dead_letters(only)
            ]
    if as_json:
        click.echo(json.dumps({**counts, "failed" if failed else "dead_letters": items}))
        return
    click.echo(f"outbox: {stats.pending} pending, {stats.leased} leased, {stats.dead} dead")
    ledger = ", ".join(f"{n} {status}" for status, n in sorted(dict(stats.ledger).items()))
    click.echo(f"ledger: {ledger or 'empty'}")
    for item in items:
        action = item["action"]
        params = " ".join(f"{k}={v}" for k, v in dict(action["params"]).items())
        what = f"{action['kind']} {params}".rstrip()
        if failed:
            click.echo(f"FAILED {item['key']}  {what}")
            click.echo(f"     detail: {item['detail']}")
        else:
            click.echo(f"DEAD {item['key']}  attempts={item['attempts']}  {what}")
            click.echo(f"     last error: {item['last_error']}")


@outbox.command("retry")
@CONFIG_OPTION
@click.argument("keys", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    help="Retry failed actions (ledger status failed) after fixing their cause: the KEYS "
    "named, or all of them.",
)
@click.option("--connector", "only", help="With --failed: only this connector's.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def outbox_retry(
    config_path: str | None,
    keys: tuple[str, ...],
    retry_all: bool,
    failed: bool,
    only: str | None,
    as_json: bool,
) -> None:
    """Put dead letters (or, with --failed, failed actions) back in the outbox; the next sync
    tries them again."""
    from slaplug.credits.run import load_offline_settings
    from slaplug.store import Store

    if not keys and not retry_all and not failed:
        raise click.UsageError("name the keys to retry, or --all (dead letters), or --failed")
    settings = load_offline_settings(config_path)
    wrong: list[str] = []
    with Store.open(settings.store) as store:
        if failed:
            requeued = store.retry_failed(list(keys) or None, connector=only)
            dead = store.outbox_retry_dead(None) if retry_all else 0
            missed = [k for k in dict.fromkeys(keys) if k not in set(requeued)]
            what = "a failed action"
        else:
            requeued = []
            parked = {d.key for d in store.outbox_dead_letters(limit=2**31 - 1)}
            missed = [] if retry_all else [k for k in dict.fromkeys(keys) if k not in parked]
            dead = store.outbox_retry_dead(None if retry_all else list(keys))
            what = "a dead letter"
        for key in missed:
            status = store.ledger_status(key)
            wrong.append(
                f"{key}: no such key" if status is None else f"{key}: not {what} ({status})"
            )
    if as_json:
        click.echo(json.dumps({"dead_letters": dead, "failed": len(requeued), "keys": requeued}))
    else:
        if failed:
            click.echo(f"{len(requeued)} failed action(s) back in the outbox")
        if dead or not failed:
            click.echo(f"{dead} dead letter(s) back in the outbox")
    if wrong:
        # A typo in a key must not look like success to a script.
        for line in wrong:
            click.echo(f"error: {line}", err=True)
        click.echo("see them with: slaplug outbox list (--failed)", err=True)
        sys.exit(ExitCode.BAD_INPUT)
