"""The exit codes of every ``slaplug`` command: one table, documented in docs/cli.md.

Scripts, cron wrappers and systemd (``RestartPreventExitStatus=2``) tell the causes apart by
these numbers, so each cause has one code and no two causes share one.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """Why a command ended."""

    #: Done; nothing failed.
    OK = 0
    #: A check the command exists to run failed: a policy test (`rules test`), a `doctor` check.
    CHECK_FAILED = 1
    #: Bad input or configuration: options, rules, tickets, slaplug.yaml, an unknown key. The
    #: message says what to fix; running again unchanged fails the same way.
    BAD_INPUT = 2
    #: A helpdesk could not be reached, timed out, or rejected the requests (credentials,
    #: permissions, a wrong URL): the message names the connector and the cause.
    HELPDESK = 3
    #: The run finished, but some actions failed (for good, dead-lettered, or left to retry).
    ACTIONS_FAILED = 4
    #: Stopped by Ctrl-C (SIGINT) or SIGTERM; the message says what was left for the next run.
    INTERRUPTED = 130
