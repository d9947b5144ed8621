"""The fake Jira that ``slaplug demo`` runs, and the connector section that reads it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from slaplug.hookspecs import DemoConnection
from slaplug_jira.fake.generate import FIELD_SLA_STATUS
from slaplug_jira.fake.running import FakeJira

__all__ = ["demo"]

_TOKEN_ENV = "SLAPLUG_DEMO_JIRA_TOKEN"


@contextmanager
def demo(now: datetime) -> Iterator[DemoConnection]:
    """Serve the generated site (project SUP, JSM organizations) until the demo ends."""
    with FakeJira.start(now=now) as fake:
        yield DemoConnection(
            section={
                "plugin": "jira",
                "base_url": fake.base_url,
                "email": fake.email,
                "api_token_env": _TOKEN_ENV,
                "projects": ["SUP"],
                # The generated site's SLA status custom field.
                "fields": {"sla_resolution_status": FIELD_SLA_STATUS},
            },
            environ={_TOKEN_ENV: fake.api_token},
            # JSM's Organizations field chooses the contract (``match: {organization: ...}``),
            # as Zendesk's organization does.
            contracts_heading="Jira tickets, by JSM organization",
        )
