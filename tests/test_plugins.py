"""Plugin loading (entry points, allow-list, idempotence) and the registries built from hooks."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from tinydesk import TinyConnector

from slaplug import hookimpl
from slaplug import plugins as plugins_module
from slaplug.cli import main
from slaplug.errors import PluginError
from slaplug.plugins import (
    get_connectors,
    get_notifiers,
    load_plugins,
    notifier_for,
    plugin_list,
    pm,
)


@pytest.fixture
def register() -> Iterator:
    names: list[str] = []

    def _register(plugin: object, name: str) -> None:
        pm.register(plugin, name=name)
        names.append(name)

    yield _register
    for name in names:
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)


def connector_plugin(*classes: type) -> object:
    class Plugin:
        @hookimpl
        def register_connectors(self, register):
            for cls in classes:
                register(cls)

    return Plugin()


class OtherTiny(TinyConnector):
    """A different class claiming the same name."""


def test_registered_connectors_are_found_by_name(register) -> None:
    register(connector_plugin(TinyConnector), "undo-tiny")
    assert get_connectors() == {"tiny": TinyConnector}


def test_duplicate_connector_names_raise_naming_both_plugins(register) -> None:
    register(connector_plugin(TinyConnector), "undo-first")
    register(connector_plugin(OtherTiny), "undo-second")
    with pytest.raises(PluginError) as exc:
        get_connectors()
    assert "'tiny'" in str(exc.value)
    assert "'undo-first'" in str(exc.value) and "'undo-second'" in str(exc.value)


def test_registering_something_else_than_a_connector_is_a_plugin_error(register) -> None:
    register(connector_plugin(dict), "undo-bad")
    with pytest.raises(PluginError, match="'undo-bad' registered <class 'dict'>, not a Connector"):
        get_connectors()


def test_a_failing_hook_names_its_plugin(register) -> None:
    class Broken:
        @hookimpl
        def register_connectors(self, register):
            raise RuntimeError("boom")

    register(Broken(), "undo-broken")
    with pytest.raises(PluginError, match="'undo-broken' failed in register_connectors: boom"):
        get_connectors()


def test_notifiers_by_exact_channel_then_by_scheme(register) -> None:
    def slack(channel, message, action, ticket):
        pass

    def leads(channel, message, action, ticket):
        pass

    class Plugin:
        @hookimpl
        def register_notifiers(self, register):
            register("slack", slack)
            register("slack:#leads", leads)

    register(Plugin(), "undo-notify")
    assert set(get_notifiers()) == {"slack", "slack:#leads"}
    assert notifier_for("slack:#leads") is leads
    assert notifier_for("slack:#other") is slack
    with pytest.raises(PluginError, match="no notifier plugin delivers to channel 'pager:ops'"):
        notifier_for("pager:ops")


def test_duplicate_notifiers_raise_naming_both_plugins(register) -> None:
    def make():
        class Plugin:
            @hookimpl
            def register_notifiers(self, register):
                register("mail", lambda *a: None)

        return Plugin()

    register(make(), "undo-mail-1")
    register(make(), "undo-mail-2")
    with pytest.raises(
        PluginError, match=r"'mail' is registered twice.*'undo-mail-1'.*'undo-mail-2'"
    ):
        get_notifiers()


# -- loading from entry points ----------------------------------------------------------


class FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version


class FakeEntryPoint:
    def __init__(self, name: str, dist: str, plugin: object) -> None:
        self.name, self.dist, self._plugin = name, FakeDist(dist, "1.2.3"), plugin
        self.group = "slaplug"

    def load(self) -> object:
        if isinstance(self._plugin, Exception):
            raise self._plugin
        return self._plugin


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeEntryPoint]]:
    """Pretend these entry points are installed; forget whatever got loaded afterwards."""
    installed: list[FakeEntryPoint] = []
    monkeypatch.setattr(
        plugins_module.importlib.metadata,
        "entry_points",
        lambda group: [ep for ep in installed if ep.group == group],
    )
    monkeypatch.setattr(plugins_module, "_loaded", False)
    monkeypatch.setattr(plugins_module, "_distributions", {})
    yield installed
    for ep in installed:
        if pm.get_plugin(ep.name) is not None:
            pm.unregister(name=ep.name)


def plugin_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def register_connectors(register):
        register(TinyConnector)

    module.register_connectors = register_connectors  # type: ignore[attr-defined]
    return module


def test_nothing_loads_under_tests_unless_requested(entry_points, monkeypatch) -> None:
    monkeypatch.delenv("SLAPLUG_LOAD_PLUGINS", raising=False)
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("slaplug_tiny")))
    assert load_plugins() == []
    assert pm.get_plugin("tiny") is None


def test_allow_list_loads_by_distribution_or_entry_point_name(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("slaplug_tiny")))
    entry_points.append(FakeEntryPoint("jira", "slaplug-jira", plugin_module("slaplug_jira")))
    entry_points.append(FakeEntryPoint("zen", "slaplug-zen", plugin_module("slaplug_zen")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "slaplug_tiny, zen")
    assert load_plugins() == ["tiny", "zen"]
    assert pm.get_plugin("jira") is None
    assert load_plugins() == []  # idempotent
    info = {p.name: p for p in plugin_list()}["tiny"]
    assert (info.distribution, info.version, info.hooks) == (
        "slaplug-tiny",
        "1.2.3",
        ("register_connectors",),
    )


def test_empty_allow_list_loads_nothing(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("slaplug_tiny")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "")
    assert load_plugins() == []


def test_allow_list_naming_a_missing_plugin_is_an_error(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("slaplug_tiny")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "slaplug-jria")
    with pytest.raises(
        PluginError, match="slaplug-jria, which is not installed; installed plugins: slaplug-tiny"
    ):
        load_plugins()


def test_a_plugin_that_fails_to_import_is_named(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", ImportError("no module named x")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "tiny")
    with pytest.raises(PluginError, match=r"'tiny' \(from slaplug-tiny 1.2.3\) failed to load"):
        load_plugins()


def test_duplicate_across_distributions_names_both(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("a")))
    entry_points.append(FakeEntryPoint("tiny2", "acme-tiny", plugin_module("b")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "tiny,tiny2")
    load_plugins()
    # Same class twice is harmless; make the second one a different class.
    pm.unregister(name="tiny2")
    pm.register(connector_plugin(OtherTiny), name="tiny2")
    plugins_module._distributions["tiny2"] = FakeDist("acme-tiny", "0.1")  # type: ignore[assignment]
    with pytest.raises(
        PluginError, match=r"'tiny' \(slaplug-tiny 1.2.3\).*'tiny2' \(acme-tiny 0.1\)"
    ):
        get_connectors()


def test_cli_lists_plugins_with_versions_and_hooks(entry_points, monkeypatch) -> None:
    entry_points.append(FakeEntryPoint("tiny", "slaplug-tiny", plugin_module("slaplug_tiny")))
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "slaplug-tiny")
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "tiny (slaplug-tiny 1.2.3): register_connectors" in result.output
    as_json = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).output)
    assert as_json == [
        {
            "name": "tiny",
            "version": "1.2.3",
            "distribution": "slaplug-tiny",
            "hooks": ["register_connectors"],
        }
    ]


def test_cli_reports_a_bad_allow_list_without_a_traceback(entry_points, monkeypatch) -> None:
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "nope")
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 2
    assert "error: SLAPLUG_LOAD_PLUGINS names nope" in result.output
