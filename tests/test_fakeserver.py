"""slaplug.testing.fakeserver: the one base of every fake, and its fault queue (``inject``).

Real HTTP against `FakeHelpdesk` (the suite's Tinydesk) and the fake Zendesk, which share
the queue; the conformance suite drives it through `FakeControl`.
"""

from __future__ import annotations

import pytest
import requests
from slaplug_zendesk.fake import FakeZendesk
from tinydesk import TOKEN, TinyFake

from slaplug.testing import FakeControl

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_every_fake_is_the_suites_fake_control_itself() -> None:
    with TinyFake() as tiny, FakeZendesk.start(tickets=3, days=2) as zendesk:
        assert isinstance(tiny, FakeControl)
        assert isinstance(zendesk, FakeControl)


def test_injected_faults_come_first_then_the_request_is_served() -> None:
    with TinyFake() as fake:
        fake.inject(429, headers={"Retry-After": "7"}, body={"error": "slow down"}, times=2)
        answers = [
            requests.get(f"{fake.base_url}/tickets/1", headers=AUTH, timeout=5) for _ in "abc"
        ]
        assert [a.status_code for a in answers] == [429, 429, 200]
        assert answers[1].headers["Retry-After"] == "7" and answers[1].json() == {
            "error": "slow down"
        }
        assert fake.request_count == 3 and fake.faults_injected == {429: 2}
        requests.get(f"{fake.base_url}/_fake/requests", timeout=5)
        assert fake.request_count == 3  # admin requests are not API requests


def test_a_lost_answer_waits_for_a_write_and_applies_it() -> None:
    with TinyFake() as fake:
        fake.inject(502, after_apply=True)
        read = requests.get(f"{fake.base_url}/tickets/1", headers=AUTH, timeout=5)
        assert read.status_code == 200  # reads pass: the lost answer is for the next write
        write = requests.post(
            f"{fake.base_url}/tickets/1/tags", json={"tag": "vip"}, headers=AUTH, timeout=5
        )
        assert write.status_code == 502
        assert fake.tickets["1"]["tags"] == ["vip"]  # applied all the same
        assert fake.write_count == 1
        assert [(w.status, w.accepted, w.faulted) for w in fake.writes] == [(502, True, True)]


def test_a_lost_answer_must_be_a_5xx() -> None:
    with TinyFake() as fake, pytest.raises(ValueError, match="5xx"):
        fake.inject(429, after_apply=True)


def test_reset_faults_empties_the_queue() -> None:
    with TinyFake() as fake:
        fake.inject(503, times=5)
        fake.reset_faults()
        assert requests.get(f"{fake.base_url}/tickets/1", headers=AUTH, timeout=5).ok


def test_the_fake_zendesk_answers_a_queued_fault_in_its_own_envelope() -> None:
    with FakeZendesk.start(tickets=3, days=2) as fake:
        fake.inject(401)
        r = requests.get(f"{fake.base_url}/api/v2/users/me.json", auth=fake.auth, timeout=5)
        assert r.status_code == 401
        assert r.json()["error"] == "Couldn't authenticate you"
        assert "X-Rate-Limit" in r.headers  # the fake's own headers, as on its other answers
        assert fake.requests["fault"] == 1
        again = requests.get(f"{fake.base_url}/api/v2/users/me.json", auth=fake.auth, timeout=5)
        assert again.status_code == 200


def test_a_small_fake_has_the_admin_routes_of_the_big_ones() -> None:
    with TinyFake() as fake:
        requests.post(f"{fake.base_url}/tickets/1/tags", json={"tag": "x"}, headers=AUTH, timeout=5)
        writes = requests.get(f"{fake.base_url}/_fake/writes", timeout=5).json()["writes"]
        assert [(w["method"], w["path"], w["body"]) for w in writes] == [
            ("POST", "/tickets/1/tags", {"tag": "x"})
        ]
        set_faults = {"rate": 1.0, "statuses": [503], "times": 1}
        assert requests.post(f"{fake.base_url}/_fake/faults", json=set_faults, timeout=5).ok
        assert (
            requests.get(f"{fake.base_url}/tickets/1", headers=AUTH, timeout=5).status_code == 503
        )
        assert [r.path for r in fake.received] == ["/tickets/1/tags", "/tickets/1"]
