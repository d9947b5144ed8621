"""``slaplug plugins``, ``slaplug init`` and ``slaplug new-connector``: getting started."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from slaplug.cli._common import (
    friendly_errors,
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@friendly_errors
def plugins(as_json: bool) -> None:
    """List installed plugins with their versions and the hooks they implement."""
    from dataclasses import asdict

    from slaplug.plugins import plugin_list

    infos = plugin_list()
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed. See docs/plugins/index.md.")
        return
    for info in infos:
        origin = f" ({info.distribution} {info.version})" if info.distribution else ""
        click.echo(f"{info.name}{origin}: {', '.join(info.hooks) or 'no hooks'}")


@click.command()
@click.option("--path", default="slaplug.yaml", type=click.Path(dir_okay=False), show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starting configuration."""
    from slaplug.config import starter_config

    target = Path(path)
    if target.exists() and not force:
        click.echo(f"error: {target} exists; use --force to overwrite it", err=True)
        sys.exit(2)
    target.write_text(starter_config(), encoding="utf-8")
    click.echo(f"wrote {target}")
    # The starter file names rules/default.yaml beside it: give it the shipped pack (and its
    # policy tests), so the file works wherever slaplug was installed from. An existing pack
    # is the user's: never overwritten.
    from slaplug.packs import pack_file

    rules_dir = target.parent / "rules"
    for name, tests in (("default.yaml", False), ("default.tests.yaml", True)):
        dest = rules_dir / name
        if not dest.exists():
            rules_dir.mkdir(parents=True, exist_ok=True)
            dest.write_text(pack_file("default", tests=tests).read_text(encoding="utf-8"))
            click.echo(f"wrote {dest} (the shipped rules; edit them to fit your contracts)")
    click.echo("edit the connectors, then run: slaplug sync --once --dry-run")


@click.command("new-connector")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to create the project (default: ./slaplug-NAME); must be empty.",
)
@friendly_errors
def new_connector(name: str, directory: str | None) -> None:
    """Create a connector plugin project: pyproject, connector skeleton, conformance tests."""
    from slaplug.scaffold import check_name_is_free, generate, validate_name

    check_name_is_free(validate_name(name))
    target = Path(directory) if directory else Path(f"slaplug-{name}")
    for path in generate(name, target):
        click.echo(f"created {path}")
    click.echo(
        f"next: cd {target} && pip install -e . && pytest "
        "(docs/plugins/tutorial.md walks through the code)"
    )
