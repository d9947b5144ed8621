"""A read + write cycle under 30 % of 429/503 answers ends with the same writes as without."""

from __future__ import annotations

from datetime import UTC, datetime

from slaplug_zendesk.fake import FakeZendesk
from zd_support import NOW

from slaplug.connectors.markers import MarkerKey
from slaplug.rules.pack import RulePack

#: Far enough on that the shipped pack plans tags, fields and notes (see test_end_to_end).
LATER = 4 * 86400
AT = datetime.fromtimestamp(NOW + LATER, UTC)  # fixed, so both runs plan the same actions


def cycle(fake: FakeZendesk, connector) -> tuple[list, list]:
    # The two fakes listen on different ports, and the default key derives from the URL:
    # one install secret for both, as the runtime would set it, so the notes are the same.
    connector.marker_key = MarkerKey(b"one install secret")
    tickets = [t for page in connector.read_changed(None) for t in page.tickets]
    fake.advance(LATER)
    with RulePack.load(["rules/default.yaml"], engine="python") as pack:
        actions = [a for s in pack.assess_many(tickets, now=AT) for a in s.actions]
    results = connector.apply(actions)
    writes = [(w.method, w.path, w.body) for w in fake.writes if w.accepted and not w.faulted]
    return writes, [(r.key, r.status, r.detail) for r in results]


def test_faults_change_nothing_but_the_waits(make_connector) -> None:
    with FakeZendesk.start(now=NOW) as clean:
        expected_writes, expected_results = cycle(clean, make_connector(clean))
    assert expected_writes

    with FakeZendesk.start(now=NOW) as faulty:
        faulty.set_faults(0.3, statuses=(429, 503), retry_after=1, seed=7)
        connector = make_connector(faulty, retry={"max_attempts": 10, "jitter": 0})
        waits: list[float] = []
        connector.http.sleep = waits.append
        writes, results = cycle(faulty, connector)
        injected = faulty.faults_injected

    assert writes == expected_writes
    assert results == expected_results
    assert injected.get(429) and injected.get(503), "both kinds of fault were served"
    # Every fault was answered by exactly one retry, after exactly its Retry-After.
    assert waits == [1.0] * sum(injected.values())
