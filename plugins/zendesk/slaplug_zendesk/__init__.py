"""slaplug-zendesk: slaplug's Zendesk Support connector, loaded through the ``slaplug``
entry-point group exactly like a third-party plugin (docs/plugins/zendesk.md)."""

from __future__ import annotations

from collections.abc import Callable

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug_zendesk.config import ZendeskConfig
from slaplug_zendesk.connector import ZendeskConnector

__all__ = ["ZendeskConfig", "ZendeskConnector", "register_connectors"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `ZendeskConnector` under the name ``zendesk``."""
    register(ZendeskConnector)
