"""slaplug.yaml: validated at start, every problem at file:line:col, secrets only by name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tinydesk import TinyConnector

from slaplug import hookimpl
from slaplug.config import load_settings, starter_config
from slaplug.errors import ConfigError, ProblemsError


class _TinyPlugin:
    @hookimpl
    def register_connectors(self, register):  # type: ignore[no-untyped-def]
        register(TinyConnector)


@pytest.fixture
def tiny(slaplug_register) -> None:
    slaplug_register(_TinyPlugin(), name="undo-tiny")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


def test_valid_file_resolves_paths_and_credentials(tmp_path: Path, tiny: None) -> None:
    p = write(
        tmp_path,
        f"""
        store: sqlite:///state/slaplug.db
        rules: [rules.yaml]
        connectors:
          desk-eu:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: TINY_TOKEN
        sync: {{every: 5m}}
        """,
    )
    s = load_settings(p, environ={"TINY_TOKEN": "s3cret-value"})
    assert s.store == f"sqlite:///{tmp_path.resolve()}/state/slaplug.db"
    assert s.rules == [tmp_path / "rules.yaml"]
    assert s.sync.interval_seconds() == 300
    conn = s.connectors["desk-eu"]
    assert conn.plugin == TinyConnector.name
    assert conn.config.secret("api_token").get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(s)


def test_every_problem_is_reported_at_once_with_positions(tmp_path: Path, tiny: None) -> None:
    p = write(
        tmp_path,
        """
        rules: [missing.yaml]
        stor: sqlite:///x.db
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={})
    assert [str(x) for x in info.value.problems] == [
        f'{p}:2:1: stor: unknown key "stor"; check its spelling'
    ]
    p = write(
        tmp_path,
        f"""
        rules: [missing.yaml]
        connectors:
          a: {{base_url: http://x}}
          b: {{plugin: nosuch}}
          c:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: NOT_SET_ANYWHERE
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={})
    found = [str(x) for x in info.value.problems]
    assert found[0] == f"{p}:1:9: rules[0]: rules file {tmp_path / 'missing.yaml'} does not exist"
    assert found[1].startswith(f'{p}:3:6: connectors.a: connector "a" needs plugin:')
    assert found[2].startswith(
        f'{p}:4:15: connectors.b.plugin: no connector plugin "nosuch"; installed:'
    )
    assert any("NOT_SET_ANYWHERE" in f and f.startswith(f"{p}:") for f in found[3:])
    assert len(found) == 4


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="slaplug init"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_starter_config_is_valid_yaml_with_commented_sections() -> None:
    import yaml

    doc = yaml.safe_load(starter_config())
    assert doc["store"] == "sqlite:///slaplug.db"
    assert doc["connectors"]["zendesk"]["api_token_env"] == "ZENDESK_API_TOKEN"
