"""Shared fixtures for slaplug's own tests."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Plugins loaded through entry points stay out of tests unless a test registers them.
    sys._called_from_test = True  # type: ignore[attr-defined]
    # Crash tests kill a sync and wait for its leases to lapse: a second, not the 1m floor
    # slaplug.yaml requires. Subprocesses inherit it; tests of the floor pass their own env.
    os.environ.setdefault("SLAPLUG_MIN_LEASE", "1s")
    # A shell starts a background job (`make test &`, two suites at once, a CI step run
    # with `&`) with SIGINT ignored, and every process the tests start inherits that: their
    # Ctrl-C then never arrives, and the interrupt tests hang or see the pass finish. A
    # handler (unlike SIG_IGN) is reset to the default by exec, so children get Ctrl-C back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: Modules whose tests start real processes many times over, wait on real time or run
#: property searches: marked ``slow``, left out of ``make test-fast`` (CI runs them all).
SLOW_MODULES = frozenset(
    {
        "test_bench_calendar",
        "test_bench_engine",
        "test_cli_ops",
        "test_cli_outbox",  # a `slaplug outbox` process per test
        "test_cli_status",
        "test_clock_oracle",
        "test_crash",
        "test_credits_cli",  # a `slaplug credits` process per step
        "test_demo",
        # tests/ and each plugin's: a `slaplug doctor` process against a fake per test (about
        # 30 s of the inner loop on two cores)
        "test_doctor",
        "test_failed_actions",  # syncs and outbox commands as real processes, end to end
        "test_fake_jira_contract",  # plugins/jira/tests: the OpenAPI loaded and checked
        "test_gcpause",
        "test_hook_crash",
        "test_jobs",
        "test_jobs_chaos",
        "test_notify_crash",
        "test_reports",
        "test_rules_equivalence",
        "test_running_doc",  # docs/operations/running.md's commands, each a real process
        "test_scaffold",
        "test_tutorial",
        "test_web_browser",
        "test_web_e2e",
        "test_web_fuzz",
        "test_web_slow",
        "test_web_workers",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of `SLOW_MODULES` ``slow``: one list here, not a marker in each file."""
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _no_leftover_log_handler() -> Iterator[None]:
    """A command run in-process (CliRunner) installs slaplug's root log handler, writing to
    standard error at each record; left in place, a later test's background thread printed
    its lines into pytest's own output. Each test starts and ends without it."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "slaplug"]:
        root.removeHandler(handler)
