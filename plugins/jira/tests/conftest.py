"""Fixtures for the Jira connector's tests."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

# The helpers sit beside the tests; conftest loads before pytest puts this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from jira_support import API, FIELDS, make_connector, myself
from slaplug_jira import JiraConnector


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Intercept requests; every registered response need not be used.

    ``GET /myself`` answers as the connector's API user (`AGENT`, in UTC) and
    ``GET /field`` with `FIELDS`; a test that needs another answer replaces it
    (``rsps.replace``).
    """
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/myself", json=myself())
        mock.get(f"{API}/field", json=FIELDS)
        yield mock


@pytest.fixture
def jira() -> Iterator[JiraConnector]:
    """A connector on the canned site."""
    with make_connector() as connector:
        yield connector
