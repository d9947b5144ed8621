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
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, Protocol, runtime_checkable

import pytest
from pydantic import ValidationError

from slaplug.connectors.base import ApplyResult, ApplyStatus, Capability, Connector, TicketPage
from slaplug.connectors.redact import known_secrets
from slaplug.errors import AuthenticationError, ConfigError, WebhookError
from slaplug.model import Action, Ticket

__all__ = ["ConnectorSuite", "FakeControl", "Scenario", "WebhookSample", "WebhookSigner"]

#: More pages than any suite scenario should serve; reaching it means a loop.
_PAGE_LIMIT = 1_000
#: A signing secret no scenario configures: a delivery signed with it must be refused.
WRONG_SECRET = "not-the-webhook-secret-0000"
#: How old a signed timestamp the stale-delivery test sends (seconds): a day.
STALE_AGE = 24 * 3600.0
#: How much older the signature is than the timestamp in the forged-timestamp test.
RESIGN_AGE = 120.0


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


class WebhookSigner(Protocol):
    """Signs a body as the platform does: the headers of the delivery.

    ``secret`` None means the secret the scenario's connector is configured with;
    ``age`` is how many seconds before the connector's current time the delivery was signed
    (only platforms that sign a timestamp use it).
    """

    def __call__(
        self, body: bytes, *, secret: str | None = None, age: float = 0.0
    ) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class WebhookSample:
    """A correctly signed delivery, as the platform would send it.

    Attributes:
        headers: The delivery's headers, signature included.
        body: The raw body the signature covers.
        ticket_id: The ticket id `Connector.parse_webhook` must find, if any.
        signature_header: The header carrying the signature: the suite sends the delivery
            without it. None: the suite drops every header instead.
        sign: Signs a body as the platform does (`WebhookSigner`): the suite signs with a
            wrong secret and, with ``timestamp_header``, with a stale timestamp. None: those
            tests skip.
        timestamp_header: The header carrying the signed timestamp, on platforms that sign
            one (Zendesk's ``X-Zendesk-Webhook-Signature-Timestamp``); None when the
            platform signs the body only.
    """

    headers: Mapping[str, str]
    body: bytes
    ticket_id: str | None = None
    signature_header: str | None = None
    sign: WebhookSigner | None = None
    timestamp_header: str | None = None


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
        ticket_ids: The id of every ticket a first full read (`Connector.read_changed`
            with no cursor) must return: what the fake holds. The pagination test checks
            that no page is dropped against it; None skips that test.
    """

    connector: Connector
    control: FakeControl
    ticket_id: str
    actions: Sequence[Action] = ()
    webhook: WebhookSample | None = None
    min_pages: int = 2
    secrets: Sequence[str] = field(default_factory=tuple)
    ticket_ids: Collection[str] | None = None


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
        cursor = pages[-1].cursor
        again = sum(len(p.tickets) for p in self._read_all(scenario, cursor))
        first_read = sum(len(p.tickets) for p in pages)
        if again >= first_read:
            _fail(
                f"resuming from the last page's cursor {cursor!r} read {again} tickets, "
                f"{'as many as' if again == first_read else 'more than'} the whole first read "
                f"({first_read}): the last page's cursor must mark where "
                "the read ended (the newest change read, e.g. the largest updated_at, or the "
                "platform's end-of-export cursor), not where it started"
            )

    def test_pagination_reads_every_ticket(self, scenario: Scenario) -> None:
        expected = self._ticket_ids(scenario)
        pages = self._read_all(scenario)
        read = {t.id for page in pages for t in page.tickets}
        missing = expected - read
        if missing:
            _fail(
                f"read {len(expected & read)} of {len(expected)} tickets over {len(pages)} "
                f"page(s); missing {_ids(missing)}: pages skipped, or a page's tickets dropped?"
            )
        if extra := read - expected:
            _fail(
                f"read {_ids(extra)}, which the fake does not hold (scenario.ticket_ids): "
                "ids must be the platform's, as strings"
            )

    def test_pagination_resumes_from_each_page(self, scenario: Scenario) -> None:
        # The sync stores each page's cursor once its tickets are stored: after a crash it
        # resumes from there, and must then read every ticket of the later pages.
        pages = self._read_all(scenario)
        for n, page in enumerate(pages[:-1], start=1):
            if page.cursor is None:
                continue  # the sync keeps the previous cursor
            later = {t.id for p in pages[n:] for t in p.tickets}
            resumed = {t.id for p in self._read_all(scenario, page.cursor) for t in p.tickets}
            if missing := later - resumed:
                _fail(
                    f"resuming from page {n}'s cursor {page.cursor!r} missed {_ids(missing)}, "
                    f"which the first read had on pages {n + 1}-{len(pages)}: after a crash the "
                    "sync resumes from the last page cursor it stored, so a page's cursor must "
                    "mark the newest change read so far, and reading from it must skip nothing"
                )

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
        try:
            scenario.connector.read_ticket(scenario.ticket_id)
        except AuthenticationError as exc:
            message = str(exc)
        else:
            sent = scenario.control.request_count - before
            _fail(
                f"a 401 must not be retried: read_ticket sent {sent} requests and succeeded "
                "after the 401; it must raise AuthenticationError at once"
            )
        assert scenario.control.request_count - before == 1, "a 401 must not be retried"
        assert waits == []
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
        _check_keys("first", first, keys)
        for result in first:
            if result.status not in (ApplyStatus.APPLIED, ApplyStatus.ALREADY):
                _fail(
                    f"first apply: {result.key} was {_status(result)}, expected APPLIED "
                    "(the scenario's actions must apply to the fake's tickets)"
                )
        writes = scenario.control.write_count
        assert writes > 0, "the first apply should write"
        second = scenario.connector.apply(scenario.actions)
        _check_keys("second", second, keys)
        wrote = scenario.control.write_count - writes
        for result in second:
            if result.status is not ApplyStatus.ALREADY:
                again = f"wrote again ({wrote} write(s))" if wrote else "did not report ALREADY"
                _fail(
                    f"second apply {again}: {result.key} was {_status(result)}, expected "
                    "ALREADY (check that apply looks for its earlier write: the tag, field "
                    "value or the note carrying the action's key)"
                )
        if wrote:
            _fail(
                f"applying twice must not write twice: the second apply reported every action "
                f"ALREADY but the fake accepted {wrote} more write(s)"
            )

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
        again = scenario.connector.parse_webhook(sample.headers, sample.body)
        assert again.delivery_id == event.delivery_id, (
            f"the same delivery parsed twice gave delivery ids {event.delivery_id!r} and "
            f"{again.delivery_id!r}: the inbox drops a redelivery by its id, so it must be the "
            "platform's, not made up on receipt"
        )

    def test_webhook_rejects_bad_signature(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        tampered = sample.body + b" "
        self._refused(scenario, sample.headers, tampered, "a delivery whose body was changed")

    def test_webhook_rejects_missing_signature(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        if sample.signature_header is None:
            self._refused(scenario, {}, sample.body, "a delivery with no headers at all")
            return
        name = sample.signature_header.lower()
        unsigned = {k: v for k, v in sample.headers.items() if k.lower() != name}
        assert len(unsigned) < len(sample.headers), f"the sample has no {name} header"
        what = f"a delivery with no signature (no {sample.signature_header} header)"
        self._refused(scenario, unsigned, sample.body, what)

    def test_webhook_rejects_wrong_secret(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        sign = self._signer(sample)
        headers = sign(sample.body, secret=WRONG_SECRET)
        self._refused(scenario, headers, sample.body, "a delivery signed with a wrong secret")

    def test_webhook_rejects_stale_timestamp(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        sign = self._signer(sample, timestamped=True)
        headers = sign(sample.body, age=STALE_AGE)
        what = (
            f"a delivery signed {STALE_AGE / 3600:g} hours ago (a captured delivery replayed): "
            "refuse signed timestamps older than a few minutes"
        )
        self._refused(scenario, headers, sample.body, what)

    def test_webhook_rejects_replay_with_new_timestamp(self, scenario: Scenario) -> None:
        sample = self._webhook(scenario)
        sign = self._signer(sample, timestamped=True)
        assert sample.timestamp_header is not None
        name = sample.timestamp_header.lower()
        if name == (sample.signature_header or "").lower():
            pytest.skip("the timestamp travels in the signature header: it cannot be swapped")
        fresh = {k.lower(): v for k, v in sign(sample.body).items()}
        old = sign(sample.body, age=RESIGN_AGE)
        forged = {k: fresh[name] if k.lower() == name else v for k, v in old.items()}
        what = (
            f"a delivery replayed with a new {sample.timestamp_header} under its old signature: "
            "the signature must cover the timestamp"
        )
        self._refused(scenario, forged, sample.body, what)

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

    def _ticket_ids(self, scenario: Scenario) -> set[str]:
        if scenario.ticket_ids is None:
            pytest.skip(
                "give the scenario ticket_ids (every ticket the fake holds) to check that "
                "reading pages drops none"
            )
        return {str(i) for i in scenario.ticket_ids}

    def _webhook(self, scenario: Scenario) -> WebhookSample:
        if Capability.WEBHOOK not in self.connector.capabilities:
            pytest.skip("connector takes no webhooks")
        assert scenario.webhook is not None, "give the scenario a signed webhook sample"
        return scenario.webhook

    def _signer(self, sample: WebhookSample, *, timestamped: bool = False) -> WebhookSigner:
        if sample.sign is None:
            pytest.skip("give the WebhookSample a sign function to test other signatures")
        if timestamped and sample.timestamp_header is None:
            pytest.skip("the platform signs no timestamp (WebhookSample.timestamp_header)")
        return sample.sign

    def _refused(
        self, scenario: Scenario, headers: Mapping[str, str], body: bytes, what: str
    ) -> WebhookError:
        """The `WebhookError` refusing a delivery; fails, saying ``what``, if it passes."""
        try:
            scenario.connector.verify_webhook(headers, body)
        except WebhookError as exc:
            if exc.status != 401:
                _fail(f"refused {what} with status {exc.status}; a bad signature is 401")
            return exc
        _fail(f"verify_webhook accepted {what}")

    def _secrets(self, scenario: Scenario) -> Iterator[str]:
        yield from scenario.connector.config.secret_values()
        yield from scenario.secrets
        assert known_secrets() is not None  # the registry exists even when empty


def _fail(message: str) -> NoReturn:
    """Fail the current test with ``message`` alone (the sentence is the diagnosis)."""
    pytest.fail(message, pytrace=False)


def _ids(ids: Collection[str], shown: int = 10) -> str:
    """Ticket ids in natural order (``2`` before ``10``), the first ``shown`` of them."""
    ordered = sorted(
        ids, key=lambda i: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", i)]
    )
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def _status(result: ApplyResult) -> str:
    detail = f" ({result.detail})" if result.detail else ""
    return f"{result.status.name}{detail}"


def _check_keys(which: str, results: Sequence[ApplyResult], keys: list[str]) -> None:
    got = [r.key for r in results]
    if got != keys:
        _fail(f"{which} apply: results for {got}, expected one per action, in order: {keys}")
