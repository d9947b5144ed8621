"""A faithful fake Jira Cloud (with Jira Service Management bits) on 127.0.0.1, for connector
tests, plugin authors and trying slaplug without a Jira site.

::

    with FakeJira.start() as fake:
        session = requests.Session()
        session.auth = fake.auth                    # ("admin@fake-jira.test", api token)
        r = session.get(f"{fake.base_url}/rest/api/3/search/jql",
                        params={"jql": 'project = SUP AND updated >= "2026-02-01 00:00"',
                                "fields": "summary,status,updated"})

From the command line: ``slaplug fake jira --port 8766``. The behaviour, the seed-file
format and the ``/_fake/`` admin surface are documented in docs/testing/fake-jira.md.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from slaplug.testing.fakeserver import (
    FakeClock,
    HttpError,
    RunningFake,
    ServerThread,
)
from slaplug_jira.fake.data import JiraStore
from slaplug_jira.fake.generate import ADMIN_EMAIL, History, build_dataset
from slaplug_jira.fake.history import HistoryEvent, TicketHistory, play_history
from slaplug_jira.fake.seed import load_seed, to_seed
from slaplug_jira.fake.server import AppConfig, JiraApp
from slaplug_jira.fake.webhooks import WebhookConfig

__all__ = ["FakeJira", "HistoryEvent", "TicketHistory"]

Seed = str | Path | Mapping[str, Any] | None


class FakeJira(RunningFake):
    """A running fake Jira Cloud site. Create it with :meth:`start`.

    Attributes:
        base_url: ``http://127.0.0.1:PORT``; also the base of every ``self`` link.
        email: The admin's email; any agent's email works with :attr:`api_token`.
        api_token: The API token (Basic ``email:api_token``).
        oauth_token: An OAuth 2.0 access token (``Authorization: Bearer ...``).
        pat: A Data Center style Personal Access Token (also ``Bearer``).
        time_zone: The users' time zone: JQL date literals are read in it.
        store: The site's state (issues, comments, changelogs, users); read it under
            :attr:`lock`.
        clock: The fake's clock; see :meth:`advance`.
    """

    # Recorded traffic and faults come from `RunningFake`: ``requests`` counts POST search and
    # bulk changelog as ``read`` and bulk task progress as ``poll``; injected 429s carry
    # ``X-RateLimit-*`` too, and 409s Jira's conflict body.

    def __init__(self, app: JiraApp, server: ServerThread) -> None:
        super().__init__(app, server)
        self._app: JiraApp = app
        self.email = ADMIN_EMAIL
        self.api_token = app.config.api_token
        self.oauth_token = app.config.oauth_token
        self.pat = app.config.pat
        self.time_zone = app.time.name
        self.store: JiraStore = app.store

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        port: int = 0,
        seed: Seed = None,
        *,
        host: str = "127.0.0.1",
        now: datetime | float | None = None,
        issues: int = 250,
        days: int = 28,
        random_seed: int = 0,
        history: History = "auto",
        time_zone: str | None = None,
        api_token: str = "fake-api-token",
        oauth_token: str = "fake-oauth-token",
        pat: str = "fake-personal-access-token",
        bulk_polls: int = 2,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 503),
        retry_after: int = 1,
        fault_seed: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_duplicate_rate: float = 0.0,
    ) -> FakeJira:
        """Build the site, start serving it, and return the running fake.

        Args:
            port: TCP port; 0 picks a free one (see :attr:`base_url`).
            seed: None for the built-in generated site, else a seed file path or the
                parsed seed mapping (format in docs/testing/fake-jira.md).
            now: Where the fake's clock starts (it keeps ticking); default the real time.
                The generated site ends shortly before it.
            issues, days, random_seed, history: Shape of the generated site (see
                :func:`~slaplug_jira.fake.generate.build_dataset`); ``issues=0``
                gives an empty project for :meth:`add_issue`.
            time_zone: IANA zone of the users (default the seed's, else ``UTC``).
            api_token, oauth_token, pat: The credentials the fake accepts.
            bulk_polls: Polls until a bulk edit task reports ``COMPLETE``.
            fault_rate, fault_statuses, retry_after, fault_seed: Initial fault policy.
            webhook_url, webhook_secret, webhook_duplicate_rate: Send signed webhooks.
        """
        start_ts = now.timestamp() if isinstance(now, datetime) else now
        clock = FakeClock(start_ts)
        zone = time_zone
        if seed is None:
            store = build_dataset(random_seed, issues, days, int(clock.now()), history)
        else:
            store, seed_now, seed_zone = load_seed(seed)
            zone = zone or seed_zone
            if seed_now is not None and now is None:
                clock.set(seed_now)
        config = AppConfig(api_token, oauth_token, pat, bulk_polls)
        app = JiraApp(store, clock, config, zone or "UTC")
        return cls.serve(
            app,
            host,
            port,
            fault_rate=fault_rate,
            fault_statuses=fault_statuses,
            retry_after=retry_after,
            fault_seed=fault_seed,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_duplicate_rate=webhook_duplicate_rate,
        )

    def fault_body(self, status: int) -> dict[str, Any]:
        """Jira's ``ErrorCollection`` for a fault queued by ``inject`` without a body
        (reference §3)."""
        return {"errorMessages": ["Injected by the fake's inject()"], "errors": {}}

    # -- credentials and reads -------------------------------------------------------------

    @property
    def auth(self) -> tuple[str, str]:
        """``(email, api_token)`` for HTTP Basic, as Jira Cloud API tokens are used."""
        return (self.email, self.api_token)

    def handles(self, method: str, path: str) -> bool:
        """True if the fake implements ``method`` on ``path`` (e.g. ``/rest/api/3/field``)."""
        return self._app.router.resolve(method.upper(), path) is not None

    def issue(self, key: str, version: str = "3") -> dict[str, Any]:
        """The issue with all fields, as ``GET /rest/api/{version}/issue/{key}`` shows it.

        Raises:
            KeyError: for an unknown key.
        """
        with self.lock:
            found = self.store.issue(key)
            if found is None:
                raise KeyError(key)
            return self._app.issue_json(found, version, self.store.fields, ["changelog"])

    def add_issue(self, history: TicketHistory | None = None, **kwargs: Any) -> str:
        """Create one issue from a platform-neutral history and return its key.

        Pass a :class:`TicketHistory`, or its fields as keywords (``events`` may hold
        :class:`HistoryEvent` objects or their seed-file dicts). No webhooks are sent and
        nothing is recorded as an API write: the history is the site's past.

        Raises:
            ValueError: for unknown statuses, priorities, fields or options.
        """
        if history is None:
            events = tuple(
                e if isinstance(e, HistoryEvent) else HistoryEvent.from_json(e)
                for e in kwargs.pop("events", ())
            )
            history = TicketHistory(events=events, **kwargs)
        with self.lock:
            return play_history(self.store, history).key

    def set_user(
        self,
        user: str,
        *,
        time_zone: str | None = None,
        admin: bool | None = None,
        project_admin: bool | None = None,
        denied: Collection[str] | None = None,
    ) -> str:
        """Set one user's profile time zone and permissions; return the accountId.

        ``time_zone`` is where that user's JQL date literals are read and what ``/myself``
        reports (``""``: back to the site's zone). ``admin`` (*Administer Jira*) or
        ``project_admin`` (*Administer projects*) lets the user send ``notifyUsers=false``.
        ``denied`` lists the permission keys taken away from the user (``EDIT_ISSUES``,
        ``BULK_CHANGE``...; empty gives them back): ``/mypermissions`` reports them and the
        writes refuse them. None leaves a setting as it is.

        Raises:
            ValueError: for an unknown user or time zone.
        """
        u = self._app.set_user(
            user,
            time_zone=time_zone,
            admin=admin,
            project_admin=project_admin,
            denied=None if denied is None else frozenset(denied),
        )
        return u.account_id

    @property
    def watcher_emails(self) -> dict[str, int]:
        """Issue key -> API edits that e-mailed the issue's watchers (sent without
        ``notifyUsers=false``)."""
        with self.lock:
            return dict(self._app.watcher_emails)

    def auth_for(self, user: str) -> tuple[str, str]:
        """``(email, api_token)`` of another agent (any agent's email works with the token).

        Raises:
            KeyError: for an unknown user.
        """
        with self.lock:
            u = self.store.user(user)
        if u is None:
            raise KeyError(user)
        return (u.email, self.api_token)

    def dump_seed(self, path: str | Path) -> None:
        """Write the current site as a seed file (see docs for the format)."""
        with self.lock:
            data = to_seed(self.store, self.clock.now(), self.time_zone)
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")

    # -- platform activity -----------------------------------------------------------------

    def simulate(self, kind: str, key: str | None = None, **params: Any) -> dict[str, Any]:
        """Change the site as its users would (not recorded in :attr:`writes`).

        Kinds: ``customer_reply`` (a public comment by the reporter; *Waiting for customer*
        goes back to *In Progress*), ``agent_reply`` (``status=`` optional),
        ``internal_note``, ``status``, ``priority``, ``assignee``, ``labels`` or a
        ``customfield_...`` id (each with ``value=``), ``conflict`` (the next ``times=1``
        edits or transitions of the issue get 409), ``create`` (``summary``,
        ``description``, ``priority``, ``reporter``, ``labels``). ``body=`` sets comment
        text, ``author=`` the acting agent.

        Returns:
            The issue as ``GET /rest/api/3/issue/{key}`` shows it.

        Raises:
            ValueError: for an unknown kind, issue or invalid value.
        """
        try:
            return self._app.simulate(kind, key, **params)
        except HttpError as exc:
            raise ValueError(f"simulate {kind!r}: {exc.status} {exc.body}") from None

    def complete_tasks(self) -> None:
        """Complete every pending bulk edit task now."""
        self._app.complete_tasks()

    # -- webhooks --------------------------------------------------------------------------

    def configure_webhook(
        self, url: str | None, secret: str = "", duplicate_rate: float = 0.0, seed: int = 0
    ) -> None:
        """Send signed webhooks to ``url`` after each change (None stops)."""
        self._app.configure_webhook(
            WebhookConfig(url, secret, duplicate_rate, seed) if url else None
        )
