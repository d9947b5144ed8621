"""`slaplug.logs.setup_logging`: one handler of its own, others left alone."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from slaplug.logs import setup_logging


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger()
    saved = (list(logger.handlers), logger.level)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])


def test_setup_keeps_other_handlers_and_replaces_only_its_own(root: logging.Logger) -> None:
    # pytest's capture handler, or an embedding application's, must survive a command run
    # in-process: removing it broke caplog in every later test.
    other = logging.NullHandler()
    root.addHandler(other)
    setup_logging("info", "text")
    setup_logging("debug", "json")
    assert other in root.handlers
    assert [h.get_name() for h in root.handlers].count("slaplug") == 1


def test_the_default_handler_writes_to_the_current_stderr(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_logging("info", "text")
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)  # as click's test runner swaps it
    logging.getLogger("slaplug.test").info("hello")
    assert "msg=hello" in later.getvalue()


def test_secrets_are_masked_in_the_output_without_altering_the_record(
    root: logging.Logger,
) -> None:
    from slaplug.connectors.redact import REDACTED, add_secret

    add_secret("tok-3f9a-secret-value")
    out = io.StringIO()
    seen: list[str] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    setup_logging("info", "text", stream=out)
    root.addHandler(Spy())  # after ours, as pytest's capture handler may be
    logging.getLogger("plugin").info("token %s", "tok-3f9a-secret-value")
    assert "tok-3f9a-secret-value" not in out.getvalue() and REDACTED in out.getvalue()
    # Another handler still gets the record as logged: a test checking that a connector
    # never logs its token must be able to see the leak.
    assert seen == ["token tok-3f9a-secret-value"]
