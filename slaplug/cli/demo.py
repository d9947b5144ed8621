"""``slaplug demo``: the whole pass against the bundled fake helpdesks."""

from __future__ import annotations

from pathlib import Path

import click

from slaplug.cli._common import (
    friendly_errors,
    parse_time,
)


@click.command()
@click.option(
    "--dir",
    "folder",
    default=".slaplug-demo",
    type=click.Path(file_okay=False),
    show_default=True,
    help="Where the demo writes its configuration and store.",
)
@click.option(
    "--rules",
    "rules",
    default=None,
    type=click.Path(dir_okay=False),
    help="The rules pack to run (default: the shipped default pack, rules/default.yaml).",
)
@click.option(
    "--at",
    "at",
    default=None,
    help="Run as of this time (ISO 8601 with offset); default: the latest Thursday 12:00 UTC, "
    "so the demo tells the same story whatever the day.",
)
@friendly_errors
def demo(folder: str, rules: str | None, at: str | None) -> None:
    """Run the whole job against bundled fake helpdesks: no credentials, nothing to install."""
    from importlib.resources import as_file

    from slaplug.demo import run_demo
    from slaplug.packs import pack_file

    now = parse_time(at) if at is not None else None
    if rules is not None:
        run_demo(Path(folder), Path(rules), now)
        return
    # Package data, so the demo runs from any folder, not only from a checkout.
    with as_file(pack_file("default")) as shipped:
        run_demo(Path(folder), shipped, now)
