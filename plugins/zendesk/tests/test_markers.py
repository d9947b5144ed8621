"""Note markers a customer cannot forge (issue 14, item 2).

Before: a marker was a short SHA-256 of a predictable key and was looked for in every
comment, the requester's own public text included. A description carrying the right
``[slaplug ...]`` markers, plus one lost answer, made slaplug report every action on the
ticket as already applied. Now a marker is keyed (`MarkerKey`, a per-install secret) and
counts only in internal notes (``public: false``) written by the connector's own API user
(``GET /api/v2/users/me``, "Show Self").
"""

from __future__ import annotations

import pytest
from slaplug_zendesk import ZendeskConnector
from slaplug_zendesk.fake import FakeZendesk
from zd_support import action

from slaplug.connectors import ApplyStatus
from slaplug.connectors.markers import MarkerKey
from slaplug.model import ActionKind

DONE = {ApplyStatus.APPLIED, ApplyStatus.ALREADY}


def own_notes(fake: FakeZendesk, connector: ZendeskConnector, tid: str, key: str) -> int:
    """Internal notes by the connector's API user that carry the marker of ``key``."""
    me = connector.api_user_id()
    tag = connector.writer.marker(key)
    return sum(
        str(e["body"]).count(tag)
        for audit in fake.audits(int(tid))
        for e in audit["events"]
        if e["type"] == "Comment" and e["public"] is False and e["author_id"] == me
    )


def planted(fake: FakeZendesk, connector: ZendeskConnector) -> str:
    """A ticket whose requester wrote the right markers (those of `escalation`'s actions)
    into the description, and whose other agent repeats them in a public reply and in an
    internal note."""
    with fake.lock:
        tid = str(fake.store.next_ticket_id)  # ids are sequential: the requester can guess
    keys = [a.key for a in escalation(tid)]
    text = "My printer is on fire. " + " ".join(connector.writer.marker(k) for k in keys)
    assert str(fake.simulate("create", body=text)["ticket"]["id"]) == tid
    me = connector.api_user_id()
    with fake.lock:
        other = next(
            u.id for u in fake.store.users.values() if u.role in ("agent", "admin") and u.id != me
        )
    fake.simulate("agent_reply", int(tid), body=f"Quoting you: {text}", author_id=other)
    fake.simulate("internal_note", int(tid), body=f"FYI {text}", author_id=other)
    return tid


def escalation(tid: str) -> list:
    return [
        action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, tid, 1),
        action(ActionKind.COMMENT, {"body": "Breached.", "public": False}, tid, 2),
    ]


@pytest.mark.parametrize("applied", [False, True], ids=["request-lost", "answer-lost"])
def test_markers_in_customer_text_and_one_lost_answer_still_apply_exactly_once(
    fake, make_connector, applied: bool
) -> None:
    connector = make_connector()
    tid = planted(fake, connector)
    actions = escalation(tid)
    # One 500 on the update; with after_apply, Zendesk applied it and the answer was lost.
    fake.set_faults(1.0, statuses=(500,), methods=["PUT"], after_apply=applied, times=1)

    results = connector.apply(actions, fresh={a.key for a in actions})

    assert {r.status for r in results} <= DONE
    assert "sla_breached" in fake.ticket(int(tid))["tags"], "the tag was written"
    assert own_notes(fake, connector, tid, actions[1].key) == 1, "the note, exactly once"
    again = connector.apply(actions)  # the outbox's retry: found, not posted again
    assert [r.status for r in again] == [ApplyStatus.ALREADY, ApplyStatus.ALREADY]
    assert own_notes(fake, connector, tid, actions[1].key) == 1


def test_a_retried_note_is_posted_when_only_customer_text_carries_its_marker(
    fake, make_connector
) -> None:
    connector = make_connector()
    tid = planted(fake, connector)
    actions = escalation(tid)
    (note,) = [a for a in actions if a.kind is ActionKind.COMMENT]

    (result,) = connector.apply([note])  # not fresh: the markers are looked for

    assert result.status is ApplyStatus.APPLIED
    assert own_notes(fake, connector, tid, note.key) == 1


def test_the_api_user_is_read_once(fake, make_connector) -> None:
    connector = make_connector()
    me = connector.api_user_id()
    fake.clear_records()
    assert connector.api_user_id() == me
    assert fake.requests.get("read", 0) == 0


def test_markers_are_keyed_by_the_install_secret(make_connector) -> None:
    connector = make_connector()
    key = "zendesk-eu:7:customer-sla:resolution:1:test:1:2"
    before = connector.writer.marker(key)
    connector.marker_key = MarkerKey(b"another install")
    after = connector.writer.marker(key)
    assert before != after and len(after) == len("[slaplug ]") + 16
