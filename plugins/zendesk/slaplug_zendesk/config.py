"""`ZendeskConfig`: the settings of one configured Zendesk connector.

::

    base_url: https://acme.zendesk.com
    email: ops@acme.example
    api_token_env: ZENDESK_TOKEN            # or: oauth_token_env: ZENDESK_OAUTH
    webhook_secret_env: [ZENDESK_HOOK_OLD, ZENDESK_HOOK]
    fields: {sla_resolution_status: 360000000103}
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from slaplug.connectors import ConnectorConfig

__all__ = ["ZendeskConfig"]


class ZendeskConfig(ConnectorConfig):
    """Configuration of the Zendesk connector (unknown keys are rejected).

    Authenticate with ``email`` + ``api_token_env`` (API token, basic auth
    ``{email}/token:{token}``) or with ``oauth_token_env`` (``Bearer``), not both.
    """

    connector_name: ClassVar[str] = "zendesk"

    email: str | None = Field(
        default=None, description="The agent's email, with api_token_env (API token auth)."
    )
    api_token_env: str | None = Field(
        default=None, description="Environment variable holding the API token."
    )
    oauth_token_env: str | None = Field(
        default=None, description="Environment variable holding an OAuth access token."
    )
    webhook_secret_env: list[str] | None = Field(
        default=None,
        description="Environment variables holding webhook signing secrets; every one that "
        "is set is accepted, so a secret can be rotated without dropping deliveries.",
    )
    fields: dict[str, int] = Field(
        default_factory=dict,
        description="Custom field ids by the name rules use (set_field, ticket.fields). "
        "Other custom fields are named after their title (lower case, '_' for spaces).",
    )
    page_size: int = Field(
        default=1000, ge=1, le=1000, description="per_page of the incremental exports."
    )
    start_time: int = Field(
        default=0,
        ge=0,
        description="Unix seconds where the first full read starts. Tickets created earlier "
        "but changed since get their history from their audits (one call each, once).",
    )
    job_poll_interval: float = Field(
        default=1.0, ge=0, description="Seconds between polls of a bulk update's job status."
    )
    job_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for a bulk update job to finish."
    )
    webhook_tolerance: float = Field(
        default=300.0, gt=0, description="Seconds a webhook's signed timestamp may be off."
    )

    @field_validator("webhook_secret_env", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # A single variable name is the common case; accept it without the list brackets.
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_auth_method(self) -> ZendeskConfig:
        token = self.email is not None or self.api_token_env is not None
        oauth = self.oauth_token_env is not None
        if token and oauth:
            raise ValueError("give either email + api_token_env or oauth_token_env, not both")
        if not token and not oauth:
            raise ValueError("give email + api_token_env (API token) or oauth_token_env (OAuth)")
        if token and (self.email is None or self.api_token_env is None):
            raise ValueError("API token auth needs both email and api_token_env")
        return self
