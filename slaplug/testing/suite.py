"""`ConnectorSuite`: the tests every connector must pass.

A connector's own test module subclasses it, names the connector class and provides a
``scenario`` fixture: a configured connector pointed at a fake server it can control::

    from slaplug.testing import ConnectorSuite, Scenario

    class TestTiny(ConnectorSuite):
        connector = TinyConnector

        @pytest.fixture
        def scenario(self, monkeypatch):
            monkeypatch.setenv("TINY_TOKEN", "a-long-test-token")
            with TinyFake() as fake:
                config = TinyConnector.Config(base_url=fake.base_url, api_token_env="TINY_TOKEN")
                with TinyConnector(config) as conn:
                    yield Scenario(conn, fake, ticket_id="1", actions=[...])

The suite never sleeps: ``connector.http.sleep`` is replaced by a recorder, and the
retry test asserts the recorded waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import pytest
from pydantic import ValidationError

from slaplug.connectors.base import ApplyStatus, Capability, Connector, TicketPage
from slaplug.connectors.redact import known_secrets
from slaplug.errors import AuthenticationError, ConfigError, WebhookError
from slaplug.model import Action, Ticket

__all__ = ["ConnectorSuite", "FakeControl", "Scenario", "WebhookSample"]

#: More pages than any suite scenario should serve; reaching it means a loop.
_PAGE_LIMIT = 1_000


@runtime_checkable
class FakeControl(Protocol):
    """What the suite needs from the fake server behind a scenario.

    A fake server implements it directly, or through a small adapter.
    """

    def inject(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``headers``)."""

    @property
    def request_count(self) -> int:
        """Requests received so far, injected faults included."""

    @property
    def write_count(self) -> int:
        """Writes the platform accepted (2xx answers to non-GET requests)."""


@dataclass(frozen=True)
class WebhookSample:
    """A correctly signed delivery, as the platform would send it.

    Attributes:
        headers: The delivery's headers, signature included.
        body: The raw body the signature covers.
        ticket_id: The ticket id `Connector.parse_webhook` must find, if any.
    """

    headers: Mapping[str, str]
    body: bytes
    ticket_id: str | None = None


@dataclass
class Scenario:
    """A configured connector against a fake it controls: what the standard tests run on.

    Attributes:
        connector: The connector under test, configured against ``control``'s server.
        control: The fake server (fault injection, request and write counts).
        ticket_id: An existing ticket, for `Connector.read_ticket`.
        actions: Actions for the write-back test; they must apply to the fake's tickets.
            Required when the connector has `Capability.WRITE_BACK`.
        webhook: A correctly signed delivery. Required with `Capability.WEBHOOK`.
        min_pages: The fake serves at least this many pages from a first full read, so the
            pagination test really paginates.
        secrets: Secret values to look for in logs, besides the config's credentials.
    """

    connector: Connector
    control: FakeControl
    ticket_id: str
    actions: Sequence[Action] = ()
    webhook: WebhookSample | None = None
    min_pages: int = 2
    secrets: Sequence[str] = field(default_factory=tuple)


