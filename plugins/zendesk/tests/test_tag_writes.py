"""Tags written in each endpoint's documented form only (issue 13, item 2).

``additional_tags`` / ``remove_tags`` are documented for Update Many; on Update Ticket,
``tags`` replaces the list (reference §1.1, §2.1; developer.zendesk.com guide "Adding tags
to tickets without overwriting existing tags"). Zendesk ignores keys it does not know, and
so does the fake: a tag sent in an undocumented form is lost, and these tests see it.
"""

from __future__ import annotations

from slaplug_zendesk.fake import FakeZendesk
from zd_support import action, open_ticket_ids

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind


def _tagged(fake: FakeZendesk, min_tags: int = 1) -> str:
    """A ticket that accepts updates and has at least ``min_tags`` tags."""
    with fake.lock:
        return str(
            min(
                t.id
                for t in fake.store.tickets.values()
                if t.status in ("open", "pending") and len(t.tags) >= min_tags
            )
        )


def test_one_ticket_add_and_remove_tag_keep_the_other_tags(fake, make_connector) -> None:
    tid = _tagged(fake, 2)
    before = fake.ticket(int(tid))["tags"]
    connector = make_connector()
    actions = [
        action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, tid, 1),
        action(ActionKind.REMOVE_TAG, {"tag": before[0]}, tid, 2),
        action(ActionKind.COMMENT, {"body": "Breached.", "public": False}, tid, 3),
    ]
    results = connector.apply(actions)
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 3
    (put,) = [w for w in fake.writes if w.method == "PUT"]
    assert put.path.endswith(f"/tickets/{tid}.json")
    assert not {"additional_tags", "remove_tags"} & set(put.body["ticket"])
    assert fake.ticket(int(tid))["tags"] == [*before[1:], "sla_breached"]
    assert connector.apply(actions)[0].status is ApplyStatus.ALREADY


def test_a_tag_changed_meanwhile_is_a_conflict_not_a_clobbered_list(fake, make_connector) -> None:
    tid = _tagged(fake)
    connector = make_connector()
    connector.read_ticket(tid)  # the connector's view of the ticket, and its updated_at

    real_current = connector.writer._current

    def stale_read(ids):  # someone tags the ticket right after the writer read it
        found = real_current(ids)
        fake.advance(2)
        fake.simulate("update", int(tid), ticket={"tags": [*found[int(tid)]["tags"], "theirs"]})
        return found

    connector.writer._current = stale_read
    (result,) = connector.apply([action(ActionKind.ADD_TAG, {"tag": "mine"}, tid, 1)])
    assert result.status is ApplyStatus.CONFLICT
    assert "theirs" in fake.ticket(int(tid))["tags"], "their tag is not overwritten"

    connector.writer._current = real_current  # the retry reads again and keeps both
    (again,) = connector.apply([action(ActionKind.ADD_TAG, {"tag": "mine"}, tid, 1)])
    assert again.status is ApplyStatus.APPLIED
    assert {"theirs", "mine"} <= set(fake.ticket(int(tid))["tags"])


def test_several_tickets_go_through_update_many_with_additional_tags(fake, make_connector) -> None:
    ids = open_ticket_ids(fake, 3)
    before = {tid: fake.ticket(int(tid))["tags"] for tid in ids}
    connector = make_connector()
    actions = [action(ActionKind.ADD_TAG, {"tag": "sla_warning"}, tid, 1) for tid in ids]
    assert {r.status for r in connector.apply(actions)} == {ApplyStatus.APPLIED}
    (put,) = [w for w in fake.writes if w.method == "PUT"]
    assert put.path.endswith("/tickets/update_many.json")
    assert all(t["additional_tags"] == ["sla_warning"] for t in put.body["tickets"])
    for tid in ids:
        assert fake.ticket(int(tid))["tags"] == [*before[tid], "sla_warning"]
