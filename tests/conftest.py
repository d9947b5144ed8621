"""Shared fixtures for slaplug's own tests."""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Plugins loaded through entry points stay out of tests unless a test registers them.
    sys._called_from_test = True  # type: ignore[attr-defined]