class ConnectorSuite:
    """The tests every connector must pass. Subclass, set `connector`, define ``scenario``.

    Each test is named for the guarantee it checks. Tests for a capability the connector
    does not declare are skipped.
    """

    #: The connector class under test.
    connector: ClassVar[type[Connector]]

    @pytest.fixture
    def scenario(self) -> Scenario:
        """Override with a fixture returning (or yielding) a `Scenario`."""
        pytest.fail(f"{type(self).__name__} must define a `scenario` fixture returning a Scenario")

    @pytest.fixture(autouse=True)
    def waits(self, scenario: Scenario) -> list[float]:
        """The seconds the connector waited before retries; nothing really sleeps."""
        recorded: list[float] = []
        scenario.connector.http.sleep = recorded.append
        return recorded

    # -- configuration --------------------------------------------------------------------

    def test_scenario_uses_the_connector_under_test(self, scenario: Scenario) -> None:
        assert isinstance(scenario.connector, self.connector)
        assert isinstance(scenario.control, FakeControl)
        assert self.connector.name, "set Connector.name (the entry-point name)"

    def test_config_rejects_unknown_keys(self, scenario: Scenario) -> None:
        data = scenario.connector.config.model_dump()
        data["no_such_setting"] = 1
        with pytest.raises((ValidationError, ConfigError)):
            self.connector.Config.model_validate(data)

    def test_config_repr_hides_secrets(self, scenario: Scenario) -> None:
        shown = repr(scenario.connector.config) + repr(scenario.connector)
        for secret in self._secrets(scenario):
            assert secret not in shown

    # -- reading --------------------------------------------------------------------------

    def test_reads_tickets_matching_model(self, scenario: Scenario) -> None:
        tickets = [t for page in self._read_all(scenario) for t in page.tickets]
        tickets.append(scenario.connector.read_ticket(scenario.ticket_id))
        assert len(tickets) > 1, "the fake should serve some tickets"
        for ticket in tickets:
            self._check_ticket(scenario, ticket)

    def test_pagination_terminates(self, scenario: Scenario) -> None:
        pages = self._read_all(scenario)
        assert len(pages) >= scenario.min_pages, (
            f"read {len(pages)} page(s); the scenario promises {scenario.min_pages}"
        )
        assert pages[-1].cursor is not None, "the last page must give a cursor to resume from"
        # Resuming from the end also ends (and does not re-read everything from the start).
        again = self._read_all(scenario, pages[-1].cursor)
        first_read = sum(len(p.tickets) for p in pages)
        assert sum(len(p.tickets) for p in again) < first_read

    # -- failures -------------------------------------------------------------------------

    def test_retries_on_429_then_succeeds(self, scenario: Scenario, waits: list[float]) -> None:
        # A ticket's history can take several calls (the ticket, then its audit log or
        # changelog): count a clean read, caches warmed, and expect exactly one call more.
        scenario.connector.read_ticket(scenario.ticket_id)
        before = scenario.control.request_count
        scenario.connector.read_ticket(scenario.ticket_id)
        clean = scenario.control.request_count - before
        before = scenario.control.request_count
        scenario.control.inject(429, headers={"Retry-After": "7"})
        ticket = scenario.connector.read_ticket(scenario.ticket_id)
        assert ticket.id == scenario.ticket_id
        assert waits == [7.0], "the wait must be exactly the Retry-After"
        assert scenario.control.request_count - before == clean + 1, "one retry, no more"

    def test_retries_on_503_with_backoff(self, scenario: Scenario, waits: list[float]) -> None:
        scenario.control.inject(503, times=2)
        scenario.connector.read_ticket(scenario.ticket_id)
        assert len(waits) == 2
        assert all(w > 0 for w in waits)

    def test_fails_fast_on_401(self, scenario: Scenario, waits: list[float]) -> None:
        before = scenario.control.request_count
        # One 401 only: a connector that retried would then succeed, and fail this test.
        scenario.control.inject(401, body={"error": "Couldn't authenticate you"})
        with pytest.raises(AuthenticationError) as excinfo:
            scenario.connector.read_ticket(scenario.ticket_id)
        assert scenario.control.request_count - before == 1, "a 401 must not be retried"
        assert waits == []
        message = str(excinfo.value)
        assert scenario.connector.instance in message, "name the connector"
        for env_var in scenario.connector.config.credential_env_vars():
            assert env_var in message, f"name the variable {env_var} to check"

    # -- writing --------------------------------------------------------------------------

    def test_write_back_is_idempotent(self, scenario: Scenario) -> None:
        if Capability.WRITE_BACK not in self.connector.capabilities:
            pytest.skip("read-only connector")
        assert scenario.actions, "give the scenario actions to apply"
        keys = [a.key for a in scenario.actions]
        first = scenario.connector.apply(scenario.actions)
        assert [r.key for r in first] == keys
        assert all(r.status in (ApplyStatus.APPLIED, ApplyStatus.ALREADY) for r in first), first
        writes = scenario.control.write_count
        assert writes > 0, "the first apply should write"
        second = scenario.connector.apply(scenario.actions)
        assert [r.key for r in second] == keys
        assert all(r.status is ApplyStatus.ALREADY for r in second), second
        assert scenario.control.write_count == writes, "applying twice must not write twice"

    # -- secrets --------------------------------------------------------------------------

    def test_secrets_never_logged(
        self, scenario: Scenario, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        errors: list[str] = []
        self._read_all(scenario)
        scenario.control.inject(429, headers={"Retry-After": "1"})
        scenario.connector.read_ticket(scenario.ticket_id)
        scenario.control.inject(401)
        try:
            scenario.connector.read_ticket(scenario.ticket_id)
        except AuthenticationError as exc:
            errors.append(str(exc))
            errors.append(repr(exc))
        if Capability.WRITE_BACK in self.connector.capabilities:
            scenario.connector.apply(scenario.actions)
        seen = caplog.text + "\n".join(errors)
        for secret in self._secrets(scenario):
            assert secret not in seen, "a secret reached the logs or an error message"

    # -- webhooks -------------------------------------------------------------------------

    def test_webhook_accepts_valid_signature(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        scenario.connector.verify_webhook(sample.headers, sample.body)
        event = scenario.connector.parse_webhook(sample.headers, sample.body)
        assert event.delivery_id
        assert event.received_at.tzinfo is not None
        if sample.ticket_id is not None:
            assert event.ticket_id == sample.ticket_id

    def test_webhook_rejects_bad_signature(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        tampered = sample.body + b" "
        with pytest.raises(WebhookError) as excinfo:
            scenario.connector.verify_webhook(sample.headers, tampered)
        assert excinfo.value.status == 401

    # -- helpers --------------------------------------------------------------------------

    def _read_all(self, scenario: Scenario, cursor: str | None = None) -> list[TicketPage]:
        pages: list[TicketPage] = []
        for page in scenario.connector.read_changed(cursor):
            pages.append(page)
            assert len(pages) < _PAGE_LIMIT, "pagination does not end"
        return pages

    def _check_ticket(self, scenario: Scenario, ticket: Ticket) -> None:
        assert isinstance(ticket, Ticket)
        assert isinstance(ticket.id, str) and ticket.id
        assert ticket.platform == self.connector.name
        assert ticket.connector == scenario.connector.instance
        assert ticket.created_at.tzinfo is not None
        assert ticket.updated_at is None or ticket.updated_at.tzinfo is not None
        times = [e.at for e in ticket.events]
        assert times == sorted(times), "events must be in time order"
        assert all(t.tzinfo is not None for t in times)

    def _webhook(self, scenario: Scenario) -> WebhookSample:
        if Capability.WEBHOOK not in self.connector.capabilities:
            pytest.skip("connector takes no webhooks")
        assert scenario.webhook is not None, "give the scenario a signed webhook sample"
        return scenario.webhook

    def _secrets(self, scenario: Scenario) -> Iterator[str]:
        yield from scenario.connector.config.secret_values()
        yield from scenario.secrets
        assert known_secrets() is not None  # the registry exists even when empty
