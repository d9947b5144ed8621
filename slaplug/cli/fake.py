"""``slaplug fake NAME``: run a plugin's fake helpdesk."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from slaplug.logs import logging_options

if TYPE_CHECKING:
    from slaplug.hookspecs import FakeRunner


class _FakeGroup(click.Group):
    """``slaplug fake NAME``: the fakes plugins register (hook ``register_fakes``).

    The core names no platform: the subcommands are whatever the installed plugins
    register, looked up when the command line is parsed.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._fakes())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        run = self._fakes().get(cmd_name)
        if run is None:
            return None
        summary = ((run.__doc__ or "").strip().splitlines() or [f"Serve a fake {cmd_name}."])[0]

        @click.command(
            cmd_name,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            add_help_option=False,  # the fake's own --help lists its options
            help=f"{summary} (see: slaplug fake {cmd_name} --help)",
            short_help=summary,
        )
        @click.argument("args", nargs=-1, type=click.UNPROCESSED)
        def command(args: tuple[str, ...]) -> None:
            sys.exit(run(list(args)))

        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx)) or "none (install a connector plugin)"
            raise click.UsageError(f"no fake named {name!r}; installed fakes: {known}", ctx)
        return super().resolve_command(ctx, args)

    @staticmethod
    def _fakes() -> dict[str, FakeRunner]:
        from slaplug.plugins import get_fakes

        return get_fakes()


@click.group(cls=_FakeGroup)
@logging_options
def fake(log_level: str | None, verbose: int, log_format: str) -> None:
    """Run a fake helpdesk on 127.0.0.1 for tests, demos and trying slaplug.

    Each connector plugin brings its platform's fake (hook register_fakes); `slaplug fake
    --help` lists the installed ones. The logging options go before the fake's name:
    slaplug fake --log-format json NAME --port 0.
    """
    from slaplug.logs import resolve_level, setup_logging

    setup_logging(resolve_level(log_level, verbose), log_format)
