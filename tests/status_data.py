"""A synced install for the status-view tests: fake Zendesk and fake Jira on 127.0.0.1, a
``slaplug.yaml`` naming them, and a SQLite store filled by one real sync (HTTP to the fakes).

The fakes' clocks start at `NOW` (Wednesday 4 Nov 2026, 15:00 in Berlin, inside the shipped
pack's business hours); three Zendesk tickets come in then (`NEW_TICKETS`: urgent, high,
normal), the sync runs two minutes later, and the views look at the store at `VIEW_AT`, 90
minutes on: the urgent ticket's first response is breached (today), the high one's is at risk,
the normal one runs, and the generated history holds paused, met and cancelled clocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import slaplug_jira
import slaplug_zendesk
import yaml
from slaplug_jira.fake import FakeJira
from slaplug_zendesk.fake import FakeZendesk

from slaplug.config import load_settings
from slaplug.plugins import load_plugins, pm
from slaplug.runtime import open_runtime
from slaplug.sync import Sync

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
SYNC_AT = NOW + timedelta(minutes=2)
VIEW_AT = NOW + timedelta(minutes=90)
#: Subjects of the tickets created at `NOW`, by priority.
NEW_TICKETS = {
    # A terminal escape (clear screen), rich markup and HTML: each must print as inert text.
    "urgent": "\x1b[2JCheckout down [bold red]now[/bold red] <script>alert(1)</script>",
    "high": "Invoices missing",
    "normal": "How do I export?",
}
RULES = REPO / "rules" / "default.yaml"
ZENDESK_TOKEN_ENV = "STATUS_TEST_ZENDESK_TOKEN"
JIRA_TOKEN_ENV = "STATUS_TEST_JIRA_TOKEN"


@dataclass
class Install:
    """A configuration file, its store filled by a sync, and the fakes it read."""

    config: Path
    store_url: str
    zendesk: FakeZendesk
    jira: FakeJira
    env: dict[str, str]
    #: The ids of `NEW_TICKETS` on the fake Zendesk, by priority.
    new_ids: dict[str, str]


@contextmanager
def synced_install(folder: Path) -> Iterator[Install]:
    """Start both fakes, add `NEW_TICKETS`, write the configuration, run one sync."""
    with ExitStack() as stack:
        # In-process, the connector plugins are registered as their entry points would be
        # (slaplug's own tests load no entry points unless told to).
        load_plugins()
        for name, module in (("zendesk", slaplug_zendesk), ("jira", slaplug_jira)):
            if not pm.is_registered(module):
                pm.register(module, name=name)
                stack.callback(pm.unregister, name=name)
        zendesk = stack.enter_context(
            FakeZendesk.start(now=NOW, tickets=120, days=10, job_complete_after=0.05, job_polls=1)
        )
        jira = stack.enter_context(FakeJira.start(now=NOW, issues=60, days=10, bulk_polls=1))
        # The fakes' clocks tick from NOW; starting Jira can take seconds on a loaded machine,
        # and a ticket created at 14:00:01 is 29m59s over at VIEW_AT, which prints "-29m".
        zendesk.clock.set(NOW.timestamp())
        new_ids = {
            priority: str(
                zendesk.simulate("create", subject=subject, priority=priority)["ticket"]["id"]
            )
            for priority, subject in NEW_TICKETS.items()
        }
        # Zendesk's incremental exports lag a minute: let the new tickets show.
        zendesk.advance(120)
        store_url = f"sqlite:///{folder / 'slaplug.db'}"
        config = folder / "slaplug.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": store_url,
                    "rules": [str(RULES)],
                    "engine": "python",
                    # The shipped pack notifies these; the tests drop the messages on purpose.
                    "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                    "connectors": {
                        "zendesk": {
                            "plugin": "zendesk",
                            "base_url": zendesk.base_url,
                            "email": zendesk.email,
                            "api_token_env": ZENDESK_TOKEN_ENV,
                            "fields": {"sla_resolution_status": 360000000103},
                            "job_poll_interval": 0.02,
                        },
                        "jira": {
                            "plugin": "jira",
                            "base_url": jira.base_url,
                            "email": jira.email,
                            "api_token_env": JIRA_TOKEN_ENV,
                            "projects": ["SUP"],
                            "fields": {"sla_resolution_status": "customfield_10050"},
                        },
                    },
                },
                sort_keys=False,
            ),
            encoding="utf-8",
        )
        env = {ZENDESK_TOKEN_ENV: zendesk.api_token, JIRA_TOKEN_ENV: jira.api_token}
        settings = load_settings(config, environ=env)
        with open_runtime(settings) as rt:
            Sync(rt.store, rt.pack, rt.connectors, clock=lambda: SYNC_AT).run_once()
        yield Install(config, store_url, zendesk, jira, env, new_ids)
