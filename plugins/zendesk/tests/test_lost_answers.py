"""Writes that Zendesk applied but whose answer was lost (5xx after applying): the client's
inline retry must not post a note twice, and every other change must still be applied."""

from __future__ import annotations

import pytest
from slaplug_zendesk import ZendeskConnector
from slaplug_zendesk.fake import FakeZendesk
from zd_support import action, open_ticket_ids

from slaplug.connectors import ApplyStatus
from slaplug.errors import RetriableAPIError
from slaplug.model import Action, ActionKind

APPLIED, ALREADY = ApplyStatus.APPLIED, ApplyStatus.ALREADY


def notes(fake: FakeZendesk, connector: ZendeskConnector, ticket_id: str, key: str) -> int:
    """How many comments on the ticket carry the marker of the action keyed ``key``."""
    tag = connector.writer.marker(key)
    return sum(
        str(e.get("body", "")).count(tag)
        for audit in fake.audits(int(ticket_id))
        for e in audit.get("events") or ()
        if e.get("type") == "Comment"
    )


def escalations(ticket_ids: list[str], noted: int) -> list[Action]:
    """A tag on every ticket, and a note on the first ``noted`` of them."""
    actions = []
    for n, tid in enumerate(ticket_ids):
        actions.append(action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, tid, 1))
        if n < noted:
            actions.append(
                action(ActionKind.COMMENT, {"body": "Breached", "public": False}, tid, 2)
            )
    return actions


def test_a_single_put_whose_answer_is_lost_posts_its_note_once(fake, make_connector) -> None:
    (tid,) = open_ticket_ids(fake, 1)
    connector = make_connector()
    actions = escalations([tid], noted=1)
    fake.set_faults(1.0, statuses=(500,), methods=["PUT"], after_apply=True, times=1)

    results = connector.apply(actions, fresh={a.key for a in actions})

    assert fake.faults_injected == {500: 1}
    puts = [w for w in fake.writes if w.method == "PUT"]
    assert len(puts) == 1 and puts[0].accepted and puts[0].faulted, "not sent a second time"
    assert [r.status for r in results] == [APPLIED, ALREADY]
    assert notes(fake, connector, tid, actions[1].key) == 1
    assert "sla_breached" in fake.ticket(int(tid))["tags"]
    again = connector.apply(actions)
    assert [r.status for r in again] == [ALREADY, ALREADY]
    assert notes(fake, connector, tid, actions[1].key) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_lost_update_many_drops_the_posted_notes_and_resends_the_rest(
    fake, make_connector, status: int
) -> None:
    ids = open_ticket_ids(fake, 5)
    connector = make_connector()
    actions = escalations(ids, noted=3)
    fake.set_faults(1.0, statuses=(status,), path_pattern="update_many", after_apply=True, times=1)

    results = connector.apply(actions, fresh={a.key for a in actions})
    fake.complete_jobs()  # a job still queued would show a duplicate only later

    submitted = [w for w in fake.writes if "update_many" in w.path]
    assert len(submitted) == 2, "the lost submission, then one with what was still missing"
    assert sorted(t["id"] for t in submitted[1].body["tickets"]) == sorted(map(int, ids[3:]))
    by_key = {r.key: r.status for r in results}
    for a in actions:
        posted_before = a.kind is ActionKind.COMMENT
        assert by_key[a.key] is (ALREADY if posted_before else APPLIED), a
    for tid in ids:
        assert "sla_breached" in fake.ticket(int(tid))["tags"]
    for a in actions:
        if a.kind is ActionKind.COMMENT:
            assert notes(fake, connector, a.ticket_id, a.key) == 1
    again = connector.apply(actions)
    assert all(r.status is ALREADY for r in again)


def test_a_lost_update_many_of_notes_only_is_not_resent(fake, make_connector) -> None:
    ids = open_ticket_ids(fake, 3)
    connector = make_connector()
    actions = [
        action(ActionKind.COMMENT, {"body": "Breached", "public": False}, tid, 2) for tid in ids
    ]
    fake.set_faults(1.0, statuses=(502,), path_pattern="update_many", after_apply=True, times=1)

    results = connector.apply(actions, fresh={a.key for a in actions})
    fake.complete_jobs()

    assert len([w for w in fake.writes if "update_many" in w.path]) == 1
    assert [r.status for r in results] == [ALREADY] * 3
    assert [notes(fake, connector, a.ticket_id, a.key) for a in actions] == [1, 1, 1]


def test_a_job_still_pending_after_a_lost_submission_is_not_guessed_at(make_connector) -> None:
    with FakeZendesk.start(job_polls=1000, job_complete_after=3600) as slow:
        ids = open_ticket_ids(slow, 2)
        connector = make_connector(slow, job_timeout=2)
        actions = escalations(ids, noted=2)
        slow.set_faults(1.0, statuses=(502,), path_pattern="update_many", after_apply=True, times=1)

        with pytest.raises(RetriableAPIError, match="still"):
            connector.apply(actions, fresh={a.key for a in actions})
        assert len([w for w in slow.writes if "update_many" in w.path]) == 1, "not resent"

        slow.complete_jobs()  # the lost job runs at last; the outbox's retry then finds it
        results = connector.apply(actions)
        assert all(r.status is ALREADY for r in results)
        assert [
            notes(slow, connector, a.ticket_id, a.key)
            for a in actions
            if a.kind is ActionKind.COMMENT
        ] == [1, 1]


def test_a_lost_answer_without_a_note_is_resent_as_is(fake, make_connector) -> None:
    ids = open_ticket_ids(fake, 3)
    connector = make_connector()
    actions = escalations(ids, noted=0)
    fake.set_faults(1.0, statuses=(502,), path_pattern="update_many", after_apply=True, times=1)

    results = connector.apply(actions, fresh={a.key for a in actions})

    submitted = [w.body for w in fake.writes if "update_many" in w.path]
    assert len(submitted) == 2 and submitted[0] == submitted[1]
    assert [r.status for r in results] == [APPLIED] * 3
