"""What the command modules share: error handling, time parsing, common options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from slaplug.errors import ConnectorError, ProblemsError, SlaplugError, helpdesk_message
from slaplug.exitcodes import ExitCode
from slaplug.rules.engines import ENGINE_NAMES

F = TypeVar("F", bound=Callable[..., Any])


#: ``sync --once``: the pass finished, but some actions failed for good or became dead letters;
#: they wait in the store (`slaplug outbox list --failed`, `outbox retry --failed`). Kept as a
#: name for `ExitCode.ACTIONS_FAILED`.
EXIT_ACTIONS_FAILED = ExitCode.ACTIONS_FAILED


def friendly_errors(func: F) -> F:
    """Turn slaplug's errors into messages and their exit codes (`ExitCode`)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProblemsError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"{len(exc.problems)} problem(s) found.", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except ConnectorError as exc:
            # Before SlaplugError: a helpdesk that is down or refuses us (AuthenticationError
            # is a ConfigError too) must not share its code with a typo in slaplug.yaml.
            click.echo(f"error: {helpdesk_message(exc)}", err=True)
            sys.exit(ExitCode.HELPDESK)
        except SlaplugError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except KeyboardInterrupt:
            # Click would print "Aborted!" and exit 1; a stopped command is not a failed check.
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-03-04T15:00:00+01:00"
        ) from None
    if t.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no offset; add one, e.g. {value}+01:00 or {value}Z"
        )
    return t


#: Options several commands share.
RULES_OPTION = click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Rules file (repeat for several).",
)
ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(ENGINE_NAMES), help="Override the pack's engine."
)


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="The configuration file (default: $SLAPLUG_CONFIG or ./slaplug.yaml).",
)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM (systemd, Kubernetes, kill) stop a run the way Ctrl-C does, in the block."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        # A command run in-process (tests, CliRunner) leaves its caller's handler as it was.
        signal.signal(signal.SIGTERM, previous)
