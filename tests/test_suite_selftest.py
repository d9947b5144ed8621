"""The conformance suite, run against Tinydesk: a correct connector passes every test, and
each deliberately broken connector fails the test that guards its guarantee."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinydesk import TimedTinyConnector, TinyConnector, tiny_scenario

from slaplug.testing import ConnectorSuite

pytest_plugins = ["pytester"]


class TestTinyConnector(ConnectorSuite):
    connector = TinyConnector

    @pytest.fixture
    def scenario(self, monkeypatch):
        yield from tiny_scenario(TinyConnector, monkeypatch)


class TestTimedTinyConnector(ConnectorSuite):
    """Webhooks signed over a timestamp: the stale and replay tests run too."""

    connector = TimedTinyConnector

    @pytest.fixture
    def scenario(self, monkeypatch):
        yield from tiny_scenario(TimedTinyConnector, monkeypatch)


BROKEN = """
import logging
import uuid
import pytest
from slaplug.connectors import (
    ApplyResult, ApplyStatus, CursorPaginator, DEFAULT_RESOLUTIONS, Outcome, Resolution,
    TicketPage, paginate, sign, verify_signature,
)
from slaplug.errors import RetriableAPIError, WebhookError
from slaplug.model import ActionKind
from slaplug.testing import ConnectorSuite
from tinydesk import NOW, TimedTinyConnector, TinyConnector, tiny_scenario, WEBHOOK_SECRET


class LeaksToken(TinyConnector):
    def read_ticket(self, ticket_id):
        token = self.config.secret("api_token").get_secret_value()
        logging.getLogger("leaky").debug("reading %s with token %s", ticket_id, token)
        return super().read_ticket(ticket_id)


class WritesTwice(TinyConnector):
    def apply(self, actions):
        for a in actions:
            self.http.request("POST", f"tickets/{a.ticket_id}/tags", json={"tag": "x"})
        return [ApplyResult(a.key, ApplyStatus.APPLIED) for a in actions]


class TrustsAnySignature(TinyConnector):
    def verify_webhook(self, headers, body):
        pass


class SkipsEveryOtherPage(TinyConnector):
    # QA pass 2, #5: fetch asks for the page after the one it was sent to.
    def read_changed(self, cursor):
        def fetch(token):
            skip = str(int(token) + 2) if token else None
            return self.http.get_json("tickets", params={"cursor": skip} if skip else None)

        for page in paginate(fetch, CursorPaginator("next_cursor"), cursor):
            tickets = [self._ticket(raw) for raw in page.data["tickets"]]
            yield TicketPage(tickets, page.data.get("resume"))


class ResumesFromTheStart(TinyConnector):
    # QA pass 2, #5: the resume cursor is the oldest change, not the newest.
    def read_changed(self, cursor):
        for page in super().read_changed(cursor):
            yield TicketPage(page.tickets, cursor or "0")


class CursorPastTheEnd(TinyConnector):
    # Every page's cursor is the end of the list: a crash after page 1 loses the rest.
    def read_changed(self, cursor):
        for page in super().read_changed(cursor):
            yield TicketPage(page.tickets, "5")


class ForgetsNoteKey(TinyConnector):
    # QA pass 2, #7: the comment check removed, so a retry posts the note again.
    def _apply_one(self, action):
        if action.kind is ActionKind.COMMENT:
            body = {"body": action.params["body"], "key": action.key}
            self.http.request("POST", f"tickets/{action.ticket_id}/comments", json=body)
            return ApplyResult(action.key, ApplyStatus.APPLIED)
        return super()._apply_one(action)


class WritesButSaysAlready(TinyConnector):
    # Looks, finds its write, says ALREADY, and writes anyway.
    def _apply_one(self, action):
        result = super()._apply_one(action)
        if result.status is ApplyStatus.ALREADY:
            self.http.request("POST", f"tickets/{action.ticket_id}/tags", json={"tag": "x"})
        return result


class SkipsMissingSignature(TinyConnector):
    # QA pass 2, #6: verification skipped when the signature header is missing.
    def verify_webhook(self, headers, body):
        if "X-Tiny-Signature" in headers:
            super().verify_webhook(headers, body)


class AcceptsAnySecret(TinyConnector):
    # Only checks the signature's shape.
    def verify_webhook(self, headers, body):
        if not headers.get("X-Tiny-Signature", "").startswith("sha256="):
            raise WebhookError("no signature", status=401)
        if body != self._signed_body:
            raise WebhookError("body changed", status=401)

    _signed_body = b'{"id": "d-1", "ticket_id": "3", "type": "ticket.updated"}'


class MakesUpDeliveryIds(TinyConnector):
    def parse_webhook(self, headers, body):
        event = super().parse_webhook(headers, body)
        return type(event)(str(uuid.uuid4()), event.ticket_id, event.kind, event.received_at)


class NoFreshnessCheck(TimedTinyConnector):
    tolerance = float("inf")


class UnsignedTimestamp(TimedTinyConnector):
    # The timestamp is checked for freshness but the signature covers the body only.
    @staticmethod
    def sign_delivery(body, *, secret=None, age=0.0):
        stamp = str(int(NOW.timestamp() - age))
        signature = sign(secret or WEBHOOK_SECRET, body, encoding="hex")
        return {"X-Tiny-Signature": f"sha256={signature}", "X-Tiny-Timestamp": stamp}

    def verify_webhook(self, headers, body):
        stamp = headers.get("X-Tiny-Timestamp") or "0"
        if abs(NOW.timestamp() - int(stamp)) > self.tolerance:
            raise WebhookError("stale", status=401)
        verify_signature(
            headers.get("X-Tiny-Signature"), body, self.config.secrets("webhook_secret"),
            encoding="hex", prefix="sha256=",
        )


