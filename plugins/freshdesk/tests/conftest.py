"""Fixtures for the Freshdesk connector's tests: a fresh fake Freshdesk and a connector on it."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers sit beside the tests; conftest loads before pytest puts this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from slaplug_freshdesk import FreshdeskConfig, FreshdeskConnector
from slaplug_freshdesk.fake import API_KEY, FakeFreshdesk


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    """A fake Freshdesk with five tickets, serving on 127.0.0.1."""
    with FakeFreshdesk() as server:
        yield server


@pytest.fixture
def connector(fake: FakeFreshdesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[FreshdeskConnector]:
    """A connector on ``fake``, two tickets a page so that reads paginate."""
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    config = FreshdeskConfig(
        base_url=fake.base_url,
        api_key_env="FRESHDESK_API_KEY",
        page_size=2,
        retry={"jitter": 0, "backoff_initial": 0.5},
    )
    with FreshdeskConnector(config, instance="freshdesk-eu") as conn:
        yield conn
