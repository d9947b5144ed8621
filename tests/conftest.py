"""Shared fixtures for slaplug's own tests."""

from __future__ import annotations

import os
import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Plugins loaded through entry points stay out of tests unless a test registers them.
    sys._called_from_test = True  # type: ignore[attr-defined]
    # Crash tests kill a sync and wait for its leases to lapse: a second, not the 1m floor
    # slaplug.yaml requires. Subprocesses inherit it; tests of the floor pass their own env.
    os.environ.setdefault("SLAPLUG_MIN_LEASE", "1s")
