"""ConnectorConfig: unknown keys rejected, credentials from named environment variables."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from slaplug.connectors import ConnectorConfig
from slaplug.connectors.redact import REDACTED, known_secrets, scrub
from slaplug.errors import ConfigError, ProblemsError


class DeskConfig(ConnectorConfig):
    email: str
    api_token_env: str
    webhook_secret_env: list[str] | None = None


def load(data: dict, environ: dict[str, str]) -> ConnectorConfig:
    return DeskConfig.load(data, connector="desk-eu", environ=environ)


GOOD = {
    "base_url": "https://acme.example.com/",
    "email": "ops@acme.example",
    "api_token_env": "DESK_TOKEN",
}


def test_credentials_resolve_from_the_named_variable() -> None:
    config = load(GOOD, {"DESK_TOKEN": "desk-token-1234"})
    assert config.secret("api_token") == SecretStr("desk-token-1234")
    assert config.secret("api_token").get_secret_value() == "desk-token-1234"
    assert config.env_var("api_token") == "DESK_TOKEN"
    assert config.base_url == "https://acme.example.com"


def test_missing_variable_is_a_config_error_naming_it_and_the_connector() -> None:
    with pytest.raises(ConfigError) as exc:
        load(GOOD, {})
    assert "DESK_TOKEN" in str(exc.value) and "'desk-eu'" in str(exc.value)


def test_unknown_and_invalid_keys_are_all_reported() -> None:
    with pytest.raises(ProblemsError) as exc:
        load(
            {**GOOD, "base_url": "acme.example.com", "api_tokn": "x"}, {"DESK_TOKEN": "t0k3n-value"}
        )
    wheres = {p.where for p in exc.value.problems}
    assert wheres == {"base_url", "api_tokn"}
    assert all("'desk-eu'" in p.message for p in exc.value.problems)


def test_rotating_secrets_accept_every_variable_that_is_set() -> None:
    config = load(
        {**GOOD, "webhook_secret_env": ["HOOK_NEW", "HOOK_OLD"]},
        {"DESK_TOKEN": "desk-token-1234", "HOOK_NEW": "hook-new-5678", "HOOK_OLD": "hook-old-9012"},
    )
    assert [s.get_secret_value() for s in config.secrets("webhook_secret")] == [
        "hook-new-5678",
        "hook-old-9012",
    ]
    # Webhook secrets are not API credentials: auth errors name only the token's variable.
    assert config.credential_env_vars() == ("DESK_TOKEN",)
    assert config.credential_env_vars(webhooks=True) == ("DESK_TOKEN", "HOOK_NEW", "HOOK_OLD")


def test_optional_credentials_may_be_left_out() -> None:
    config = load(GOOD, {"DESK_TOKEN": "desk-token-1234"})
    with pytest.raises(ConfigError, match="webhook_secret_env"):
        config.secret("webhook_secret")


def test_repr_masks_secrets() -> None:
    config = load(GOOD, {"DESK_TOKEN": "desk-token-1234"})
    text = repr(config)
    assert "desk-token-1234" not in text
    assert f"api_token=SecretStr('{REDACTED}')" in text


def test_resolved_secrets_are_scrubbed_everywhere() -> None:
    load(GOOD, {"DESK_TOKEN": "desk-token-registered"})
    assert "desk-token-registered" in known_secrets()
    assert scrub("oops desk-token-registered") == f"oops {REDACTED}"


def test_direct_construction_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_TOKEN", "from-os-environ")
    config = DeskConfig(**GOOD)
    assert config.secret("api_token").get_secret_value() == "from-os-environ"


def test_retry_policy_is_validated() -> None:
    with pytest.raises(ProblemsError, match=r"retry\.max_attempts"):
        load({**GOOD, "retry": {"max_attempts": 0}}, {"DESK_TOKEN": "desk-token-1234"})
