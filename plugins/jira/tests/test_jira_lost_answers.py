"""Comment POSTs (and transitions) that the fake Jira applied but whose answer was lost:
the client's inline retry re-reads the issue first, so nothing is written twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from jira_support import action
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira
from slaplug_jira.write import comment_marker

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup() -> Iterator[tuple[FakeJira, JiraConnector, list[str]]]:
    with FakeJira.start(now=NOW, issues=30) as fake:
        user, token = fake.auth
        config = JiraConfig.load(
            {
                "base_url": fake.base_url,
                "email": user,
                "api_token_env": "FAKE_JIRA_TOKEN",
                "retry": {"jitter": 0, "backoff_initial": 0.5},
                "bulk_edit_min_issues": 0,
            },
            connector="jira",
            environ={"FAKE_JIRA_TOKEN": token},
        )
        assert isinstance(config, JiraConfig)
        with JiraConnector(config) as connector:
            connector.http.sleep = lambda seconds: None
            tickets = [t for p in connector.read_changed(None) for t in p.tickets]
            keys = [t.id for t in tickets if t.status not in ("solved", "closed")][:2]
            fake.clear_records()
            yield fake, connector, keys


def count(fake: FakeJira, key: str, text: str) -> int:
    return json.dumps(fake.issue(key)["fields"]["comment"]).count(text)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_comment_whose_answer_is_lost_is_posted_once(setup, status: int) -> None:
    fake, connector, (first, second) = setup
    actions = [
        action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, first, 1),
        action(ActionKind.COMMENT, {"body": "Breached", "public": False}, first, 2),
        action(ActionKind.COMMENT, {"body": "Breached too", "public": False}, second, 3),
    ]
    fake.set_faults(
        1.0,
        statuses=(status,),
        methods=["POST"],
        path_pattern="/comment$",
        after_apply=True,
        times=1,
    )

    results = connector.apply(actions)

    assert fake.faults_injected == {status: 1}
    assert [r.status for r in results] == [
        ApplyStatus.APPLIED,
        ApplyStatus.ALREADY,  # posted by the attempt whose answer was lost
        ApplyStatus.APPLIED,
    ]
    assert count(fake, first, comment_marker(connector.marker_key, actions[1].key)) == 1
    assert count(fake, second, comment_marker(connector.marker_key, actions[2].key)) == 1
    assert "sla_breached" in fake.issue(first)["fields"]["labels"]
    comment_posts = [w for w in fake.writes if w.path.endswith("/comment")]
    assert len(comment_posts) == 2 and all(w.accepted for w in comment_posts)
    again = connector.apply(actions)
    assert all(r.status is ApplyStatus.ALREADY for r in again)


def test_a_comment_lost_before_jira_applied_it_is_resent(setup) -> None:
    fake, connector, (first, _) = setup
    actions = [action(ActionKind.COMMENT, {"body": "Breached", "public": False}, first, 2)]
    fake.set_faults(1.0, statuses=(503,), methods=["POST"], path_pattern="/comment$", times=1)

    results = connector.apply(actions)

    assert [r.status for r in results] == [ApplyStatus.APPLIED]
    assert count(fake, first, comment_marker(connector.marker_key, actions[0].key)) == 1


def test_a_transition_whose_answer_is_lost_is_not_tried_again(setup) -> None:
    fake, connector, (first, _) = setup
    actions = [action(ActionKind.SET_STATUS, {"status": "solved"}, first, 4)]
    fake.set_faults(
        1.0,
        statuses=(502,),
        methods=["POST"],
        path_pattern="/transitions$",
        after_apply=True,
        times=1,
    )

    results = connector.apply(actions)

    assert [r.status for r in results] == [ApplyStatus.APPLIED], results
    assert len([w for w in fake.writes if w.path.endswith("/transitions")]) == 1
