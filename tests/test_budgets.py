"""Request budgets: token buckets in the store, shared by every worker (issue 20).

The buckets are checked on SQLite and PostgreSQL, with times passed in; then several
workers (threads, each with its own store connection, as separate processes would have)
send through the connector kit to a fake that answers 429 past its limit: with the budget
none is refused, and the requests leave at the budget's rate.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from tinydesk import TinyConfig, TinyConnector, TinyFake

from slaplug.connectors.budget import HEADROOM, EndpointLimit, RateLimits
from slaplug.errors import ConfigError, RetriableAPIError
from slaplug.store import Store
from slaplug.store.budgets import StoreBudget
from slaplug.testing.fakeserver import Request, Response

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(url: str) -> Iterator[Store]:  # noqa: F811
    with Store.open(url) as s:
        yield s


def test_a_bucket_grants_its_burst_then_reserves_slots_in_order(store: Store) -> None:
    def take(seconds: float, max_wait: float = 60.0) -> float | None:
        return store.take_budget(
            "zd", 60, 2, max_wait=max_wait, now=T0 + timedelta(seconds=seconds)
        )

    assert [take(0), take(0)] == [0.0, 0.0]  # the burst
    assert take(0) == pytest.approx(1.0)  # one a second after that, in order
    assert take(0) == pytest.approx(2.0)
    assert take(0, max_wait=1.5) is None  # too long a wait: nothing reserved...
    assert take(0) == pytest.approx(3.0)  # ...so the next slot is still the fourth
    assert take(10) == 0.0  # refilled (up to the burst) after a quiet spell
    stats = store.budget_stats()["zd"]
    assert (stats["granted"], stats["waited"]) == (6, 3)


def test_a_request_of_several_credits_takes_them_all(store: Store) -> None:
    """Freshdesk charges a ticket list with ``include=stats`` three credits
    (`FreshdeskConnector.rate_limits`): the bucket gives out its burst in credits, not
    requests, and the wait that follows is for all three to refill."""

    def take(seconds: float) -> float | None:
        return store.take_budget("fd", 60, 6, tokens=3, now=T0 + timedelta(seconds=seconds))

    assert [take(0), take(0)] == [0.0, 0.0]  # six credits: two such requests
    assert take(0) == pytest.approx(3.0)  # then three seconds for the next three
    assert store.budget_stats()["fd"]["granted"] == 3


def test_zendesk_declares_its_documented_limits() -> None:
    from slaplug_zendesk.connector import ZendeskConnector

    limits = ZendeskConnector.rate_limits
    account, export = limits.buckets("zd", "GET", "/api/v2/incremental/tickets/cursor.json")
    assert (account.per_minute, export.per_minute) == (200 * HEADROOM, 10 * HEADROOM)
    assert export.burst == 1  # a fixed one-minute window sees at most 9 + 1 = 10
    update = [b.name for b in limits.buckets("zd", "PUT", "/api/v2/tickets/42.json")]
    assert update == ["zd", "zd:ticket_update"]
    mine = limits.configure("zd", 630, {"incremental": 27})
    assert [b.per_minute for b in mine.buckets("zd", "GET", "/api/v2/incremental/x")] == [630, 27]
    with pytest.raises(ConfigError, match=r"'exports'.*use one of: incremental, ticket_update"):
        limits.configure("zd", None, {"exports": 5})


class Limited(TinyFake):
    """Tinydesk answering 429 when more than ``limit`` requests arrive within one second."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.times: list[float] = []
        self.refused = 0
        self.guard = threading.Lock()

    def handle(self, request: Request) -> Response:
        now = time.monotonic()
        with self.guard:
            recent = [t for t in self.times if now - t < 1.0]
            if len(recent) >= self.limit:
                self.refused += 1
                return Response(429, {"error": "rate limited"}, {"Retry-After": "1"})
            self.times.append(now)
        return super().handle(request)


def _workers(url: str, fake: Limited, budget: bool, n: int = 3, each: int = 8) -> float:  # noqa: F811
    def work() -> None:
        config = TinyConfig(
            base_url=fake.base_url,
            api_token_env="TINY_TOKEN",
            retry={"max_attempts": 1},
        )
        with Store.open(url) as store, TinyConnector(config, instance="tiny") as conn:
            if budget:
                conn.http.budget = StoreBudget(store)
                conn.http.limits = replace(
                    RateLimits(per_minute=600, burst=1), configured=frozenset({""})
                )
            for _ in range(each):
                with contextlib.suppress(RetriableAPIError):  # counted by the fake
                    conn.http.get_json("tickets/1")

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return time.monotonic() - started


def test_workers_sharing_a_budget_never_meet_a_429(
    url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINY_TOKEN", "tiny-s3cret-token-0042")
    # 600 a minute is 10 a second, burst 1: at most 11 in any second; the fake allows 12.
    with Limited(limit=12) as fake:
        elapsed = _workers(url, fake, budget=True)
        assert fake.refused == 0
        assert len(fake.times) == 24
        assert elapsed >= 2.0  # 23 slots after the first, 0.1 s apart
    with Limited(limit=12) as fake:  # the same workers without the budget
        _workers(url, fake, budget=False)
        assert fake.refused > 0


def test_a_budget_with_no_slot_soon_gives_the_work_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = RateLimits(endpoints=(EndpointLimit("slow", 1, path="/tickets"),), burst=1)
    budget = StoreBudget(store)
    monkeypatch.setenv("TINY_TOKEN", "tiny-s3cret-token-0042")
    config = TinyConfig(base_url="http://127.0.0.1:9", api_token_env="TINY_TOKEN")
    conn = TinyConnector(config, instance="tiny")
    conn.http.budget, conn.http.limits, conn.http.budget_max_wait = budget, limits, 5.0
    [bucket] = limits.buckets("tiny", "GET", "/tickets/1")
    assert budget.take(bucket, max_wait=5) == 0.0  # the one token is spent
    with pytest.raises(RetriableAPIError, match=r"budget 'tiny:slow'.*retried later") as err:
        conn.http.get_json("tickets/1")  # the next slot is 66 s away: not sent, not waited
    assert err.value.retry_after == 5.0
    assert conn.http.stats.reads == 0
