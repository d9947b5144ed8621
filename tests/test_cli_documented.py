"""Every command of the CLI has a row in docs/cli.md (so the page cannot fall behind)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from slaplug.cli import main

DOC = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "slaplug") -> Iterator[str]:
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            yield from commands(cmd, path)
        else:
            yield path


@pytest.mark.parametrize("command", list(commands(main)))
def test_command_is_documented(command: str) -> None:
    assert f"`{command}" in DOC, f"{command} has no row in docs/cli.md"