class RetriesOn401(TinyConnector):
    resolutions = {
        **DEFAULT_RESOLUTIONS,
        401: Resolution(Outcome.RETRY, RetriableAPIError, "retry"),
    }


def _suite(cls):
    class Suite(ConnectorSuite):
        connector = cls

        @pytest.fixture
        def scenario(self, monkeypatch):
            yield from tiny_scenario(cls, monkeypatch)

    Suite.__name__ = Suite.__qualname__ = f"Test{cls.__name__}"
    return Suite


TestLeaksToken = _suite(LeaksToken)
TestWritesTwice = _suite(WritesTwice)
TestTrustsAnySignature = _suite(TrustsAnySignature)
TestRetriesOn401 = _suite(RetriesOn401)
TestSkipsEveryOtherPage = _suite(SkipsEveryOtherPage)
TestResumesFromTheStart = _suite(ResumesFromTheStart)
TestCursorPastTheEnd = _suite(CursorPastTheEnd)
TestForgetsNoteKey = _suite(ForgetsNoteKey)
TestWritesButSaysAlready = _suite(WritesButSaysAlready)
TestSkipsMissingSignature = _suite(SkipsMissingSignature)
TestAcceptsAnySecret = _suite(AcceptsAnySecret)
TestMakesUpDeliveryIds = _suite(MakesUpDeliveryIds)
TestNoFreshnessCheck = _suite(NoFreshnessCheck)
TestUnsignedTimestamp = _suite(UnsignedTimestamp)
"""


def test_suite_catches_each_broken_connector(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_broken=BROKEN)
    reprec = pytester.inline_run("-p", "no:cacheprovider")
    failed = {
        r.nodeid.split("::", 1)[1]: r.longreprtext
        for r in reprec.getreports("pytest_runtest_logreport")
        if r.failed
    }
    ids = "tiny:2:p:first_response:1:warn:1:comment"
    expected = {
        "TestLeaksToken::test_secrets_never_logged": "a secret reached the logs",
        "TestWritesTwice::test_write_back_is_idempotent": (
            "second apply wrote again (2 write(s)): tiny:1:p:first_response:1:warn:1:add_tag "
            "was APPLIED, expected ALREADY (check that apply looks for its earlier write"
        ),
        "TestTrustsAnySignature::test_webhook_rejects_bad_signature": (
            "verify_webhook accepted a delivery whose body was changed"
        ),
        "TestTrustsAnySignature::test_webhook_rejects_missing_signature": (
            "verify_webhook accepted a delivery with no signature (no X-Tiny-Signature header)"
        ),
        "TestTrustsAnySignature::test_webhook_rejects_wrong_secret": (
            "verify_webhook accepted a delivery signed with a wrong secret"
        ),
        "TestRetriesOn401::test_fails_fast_on_401": "a 401 must not be retried",
        "TestSkipsEveryOtherPage::test_pagination_terminates": (
            "read 2 page(s); the scenario promises 3"
        ),
        "TestSkipsEveryOtherPage::test_pagination_reads_every_ticket": (
            "read 3 of 5 tickets over 2 page(s); missing 3, 4: pages skipped, or a page's "
            "tickets dropped?"
        ),
        "TestResumesFromTheStart::test_pagination_terminates": (
            "resuming from the last page's cursor '0' read 5 tickets, as many as the whole "
            "first read (5): the last page's cursor must mark where the read ended"
        ),
        "TestCursorPastTheEnd::test_pagination_resumes_from_each_page": (
            "resuming from page 1's cursor '5' missed 3, 4, 5, which the first read had on pages "
            "2-3"
        ),
        "TestForgetsNoteKey::test_write_back_is_idempotent": (
            f"second apply wrote again (1 write(s)): {ids} was APPLIED, expected ALREADY"
        ),
        "TestWritesButSaysAlready::test_write_back_is_idempotent": (
            "applying twice must not write twice: the second apply reported every action "
            "ALREADY but the fake accepted 2 more write(s)"
        ),
        "TestSkipsMissingSignature::test_webhook_rejects_missing_signature": (
            "verify_webhook accepted a delivery with no signature (no X-Tiny-Signature header)"
        ),
        "TestAcceptsAnySecret::test_webhook_rejects_wrong_secret": (
            "verify_webhook accepted a delivery signed with a wrong secret"
        ),
        "TestMakesUpDeliveryIds::test_webhook_accepts_valid_signature": (
            "the same delivery parsed twice gave delivery ids"
        ),
        "TestNoFreshnessCheck::test_webhook_rejects_stale_timestamp": (
            "verify_webhook accepted a delivery signed 24 hours ago"
        ),
        "TestUnsignedTimestamp::test_webhook_rejects_replay_with_new_timestamp": (
            "verify_webhook accepted a delivery replayed with a new X-Tiny-Timestamp under its "
            "old signature: the signature must cover the timestamp"
        ),
    }
    assert set(failed) == set(expected)
    for test, message in expected.items():
        assert message in failed[test], failed[test]
        assert "DID NOT RAISE" not in failed[test]
