"""The kit's auth helpers: the right header, and the secret in no repr, str or error."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from pydantic import SecretStr

import slaplug.connectors as kit
from slaplug.connectors import ApiClient, BasicAuth, BearerAuth, ConnectorConfig
from slaplug.errors import AuthenticationError, ConfigError

TOKEN = "kit-auth-s3cret-0042"


class DeskConfig(ConnectorConfig):
    api_token_env: str


def config(token: str = TOKEN) -> DeskConfig:
    loaded = DeskConfig.load(
        {"base_url": "https://desk.example", "api_token_env": "DESK_TOKEN"},
        connector="desk",
        environ={"DESK_TOKEN": token},
    )
    assert isinstance(loaded, DeskConfig)
    return loaded


def sent(auth: requests.auth.AuthBase) -> requests.PreparedRequest:
    return auth(requests.Request("GET", "https://desk.example/api").prepare())


def test_the_helpers_are_public_names_of_the_kit() -> None:
    assert {"BearerAuth", "BasicAuth", "CursorCodec"} <= set(kit.__all__)


def test_bearer_from_config_sends_the_token_from_the_named_variable() -> None:
    auth = BearerAuth.from_config(config(), "api_token")
    assert sent(auth).headers["Authorization"] == f"Bearer {TOKEN}"
    assert auth.source == "DESK_TOKEN"


def test_bearer_scheme_can_be_another_word() -> None:
    auth = BearerAuth(SecretStr(TOKEN), scheme="Token")
    assert sent(auth).headers["Authorization"] == f"Token {TOKEN}"


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(lambda: BearerAuth.from_config(config(), "api_token"), id="bearer"),
        pytest.param(lambda: BearerAuth(TOKEN), id="bearer-plain"),
        pytest.param(lambda: BasicAuth("ops@desk.example", SecretStr(TOKEN)), id="basic"),
        pytest.param(lambda: BasicAuth(SecretStr(TOKEN), "X"), id="basic-key-as-user"),
    ],
)
def test_no_repr_or_str_shows_the_secret(auth) -> None:
    made = auth()
    shown = repr(made) + str(made) + f"{made}" + repr([made])
    assert TOKEN not in shown
    assert "**********" in shown


@pytest.mark.parametrize("bad", [f"{TOKEN}\n", f"{TOKEN} x", f"{TOKEN}\u2019", "   "])
def test_a_token_that_cannot_be_a_header_fails_naming_the_variable_not_the_token(bad) -> None:
    with pytest.raises(ConfigError) as exc:
        BearerAuth.from_config(config(bad), "api_token")
    text = str(exc.value) + repr(exc.value)
    assert "DESK_TOKEN" in text
    assert TOKEN not in text
    assert exc.value.__cause__ is None and exc.value.__context__ is None


def test_a_credential_the_config_lacks_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="webhook_secret"):
        BearerAuth.from_config(config(), "webhook_secret")


def test_basic_auth_is_requests_basic_so_the_client_scrubs_the_pair() -> None:
    auth = BasicAuth("ops@desk.example", SecretStr(TOKEN))
    assert isinstance(auth, requests.auth.HTTPBasicAuth)
    assert sent(auth).headers["Authorization"] == requests.auth._basic_auth_str(
        "ops@desk.example", TOKEN
    )


@responses.activate
def test_a_directly_given_bearer_token_is_scrubbed_from_errors_and_logs(caplog) -> None:
    # Not resolved through a config (which registers its secrets): BearerAuth registers it.
    token = "direct-bearer-token-9931"
    client = ApiClient("https://desk.example", connector="desk", auth=BearerAuth(token))
    responses.get("https://desk.example/api/me", status=401, json={"error": f"bad {token}"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as exc:
        client.get_json("api/me")
    assert token not in str(exc.value)
    assert token not in caplog.text
