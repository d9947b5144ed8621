"""Running a fake from the command line (``slaplug fake NAME``): exit codes and SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:  # the helpdesk base imports nothing from here; no cycle at runtime either
    from slaplug.testing.fakeserver.helpdesk import FakeHelpdesk

__all__ = [
    "fault_and_webhook_options",
    "run_command",
    "serve_helpdesk",
    "serve_until_stopped",
    "webhook_secret",
]

F = TypeVar("F", bound=Callable[..., object])


# -- running a fake from the command line ------------------------------------------------------


#: Set by SIGTERM once `run_command` installed its handler; `serve_until_stopped` waits on it.
_STOP = threading.Event()


def _install_stop_handler() -> None:
    """Route SIGTERM to `_STOP` before the fake starts, so it is never killed by it.

    A fake announces ``... listening on URL`` once it serves; a harness may send SIGTERM the
    moment it reads that line. A handler installed after the announcement (in
    `serve_until_stopped`) left a window in which SIGTERM killed the process (exit -15)
    instead of stopping it (exit 0): a race seen on loaded machines.
    """
    _STOP.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: _STOP.set())


def serve_until_stopped(stop_server: Callable[[], None]) -> None:
    """Block until Ctrl-C or SIGTERM, then call ``stop_server``.

    SIGTERM (from a test harness or a container) stops as cleanly as Ctrl-C. The handler is
    installed by `run_command` before the fake starts; installed here too for callers that
    do not go through it.
    """
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        _install_stop_handler()
    stop = _STOP
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop_server()


def run_command(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a fake's click command with ``argv`` and return its exit code instead of exiting."""
    _install_stop_handler()  # before the fake announces it is listening
    try:
        command.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:  # --help
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    return 0


def fault_and_webhook_options(func: F) -> F:
    """The options every full fake takes for injected faults and signed webhooks:
    ``--fault-rate``, ``--fault-status`` (repeatable), ``--retry-after``, ``--fault-seed``,
    ``--webhook-url`` and ``--webhook-secret-env`` (see `webhook_secret`)."""
    options = [
        click.option(
            "--fault-rate", default=0.0, show_default=True, help="Fraction of API requests to fail."
        ),
        click.option(
            "--fault-status",
            "fault_statuses",
            multiple=True,
            type=int,
            default=(429, 503),
            show_default=True,
            help="Status of injected faults (repeat for several).",
        ),
        click.option(
            "--retry-after", default=1, show_default=True, help="Retry-After seconds on faults."
        ),
        click.option(
            "--fault-seed", default=0, show_default=True, help="Seed of the fault sequence."
        ),
        click.option("--webhook-url", help="Send signed webhooks here after each change."),
        click.option(
            "--webhook-secret-env", help="Environment variable holding the webhook signing secret."
        ),
    ]
    for option in reversed(options):  # as if stacked in this order above the function
        func = option(func)
    return func


def webhook_secret(webhook_url: str | None, secret_env: str | None) -> str:
    """The webhook signing secret, read from the variable ``--webhook-secret-env`` names;
    empty without ``--webhook-url``. The secret never appears on the command line.

    Raises:
        click.UsageError: ``--webhook-url`` without a set variable.
    """
    if not webhook_url:
        return ""
    if not secret_env or secret_env not in os.environ:
        raise click.UsageError("--webhook-url needs --webhook-secret-env naming a set variable")
    return os.environ[secret_env]


def serve_helpdesk(
    make: Callable[..., FakeHelpdesk], argv: Sequence[str] | None, name: str, port: int = 0
) -> int:
    """Run a small fake from the command line (``slaplug fake NAME [--host H] [--port P]``).

    Args:
        make: The fake's class (or a factory taking ``host=`` and ``port=``).
        argv: The arguments after ``slaplug fake NAME``.
        name: The fake's name, as registered with ``register_fakes``.
        port: The default port (0: any free one, printed when it listens).

    Returns:
        The exit code.
    """

    @click.command(name, help=f"Serve a fake {name} on HOST:PORT until interrupted (Ctrl-C).")
    @click.option("--port", default=port, show_default=True, help="Port on HOST (0: any free).")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
    def command(port: int, host: str) -> None:
        try:
            fake = make(host=host, port=port).start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
        click.echo(f"Fake {name} listening on {fake.base_url}")
        sys.stdout.flush()
        serve_until_stopped(fake.stop)

    return run_command(command, argv, f"slaplug fake {name}")
