"""The ``slaplug`` command line. Thin: it parses arguments and wires the parts together.

Exit codes are `slaplug.exitcodes.ExitCode` (the table in docs/cli.md): 0 ok, 1 a check
failed, 2 bad input or configuration, 3 a helpdesk unreachable or rejecting, 4 some actions
failed, 130 interrupted. Errors print as messages, never as tracebacks.
"""

from __future__ import annotations

import click

from slaplug.cli import (
    access,
    credits,
    demo,
    doctor,
    evaluate,
    fake,
    inbox,
    notify,
    outbox,
    quarantine,
    rules,
    serve,
    setup,
    status,
    sync,
    worker,
)

__all__ = ["main"]


@click.group()
@click.version_option(package_name="slaplug")
def main() -> None:
    """slaplug: SLA clocks, escalations and service credits for your helpdesk."""


# One module per command group (`slaplug --help` lists the commands sorted by name).
for _command in (
    evaluate.assess,
    evaluate.explain,
    rules.rules,
    setup.plugins,
    setup.init,
    setup.new_connector,
    sync.sync,
    status.status,
    demo.demo,
    outbox.outbox,
    inbox.inbox,
    notify.notify_group,
    doctor.doctor,
    quarantine.quarantine,
    fake.fake,
    serve.serve,
    credits.credits,
    credits.report,
    credits.backtest,
    access.customers,
    access.dashboard,
    worker.worker,
):
    main.add_command(_command)
