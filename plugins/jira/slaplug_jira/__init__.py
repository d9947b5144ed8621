"""slaplug-jira: the Jira Cloud / Jira Service Management connector, as a slaplug plugin.

Installed as the ``jira`` entry point of the ``slaplug`` group; slaplug finds it like any
third-party plugin. See docs/plugins/jira.md.
"""

from __future__ import annotations

from collections.abc import Callable

from slaplug.connectors import Connector
from slaplug.hookspecs import hookimpl
from slaplug_jira.config import JiraConfig, Normalizer
from slaplug_jira.connector import JiraConnector
from slaplug_jira.cursor import JiraCursor

__all__ = ["JiraConfig", "JiraConnector", "JiraCursor", "Normalizer", "register_connectors"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `JiraConnector` under its name, ``jira``."""
    register(JiraConnector)
