"""Running a fake from the command line (``slaplug fake NAME``): exit codes and SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence

import click

__all__ = ["run_command", "serve_until_stopped"]


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
