"""A faithful fake Jira Cloud (with Jira Service Management bits) on 127.0.0.1, shipped with
the Jira connector.

``with FakeJira.start() as fake: ...`` in tests, ``slaplug fake jira`` from the command line
(registered through the ``register_fakes`` hook). Built on slaplug's one fake-server base,
`slaplug.testing.fakeserver`; documented in docs/testing/fake-jira.md.

Modules: ``running`` (`FakeJira`), ``command`` (``slaplug fake jira``), ``server`` (routes, auth, faults), ``reads``,
``writes``, ``bulk``, ``jql``, ``history``, ``permissions``, ``render`` (the API's JSON),
``data``, ``generate`` and ``seed`` (the site), ``webhooks``, ``admin`` (its ``/_fake/``
routes), ``demo`` (what ``slaplug demo`` runs).
"""

from __future__ import annotations

from slaplug_jira.fake.command import fake_jira_command, main_fake_jira
from slaplug_jira.fake.running import FakeJira, HistoryEvent, TicketHistory

__all__ = ["FakeJira", "HistoryEvent", "TicketHistory", "fake_jira_command", "main_fake_jira"]
