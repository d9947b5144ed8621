"""``slaplug.yaml``: which helpdesks, which rules, which store. Validated at start, all at once.

::

    store: sqlite:///slaplug.db
    rules: [rules/default.yaml]
    connectors:
      zendesk-eu:
        plugin: zendesk
        base_url: https://acme.zendesk.com
        email: ops@acme.example
        api_token_env: ZENDESK_TOKEN

Every problem is reported at once, each at ``file:line:col``; credentials are only ever named
by the environment variable that holds them, so nothing secret is in the file or its errors.
A credential whose variable is unset is not an error when loading: it is raised where it is
needed (`Settings.require_credentials`, or the helpdesk call that reads it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from slaplug.connectors.config import ConnectorConfig
from slaplug.connectors.redact import add_secret
from slaplug.durations import parse_duration
from slaplug.errors import ConfigError, MissingCredentialError, Problem, ProblemsError
from slaplug.golive import parse_escalate_from
from slaplug.notify.channels import Channel, parse_channels
from slaplug.notify.message import SUBJECT_FIELDS, unknown_subject_fields
from slaplug.plugins import get_connectors, load_plugins
from slaplug.rules.engines import EngineName
from slaplug.rules_config import RulesVersionSettings, parse_rules
from slaplug.validation import describe, is_unknown_key
from slaplug.yamlpos import Located, read_located

__all__ = [
    "DEFAULT_CONFIG",
    "ConnectorSettings",
    "DashboardSettings",
    "Settings",
    "load_settings",
    "starter_config",
]

#: Where slaplug looks for its configuration unless told otherwise (or ``$SLAPLUG_CONFIG``).
DEFAULT_CONFIG = "slaplug.yaml"


#: The shortest outbox lease. One write call may wait 10 s to connect and 30 s for its answer
#: (the connector kit's timeouts) before it even fails; a lease shorter than that lapses while
#: its holder is still writing, a second sync claims the same actions, and both post them
#: (issue 14: with 0s, 697 of 697 notes were posted twice). One minute covers a call with room.
MIN_LEASE = timedelta(minutes=1)
#: For test harnesses only: a shorter lease floor (see `_min_lease`).
MIN_LEASE_ENV = "SLAPLUG_MIN_LEASE"
#: The longest: a sync killed mid-write leaves its actions untouched for this long.
MAX_LEASE = timedelta(hours=24)
#: `sync.every` bounds: below a second the loop only spins; above a day nothing is measured.
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(hours=24)
#: A connector's name is part of every idempotency key (``<connector>:<ticket>:...``), of log
#: lines and of file names in reports: letters, digits, ``-`` and ``_``, at most 64.
CONNECTOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _duration_between(
    value: str, low: timedelta, high: timedelta, what: str, why: str = ""
) -> timedelta:
    """``value`` as a duration from ``low`` to ``high``; ValueError naming the bounds."""
    delta = parse_duration(value)
    if not low <= delta <= high:
        raise ValueError(
            f'{what} "{value}" is out of range; write a duration from {_show(low)} to '
            f"{_show(high)}{why}"
        )
    return delta


def _show(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class SyncOptions(BaseModel):
    """How the sync job runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: str = Field(
        default="60s",
        description="Interval of `slaplug sync --every`, e.g. 60s, 5m; from 1s to 24h.",
    )
    batch: int = Field(default=1000, gt=0, le=10_000, description="Tickets evaluated per batch.")

    @field_validator("every")
    @classmethod
    def _every_in_range(cls, value: str) -> str:
        _duration_between(value, MIN_EVERY, MAX_EVERY, "every")
        return value

    def interval_seconds(self) -> float:
        """``every`` in seconds."""
        return parse_duration(self.every).total_seconds()


