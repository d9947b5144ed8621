"""`ConnectorConfig`: the validated settings of one configured connector.

Credentials never sit in configuration files. A config names the *environment variable*
that holds each one, in a field ending in ``_env``::

    base_url: https://acme.zendesk.com
    email: ops@acme.example
    api_token_env: ZENDESK_TOKEN        # resolved to secret("api_token")

Resolution happens at validation. By default a missing variable fails there, with a
`ConfigError` naming the variable and the connector. `slaplug.config.load_settings` loads with
``defer_missing=True`` instead: a missing variable is recorded, and raised (a
`MissingCredentialError` naming the variable and its ``file:line``) only where the credential is
read: when a command calls that helpdesk or checks its webhooks' signatures. Commands that only
read the store run where the tokens are not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from slaplug.connectors.http import RetryPolicy
from slaplug.connectors.redact import add_secret
from slaplug.errors import ConfigError, MissingCredentialError, Problem, ProblemsError
from slaplug.validation import describe

__all__ = ["ConnectorConfig"]

_ENV_SUFFIX = "_env"
#: Validation context keys: record missing credentials instead of failing; place a problem.
_DEFER = "defer_missing"
_LOCATE = "locate"


class ConnectorConfig(BaseModel):
    """Base class of every connector's configuration (pydantic, unknown keys rejected).

    Subclass it per connector and declare credentials as ``<name>_env: str`` fields (or
    ``list[str]`` for secrets that rotate: every listed variable that is set is accepted).
    Read them back with `secret` / `secrets`.

    Attributes:
        base_url: The helpdesk's API root, ``http(s)://host[/prefix]``; no trailing slash.
        timeout: Seconds to wait for a response (reading); connecting waits at most 10 s.
        retry: How transient failures are retried (see `RetryPolicy`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Used in error messages when no connector name is passed in the validation context.
    connector_name: ClassVar[str] = ""

    base_url: str = Field(description="The helpdesk's API root, e.g. https://acme.zendesk.com.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for a response.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    requests_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="This connector's request budget, shared by every worker: requests a "
        "minute to the whole account. Default: 90 % of the platform's documented limit "
        "(docs/operations/scaling.md lists them).",
    )
    endpoint_requests_per_minute: dict[str, float] = Field(
        default_factory=dict,
        description="Budgets of endpoints the platform limits on their own, by name (Zendesk: "
        "incremental, ticket_update).",
    )

    _secrets: dict[str, tuple[SecretStr, ...]] = PrivateAttr(default_factory=dict)
    _env_vars: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    #: Credentials whose variables are unset (deferred loads): raised when read.
    _missing: dict[str, Problem] = PrivateAttr(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if "@" in parts.netloc:
            # Never echoed: the part before the @ is a user name and, likely, a password.
            shown = f"{parts.scheme}://...@{parts.netloc.rpartition('@')[2]}"
            fields = [n for n in cls.model_fields if n.endswith(_ENV_SUFFIX)]
            named = " or ".join(n for n in fields if not n.startswith("webhook")) or "*_env"
            raise ValueError(
                f"{shown} holds credentials before the @; remove them from the URL, put the "
                f"token in an environment variable and name that variable in {named}"
            )
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://acme.zendesk.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _resolve_credentials(self, info: ValidationInfo) -> ConnectorConfig:
        context = info.context if isinstance(info.context, Mapping) else {}
        environ: Mapping[str, str] = context.get("environ", os.environ)
        connector = context.get("connector") or self.connector_name or type(self).__name__
        locate: Callable[[Problem], Problem] = context.get(_LOCATE) or (lambda p: p)
        missing: list[Problem] = []
        for field_name, names in self._env_fields():
            secret = field_name.removesuffix(_ENV_SUFFIX)
            self._env_vars[secret] = names
            values = tuple(SecretStr(environ[n]) for n in names if environ.get(n))
            if not values:
                wanted = " or ".join(names) or "(none listed)"
                problem = locate(
                    Problem(
                        f"connector {connector!r}: environment variable {wanted} is not set; "
                        f"set it to the {secret.replace('_', ' ')}",
                        where=field_name,
                    )
                )
                self._missing[secret] = problem
                missing.append(problem)
                continue
            self._secrets[secret] = values
            for v in values:
                add_secret(v.get_secret_value())
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):  # a literal secret (tests): still never logged
                add_secret(value.get_secret_value())
        if missing and not context.get(_DEFER):
            raise ProblemsError(missing)
        return self

    def _env_fields(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        for name in type(self).model_fields:
            if not name.endswith(_ENV_SUFFIX):
                continue
            value = getattr(self, name)
            if value is None:  # an optional credential left out
                continue
            yield name, (value,) if isinstance(value, str) else tuple(value)

    @classmethod
    def load(
        cls,
        data: Mapping[str, Any],
        *,
        connector: str,
        environ: Mapping[str, str] | None = None,
        defer_missing: bool = False,
        locate: Callable[[Problem], Problem] | None = None,
    ) -> ConnectorConfig:
        """Validate ``data`` and resolve its credentials, reporting every problem at once.

        Args:
            data: The connector's section of the configuration file.
            connector: The configured connector's name, used in messages.
            environ: Where to read credentials; defaults to ``os.environ``.
            defer_missing: Accept unset credential variables: each is raised as a
                `MissingCredentialError` when the credential is read (`secret`), and listed
                by `missing_credentials`.
            locate: Gives a missing credential's `Problem` its place (file, line), for the
                error raised later.

        Returns:
            The validated configuration.

        Raises:
            ProblemsError: One `Problem` per invalid or unknown key, or per missing
                environment variable (unless deferred), each naming the connector.
        """
        context = {
            "connector": connector,
            "environ": os.environ if environ is None else environ,
            _DEFER: defer_missing,
            _LOCATE: locate,
        }
        try:
            return cls.model_validate(data, context=context)
        except ValidationError as exc:
            raise ProblemsError(
                [
                    Problem(
                        f"connector {connector!r}: {describe(err, cls)}",
                        where=".".join(str(p) for p in err["loc"]),
                    )
                    for err in exc.errors()
                ]
            ) from None

    def secret(self, name: str) -> SecretStr:
        """The credential resolved from the ``<name>_env`` field (the first, when several).

        Args:
            name: The field's name without ``_env`` (``"api_token"``), or the name of a
                ``SecretStr`` field.

        Raises:
            MissingCredentialError: Its environment variable is not set (deferred load).
            ConfigError: No such credential is configured.
        """
        return self.secrets(name)[0]

    def secrets(self, name: str) -> tuple[SecretStr, ...]:
        """Every value resolved for ``name``: several during a rotation of webhook secrets.

        Raises:
            MissingCredentialError: Its environment variable is not set (deferred load).
            ConfigError: No such credential is configured.
        """
        if name in self._secrets:
            return self._secrets[name]
        if name in self._missing:
            raise MissingCredentialError([self._missing[name]])
        value = getattr(self, name, None)
        if isinstance(value, SecretStr):
            return (value,)
        raise ConfigError(
            f"{type(self).__name__} has no credential {name!r}; declare a field {name}_env"
        )

    def missing_credentials(self, *, webhooks: bool = True) -> tuple[Problem, ...]:
        """The credentials whose environment variables are unset (after a deferred load).

        Args:
            webhooks: Include webhook signing secrets (fields named ``webhook_*``), which
                only ``slaplug serve`` reads.
        """
        return tuple(p for s, p in self._missing.items() if webhooks or not s.startswith("webhook"))

    def env_var(self, name: str) -> str:
        """The environment variable(s) a credential was read from, for error messages."""
        return " or ".join(self._env_vars.get(name, ()))

    def credential_env_vars(self, *, webhooks: bool = False) -> tuple[str, ...]:
        """The environment variables this config reads API credentials from.

        Args:
            webhooks: Include webhook signing secrets (fields named ``webhook_*``), which
                play no part in API calls and so are left out of their error messages.
        """
        return tuple(
            n
            for secret, names in self._env_vars.items()
            if webhooks or not secret.startswith("webhook")
            for n in names
        )

    def secret_values(self) -> tuple[str, ...]:
        """Every credential's plain value, so the HTTP layer can scrub them from errors."""
        plain = [s.get_secret_value() for values in self._secrets.values() for s in values]
        plain += [
            v.get_secret_value()
            for n in type(self).model_fields
            if isinstance(v := getattr(self, n), SecretStr)
        ]
        return tuple(plain)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield from super().__repr_args__()
        # Show which credentials were resolved, masked, so a repr in a log is still useful.
        for name, values in self._secrets.items():
            yield name, values[0] if len(values) == 1 else values
