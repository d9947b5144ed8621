"""A faithful fake Zendesk Support API on 127.0.0.1, shipped with the Zendesk connector.

``with FakeZendesk.start() as fake: ...`` in tests, ``slaplug fake zendesk`` from the command
line (registered through the ``register_fakes`` hook). Built on slaplug's one fake-server base,
`slaplug.testing.fakeserver`; documented in docs/testing/fake-zendesk.md.

Modules: ``running`` (`FakeZendesk`), ``command`` (``slaplug fake zendesk``), ``server`` (routes, auth, faults),
``data`` and ``generate`` (the account), ``render`` (the API's JSON), ``exports``
(incremental exports), ``webhooks``, ``admin`` (its ``/_fake/`` routes), ``demo`` (what
``slaplug demo`` runs).
"""

from __future__ import annotations

from slaplug_zendesk.fake.command import fake_zendesk_command, main_fake_zendesk
from slaplug_zendesk.fake.running import FakeZendesk

__all__ = ["FakeZendesk", "fake_zendesk_command", "main_fake_zendesk"]
