"""Auth for `ApiClient`: a bearer token or an HTTP Basic pair, from the config's credentials.

Return one from `Connector.auth`::

    def auth(self) -> requests.auth.AuthBase:
        return BearerAuth.from_config(self.config, "api_token")  # from api_token_env
        # or: BasicAuth(self.config.email, self.config.secret("api_token"))

Neither ever shows its secret: ``repr`` and ``str`` are masked, and `BearerAuth`'s errors
name the environment variable the token came from, not the value. `ApiClient` and the configuration register
the values for scrubbing, so a helpdesk echoing them in an error body is masked too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import requests
from pydantic import SecretStr

from slaplug.connectors.redact import add_secret
from slaplug.errors import ConfigError

if TYPE_CHECKING:
    from slaplug.connectors.config import ConnectorConfig

__all__ = ["BasicAuth", "BearerAuth"]

_MASK = "**********"
#: What an ``Authorization`` header value may hold (visible ASCII). A token with a space,
#: a line break (a secret file's trailing newline) or a non-ASCII character would make
#: requests fail on every call with the header, and so the token, in its exception text.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


class BearerAuth(requests.auth.AuthBase):
    """Sends ``Authorization: Bearer <token>`` (RFC 6750) with every request.

    Args:
        token: The token (a plain string, or a pydantic ``SecretStr``).
        source: Where the token came from, for messages: an environment variable's name.
        scheme: The header's scheme word, for platforms that want another (``Token``).

    Raises:
        ConfigError: The token is empty or holds whitespace, control or non-ASCII
            characters; the message names ``source``, never the token.
    """

    def __init__(self, token: str | SecretStr, *, source: str = "", scheme: str = "Bearer") -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        plain = secret.get_secret_value()
        self.source = source or "the configured token"
        if not _HEADER_SAFE.fullmatch(plain):
            raise ConfigError(
                f"the bearer token in {self.source} is empty or contains spaces, line "
                "breaks or non-ASCII characters; set it to the token alone"
            )
        add_secret(plain)  # a token given directly, not through a config, is masked too
        self.scheme = scheme
        self._token = secret

    @classmethod
    def from_config(
        cls, config: ConnectorConfig, name: str, *, scheme: str = "Bearer"
    ) -> BearerAuth:
        """The token the config resolved from its ``<name>_env`` variable.

        Args:
            config: The connector's validated configuration.
            name: The credential's name without ``_env`` (``"api_token"``).
            scheme: See the class.

        Raises:
            ConfigError: No such credential, or a token that cannot go in a header.
        """
        source = config.env_var(name) or f"{name}_env"
        return cls(config.secret(name), source=source, scheme=scheme)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"{self.scheme} {self._token.get_secret_value()}"
        return r

    def __repr__(self) -> str:
        return f"<BearerAuth {self.scheme} {_MASK} from {self.source}>"

    __str__ = __repr__


class BasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic auth (RFC 7617) whose ``repr`` and ``str`` never show the pair.

    A subclass of requests' ``HTTPBasicAuth``, so `ApiClient` registers both halves and the
    header value for scrubbing. Zendesk sends ``{email}/token`` + API token, Jira the
    e-mail + API token, Freshdesk the API key + ``X``: either half may be the secret, so
    either may be a ``SecretStr`` (what `ConnectorConfig.secret` returns)::

        BasicAuth(config.email, config.secret("api_token"))

    Args:
        username: The user half.
        password: The password half.
    """

    def __init__(self, username: str | SecretStr, password: str | SecretStr) -> None:
        super().__init__(_plain(username), _plain(password))

    def __repr__(self) -> str:
        return f"<BasicAuth {_MASK}>"

    __str__ = __repr__


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
