"""Plugin loading and the registries built from the hooks.

Plugins are found through the ``slaplug`` entry-point group, built-in connectors included:
the core never imports a connector by name. Loading is lazy and idempotent; tests see only
the plugins they register, unless ``SLAPLUG_LOAD_PLUGINS`` asks for some.

Environment:
    SLAPLUG_LOAD_PLUGINS: Comma-separated allow-list of plugins to load, by distribution
        (``slaplug-jira``) or entry-point name (``jira``). Empty: load none. Unset: load all.
    SLAPLUG_TRACE_PLUGINS: ``1`` prints every hook call to stderr.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pluggy

from slaplug import hookspecs
from slaplug.connectors.base import Connector
from slaplug.connectors.redact import scrub
from slaplug.errors import PluginError

if TYPE_CHECKING:
    from slaplug.hookspecs import DemoFake, FakeRunner, Notifier, RegisterFake
    from slaplug.model import Ticket

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "enrich_failure",
    "enrich_ticket",
    "get_connectors",
    "get_demo_fakes",
    "get_fakes",
    "get_notifiers",
    "holidays_for",
    "load_plugins",
    "notifier_for",
    "plugin_list",
    "pm",
]

ENTRY_POINT_GROUP = "slaplug"

pm = pluggy.PluginManager("slaplug")
pm.add_hookspecs(hookspecs)

_lock = threading.Lock()
_loaded = False
# Plugin name -> the distribution that installed it, for `plugin_list`. Kept here rather
# than in pluggy's private ``_plugin_distinfo``, which datasette and llm write to.
_distributions: dict[str, importlib.metadata.Distribution] = {}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_plugins() -> list[str]:
    """Load the plugins installed under the ``slaplug`` entry-point group. Idempotent.

    Under slaplug's own tests (``sys._called_from_test``) nothing is loaded unless
    ``SLAPLUG_LOAD_PLUGINS`` names plugins.

    Returns:
        The names of the plugins loaded by this call (empty after the first call).

    Raises:
        PluginError: A plugin failed to import, or the allow-list names one that is not
            installed.
    """
    global _loaded  # noqa: PLW0603 - one process-wide flag, guarded by the lock
    with _lock:
        if _loaded:
            return []
        _loaded = True
        if os.environ.get("SLAPLUG_TRACE_PLUGINS") == "1":
            pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            pm.enable_tracing()
        allow = os.environ.get("SLAPLUG_LOAD_PLUGINS")
        if allow is None and hasattr(sys, "_called_from_test"):
            return []
        return [_register_entry_point(ep) for ep in _selected_entry_points(allow)]


def _selected_entry_points(allow: str | None) -> list[importlib.metadata.EntryPoint]:
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if allow is None:
        return found
    wanted = {_normalize(n.strip()) for n in allow.split(",") if n.strip()}

    def names(ep: importlib.metadata.EntryPoint) -> set[str]:
        dist = ep.dist.name if ep.dist is not None else ""
        return {_normalize(ep.name), _normalize(dist)}

    unknown = wanted - {n for ep in found for n in names(ep)}
    if unknown:
        installed = ", ".join(sorted({ep.dist.name for ep in found if ep.dist})) or "none"
        raise PluginError(
            f"SLAPLUG_LOAD_PLUGINS names {', '.join(sorted(unknown))}, which is not installed; "
            f"installed plugins: {installed}"
        )
    return [ep for ep in found if names(ep) & wanted]


def _register_entry_point(ep: importlib.metadata.EntryPoint) -> str:
    if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
        return ep.name
    dist = f" (from {ep.dist.name} {ep.dist.version})" if ep.dist is not None else ""
    try:
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
    except Exception as exc:
        raise PluginError(f"plugin {ep.name!r}{dist} failed to load: {exc}") from exc
    if ep.dist is not None:
        _distributions[ep.name] = ep.dist
    return ep.name


def _describe(plugin_name: str) -> str:
    dist = _distributions.get(plugin_name)
    if dist is None:
        return repr(plugin_name)
    return f"{plugin_name!r} ({dist.name} {dist.version})"


def _gather(hook_name: str, register_for: Callable[[str], Callable[..., None]]) -> None:
    """Call each implementation of a ``register_*`` hook with its own ``register``.

    Registries must say *which* plugin registered what, which a plain ``pm.hook`` call
    hides; pluggy's public `HookImpl` gives the function, its argument names and its plugin.
    """
    for impl in getattr(pm.hook, hook_name).get_hookimpls():  # registration order
        kwargs = {"register": register_for(impl.plugin_name)}
        try:
            impl.function(*(kwargs[a] for a in impl.argnames))
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {_describe(impl.plugin_name)} failed in {hook_name}: {exc}"
            ) from exc


def get_connectors() -> dict[str, type[Connector]]:
    """Every connector class registered by a plugin, by `Connector.name`.

    Raises:
        PluginError: Two plugins registered the same name (both are named), or a plugin
            registered something that is not a `Connector` subclass with a name.
    """
    load_plugins()
    found: dict[str, type[Connector]] = {}
    owners: dict[str, str] = {}

    def register_for(plugin: str) -> Callable[[type[Connector]], None]:
        def register(cls: type[Connector]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise PluginError(f"plugin {_describe(plugin)} registered {cls!r}, not a Connector")
            name = getattr(cls, "name", "")
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {_describe(plugin)}: {cls.__name__}.name is not set")
            if name in found and found[name] is not cls:
                raise PluginError(
                    f"connector {name!r} is registered twice: by plugin "
                    f"{_describe(owners[name])} and by plugin {_describe(plugin)}; uninstall "
                    "one, or leave it out of SLAPLUG_LOAD_PLUGINS"
                )
            found[name], owners[name] = cls, plugin

        return register

    _gather("register_connectors", register_for)
    return found


def get_notifiers() -> dict[str, Notifier]:
    """Every notifier registered by a plugin, by channel name.

    Raises:
        PluginError: Two plugins registered the same name (both are named), or a
            notifier is not callable.
    """
    load_plugins()
    found: dict[str, Notifier] = {}
    owners: dict[str, str] = {}

    def register_for(plugin: str) -> Callable[[str, Notifier], None]:
        def register(name: str, deliver: Notifier) -> None:
            if not callable(deliver):
                raise PluginError(f"plugin {_describe(plugin)}: notifier {name!r} is not callable")
            if name in found:
                raise PluginError(
                    f"notifier {name!r} is registered twice: by plugin "
                    f"{_describe(owners[name])} and by plugin {_describe(plugin)}"
                )
            found[name], owners[name] = deliver, plugin

        return register

    _gather("register_notifiers", register_for)
    return found


def get_fakes() -> dict[str, FakeRunner]:
    """Every fake helpdesk registered by a plugin, by name (``slaplug fake NAME``).

    Raises:
        PluginError: Two plugins registered the same name (both are named), or a runner
            is not callable.
    """
    return _gather_fakes()[0]


def get_demo_fakes() -> dict[str, DemoFake]:
    """The fakes plugins offer to ``slaplug demo`` (``register(name, run, demo=start)``),
    by name, sorted by name.

    Raises:
        PluginError: As `get_fakes`, or a ``demo`` that is not callable.
    """
    demos = _gather_fakes()[1]
    return {name: demos[name] for name in sorted(demos)}


def _gather_fakes() -> tuple[dict[str, FakeRunner], dict[str, DemoFake]]:
    load_plugins()
    found: dict[str, FakeRunner] = {}
    demos: dict[str, DemoFake] = {}
    owners: dict[str, str] = {}

    def register_for(plugin: str) -> RegisterFake:
        def register(name: str, run: FakeRunner, *, demo: DemoFake | None = None) -> None:
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
                raise PluginError(
                    f"plugin {_describe(plugin)}: fake name {name!r} is not a lower-case "
                    "word (letters, digits, - and _)"
                )
            if not callable(run):
                raise PluginError(f"plugin {_describe(plugin)}: fake {name!r} is not callable")
            if demo is not None and not callable(demo):
                raise PluginError(
                    f"plugin {_describe(plugin)}: the demo of fake {name!r} is not callable"
                )
            if name in found:
                raise PluginError(
                    f"fake {name!r} is registered twice: by plugin "
                    f"{_describe(owners[name])} and by plugin {_describe(plugin)}"
                )
            found[name], owners[name] = run, plugin
            if demo is not None:
                demos[name] = demo

        return register

    _gather("register_fakes", register_for)
    return found, demos


def notifier_for(channel: str, notifiers: Mapping[str, Notifier] | None = None) -> Notifier:
    """The notifier that delivers to ``channel``: registered under it, else its scheme.

    ``"slack:#leads"`` goes to a notifier named ``"slack:#leads"``, else ``"slack"``.

    Raises:
        PluginError: No installed plugin delivers to this channel.
    """
    notifiers = get_notifiers() if notifiers is None else notifiers
    for name in (channel, channel.split(":", 1)[0]):
        if name in notifiers:
            return notifiers[name]
    known = ", ".join(sorted(notifiers)) or "none"
    raise PluginError(
        f"no notifier plugin delivers to channel {channel!r}; installed notifiers: {known}"
    )


def holidays_for(
    calendar_name: str, country: str | None, subdivision: str | None, years: range
) -> list[date] | None:
    """The holidays a plugin provides for a calendar, or None to use the built-in tables."""
    load_plugins()
    result = pm.hook.holidays(
        calendar_name=calendar_name, country=country, subdivision=subdivision, years=years
    )
    return None if result is None else sorted(set(result))


def enrich_ticket(ticket: Ticket) -> Ticket:
    """The ticket with the fields plugins add through ``enrich_ticket`` merged in.

    The first implementation called wins a field two plugins set; plugins override the
    platform's value. Returns ``ticket`` itself when no plugin adds anything.
    """
    load_plugins()
    results = [r for r in pm.hook.enrich_ticket(ticket=ticket) if r]
    if not results:
        return ticket
    fields = dict(ticket.fields)
    for extra in reversed(results):  # later updates win, so apply the first result last
        fields.update(extra)
    return dataclasses.replace(ticket, fields=fields)


def enrich_failure(exc: BaseException) -> str:
    """Why `enrich_ticket` raised, naming the plugin's module where the traceback shows it
    (the frame pluggy called); secrets scrubbed. A quarantine reason, so one line."""
    where = "a plugin"
    tb = exc.__traceback__
    called_by_pluggy = False
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if called_by_pluggy and not module.startswith("pluggy"):
            where = f"plugin module {module!r}"
            break
        called_by_pluggy = module.startswith("pluggy")
        tb = tb.tb_next
    return scrub(f"enrich_ticket in {where} raised {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class PluginInfo:
    """A registered plugin, as ``slaplug plugins`` shows it.

    Attributes:
        name: The plugin's name (its entry-point name when installed).
        version: The version of the distribution that installed it, if known.
        distribution: That distribution's name (``slaplug-jira``), if known.
        hooks: The hooks it implements, sorted.
    """

    name: str
    version: str | None
    distribution: str | None
    hooks: tuple[str, ...]


def plugin_list() -> list[PluginInfo]:
    """Every registered plugin with its version and hooks, sorted by name."""
    load_plugins()
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = _distributions.get(name)
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        infos.append(
            PluginInfo(
                name=name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
                hooks=hooks,
            )
        )
    return sorted(infos, key=lambda i: i.name)
