"""A first read that spans several pages while tickets are written back (issue 14, item 1).

Measured before the fix (480 tickets, page size 50, no faults): 35 of 125 answered tickets
lost the agent's reply. A ticket written back after an early page of the complete first read
reappears on a later page once the export's one-minute lag (reference §1.1) has passed; the
reader had handed its buffered audits out already, so it came back with an empty history and
``complete_history=True``, and the store replaced the snapshot. A ticket seen twice in one
read must keep every event it had.
"""

from __future__ import annotations

from slaplug_zendesk.fake import FakeZendesk
from zd_support import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind, EventKind
from slaplug.store import Store


def test_a_ticket_written_back_mid_read_keeps_its_history_when_it_comes_again(
    fake: FakeZendesk, make_connector, tmp_path
) -> None:
    connector = make_connector(page_size=20)
    pages = connector.read_changed(None)
    first = next(pages)
    answered = [
        t
        for t in first.tickets
        if any(e.kind is EventKind.AGENT_REPLY for e in t.events) and t.status != "closed"
    ]
    assert len(answered) >= 2, "the generated account has answered tickets on the first page"
    written = {t.id: t.events for t in answered}

    # Written back while the read goes on (as the sync does between pages) ...
    actions = [action(ActionKind.ADD_TAG, {"tag": "sla_warning"}, tid, 1) for tid in written]
    results = connector.apply(actions, fresh={a.key for a in actions})
    assert {r.status for r in results} == {ApplyStatus.APPLIED}
    # ... and the read outlasts the export's one-minute lag: they come again.
    fake.advance(61)

    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.save_snapshots(first.tickets)
        again: dict[str, list] = {}
        for page in pages:
            assert page.complete_history
            store.save_snapshots(page.tickets)  # as the sync saves a complete page: no merge
            for t in page.tickets:
                if t.id in written:
                    again.setdefault(t.id, []).append(t)
        assert set(again) == set(written), "each written ticket reappears in the same read"
        for tid, events in written.items():
            (later,) = again[tid]
            assert "sla_warning" in later.tags
            assert later.events == events, f"ticket {tid} came again without its history"
            stored = store.load_snapshot("zendesk-eu", tid)
            assert stored is not None
            assert any(e.kind is EventKind.AGENT_REPLY for e in stored.events)
