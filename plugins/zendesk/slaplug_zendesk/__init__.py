"""slaplug-zendesk: slaplug's Zendesk Support connector, loaded through the ``slaplug``
entry-point group exactly like a third-party plugin (docs/plugins/zendesk.md)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug.hookspecs import DemoConnection, RegisterFake
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
    from slaplug_zendesk.fake.command import main_fake_zendesk  # noqa: PLC0415

    return main_fake_zendesk(argv)


def _demo(now: datetime) -> AbstractContextManager[DemoConnection]:
    """Start the fake Zendesk for ``slaplug demo``, which runs at ``now``."""
    from slaplug_zendesk.fake.demo import demo  # noqa: PLC0415 - as in _run_fake

    return demo(now)


@hookimpl
def register_fakes(register: RegisterFake) -> None:
    """Register the fake Zendesk (`slaplug_zendesk.fake`): ``slaplug fake zendesk``, the demo."""
    register("zendesk", _run_fake, demo=_demo)
