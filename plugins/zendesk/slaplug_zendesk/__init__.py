"""slaplug-zendesk: slaplug's Zendesk Support connector, loaded through the ``slaplug``
entry-point group exactly like a third-party plugin (docs/plugins/zendesk.md)."""

from __future__ import annotations

from collections.abc import Callable

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug.hookspecs import FakeRunner
from slaplug_zendesk.config import ZendeskConfig
from slaplug_zendesk.connector import ZendeskConnector

__all__ = ["ZendeskConfig", "ZendeskConnector", "register_connectors", "register_fakes"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `ZendeskConnector` under the name ``zendesk``."""
    register(ZendeskConnector)


def _run_fake(argv: list[str]) -> int:
    """Serve a fake Zendesk API on 127.0.0.1."""
    # Imported when run, so that listing the fakes stays cheap.
    from slaplug_zendesk.fake import main_fake_zendesk  # noqa: PLC0415

    return main_fake_zendesk(argv)


@hookimpl
def register_fakes(register: Callable[[str, FakeRunner], None]) -> None:
    """Register the fake Zendesk (slaplug.testing) as ``slaplug fake zendesk``."""
    register("zendesk", _run_fake)
