"""Plugin notification hooks (``on_breach``, ``on_action_applied``) delivered like notifications.

A plugin's reaction to a breach is a side effect outside slaplug (a page, an incident), so it is
delivered the way a notification is (docs/plugins/hooks.md):

* ``on_breach`` goes through the outbox. The call is planned (a ``hook`` action, keyed by the
  clock) *before* the breach is recorded, so a crash at any step leaves it planned or still to
  plan: it is never lost. The sync delivers it after the connector's writes, in batches of
  its own (they never take a place in a write batch). Nothing is planned while no plugin
  implements the hook.
* Each plugin is called on its own and recorded right after its call returns (in the
  ``notification_sends`` table, the plugin's name as the target), so a retry or a rerun after a
  crash calls only the plugins not yet reached: a crash repeats at most the call in flight.
* A plugin that raises does not stop the pass. The call is retried with backoff, and parked as
  a dead letter after the last try (``slaplug outbox list``, ``slaplug outbox retry``),
  exactly like a notifier that failed.
* ``on_action_applied`` is called right after an action is recorded. A plugin that raises is
  retried the same way, through a ``hook`` action that calls only the plugins that failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slaplug import plugins
from slaplug.connectors.base import ApplyResult, ApplyStatus
from slaplug.connectors.redact import scrub
from slaplug.crashpoints import crashpoint
from slaplug.model import Action, ActionKind, SlaMeasure, Ticket
from slaplug.notify.deliver import DeliveryError
from slaplug.serialize import action_to_dict, measure_to_dict
from slaplug.store.codec import action_from_json, measure_from_json
from slaplug.store.outbox import HOOK_KEY_PART

if TYPE_CHECKING:
    from slaplug.store import Store

__all__ = ["HookCalls", "action_hook", "breach_hook", "hook_key"]

log = logging.getLogger("slaplug.hookcalls")


def hook_key(base: str, hook: str) -> str:
    """The key of a call of ``hook`` (``on_breach``...) derived from ``base``: ``<base>!on_breach``.

    Every such key holds `HOOK_KEY_PART` (``!on_``), which no action's identity holds
    (`slaplug.rules.identity`): the outbox claims hook calls apart by it.
    """
    return f"{base}{HOOK_KEY_PART}{hook.removeprefix('on_')}"


def breach_key(ticket_key: str, measure: SlaMeasure) -> str:
    """The key of the ``on_breach`` call for one clock: the same in every process and pass."""
    clock = f"{ticket_key}:{measure.policy}:{measure.metric.value}:{measure.cycle}"
    return hook_key(clock, "on_breach")


def breach_hook(ticket: Ticket, measure: SlaMeasure) -> Action:
    """The outbox action that calls ``on_breach(ticket, measure)``."""
    return Action(
        kind=ActionKind.HOOK,
        params={"hook": "on_breach", "measure": measure_to_dict(measure)},
        connector=ticket.connector,
        ticket_id=ticket.id,
        key=breach_key(ticket.key, measure),
        escalation="on_breach",
        level=0,
        policy=measure.policy,
        metric=measure.metric,
        cycle=measure.cycle,
    )


def action_hook(action: Action, result: ApplyResult) -> Action:
    """The outbox action that calls ``on_action_applied(action, result)`` again."""
    doc = {**action_to_dict(action), "policy": action.policy, "metric": action.metric.value}
    doc["cycle"] = action.cycle
    return Action(
        kind=ActionKind.HOOK,
        params={
            "hook": "on_action_applied",
            "action": doc,
            "result": {"status": result.status.value, "detail": result.detail},
        },
        connector=action.connector,
        ticket_id=action.ticket_id,
        key=hook_key(action.key, "on_action_applied"),
        escalation=action.escalation,
        level=action.level,
        policy=action.policy,
        metric=action.metric,
        cycle=action.cycle,
    )


class HookCalls:
    """Calls plugin hooks one plugin at a time, recording each call that returned.

    Args:
        store: Where calls are recorded and tickets' snapshots are read.
        clock: The current time.
    """

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def deliver(self, action: Action) -> ApplyResult:
        """Make the call a ``hook`` action stands for, to every plugin not reached yet.

        Returns:
            APPLIED once every plugin returned; ALREADY when an earlier try reached them all;
            SKIPPED when the ticket is no longer stored or the hook is unknown.

        Raises:
            DeliveryError: A plugin raised; the plugins that returned before it are recorded.
        """
        hook = str(action.params.get("hook", ""))
        kwargs = self._arguments(hook, action)
        if kwargs is None:
            return ApplyResult(
                action.key, ApplyStatus.SKIPPED, f"nothing to call {hook or 'a hook'} with"
            )
        done = self.store.sent_targets(action.key)
        pending = [name for name in implementers(hook) if name not in done]
        if not pending:
            return ApplyResult(action.key, ApplyStatus.ALREADY)
        for name in pending:
            try:
                call_one(hook, name, kwargs)
            except Exception as exc:  # third-party code: retried, like a notifier
                raise DeliveryError(failure(hook, name, exc)) from exc
            crashpoint("hook-called")
            self.store.record_sent(action.key, name, now=self.clock())
            crashpoint("hook-recorded")
        return ApplyResult(action.key, ApplyStatus.APPLIED)

    def action_applied(self, action: Action, result: ApplyResult) -> None:
        """Call ``on_action_applied`` now; plan a retry for the plugins that raise."""
        kwargs = {"action": action, "result": result}
        failed: list[str] = []
        reached: list[str] = []
        for name in implementers("on_action_applied"):
            try:
                call_one("on_action_applied", name, kwargs)
            except Exception as exc:  # third-party code: the pass goes on
                log.warning(
                    "%s; retried later through the outbox", failure("on_action_applied", name, exc)
                )
                failed.append(name)
            else:
                reached.append(name)
        if not failed:
            return
        retry = action_hook(action, result)
        # Planned first, then the plugins already reached recorded: a crash in between calls
        # them again (allowed: hooks are idempotent), never loses the failed ones. Due after
        # the outbox's first backoff, as a failed notification would be.
        self.store.plan([retry], now=self.clock() + self.store.settings.backoff(1))
        for name in reached:
            self.store.record_sent(retry.key, name, now=self.clock())

    def _arguments(self, hook: str, action: Action) -> dict[str, Any] | None:
        params: Mapping[str, Any] = action.params
        if hook == "on_breach":
            ticket = self.store.load_snapshot(action.connector, action.ticket_id)
            if ticket is None:
                return None
            return {"ticket": ticket, "measure": measure_from_json(json.dumps(params["measure"]))}
        if hook == "on_action_applied":
            original = action_from_json(json.dumps(params["action"]))
            res = params["result"]
            return {
                "action": original,
                "result": ApplyResult(original.key, ApplyStatus(res["status"]), res["detail"]),
            }
        return None


def implementers(hook: str) -> list[str]:
    """The names of the plugins implementing ``hook``, in pluggy's calling order."""
    plugins.load_plugins()
    impls = getattr(plugins.pm.hook, hook).get_hookimpls()
    return [impl.plugin_name for impl in reversed(impls)]


def call_one(hook: str, name: str, kwargs: Mapping[str, Any]) -> None:
    """Call ``hook`` on the one plugin registered as ``name`` (if it is still registered)."""
    pm = plugins.pm
    plugin = pm.get_plugin(name)
    if plugin is None:
        return  # unregistered since: nothing left to call
    others = [p for p in pm.get_plugins() if p is not plugin]
    pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)


def failure(hook: str, name: str, exc: BaseException) -> str:
    """What a failed call says, naming the plugin; secrets scrubbed."""
    return scrub(f"plugin {name!r} failed in {hook}: {type(exc).__name__}: {exc}")
