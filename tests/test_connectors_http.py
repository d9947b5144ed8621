"""ApiClient: timeouts, the one retry policy, classification, call counts, redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses
import urllib3

from slaplug.connectors import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApiClient,
    LostAnswer,
    RetryPolicy,
    parse_retry_after,
)
from slaplug.connectors.redact import REDACTED, RedactingFilter, add_secret, redact_headers, scrub
from slaplug.errors import (
    AuthenticationError,
    ConflictError,
    FatalAPIError,
    InvalidTicketError,
    RetriableAPIError,
    TicketNotFoundError,
)

BASE = "https://acme.example.com/api"
URL = f"{BASE}/tickets/1"
TOKEN = "zd-token-9f8e7d6c5b4a"
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def client() -> ApiClient:
    c = ApiClient(
        BASE,
        connector="zendesk-eu",
        headers={"Authorization": f"Bearer {TOKEN}"},
        retry=RetryPolicy(max_attempts=4, max_wait=60, backoff_initial=1, backoff_max=8, jitter=0),
        secrets=[TOKEN],
        credentials="ZENDESK_TOKEN",
    )
    c.waits = []  # type: ignore[attr-defined]
    c.sleep = c.waits.append  # type: ignore[attr-defined]
    c.clock = lambda: NOW
    return c


@responses.activate
def test_429_waits_exactly_retry_after_seconds(client: ApiClient) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, json={"id": 1})
    assert client.get_json("tickets/1") == {"id": 1}
    assert client.waits == [7.0]  # type: ignore[attr-defined]
    assert client.stats.reads == 2 and client.stats.retries == 1 and client.stats.waited == 7.0


@responses.activate
def test_429_waits_until_retry_after_http_date(client: ApiClient) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "Mon, 02 Mar 2026 12:00:42 GMT"})
    responses.get(URL, json={})
    client.get_json("tickets/1")
    assert client.waits == [42.0]  # type: ignore[attr-defined]


@responses.activate
def test_503_with_retry_after_is_honoured(client: ApiClient) -> None:
    responses.get(URL, status=503, headers={"Retry-After": "3"})
    responses.get(URL, json={})
    client.get_json("tickets/1")
    assert client.waits == [3.0]  # type: ignore[attr-defined]


@responses.activate
def test_5xx_backs_off_exponentially_up_to_the_attempt_limit(client: ApiClient) -> None:
    responses.get(URL, status=502)
    with pytest.raises(RetriableAPIError, match="gave up after 4 attempt") as exc:
        client.get_json("tickets/1")
    assert client.waits == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]
    assert len(responses.calls) == 4
    assert exc.value.status == 502


@responses.activate
def test_backoff_is_capped_and_jittered(client: ApiClient) -> None:
    client.retry = RetryPolicy(
        max_attempts=6, max_wait=1000, backoff_initial=1, backoff_max=4, jitter=0.5
    )
    responses.get(URL, status=500)
    with pytest.raises(RetriableAPIError):
        client.get_json("tickets/1")
    waits = client.waits  # type: ignore[attr-defined]
    for base, wait in zip([1, 2, 4, 4, 4], waits, strict=True):
        assert base <= wait <= base + 0.5


@responses.activate
def test_retry_after_beyond_the_budget_fails_at_once_with_retry_after(client: ApiClient) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RetriableAPIError) as exc:
        client.get_json("tickets/1")
    assert client.waits == []  # type: ignore[attr-defined]
    assert exc.value.retry_after == 3600.0  # the outbox reschedules from this
    assert len(responses.calls) == 1


@responses.activate
def test_total_wait_is_bounded(client: ApiClient) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "25"})
    with pytest.raises(RetriableAPIError):
        client.get_json("tickets/1")
    assert client.waits == [25.0, 25.0]  # a third wait would pass max_wait=60  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error", [requests.ConnectTimeout, requests.ReadTimeout, requests.ConnectionError]
)
@responses.activate
def test_timeouts_and_connection_errors_are_retried(
    client: ApiClient, error: type[Exception]
) -> None:
    responses.get(URL, body=error(f"boom {URL}?token={TOKEN}"))
    responses.get(URL, json={"ok": True})
    assert client.get_json("tickets/1") == {"ok": True}
    assert client.waits == [1.0]  # type: ignore[attr-defined]


@responses.activate
def test_connection_errors_exhausted_become_retriable_without_secrets(client: ApiClient) -> None:
    responses.get(URL, body=requests.ConnectionError(f"cannot reach {URL}?token={TOKEN}"))
    with pytest.raises(RetriableAPIError) as exc:
        client.get_json("tickets/1")
    assert exc.value.status is None
    assert TOKEN not in str(exc.value)


@responses.activate
def test_every_request_has_a_timeout(client: ApiClient) -> None:
    seen = []
    original = client.session.request

    def spy(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    client.session.request = spy  # type: ignore[method-assign]
    responses.get(URL, json={})
    client.get_json("tickets/1")
    assert seen == [(10.0, 30.0)]


@responses.activate
def test_401_fails_fast_naming_connector_and_env_var(client: ApiClient) -> None:
    responses.get(URL, status=401, json={"error": "Couldn't authenticate you"})
    with pytest.raises(AuthenticationError) as exc:
        client.get_json("tickets/1")
    assert len(responses.calls) == 1
    assert client.waits == []  # type: ignore[attr-defined]
    message = str(exc.value)
    assert "'zendesk-eu'" in message and "ZENDESK_TOKEN" in message
    assert "Couldn't authenticate you" in message


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, FatalAPIError),
        (403, AuthenticationError),
        (404, TicketNotFoundError),
        (409, ConflictError),
        (422, InvalidTicketError),
        (418, FatalAPIError),
    ],
)
@responses.activate
def test_client_errors_are_classified_and_not_retried(
    client: ApiClient, status: int, error: type[Exception]
) -> None:
    responses.put(URL, status=status, json={"description": "nope"})
    with pytest.raises(error):
        client.request("PUT", "tickets/1", json={})
    assert len(responses.calls) == 1
    assert client.stats.writes == 1 and client.stats.reads == 0


@responses.activate
def test_resolve_is_the_override_point(client: ApiClient) -> None:
    from slaplug.connectors import Outcome, Resolution

    class Lenient(ApiClient):
        def resolve(self, response: requests.Response) -> Resolution:
            if response.status_code == 400:
                return Resolution(Outcome.SKIP, InvalidTicketError, "skip it")
            return super().resolve(response)

    lenient = Lenient(BASE, connector="x")
    responses.get(URL, status=400)
    with pytest.raises(InvalidTicketError, match="skip it"):
        lenient.get_json("tickets/1")


@responses.activate
def test_secrets_are_scrubbed_from_error_text(client: ApiClient) -> None:
    responses.get(URL, status=422, json={"description": f"field value {TOKEN} is invalid"})
    with pytest.raises(InvalidTicketError) as exc:
        client.get_json("tickets/1")
    assert TOKEN not in str(exc.value)
    assert REDACTED in str(exc.value)


@responses.activate
def test_retry_logs_contain_no_secret(client: ApiClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(
        URL, status=429, headers={"Retry-After": "1"}, json={"error": f"token {TOKEN} throttled"}
    )
    responses.get(URL, json={})
    client.get_json("tickets/1")
    assert "retrying in 1.0s" in caplog.text
    assert TOKEN not in caplog.text


@responses.activate
def test_next_page_urls_on_another_origin_are_refused(client: ApiClient) -> None:
    with pytest.raises(FatalAPIError, match="refusing to send credentials"):
        client.request("GET", "https://evil.example.net/api/tickets?page=2")
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Mon, 02 Mar 2026 12:01:00 GMT", 60.0),
        ("Mon, 02 Mar 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_scrub_masks_registered_secrets_and_auth_headers() -> None:
    add_secret("registered-secret-123")
    text = "x registered-secret-123 Authorization: Basic dXNlcjpwYXNz {'authorization': 'Bearer abc.def.ghi'}"
    cleaned = scrub(text)
    assert "registered-secret-123" not in cleaned
    assert "dXNlcjpwYXNz" not in cleaned and "abc.def.ghi" not in cleaned
    assert scrub("short abc") == "short abc"  # very short values are never treated as secrets


def test_redact_headers_masks_credentials_only() -> None:
    assert redact_headers({"Authorization": "Bearer x", "Accept": "json"}) == {
        "Authorization": REDACTED,
        "Accept": "json",
    }


def test_redacting_filter_scrubs_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.redact")
    log.addFilter(RedactingFilter(extra=["filter-only-secret"]))
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            log.info("calling with %s", "filter-only-secret")
            try:
                raise ValueError("bad filter-only-secret")
            except ValueError:
                log.exception("failed")
    finally:
        log.filters.clear()
    assert "filter-only-secret" not in caplog.text
    assert caplog.text.count(REDACTED) >= 2


# -- before_retry: writes that must not be sent twice ------------------------------------------


@responses.activate
def test_before_retry_is_asked_after_a_5xx_and_its_body_is_sent(client: ApiClient) -> None:
    responses.post(URL, status=502)
    responses.post(URL, json={"ok": True})
    seen: list[LostAnswer] = []

    def check(lost: LostAnswer) -> object:
        seen.append(lost)
        return {"notes": ["b"]}  # "a" turned out to be posted already

    response = client.request("POST", URL, json={"notes": ["a", "b"]}, before_retry=check)
    assert response.json() == {"ok": True}
    assert [(x.method, x.path, x.json, x.error.status, x.attempt) for x in seen] == [
        ("POST", "/api/tickets/1", {"notes": ["a", "b"]}, 502, 1)
    ]
    assert [c.request.body for c in responses.calls] == [
        b'{"notes": ["a", "b"]}',
        b'{"notes": ["b"]}',
    ]
    assert client.waits == [1.0]  # type: ignore[attr-defined]


@responses.activate
def test_before_retry_nothing_to_send_raises_already_sent(client: ApiClient) -> None:
    responses.put(URL, status=500)
    with pytest.raises(AlreadySent) as excinfo:
        client.request("PUT", URL, json={"c": 1}, before_retry=lambda lost: NOTHING_TO_SEND)
    assert excinfo.value.lost.error.status == 500
    assert len(responses.calls) == 1, "nothing is sent again"
    assert TOKEN not in str(excinfo.value)


@responses.activate
def test_before_retry_is_not_asked_after_429_or_408(client: ApiClient) -> None:
    responses.post(URL, status=429, headers={"Retry-After": "2"})
    responses.post(URL, status=408)
    responses.post(URL, json={})
    asked: list[LostAnswer] = []
    client.request("POST", URL, json={"n": 1}, before_retry=asked.append)
    assert asked == []
    assert [c.request.body for c in responses.calls] == [b'{"n": 1}'] * 3


@responses.activate
def test_before_retry_is_asked_after_a_read_timeout_not_after_a_refused_connection(
    client: ApiClient,
) -> None:
    refused = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None,  # type: ignore[arg-type]
            URL,
            urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        )
    )
    responses.post(URL, body=refused)
    responses.post(URL, body=requests.ConnectTimeout("connect timed out"))
    responses.post(URL, body=requests.ReadTimeout("read timed out"))
    responses.post(URL, json={})
    asked: list[LostAnswer] = []

    def check(lost: LostAnswer) -> object:
        asked.append(lost)
        return lost.json

    client.request("POST", URL, json={"n": 1}, before_retry=check)
    assert [(x.error.status, x.attempt) for x in asked] == [(None, 3)]
    assert len(responses.calls) == 4


@responses.activate
def test_before_retry_body_carries_on_through_later_retries(client: ApiClient) -> None:
    responses.post(URL, status=504)
    responses.post(URL, status=429, headers={"Retry-After": "1"})
    responses.post(URL, status=500)
    responses.post(URL, json={})
    asked: list[Any] = []

    def check(lost: LostAnswer) -> object:
        asked.append(lost.json)
        return {"n": len(asked) + 1}

    client.request("POST", URL, json={"n": 1}, before_retry=check)
    assert asked == [{"n": 1}, {"n": 2}]
    bodies = [c.request.body for c in responses.calls]
    assert bodies == [b'{"n": 1}', b'{"n": 2}', b'{"n": 2}', b'{"n": 3}']


@responses.activate
def test_before_retry_errors_reach_the_caller_unretried(client: ApiClient) -> None:
    responses.post(URL, status=500)

    def check(lost: LostAnswer) -> object:
        raise RetriableAPIError("could not re-read the ticket", connector="zendesk-eu")

    with pytest.raises(RetriableAPIError, match="could not re-read"):
        client.request("POST", URL, json={}, before_retry=check)
    assert len(responses.calls) == 1


@responses.activate
def test_without_before_retry_a_5xx_resends_the_same_body(client: ApiClient) -> None:
    responses.put(URL, status=500)
    responses.put(URL, json={})
    client.request("PUT", URL, json={"tags": ["x"]})
    assert [c.request.body for c in responses.calls] == [b'{"tags": ["x"]}'] * 2


@responses.activate
def test_before_retry_is_not_asked_when_retries_run_out(client: ApiClient) -> None:
    responses.post(URL, status=500)
    asked: list[LostAnswer] = []

    def check(lost: LostAnswer) -> object:
        asked.append(lost)
        return lost.json

    with pytest.raises(RetriableAPIError, match="gave up after 4"):
        client.request("POST", URL, json={}, before_retry=check)
    assert [x.attempt for x in asked] == [1, 2, 3]
