"""slaplug's pytest plugin, for plugin authors' test suites.

Registered through the ``pytest11`` entry point, so installing slaplug makes these
fixtures available everywhere:

* ``slaplug_register``: register a plugin object for one test, unregistered afterwards.
* ``slaplug_waits``: a list to install as ``connector.http.sleep``; records waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from slaplug.plugins import pm

__all__ = ["slaplug_register", "slaplug_waits"]


@pytest.fixture
def slaplug_register() -> Iterator[Callable[..., str]]:
    """Register plugins with slaplug's plugin manager for one test.

    Yields:
        ``register(plugin, name=None) -> name``; every plugin registered through it is
        unregistered when the test ends.
    """
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        registered = pm.register(plugin, name=name)
        assert registered is not None, f"plugin {name!r} is blocked"
        names.append(registered)
        return registered

    yield register
    for name in reversed(names):
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)


@pytest.fixture
def slaplug_waits() -> list[float]:
    """An empty list; ``connector.http.sleep = slaplug_waits.append`` records waits."""
    return []
