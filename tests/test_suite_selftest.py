"""The conformance suite, run against Tinydesk: a correct connector passes every test, and
each deliberately broken connector fails the test that guards its guarantee."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinydesk import TinyConnector, tiny_scenario

from slaplug.testing import ConnectorSuite

pytest_plugins = ["pytester"]


class TestTinyConnector(ConnectorSuite):
    connector = TinyConnector

    @pytest.fixture
    def scenario(self, monkeypatch):
        yield from tiny_scenario(TinyConnector, monkeypatch)


BROKEN = """
import logging
import pytest
from slaplug.connectors import ApplyResult, ApplyStatus, DEFAULT_RESOLUTIONS, Resolution, Outcome
from slaplug.errors import RetriableAPIError
from slaplug.testing import ConnectorSuite
from tinydesk import TinyConnector, tiny_scenario


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
"""


def test_suite_catches_each_broken_connector(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_broken=BROKEN)
    reprec = pytester.inline_run("-p", "no:cacheprovider")
    failed = {
        r.nodeid.split("::", 1)[1]
        for r in reprec.getreports("pytest_runtest_logreport")
        if r.failed
    }
    assert failed == {
        "TestLeaksToken::test_secrets_never_logged",
        "TestWritesTwice::test_write_back_is_idempotent",
        "TestTrustsAnySignature::test_webhook_rejects_bad_signature",
        "TestRetriesOn401::test_fails_fast_on_401",
    }