class OutboxOptions(BaseModel):
    """How failed writes are retried before they become dead letters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=8, ge=1, le=100, description="Tries before a dead letter.")
    batch: int = Field(
        default=5000,
        ge=1,
        le=20_000,
        description="Actions claimed and applied together (connectors bulk them: Zendesk "
        "update_many takes 100 tickets per call).",
    )
    lease: str = Field(
        default="5m",
        description="How long a sync holds an action it is applying. A sync killed mid-write "
        "leaves its actions to the next sync after this; keep it longer than the slowest write "
        "(from 1m to 24h).",
    )

    @field_validator("lease")
    @classmethod
    def _lease_in_range(cls, value: str, info: ValidationInfo) -> str:
        floor = (info.context or {}).get("min_lease", MIN_LEASE)
        _duration_between(
            value,
            floor,
            MAX_LEASE,
            "lease",
            " (a shorter lease lapses while its sync is still writing, and another sync "
            "writes the same actions again)",
        )
        return value

    def lease_delta(self) -> timedelta:
        """``lease`` as a duration."""
        return parse_duration(self.lease)


class WorkOptions(BaseModel):
    """Where the work runs: in this process (embedded), or as jobs on procrastinate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["embedded", "procrastinate"] = Field(
        default="embedded",
        description="embedded: one process runs everything (SQLite or PostgreSQL); "
        "procrastinate: `slaplug worker` processes run the jobs, queued in the store's "
        "PostgreSQL (pip install 'slaplug[distributed]'; docs/operations/scaling.md).",
    )
    budgets: Literal["documented", "configured"] | None = Field(
        default=None,
        description="Which request budgets apply: documented (each platform's documented "
        "limits, unless configured otherwise) or configured (only connectors with "
        "requests_per_minute). Default: documented with procrastinate, configured embedded.",
    )
    due_every: str = Field(
        default="30s",
        description="How often the due thresholds are looked at (procrastinate, and the "
        "embedded slaplug serve worker), 1s to 24h.",
    )

    stalled_after: str = Field(
        default="30s",
        description="A worker silent (no heartbeat) this long is dead: its job is retried "
        "(procrastinate), 1s to 24h.",
    )

    keep_failed_jobs: str = Field(
        default="168h",
        description="How long a failed job (and one dropped after its worker died) is kept "
        "in procrastinate_jobs for inspection before an hourly job deletes it, 1h to 8760h.",
    )

    @field_validator("due_every", "stalled_after")
    @classmethod
    def _every_in_range(cls, value: str, info: ValidationInfo) -> str:
        _duration_between(value, MIN_EVERY, MAX_EVERY, str(info.field_name))
        return value

    @field_validator("keep_failed_jobs")
    @classmethod
    def _kept_in_range(cls, value: str) -> str:
        _duration_between(value, timedelta(hours=1), timedelta(days=365), "keep_failed_jobs")
        return value

    def documented_budgets(self) -> bool:
        """Whether the platforms' documented limits apply to connectors left unconfigured."""
        if self.budgets is None:
            return self.engine == "procrastinate"
        return self.budgets == "documented"


#: ``${NAME}``: a secret read from the environment variable NAME when the file is loaded.
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
#: Dashboard refresh bounds: below 5 s every page view recomputes; above an hour it is stale.
MIN_REFRESH = timedelta(seconds=5)
MAX_REFRESH = timedelta(hours=1)


