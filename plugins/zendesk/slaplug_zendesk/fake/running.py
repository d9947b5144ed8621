"""A faithful fake Zendesk Support API on 127.0.0.1, for connector tests, plugin authors
and trying slaplug without a Zendesk account.

::

    with FakeZendesk.start() as fake:
        session = requests.Session()
        session.auth = fake.auth                    # ("admin@fake-zendesk.test/token", token)
        r = session.get(f"{fake.base_url}/api/v2/incremental/tickets/cursor.json",
                        params={"start_time": 0})

From the command line: ``slaplug fake zendesk --port 8765``. The behaviour, the seed-file
format and the ``/_fake/`` admin surface are documented in docs/testing/fake-zendesk.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from slaplug.testing.fakeserver import (
    FakeClock,
    HttpError,
    RunningFake,
    ServerThread,
)
from slaplug_zendesk.fake.data import ZendeskStore, load_seed
from slaplug_zendesk.fake.generate import ADMIN_EMAIL, History, build_dataset
from slaplug_zendesk.fake.server import AppConfig, WebhookConfig, ZendeskApp

__all__ = ["FakeZendesk"]

Seed = str | Path | Mapping[str, Any] | None
_ERRORS = {401: "Couldn't authenticate you", 429: "APIRateLimitExceeded"}


class FakeZendesk(RunningFake):
    """A running fake Zendesk. Create it with :meth:`start` (or :meth:`from_seed_file`).

    Attributes:
        base_url: ``http://127.0.0.1:PORT``; also the base of every URL the fake returns.
        email: An admin's email; any agent's email works with :attr:`api_token`.
        api_token: The API token (Basic ``{email}/token:{api_token}``).
        oauth_token: The OAuth token (``Authorization: Bearer ...``).
        store: The account's state (tickets, audits, users...); read it under :attr:`lock`.
        clock: The fake's clock; see :meth:`advance` (exports lag it by a minute).

    Recorded traffic and faults come from `RunningFake`: ``requests`` counts ``poll`` for job
    status reads; injected faults answer 429 or 503 with ``Retry-After``.
    """

    def __init__(self, app: ZendeskApp, server: ServerThread) -> None:
        super().__init__(app, server)
        self._app: ZendeskApp = app
        self.email = ADMIN_EMAIL
        self.api_token = app.config.api_token
        self.oauth_token = app.config.oauth_token
        self.store: ZendeskStore = app.store

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        port: int = 0,
        seed: Seed = None,
        *,
        host: str = "127.0.0.1",
        now: datetime | float | None = None,
        tickets: int = 300,
        days: int = 28,
        random_seed: int = 0,
        history: History = "auto",
        api_token: str = "fake-api-token",
        oauth_token: str = "fake-oauth-token",
        job_polls: int = 3,
        job_complete_after: float = 2.0,
        enforce_rate_limit: bool = False,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 503),
        retry_after: int = 1,
        fault_seed: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_duplicate_rate: float = 0.0,
    ) -> FakeZendesk:
        """Build the account, start serving it, and return the running fake.

        Args:
            port: TCP port; 0 picks a free one (see :attr:`base_url`).
            seed: None for the built-in generated account, else a seed file path or the
                parsed seed mapping (format in docs/testing/fake-zendesk.md).
            now: Where the fake's clock starts (it keeps ticking); default the real time.
                The generated account ends shortly before it.
            tickets, days, random_seed, history: Shape of the generated account
                (see :func:`~slaplug_zendesk.fake.data.build_dataset`).
            api_token, oauth_token: The credentials the fake accepts.
            job_polls: Polls until a bulk job reports ``completed``.
            job_complete_after: Seconds after which a job completes unpolled.
            enforce_rate_limit: Answer 429 past 700/min, or 10/min on incremental exports.
            fault_rate, fault_statuses, retry_after, fault_seed: Initial fault policy.
            webhook_url, webhook_secret, webhook_duplicate_rate: Send signed webhooks.
        """
        start_ts = now.timestamp() if isinstance(now, datetime) else now
        clock = FakeClock(start_ts)
        if seed is None:
            store = build_dataset(random_seed, tickets, days, int(clock.now()), history)
        else:
            store, seed_now = load_seed(seed)
            if seed_now is not None and now is None:
                clock.set(seed_now)
        config = AppConfig(
            api_token=api_token,
            oauth_token=oauth_token,
            job_polls=job_polls,
            job_complete_after=job_complete_after,
            enforce_rate_limit=enforce_rate_limit,
        )
        app = ZendeskApp(store, clock, config)
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

    @classmethod
    def from_seed_file(cls, path: str | Path, **kwargs: Any) -> FakeZendesk:
        """:meth:`start` with the account read from a seed JSON file."""
        return cls.start(seed=Path(path), **kwargs)

    def fault_body(self, status: int) -> dict[str, str]:
        """Zendesk's error envelope ``{"error", "description"}`` for a fault queued by
        ``inject`` without a body (reference §3: 401 "Couldn't authenticate you", 429
        "APIRateLimitExceeded")."""
        error = _ERRORS.get(status, "ServiceUnavailable" if status >= 500 else "Error")
        return {"error": error, "description": "Injected by the fake's inject()"}

    # -- credentials and reads -----------------------------------------------------------

    @property
    def auth(self) -> tuple[str, str]:
        """``(username, password)`` for HTTP Basic: ``("{email}/token", api_token)``."""
        return (f"{self.email}/token", self.api_token)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """The ticket as the API would show it.

        Raises:
            KeyError: for an unknown id.
        """
        with self.lock:
            return self._app.ticket_json(self.store.tickets[ticket_id])

    def audits(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's audits as the API would show them, oldest first."""
        with self.lock:
            return [self._app.audit_json(a) for a in self.store.audits_by_ticket.get(ticket_id, [])]

    def dump_seed(self, path: str | Path) -> None:
        """Write the current account as a seed file (see docs for the format)."""
        with self.lock:
            data = self.store.to_seed(self.clock.now())
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")

    # -- platform activity ----------------------------------------------------------------

    def simulate(self, kind: str, ticket_id: int | None = None, **params: Any) -> dict[str, Any]:
        """Change the account as its users would (not recorded in :attr:`writes`).

        Kinds: ``requester_reply`` (reopens a pending or solved ticket), ``agent_reply``
        (``status=`` optional; a new ticket becomes open), ``internal_note``, ``status``,
        ``priority``, ``assignee_id``, ``group_id``, ``tags`` (each with ``value=``),
        ``update`` (``ticket={...}`` as in a PUT), ``create`` (``subject``, ``body``,
        ``priority``, ``requester_id``, ``group_id``, ``tags``). ``body=`` sets comment text.

        Returns:
            ``{"ticket": ..., "audit": ...}`` as the API shows them.

        Raises:
            ValueError: for an unknown kind, ticket or invalid value.
        """
        try:
            return self._app.simulate(kind, ticket_id, **params)
        except HttpError as exc:
            raise ValueError(f"simulate {kind!r}: {exc.status} {exc.body}") from None

    def complete_jobs(self) -> None:
        """Complete every pending bulk job now."""
        self._app.complete_jobs()

    # -- webhooks ---------------------------------------------------------------------------

    def configure_webhook(
        self, url: str | None, secret: str = "", duplicate_rate: float = 0.0, seed: int = 0
    ) -> None:
        """Send a signed event webhook to ``url`` after each ticket change (None stops)."""
        self._app.configure_webhook(
            WebhookConfig(url, secret, duplicate_rate=duplicate_rate, seed=seed) if url else None
        )
