"""The fake Zendesk that ``slaplug demo`` runs, and the connector section that reads it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from slaplug.hookspecs import DemoConnection
from slaplug_zendesk.fake.data import Group
from slaplug_zendesk.fake.generate import FIELD_SLA_STATUS
from slaplug_zendesk.fake.running import FakeZendesk

__all__ = ["demo"]

_TOKEN_ENV = "SLAPLUG_DEMO_ZENDESK_TOKEN"
_ESCALATIONS = 204  # beside the generated first-line (201), second-line and billing groups


@contextmanager
def demo(now: datetime) -> Iterator[DemoConnection]:
    """Serve four weeks of a 300-ticket account, ending three days before ``now``, until the
    demo (which runs at ``now``) ends."""
    # The fake's clock runs three days behind: its open tickets have been waiting since, as
    # if slaplug were connected three days after they came in (the demo backfills a week).
    with FakeZendesk.start(
        now=now - timedelta(days=3),
        tickets=300,
        days=28,
        job_complete_after=0.2,
    ) as fake:
        # The shipped rules assign breached tickets to this group: an account using them has
        # it (`slaplug doctor` checks), so the demo's helpdesk has it too, and no action fails.
        with fake.lock:
            fake.store.groups[_ESCALATIONS] = Group(_ESCALATIONS, "escalations")
        yield DemoConnection(
            section={
                "plugin": "zendesk",
                "base_url": fake.base_url,
                "email": fake.email,
                "api_token_env": _TOKEN_ENV,
                # The generated account's "SLA status" custom field.
                "fields": {"sla_resolution_status": FIELD_SLA_STATUS},
            },
            environ={_TOKEN_ENV: fake.api_token},
        )
