"""Fixtures for the Jira connector's tests."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

# The helpers sit beside the tests; conftest loads before pytest puts this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from jira_support import make_connector
from slaplug_jira import JiraConnector


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Intercept requests; every registered response need not be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def jira() -> Iterator[JiraConnector]:
    """A connector on the canned site."""
    with make_connector() as connector:
        yield connector
