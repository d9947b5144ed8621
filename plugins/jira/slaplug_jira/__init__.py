"""slaplug-jira: the Jira Cloud / Jira Service Management connector, as a slaplug plugin.

Installed as the ``jira`` entry point of the ``slaplug`` group; slaplug finds it like any
third-party plugin. See docs/plugins/jira.md.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from slaplug.connectors import Connector
from slaplug.hookspecs import DemoConnection, RegisterFake, hookimpl
from slaplug_jira.config import JiraConfig, Normalizer
from slaplug_jira.connector import JiraConnector
from slaplug_jira.cursor import JiraCursor

__all__ = [
    "JiraConfig",
    "JiraConnector",
    "JiraCursor",
    "Normalizer",
    "register_connectors",
    "register_fakes",
]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `JiraConnector` under its name, ``jira``."""
    register(JiraConnector)


def _run_fake(argv: list[str]) -> int:
    """Serve a fake Jira Cloud API on 127.0.0.1."""
    # Imported when run, so that listing the fakes stays cheap.
    from slaplug_jira.fake.command import main_fake_jira  # noqa: PLC0415

    return main_fake_jira(argv)


def _demo(now: datetime) -> AbstractContextManager[DemoConnection]:
    """Start the fake Jira for ``slaplug demo``, which runs at ``now``."""
    from slaplug_jira.fake.demo import demo  # noqa: PLC0415 - as in _run_fake

    return demo(now)


@hookimpl
def register_fakes(register: RegisterFake) -> None:
    """Register the fake Jira Cloud (`slaplug_jira.fake`): ``slaplug fake jira``, the demo."""
    register("jira", _run_fake, demo=_demo)
