"""A small, faithful fake of the Freshdesk API v2, shipped with the Freshdesk connector.

``with FakeFreshdesk() as fake: ...`` in tests, ``slaplug fake freshdesk`` from the command
line (registered through the ``register_fakes`` hook). Built on slaplug's one fake-server
base (`slaplug.testing.fakeserver.FakeHelpdesk`); the source of each shape it serves is in
``server`` and in docs/plugins/freshdesk.md.
"""

from __future__ import annotations

from slaplug_freshdesk.fake.command import fake_freshdesk_command, main_fake_freshdesk
from slaplug_freshdesk.fake.server import (
    AGENT_ID,
    API_KEY,
    CUSTOM_FIELD_TYPES,
    CUSTOM_FIELDS,
    GROUPS,
    OTHER_AGENT_ID,
    FakeFreshdesk,
)

__all__ = [
    "AGENT_ID",
    "API_KEY",
    "CUSTOM_FIELDS",
    "CUSTOM_FIELD_TYPES",
    "GROUPS",
    "OTHER_AGENT_ID",
    "FakeFreshdesk",
    "fake_freshdesk_command",
    "main_fake_freshdesk",
]
