"""slaplug finds the connector through its entry point, as it would a third-party plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from slaplug_zendesk import ZendeskConnector

from slaplug import plugins
from slaplug.cli import main


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch):
    # Tests that ran before may have loaded the plugins already (the connector registered,
    # its distribution recorded); start from nothing so the entry point is what loads it.
    if plugins.pm.get_plugin("zendesk") is not None:
        plugins.pm.unregister(name="zendesk")
    monkeypatch.setattr(plugins, "_loaded", False)
    monkeypatch.setattr(plugins, "_distributions", {})
    monkeypatch.setenv("SLAPLUG_LOAD_PLUGINS", "slaplug-zendesk")
    yield
    if plugins.pm.get_plugin("zendesk") is not None:
        plugins.pm.unregister(name="zendesk")


def test_the_entry_point_registers_the_connector(fresh_plugins) -> None:
    assert plugins.get_connectors()["zendesk"] is ZendeskConnector
    (info,) = [p for p in plugins.plugin_list() if p.name == "zendesk"]
    assert info.distribution == "slaplug-zendesk"
    assert info.hooks == ("register_connectors", "register_fakes")


def test_slaplug_plugins_lists_zendesk(fresh_plugins) -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "zendesk (slaplug-zendesk" in result.output


def test_the_installed_slaplug_command_lists_zendesk() -> None:
    # The allow-list keeps other installed plugins (and their state) out of this test.
    env = {**os.environ, "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk"}
    slaplug = Path(sys.executable).with_name("slaplug")
    out = subprocess.run(
        [str(slaplug), "plugins"], capture_output=True, text=True, env=env, check=True, timeout=60
    ).stdout
    assert "zendesk (slaplug-zendesk" in out
