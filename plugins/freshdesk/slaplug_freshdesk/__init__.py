"""slaplug-freshdesk: a Freshdesk connector built on slaplug's public API only.

Loaded through the ``slaplug`` entry-point group like any third-party plugin
(plugins/freshdesk/README.md).
"""

from __future__ import annotations

from collections.abc import Callable

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug_freshdesk.connector import FreshdeskConfig, FreshdeskConnector

__all__ = ["FreshdeskConfig", "FreshdeskConnector", "register_connectors"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `FreshdeskConnector` under the name ``freshdesk``."""
    register(FreshdeskConnector)
