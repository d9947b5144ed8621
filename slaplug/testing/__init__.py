"""Testing tools for connector authors.

* `ConnectorSuite`, `Scenario`, `WebhookSample`, `WebhookSigner`, `FakeControl`
  (`slaplug.testing.suite`): the conformance tests every connector must pass.
* ``slaplug.testing.fakeserver``: the one base of every fake helpdesk server (each
  platform's fake ships with its connector plugin, e.g. ``slaplug_NAME.fake``).
* ``slaplug.testing.pytest_plugin``: fixtures, loaded through the ``pytest11`` entry point.

The suite imports pytest, so its names load lazily: the fakes built on this package stay
usable (``make demo``) where pytest is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slaplug.testing.suite import (
        ConnectorSuite,
        FakeControl,
        Scenario,
        WebhookSample,
        WebhookSigner,
    )

__all__ = ["ConnectorSuite", "FakeControl", "Scenario", "WebhookSample", "WebhookSigner"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from slaplug.testing import suite  # noqa: PLC0415 - lazy on purpose, see above

        return getattr(suite, name)
    raise AttributeError(f"module 'slaplug.testing' has no attribute {name!r}")
