"""slaplug-freshdesk: a Freshdesk connector built on slaplug's public API only.

Loaded through the ``slaplug`` entry-point group like any third-party plugin
(plugins/freshdesk/README.md).
"""

from __future__ import annotations

from collections.abc import Callable

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug.hookspecs import FakeRunner
from slaplug_freshdesk.connector import FreshdeskConfig, FreshdeskConnector

__all__ = ["FreshdeskConfig", "FreshdeskConnector", "register_connectors", "register_fakes"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `FreshdeskConnector` under the name ``freshdesk``."""
    register(FreshdeskConnector)


def _run_fake(argv: list[str]) -> int:
    """Serve a fake Freshdesk API v2 on 127.0.0.1."""
    # Imported when run, so that listing the fakes stays cheap.
    from slaplug_freshdesk.fake.command import main_fake_freshdesk  # noqa: PLC0415

    return main_fake_freshdesk(argv)


@hookimpl
def register_fakes(register: Callable[[str, FakeRunner], None]) -> None:
    """Register the fake Freshdesk (`slaplug_freshdesk.fake`) as ``slaplug fake freshdesk``."""
    register("freshdesk", _run_fake)
