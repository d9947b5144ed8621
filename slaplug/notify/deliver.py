"""Deliver ``notify`` actions: apprise for the channels in ``slaplug.yaml``, plugins for others.

Delivery semantics (docs/notifications.md):

* A notification goes through the outbox like every other action: retried with backoff when a
  service fails, a dead letter after the last try, replayable with ``slaplug outbox retry``.
* A channel may name several services. Each send is recorded (``notification_sends``) right
  after it succeeds, before the next one starts, so a retry or a rerun after a crash sends only
  to the services not yet reached: a crash repeats at most the one send in flight.
* Where the service takes a de-duplication key (PagerDuty ``dedup_key``, Opsgenie ``alias``),
  the action's key is passed, so even that one repeat is absorbed by the service.
* ``repeat`` makes a reminder: after a successful send, the next one is planned ``repeat``
  later, until the clock is achieved or ``times`` notifications were sent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slaplug import plugins
from slaplug.connectors.base import ApplyResult, ApplyStatus
from slaplug.connectors.redact import scrub
from slaplug.crashpoints import crashpoint
from slaplug.errors import PluginError, SlaplugError
from slaplug.model import Action, MeasureState, SlaMeasure
from slaplug.notify.channels import DEDUP_ARGUMENT, Channel, ChannelTarget
from slaplug.notify.message import Message, build_message, reference

if TYPE_CHECKING:
    from slaplug.connectors.base import Connector
    from slaplug.rules.pack import RulePack
    from slaplug.rules.versions import VersionedPack
    from slaplug.store import Store

__all__ = ["DeliveryError", "Notifications", "target_id"]

log = logging.getLogger(__name__)

_EMAIL = frozenset({"mailto", "mailtos"})
#: The separator of a reminder's number in its key: ``<key>~r2`` is the second notification.
REMINDER = "~r"


class DeliveryError(SlaplugError):
    """A service refused or could not be reached: the outbox retries the notification later."""


def target_id(target: ChannelTarget) -> str:
    """A stable name for one service of a channel: its URL as written, secrets unresolved."""
    return hashlib.sha256(target.shown.encode()).hexdigest()[:32]


def _with_argument(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={quote(value, safe='')}"


def usable(target: ChannelTarget) -> str | None:
    """None when apprise can send to ``target``; else what is wrong with its URL."""
    import apprise  # noqa: PLC0415 - loads ~200 service plugins: only when asked

    if apprise.Apprise.instantiate(target.url) is None:
        return f"{target.shown}: apprise cannot use this URL (unknown scheme or missing part)"
    return None


def send_apprise(target: ChannelTarget, message: Message, dedup: str | None) -> None:
    """Send ``message`` to one service through apprise.

    Raises:
        DeliveryError: Apprise cannot use the URL, or the service refused the message.
    """
    import apprise  # noqa: PLC0415 - loads ~200 service plugins: only when something is sent

    url = target.url
    argument = DEDUP_ARGUMENT.get(target.scheme)
    if argument is not None and dedup is not None:
        url = _with_argument(url, argument, dedup)
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError(f"{target.shown}: apprise cannot use this URL; check it")
    is_email = target.scheme in _EMAIL
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        ok = sender.notify(
            title=message.subject,
            body=message.html if is_email else message.text,
            body_format=apprise.NotifyFormat.HTML if is_email else apprise.NotifyFormat.TEXT,
        )
    if not ok:
        said = " ".join(str(captured.getvalue()).split())[:300] or "the service refused it"
        raise DeliveryError(scrub(f"{target.shown}: {said}"))


class Notifications:
    """Delivers ``notify`` actions for a sync pass or a webhook worker.

    Args:
        store: Where sends are recorded and the tickets' snapshots are read.
        pack: The rules, to measure a ticket's clock as it stands when the message is sent.
        channels: The channels configured in ``slaplug.yaml``.
        connectors: The connectors, for each ticket's link on its helpdesk.
        send: How one service is sent to (`send_apprise`; tests pass their own).
        clock: The current time.
    """

    def __init__(
        self,
        store: Store,
        pack: RulePack | VersionedPack | None,
        channels: Mapping[str, Channel],
        connectors: Mapping[str, Connector] | None = None,
        *,
        send: Callable[[ChannelTarget, Message, str | None], None] = send_apprise,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        from slaplug.rules.versions import VersionedPack  # noqa: PLC0415 - kept off import

        self.rules = VersionedPack.of(pack) if pack is not None else None
        self.channels = dict(channels)
        self.connectors = dict(connectors or {})
        self.send = send
        self.clock = clock

    def serves(self, channel: str) -> bool:
        """True when a configured channel or an installed notifier plugin delivers to it."""
        if channel in self.channels:
            return True
        try:
            plugins.notifier_for(channel)
        except PluginError:
            return False
        return True

    def deliver(self, action: Action) -> ApplyResult:
        """Deliver one notification (or reminder).

        Returns:
            APPLIED once every service of the channel has it; ALREADY when an earlier try
            had reached them all; SKIPPED for a reminder whose clock is achieved.

        Raises:
            DeliveryError: A service failed; the services reached so far are recorded.
        """
        name = str(action.params.get("channel", ""))
        channel = self.channels.get(name)
        if channel is None:
            return self._deliver_by_plugin(name, action)
        if not channel.targets:
            return ApplyResult(
                action.key, ApplyStatus.SKIPPED, f"channel {name!r} is declared with no services"
            )
        measure, ticket, zone = self._clock(action)
        if _reminder_number(action.key) > 1 and _stopped(measure):
            return ApplyResult(
                action.key, ApplyStatus.SKIPPED, "the clock has stopped: reminders end"
            )
        done = self.store.sent_targets(action.key)
        pending = [t for t in channel.targets if target_id(t) not in done]
        if not pending:
            return ApplyResult(action.key, ApplyStatus.ALREADY)
        message = build_message(
            action,
            ticket=ticket,
            measure=measure,
            link=self._link(action),
            zone=zone,
            subject=channel.subject,
        )
        for target in pending:
            self.send(target, message, reference(action.key))
            crashpoint("notify-sent")
            self.store.record_sent(action.key, target_id(target), now=self.clock())
            crashpoint("notify-recorded")
        self._plan_reminder(action, measure)
        return ApplyResult(action.key, ApplyStatus.APPLIED)

    # -- helpers ---------------------------------------------------------------------------

    def _deliver_by_plugin(self, name: str, action: Action) -> ApplyResult:
        try:
            deliver = plugins.notifier_for(name)
        except PluginError as exc:
            # Caught before the first sync by `rules check --config` and `doctor`; if it still
            # happens (a plugin uninstalled), fail visibly: `outbox list --failed` shows it.
            return ApplyResult(
                action.key, ApplyStatus.FAILED, f"{exc}; add the channel under notify:"
            )
        ticket = self.store.load_snapshot(action.connector, action.ticket_id)
        try:
            deliver(name, str(action.params.get("message", "")), action, ticket)
        except Exception as exc:  # a notifier is third-party code: its failure is retried
            raise DeliveryError(scrub(f"notifier {name!r} failed: {exc}")) from exc
        return ApplyResult(action.key, ApplyStatus.APPLIED)

    def _clock(self, action: Action) -> tuple[SlaMeasure | None, Any, Any]:
        """The clock the escalation fired on, as it stands now, the ticket, and the zone
        of the clock's calendar (in the rules version that measures the clock)."""
        ticket = self.store.load_snapshot(action.connector, action.ticket_id)
        if ticket is None or self.rules is None:
            return None, ticket, None
        assessed = self.rules.assess(ticket, self.clock())
        for m in assessed.measures:
            if m.policy == action.policy and m.metric is action.metric and m.cycle == action.cycle:
                pack = self.rules.pack_of(assessed, m)
                cal = pack.source.calendars.get(m.calendar)
                return m, ticket, cal.zone if cal is not None else None
        return None, ticket, None

    def _link(self, action: Action) -> str | None:
        conn = self.connectors.get(action.connector)
        return conn.ticket_url(action.ticket_id) if conn is not None else None

    def _plan_reminder(self, action: Action, measure: SlaMeasure | None) -> None:
        every = action.params.get("repeat")
        if not every or _stopped(measure):
            return
        number = _reminder_number(action.key)
        if number >= int(action.params.get("times", 1)):
            return
        base = action.key.rsplit(REMINDER, 1)[0] if number > 1 else action.key
        nxt = replace(action, key=f"{base}{REMINDER}{number + 1}")
        # Planned for its own time: the outbox claims it once that time has come.
        self.store.plan([nxt], now=self.clock() + timedelta(seconds=float(every)))


def _stopped(measure: SlaMeasure | None) -> bool:
    """True once the clock no longer runs: achieved, or stopped after its breach (the reply
    came late, the ticket was solved); a clock no longer measured counts as stopped."""
    return (
        measure is None or measure.state is MeasureState.ACHIEVED or measure.stopped_at is not None
    )


def _reminder_number(key: str) -> int:
    """1 for the first notification, n for the key ``<key>~rn``."""
    head, sep, tail = key.rpartition(REMINDER)
    return int(tail) if sep and head and tail.isdigit() else 1
