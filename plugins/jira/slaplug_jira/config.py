"""`JiraConfig`: the settings of one configured Jira Cloud / JSM connector.

::

    base_url: https://acme.atlassian.net
    email: ops@acme.example
    api_token_env: JIRA_TOKEN             # or oauth_token_env / pat_env
    projects: [SUP]
    webhook_secret_env: [JIRA_HOOK_OLD, JIRA_HOOK]
    fields: {sla_resolution_status: customfield_10050, due: duedate}
    priorities: {Highest: urgent, High: high, Medium: normal, Low: low, Lowest: low}
    statuses: {"Waiting for customer": pending, Pending: hold, Resolved: solved}

The two maps translate Jira's names into slaplug's, so one rules pack (``priority: urgent``,
``pause_statuses: [pending, hold]``) fits Zendesk and Jira alike. `Normalizer` applies
them both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from slaplug.connectors import ConnectorConfig

__all__ = [
    "DEFAULT_PRIORITIES",
    "DEFAULT_SOLVED_STATUSES",
    "DEFAULT_STATUSES",
    "DONE",
    "DUE_DATE",
    "JiraConfig",
    "Normalizer",
]

#: Jira's system Due date: the one system field ``fields:`` maps besides custom fields. Its
#: value is ``yyyy-MM-dd`` or null, set on issue edit as ``fields.duedate`` (OAS ``editIssue``
#: example ``"duedate": "2019-05-11"``); its changelog items say ``fieldId`` ``duedate``,
#: ``fieldtype`` ``jira`` (AtlassianPS/JiraPS#173; docs/testing/fake-jira.md).
DUE_DATE = "duedate"

#: Jira's default priority scheme first (the reverse map takes the first name listed for
#: each slaplug name, so ``low`` writes ``Low``, not ``Lowest``), then the older
#: Blocker..Trivial scheme that many sites still use.
DEFAULT_PRIORITIES: Mapping[str, str] = {
    "Highest": "urgent",
    "High": "high",
    "Medium": "normal",
    "Low": "low",
    "Lowest": "low",
    "Blocker": "urgent",
    "Critical": "urgent",
    "Major": "high",
    "Minor": "low",
    "Trivial": "low",
}

#: The statuses of JSM's service-project workflows (and Jira Software's basic ones), in
#: slaplug's Zendesk-like vocabulary: ``pending`` waits on the customer, ``hold`` on a
#: third party, ``solved``/``closed`` are done.
DEFAULT_STATUSES: Mapping[str, str] = {
    "Open": "open",
    "To Do": "open",
    "Reopened": "open",
    "Waiting for support": "open",
    "In Progress": "open",
    "Work in progress": "open",
    "Escalated": "open",
    "Waiting for customer": "pending",
    "Pending": "hold",
    "Waiting for approval": "hold",
    "Resolved": "solved",
    "Done": "solved",
    "Completed": "solved",
    "Closed": "closed",
    "Canceled": "closed",
    "Cancelled": "closed",
    "Declined": "closed",
}

#: Jira statuses that count as done (entering one emits SOLVED, leaving one REOPENED).
DEFAULT_SOLVED_STATUSES: tuple[str, ...] = (
    "Resolved",
    "Done",
    "Completed",
    "Closed",
    "Canceled",
    "Cancelled",
    "Declined",
)

#: slaplug statuses that count as done, whatever the Jira name mapped to them.
DONE = frozenset({"solved", "closed"})


class JiraConfig(ConnectorConfig):
    """Configuration of the Jira connector (unknown keys are rejected).

    Authenticate with exactly one of: ``email`` + ``api_token_env`` (Jira Cloud API token,
    HTTP basic), ``oauth_token_env`` (OAuth 2.0 access token, ``Bearer``; the base_url is
    then ``https://api.atlassian.com/ex/jira/{cloudId}``) or ``pat_env`` (Data Center
    personal access token, ``Bearer``).
    """

    connector_name: ClassVar[str] = "jira"

    email: str | None = Field(default=None, description="The account's email, with api_token_env.")
    api_token_env: str | None = Field(
        default=None, description="Environment variable holding the Jira Cloud API token."
    )
    oauth_token_env: str | None = Field(
        default=None, description="Environment variable holding an OAuth 2.0 access token."
    )
    pat_env: str | None = Field(
        default=None,
        description="Environment variable holding a Data Center personal access token.",
    )
    projects: list[str] = Field(
        default_factory=list,
        description="Project keys to read (JQL `project in (...)`); all when empty.",
    )
    jql: str | None = Field(
        default=None, description="An extra JQL condition ANDed to every read (no ORDER BY)."
    )
    webhook_secret_env: list[str] | None = Field(
        default=None,
        description="Environment variables holding admin-webhook secrets; every one that is "
        "set is accepted, so a secret can be rotated without dropping deliveries.",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Custom field ids (or duedate, Jira's system Due date) by the name rules "
        "use (set_field, ticket.fields), e.g. {sla_resolution_status: customfield_10050, "
        "due: duedate}.",
    )
    priorities: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITIES),
        description="Jira priority name -> slaplug priority. Replaces the defaults when given.",
    )
    statuses: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_STATUSES),
        description="Jira status name -> slaplug status. Replaces the defaults when given; "
        "unmapped statuses keep their Jira name in lower case.",
    )
    solved_statuses: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SOLVED_STATUSES),
        description="Jira statuses that count as done, besides those mapped to solved/closed "
        "and those Jira reports in the 'done' status category.",
    )
    group_field: str | None = Field(
        default=None,
        description="A custom field id whose value is the ticket's group (Ticket.group).",
    )
    organization_field: str | None = Field(
        default=None,
        description="The JSM Organizations field id (Ticket.organization: its first "
        "organization's name). Unset, it is found once through GET /rest/api/3/field by its "
        "schema custom key com.atlassian.servicedesk:sd-customer-organizations.",
    )
    request_type_field: str | None = Field(
        default=None,
        description="The JSM Request Type field id (ticket.fields.request_type: the request "
        "type's name). Unset, it is found once through GET /rest/api/3/field by its schema "
        "custom key com.atlassian.servicedesk:vp-origin.",
    )
    groups: dict[str, str] = Field(
        default_factory=dict,
        description="Group name -> accountId, so `assign: {group: ...}` can assign to a user "
        "standing for the group (Jira assigns issues to users only).",
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="maxResults of each search.")
    overlap_minutes: int = Field(
        default=5,
        ge=1,
        le=1440,
        description="Minutes re-read before the watermark (JQL dates have minute precision).",
    )
    jql_timezone: str | None = Field(
        default=None,
        description="The zone JQL date literals are read in: the API user's Jira profile zone. "
        "Unset, it is read from GET /rest/api/3/myself (timeZone); set it only to override.",
    )
    start_date: date = Field(
        default=date(2000, 1, 1), description="Where the first full read starts (updated >=)."
    )
    bulk_edit_min_issues: int = Field(
        default=10,
        ge=0,
        description="Use the bulk edit API when at least this many issues get the same label or "
        "text-field edit; 0 turns it off (it needs the global Bulk change permission).",
    )
    bulk_poll_interval: float = Field(
        default=1.0, ge=0, description="Seconds between polls of a bulk edit task."
    )
    bulk_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for a bulk edit task to finish."
    )

    @field_validator("webhook_secret_env", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # A single variable name is the common case; accept it without the list brackets.
        return [value] if isinstance(value, str) else value

    @field_validator("jql_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Berlin") from None
        return value

    @field_validator("fields")
    @classmethod
    def _custom_field_ids(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [
            f"{k}: {v}"
            for k, v in value.items()
            if not (v.startswith("customfield_") or v == DUE_DATE)
        ]
        if bad:
            raise ValueError(
                "field ids look like customfield_10050 (or duedate, the system Due date), "
                f"not {', '.join(bad)}"
            )
        return value

    @field_validator("organization_field", "request_type_field", "group_field")
    @classmethod
    def _one_custom_field_id(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("customfield_"):
            raise ValueError(f"a field id looks like customfield_10002, not {value!r}")
        return value

    @model_validator(mode="after")
    def _one_auth_method(self) -> JiraConfig:
        basic = self.email is not None or self.api_token_env is not None
        methods = sum((basic, self.oauth_token_env is not None, self.pat_env is not None))
        if methods != 1:
            raise ValueError(
                "give exactly one of email + api_token_env (API token), oauth_token_env "
                "(OAuth 2.0) or pat_env (Data Center personal access token)"
            )
        if basic and (self.email is None or self.api_token_env is None):
            raise ValueError("API token auth needs both email and api_token_env")
        return self


class Normalizer:
    """Translates Jira's priority and status names to slaplug's and back.

    Args:
        config: The connector's configuration.

    Attributes:
        done: Jira status names that count as done; grows as the reader sees statuses in
            Jira's ``done`` status category.
    """

    def __init__(self, config: JiraConfig) -> None:
        self._priorities = {k.casefold(): v for k, v in config.priorities.items()}
        self._statuses = {k.casefold(): v for k, v in config.statuses.items()}
        # Reverse maps: the first Jira name listed for a slaplug name wins (see the docs on
        # collisions, e.g. Low and Lowest both -> low).
        self._priority_back: dict[str, str] = {}
        for jira, ours in config.priorities.items():
            self._priority_back.setdefault(ours.casefold(), jira)
        self._status_back: dict[str, list[str]] = {}
        for jira, ours in config.statuses.items():
            self._status_back.setdefault(ours.casefold(), []).append(jira)
        self.done: set[str] = {s.casefold() for s in config.solved_statuses}

    def priority(self, jira: str | None) -> str | None:
        """slaplug's name for a Jira priority (unmapped: lower case), or None."""
        if not jira:
            return None
        return self._priorities.get(jira.casefold(), jira.casefold())

    def status(self, jira: str) -> str:
        """slaplug's name for a Jira status (unmapped: lower case)."""
        return self._statuses.get(jira.casefold(), jira.casefold())

    def is_done(self, jira: str | None) -> bool:
        """Whether a Jira status counts as done (solved_statuses, done category, or mapped
        to solved/closed)."""
        if not jira:
            return False
        return jira.casefold() in self.done or self.status(jira) in DONE

    def jira_priority(self, ours: str) -> str:
        """The Jira priority to write for a slaplug priority (or a Jira name given as is)."""
        return self._priority_back.get(ours.casefold(), ours)

    def jira_statuses(self, ours: str) -> list[str]:
        """Jira statuses that stand for a slaplug status, in config order; the name itself
        last, so a rule may also name a Jira status directly."""
        names = list(self._status_back.get(ours.casefold(), []))
        if ours not in names:
            names.append(ours)
        return names