class DashboardOptions(BaseModel):
    """The web pages of ``slaplug serve``: the managers' dashboard and the customer pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manager_token: str | None = Field(
        default=None,
        description="The dashboard's token, as ${ENV_VAR} (never the token itself); tokens "
        "issued with `slaplug dashboard token issue` work too.",
    )
    public_url: str | None = Field(
        default=None,
        description="Where customers reach `slaplug serve` (https://sla.example.com): the base "
        "of the links `slaplug customers token issue` prints.",
    )
    refresh: str = Field(
        default="60s",
        description="How long the figures are reused before they are computed again; the "
        "pages reload themselves this often (5s to 1h).",
    )
    queue_limit: int = Field(
        default=50, ge=1, le=1000, description="Rows of the at-risk queue on one page."
    )

    @field_validator("manager_token")
    @classmethod
    def _token_is_a_reference(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_REF.fullmatch(value.strip()):
            raise ValueError(
                "write the token as ${ENV_VAR}, the environment variable holding it; a token "
                "written in the file would be read by whoever reads the file"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("public_url is a URL such as https://sla.example.com")
        return value

    @field_validator("refresh")
    @classmethod
    def _refresh_in_range(cls, value: str) -> str:
        _duration_between(value, MIN_REFRESH, MAX_REFRESH, "refresh")
        return value


@dataclass(frozen=True)
class DashboardSettings:
    """The ``dashboard:`` section, its token read from the environment.

    Attributes:
        manager_token: The configured manager token, or None (then only issued tokens open
            the dashboard). Never logged: it is registered for redaction when read.
    """

    manager_token: str | None = field(default=None, repr=False)
    public_url: str | None = None
    refresh_s: float = 60.0
    queue_limit: int = 50


class _SettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = Field(default="sqlite:///slaplug.db", description="SQLAlchemy URL of the store.")
    rules: Any = Field(
        default=None,
        description="Rules files, merged in order; or versions of them, each with the date "
        "from which it applies (docs/rules/language.md, Effective dates).",
    )
    engine: EngineName | None = Field(default=None, description="Override the packs' engine.")
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    escalate_from: Any = Field(
        default=None,
        description="Cutoff for every connector: first-sync (the default), or a date or time "
        "to backfill from. A connector's own escalate_from wins.",
    )
    sync: SyncOptions = Field(default_factory=SyncOptions)
    outbox: OutboxOptions = Field(default_factory=OutboxOptions)
    work: WorkOptions = Field(default_factory=WorkOptions)
    notify: Any = Field(
        default=None,
        description="Notification channels: name -> apprise URLs (see docs/notifications.md).",
    )
    dashboard: DashboardOptions = Field(default_factory=DashboardOptions)


@dataclass(frozen=True)
class ConnectorSettings:
    """One configured connector: its name, the plugin that serves it, its validated config."""

    name: str
    plugin: str
    config: ConnectorConfig


@dataclass(frozen=True)
class Settings:
    """Validated settings. Paths are resolved against the configuration file's folder."""

    path: Path
    store: str
    #: The newest version's rules files (all of them in the plain list form).
    rules: list[Path]
    engine: EngineName | None
    connectors: dict[str, ConnectorSettings] = field(default_factory=dict)
    sync: SyncOptions = field(default_factory=SyncOptions)
    outbox: OutboxOptions = field(default_factory=OutboxOptions)
    #: Where the work runs (the ``work:`` section).
    work: WorkOptions = field(default_factory=WorkOptions)
    #: Notification channels by name (the ``notify:`` section).
    notify: dict[str, Channel] = field(default_factory=dict)
    #: Explicit go-live cutoffs by connector (`slaplug.golive`); None: from the first sync.
    escalate_from: dict[str, datetime | None] = field(default_factory=dict)
    #: The web pages (docs/dashboard.md).
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    #: Every version of the rules, oldest first (one unlabelled one in the plain list form).
    rules_versions: list[RulesVersionSettings] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Settings built in code with files only: those files are one version since forever.
        if self.rules and not self.rules_versions:
            self.rules_versions.append(RulesVersionSettings("", None, tuple(self.rules)))

    def require_credentials(
        self, connectors: Iterable[str] | None = None, *, webhooks: bool = False
    ) -> None:
        """Fail unless the credentials a command will use are all set, naming every unset one.

        Loading accepts unset credential variables (commands that only read the store need
        none); a command that calls helpdesks checks here first, before any call.

        Args:
            connectors: The connectors the command calls; None: every configured one. Names
                not configured are ignored (the caller reports them).
            webhooks: Include the webhook signing secrets (``slaplug serve`` verifies them).

        Raises:
            MissingCredentialError: One problem per unset variable, at its ``file:line``.
        """
        names = self.connectors if connectors is None else connectors
        missing = [
            p
            for name in names
            if (cs := self.connectors.get(name)) is not None
            for p in cs.config.missing_credentials(webhooks=webhooks)
        ]
        if missing:
            raise MissingCredentialError(missing)


