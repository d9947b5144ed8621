"""Fixtures for the Zendesk connector's tests: a fresh fake Zendesk and connectors on it."""

import sys
from pathlib import Path

# The helpers sit beside the tests; conftest loads before pytest puts this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from zd_support import fake, make_connector

__all__ = ["fake", "make_connector"]
