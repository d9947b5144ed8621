"""The contract between slaplug and its plugins (documented in docs/plugins/hooks.md).

Implementations may accept *fewer* arguments than a spec, never more, so specs can grow.
Names follow one convention: ``register_*`` for contributions, a noun for hooks where
the first answer wins (``firstresult``), ``on_*`` for notifications.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:  # free at runtime, and no import cycle with the connector kit
    from slaplug.connectors.base import ApplyResult, Connector
    from slaplug.credits.statement import CreditStatement
    from slaplug.model import Action, SlaMeasure, Ticket

__all__ = [
    "DemoConnection",
    "DemoFake",
    "FakeRunner",
    "Notifier",
    "RegisterFake",
    "hookimpl",
    "hookspec",
]

hookspec = HookspecMarker("slaplug")
#: Mark a plugin's hook implementations; re-exported as ``slaplug.hookimpl``.
hookimpl = HookimplMarker("slaplug")


class Notifier(Protocol):
    """Delivers the ``notify`` action on one channel (chat, e-mail, pager)."""

    def __call__(self, channel: str, message: str, action: Action, ticket: Ticket | None) -> None:
        """Deliver ``message`` to ``channel``.

        Args:
            channel: The channel named in the rules (``"slack:#support-leads"``).
            message: The rendered text.
            action: The planned action; ``action.key`` is its idempotency key, so a
                notifier that can look up earlier sends can skip a duplicate.
            ticket: The ticket, when the caller has it.
        """


class FakeRunner(Protocol):
    """Runs a fake helpdesk server from the command line (``slaplug fake NAME ARGS...``)."""

    def __call__(self, argv: list[str]) -> int:
        """Serve until stopped (Ctrl-C, SIGTERM); ``--help`` prints the fake's options.

        Args:
            argv: The arguments after ``slaplug fake NAME``.

        Returns:
            The exit code.
        """


@dataclass(frozen=True)
class DemoConnection:
    """A fake helpdesk started for ``slaplug demo``, and how the demo connects to it.

    Attributes:
        section: The connector's section of ``slaplug.yaml`` pointing at the running fake
            (``plugin``, ``base_url``, credentials by ``*_env`` name, ``fields``...), with
            demo data the fake serves (a custom field's id, the projects to read).
        environ: The environment variables the section names, with their values (the fake's
            tokens); the demo sets them before it connects.
        contracts_heading: If set, the demo lists the contracts decided on this connector's
            tickets by organization, under this heading (``"Acme tickets, by organization"``).
    """

    section: Mapping[str, Any]
    environ: Mapping[str, str] = field(default_factory=dict)
    contracts_heading: str | None = None


#: Starts a plugin's fake for ``slaplug demo``: called as ``start(now)`` with the instant the
#: demo runs at (an aware `datetime`; the fake's data should end shortly before it), it
#: returns a context manager whose value is its `DemoConnection` and whose exit stops the fake.
#: A ``start()`` that takes no argument is still called, without the instant.
DemoFake = Callable[[datetime], AbstractContextManager[DemoConnection]]


class RegisterFake(Protocol):
    """The ``register`` that `register_fakes` receives."""

    def __call__(self, name: str, run: FakeRunner, *, demo: DemoFake | None = None) -> None:
        """Register the fake ``name``: ``run`` serves it, ``demo`` starts it for the demo."""


# -- Registration: called when slaplug gathers contributions ----------------------------


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector classes.

    Called by `slaplug.plugins.get_connectors`.

    Args:
        register: Call once per class, e.g. ``register(JiraConnector)``. Raises
            ``PluginError`` naming both plugins if another plugin took the class's ``name``.
    """


@hookspec
def register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """Register notifiers, the deliverers of the ``notify`` action, by channel name.

    Called by `slaplug.plugins.get_notifiers`. A rule's ``channel: slack:#leads`` goes to
    the notifier registered as ``"slack:#leads"`` if there is one, else as ``"slack"``.

    Args:
        register: Call as ``register(name, deliver)`` where ``deliver`` is a `Notifier`:
            ``deliver(channel, message, action, ticket)``.
    """


@hookspec
def register_fakes(register: RegisterFake) -> None:
    """Register fake helpdesk servers, which ``slaplug fake NAME`` and ``slaplug demo`` run.

    Called by `slaplug.plugins.get_fakes` and `slaplug.plugins.get_demo_fakes`. A connector
    plugin registers its platform's fake under the platform's name, so users and tests can
    try the connector without an account; the core names no platform.

    Args:
        register: Call as ``register(name, run)`` or ``register(name, run, demo=start)``.
            ``run`` is a `FakeRunner`: ``run(argv) -> exit code``; the first line of its
            docstring is its summary in ``slaplug fake --help``. ``start``, a `DemoFake`,
            makes ``slaplug demo`` run this fake too: ``start(now)`` starts the fake with
            the demo's data, ending shortly before ``now`` (the instant the demo runs at),
            and yields the `DemoConnection` to it. Import the fake inside ``run``
            and ``start``, so that listing the fakes stays cheap.
    """


# -- Providers: the first plugin to answer wins -----------------------------------------


@hookspec(firstresult=True)
def holidays(
    calendar_name: str, country: str | None, subdivision: str | None, years: range
) -> Iterable[date] | None:
    """Provide the holidays of a business calendar, instead of the built-in tables.

    For company shutdowns, regional days the ``holidays`` package lacks, or a calendar
    kept in an HR system. Return None to leave the calendar to other plugins or the
    built-ins; the first non-None answer wins.

    Args:
        calendar_name: The calendar's name in the rules (``"support-de"``).
        country: Its ISO country code, if one is declared.
        subdivision: Its subdivision (``"BY"``), if one is declared.
        years: The years wanted.

    Returns:
        The closed dates, or None.
    """


# -- Evaluation: called per ticket ------------------------------------------------------


@hookspec
def enrich_ticket(ticket: Ticket) -> Mapping[str, Any] | None:
    """Add custom fields to a ticket before it is measured (a customer tier from a CRM).

    The mappings returned are merged into ``ticket.fields``, overriding the platform's
    values; when two plugins set the same field, the one called first wins (pluggy calls
    the most recently registered first, ``tryfirst`` before that). An exception here
    quarantines the ticket (stage ``enrich``); the other tickets go on.

    Args:
        ticket: The ticket as the connector read it.

    Returns:
        Fields to add, or None.
    """


# -- Notifications: every implementation is called; return values are ignored ----------


@hookspec
def on_breach(ticket: Ticket, measure: SlaMeasure) -> None:
    """React to an SLA target being missed (page someone, open an incident).

    Called once per breached measure when the breach is first seen, through the outbox: the
    call is never lost (a crash or an exception here retries it later, to the plugins not yet
    reached). It may be called again after a crash, so be idempotent.

    Args:
        ticket: The ticket.
        measure: The breached measure (``measure.breached_at`` is set).
    """


@hookspec
def on_action_applied(action: Action, result: ApplyResult) -> None:
    """React to a planned action having been applied, skipped or refused by the platform.

    An exception here does not stop the pass: the call is retried later, to this plugin only.

    Args:
        action: The action.
        result: What the connector reported for it.
    """


@hookspec
def on_credit_statement(statement: CreditStatement) -> None:
    """Deliver a contract's credit statement for a period (an internal note, a mail, a booking).

    Called by ``slaplug credits --deliver`` once per contract computed; running it again
    delivers again, so key on ``statement.key`` to write each revision once.

    Args:
        statement: The period's result (``statement.result``), its plain text
            (``statement.text``) and its idempotency key (``statement.key``).
    """