def _problems(
    exc: ValidationError, located: Located, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    return [
        located.problem((*prefix, *err["loc"]), describe(err, _SettingsFile), is_unknown_key(err))
        for err in exc.errors()
    ]


def _min_lease(env: Mapping[str, str], path: Path) -> timedelta:
    """`MIN_LEASE`, or the shorter floor a test harness sets in ``$SLAPLUG_MIN_LEASE``.

    Tests that kill a sync and wait for its leases to lapse cannot wait a minute each; the
    variable lets them, and is never meant for production (it is not in the file, on purpose).
    """
    text = env.get(MIN_LEASE_ENV)
    if not text:
        return MIN_LEASE
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: ${MIN_LEASE_ENV}: {exc}") from None


def _resolve_store(url: str, base: Path) -> str:
    # A relative SQLite file lives beside the configuration, not wherever the process started.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate ``slaplug.yaml``.

    Args:
        path: The file; default ``$SLAPLUG_CONFIG`` or ``slaplug.yaml``.
        environ: Where credentials are read from; default ``os.environ``. An unset one is
            not an error here: see `Settings.require_credentials`.

    Raises:
        ConfigError: The file is missing (the message says how to make one).
        ProblemsError: Every problem in the file, at ``file:line:col``.
    """
    env = os.environ if environ is None else environ
    p = Path(path or env.get("SLAPLUG_CONFIG") or DEFAULT_CONFIG)
    if not p.is_file():
        raise ConfigError(f"{p}: no such file; write a starting one with `slaplug init`")
    located = read_located(p)
    if located.problems:
        raise ProblemsError(located.problems)
    data = located.data if located.data is not None else {}
    if not isinstance(data, Mapping):
        raise ProblemsError(
            [located.problem((), "the configuration is a mapping: store, rules, connectors")]
        )
    try:
        raw = _SettingsFile.model_validate(data, context={"min_lease": _min_lease(env, p)})
    except ValidationError as exc:
        raise ProblemsError(_problems(exc, located)) from None

    problems: list[Problem] = []
    base = p.resolve().parent
    overall: datetime | None = None
    try:
        overall = parse_escalate_from(raw.escalate_from, where="")
    except ConfigError as exc:
        problems.append(located.problem(("escalate_from",), str(exc)))
    escalate_from: dict[str, datetime | None] = {}
    versions, rules_problems = parse_rules(raw.rules, located, base)
    problems += rules_problems
    rules = list(versions[-1].files) if versions else []
    load_plugins()
    plugins = get_connectors()
    connectors: dict[str, ConnectorSettings] = {}
    for name, section in raw.connectors.items():
        where = ("connectors", name)
        if not CONNECTOR_NAME.fullmatch(name):
            problems.append(
                located.problem(
                    where,
                    f'connector name "{name}" may hold only letters, digits, "-" and "_" '
                    "(at most 64, starting with a letter or digit): it is part of every "
                    "idempotency key and of file names; rename it",
                    at_key=True,
                )
            )
            continue
        body = dict(section or {})
        plugin = body.pop("plugin", None)
        # The go-live cutoff is slaplug's, not the plugin's: taken out before its config.
        escalate_from[name] = overall
        if "escalate_from" in body:
            try:
                escalate_from[name] = parse_escalate_from(body.pop("escalate_from"), where="")
            except ConfigError as exc:
                problems.append(located.problem((*where, "escalate_from"), str(exc)))
        if plugin is None:
            problems.append(
                located.problem(
                    where,
                    f'connector "{name}" needs plugin: (one of {", ".join(sorted(plugins)) or "none installed"})',
                )
            )
            continue
        cls = plugins.get(str(plugin))
        if cls is None:
            known = ", ".join(sorted(plugins)) or "none installed"
            problems.append(
                located.problem(
                    (*where, "plugin"),
                    f'no connector plugin "{plugin}"; installed: {known} (see `slaplug plugins`)',
                )
            )
            continue

        def place(pr: Problem, where: tuple[str | int, ...] = where) -> Problem:
            sub = tuple(part for part in pr.where.split(".") if part) if pr.where else ()
            # An unknown key is shown at the key (its value may be a whole block).
            return located.problem((*where, *sub), pr.message, ': unknown key "' in pr.message)

        try:
            # An unset credential is raised where it is read (a helpdesk call, a webhook's
            # signature), so commands that only read the store run without the tokens.
            config = cls.Config.load(
                body, connector=name, environ=env, defer_missing=True, locate=place
            )
        except ProblemsError as exc:
            problems += [place(pr) for pr in exc.problems]
            continue
        connectors[name] = ConnectorSettings(name=name, plugin=str(plugin), config=config)
    channels, notify_problems = parse_channels(raw.notify, env)
    problems += [located.problem(("notify", *where), msg) for where, msg in notify_problems]
    for name, channel in channels.items():
        if channel.subject is not None and (bad := unknown_subject_fields(channel.subject)):
            problems.append(
                located.problem(
                    ("notify", name, "subject"),
                    f"unknown field {bad[0]!r} in the subject; use {', '.join(sorted(SUBJECT_FIELDS))}",
                )
            )
    if raw.work.engine == "procrastinate" and not raw.store.startswith(("postgresql", "postgres:")):
        problems.append(
            located.problem(
                ("work", "engine"),
                "the procrastinate engine queues its jobs in PostgreSQL: set store: to a "
                "postgresql://... URL, or remove work.engine for the embedded default",
            )
        )
    dashboard = _dashboard(raw.dashboard, env, located, problems)
    if problems:
        raise ProblemsError(problems)
    return Settings(
        path=p,
        store=_resolve_store(raw.store, base),
        rules=rules,
        engine=raw.engine,
        connectors=connectors,
        sync=raw.sync,
        outbox=raw.outbox,
        work=raw.work,
        notify=channels,
        escalate_from=escalate_from,
        rules_versions=versions,
        dashboard=dashboard,
    )


def _dashboard(
    raw: DashboardOptions, env: Mapping[str, str], located: Located, problems: list[Problem]
) -> DashboardSettings:
    token: str | None = None
    if raw.manager_token is not None:
        m = _ENV_REF.fullmatch(raw.manager_token.strip())
        assert m is not None  # checked by the model
        token = env.get(m[1]) or None
        if token is None:
            problems.append(
                located.problem(
                    ("dashboard", "manager_token"),
                    f"environment variable {m[1]} is not set; set it to the dashboard's token "
                    "(e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))')",
                )
            )
        elif len(token) < 16:
            problems.append(
                located.problem(
                    ("dashboard", "manager_token"),
                    f"the token in {m[1]} is shorter than 16 characters; use a long random one",
                )
            )
            token = None
        else:
            add_secret(token)
    return DashboardSettings(
        manager_token=token,
        public_url=raw.public_url.rstrip("/") if raw.public_url else None,
        refresh_s=parse_duration(raw.refresh).total_seconds(),
        queue_limit=raw.queue_limit,
    )


def starter_config() -> str:
    """The commented starting file `slaplug init` writes."""
    return """\
# slaplug configuration. Check it with `slaplug sync --dry-run --once`.
# Credentials are never written here: each *_env key names the environment variable
# that holds the secret.

# Where slaplug keeps cursors, ticket snapshots, the action ledger and the outbox.
# SQLite (a file, nothing to install) for one process; PostgreSQL for several, in place of
# the sqlite line:
# store: postgresql+psycopg://slaplug@db.internal/slaplug
store: sqlite:///slaplug.db

# Rules files, merged in order (check them with `slaplug rules check --config slaplug.yaml`).
rules:
  - rules/default.yaml
# To change rules without rewriting history, list versions in place of the list above, each
# with the instant from which it applies (docs/rules/language.md, "Effective dates"):
# rules:
#   - {files: [rules/default.yaml], label: v1}
#   - {files: [rules/v2.yaml], label: v2, effective_from: 2026-12-01T00:00:00+01:00}

# Helpdesks to measure. The key is your name for the connector; `plugin` is the
# connector plugin (see `slaplug plugins`).
connectors:
  zendesk:
    plugin: zendesk
    base_url: https://YOUR-SUBDOMAIN.zendesk.com
    email: ops@example.com
    api_token_env: ZENDESK_API_TOKEN
    # webhook_secret_env: [ZENDESK_WEBHOOK_SECRET]
  # Another helpdesk, beside zendesk: uncomment these lines.
  # jira:
  #   plugin: jira
  #   base_url: https://YOUR-SITE.atlassian.net
  #   email: ops@example.com
  #   api_token_env: JIRA_API_TOKEN
  #   projects: [SUP]

# Go-live: the first sync measures the whole history but writes nothing for thresholds
# crossed before it started. To escalate older ones too (a backfill), give a date:
# escalate_from: 2026-11-01
# (also per connector). See docs/operations/running.md, "Going live".

sync:
  every: 60s      # for `slaplug sync --every`
  batch: 1000     # tickets evaluated per batch

outbox:
  max_attempts: 8 # tries before a failed write becomes a dead letter
  lease: 5m       # a sync killed mid-write leaves its actions to a sync after this

# Where the rules' `notify: {channel: NAME}` goes: apprise URLs, secrets as ${ENV_VAR}
# (docs/notifications.md: e-mail, Slack, Teams, PagerDuty, Opsgenie, webhooks). The shipped
# rules notify these three; [] drops a channel's messages (`slaplug doctor` warns about it).
notify:
  team-lead: []         # e.g. ["mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com?to=lead@example.com"]
  support-manager: []   # e.g. ["slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#support"]
  second-line-lead: []  # e.g. ["pagerduty://${PAGERDUTY_INTEGRATION_KEY}@${PAGERDUTY_API_KEY}"]
"""
