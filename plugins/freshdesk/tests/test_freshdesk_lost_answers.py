"""Notes that the fake Freshdesk posted but whose answer was lost (5xx after applying): the
client's inline retry re-reads the conversations first, so each note is posted once."""

from __future__ import annotations

import pytest
from slaplug_freshdesk.fake import AGENT_ID
from slaplug_freshdesk.write import marker
from test_freshdesk_conformance import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind


def posted(fake, connector, ticket: int, key: str) -> int:
    """Notes on ``ticket`` the API's agent wrote with the marker of ``key``."""
    tag = marker(connector.marker_key, key)
    return sum(
        tag in c["body"] and c["user_id"] == AGENT_ID and c["private"]
        for c in fake.conversations[ticket]
    )


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_note_whose_answer_is_lost_is_posted_once(fake, connector, status: int) -> None:
    connector.http.sleep = lambda seconds: None
    actions = [
        action(ActionKind.COMMENT, {"body": "SLA breached", "public": False}, "2"),
        action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, "3"),
    ]
    fake.inject(status, after_apply=True)  # the first write: the note's POST

    results = connector.apply(actions, fresh={a.key for a in actions})

    assert [r.status for r in results] == [ApplyStatus.ALREADY, ApplyStatus.APPLIED]
    assert posted(fake, connector, 2, actions[0].key) == 1
    assert "sla_breached" in fake.tickets[3]["tags"]
    writes = fake.write_count
    again = connector.apply(actions)
    assert [r.status for r in again] == [ApplyStatus.ALREADY] * 2
    assert fake.write_count == writes


def test_a_note_refused_with_429_is_resent_without_a_check(fake, connector) -> None:
    connector.http.sleep = lambda seconds: None
    actions = [action(ActionKind.COMMENT, {"body": "SLA breached", "public": False}, "2")]
    fake.inject(429, headers={"Retry-After": "1"}, times=1)
    results = connector.apply(actions, fresh={a.key for a in actions})
    assert [r.status for r in results] == [ApplyStatus.APPLIED]
    assert posted(fake, connector, 2, actions[0].key) == 1
    assert not any(r.path.endswith("/conversations") for r in fake.received)
