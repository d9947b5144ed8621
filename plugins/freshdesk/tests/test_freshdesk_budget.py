"""The request budget counts a Freshdesk request as the credits Freshdesk charges for it.

Freshdesk's reference: "Each include will consume an additional 2 credits" (List All
Tickets) and "an additional credit" (View a Ticket); the read lists with ``include=stats``.
A budget that took one token a request would spend the account's minute up to three times
faster than it thinks, and several workers sharing it would meet 429s. The fake answers
each request's cost in ``X-RateLimit-Used-CurrentRequest`` (its `_credits`, from the same
reference), so the test holds the budget's count to the fake's.
"""

from __future__ import annotations

from collections import Counter

import requests
from slaplug_freshdesk import FreshdeskConnector
from slaplug_freshdesk.fake import FakeFreshdesk

from slaplug.connectors.budget import Bucket, LocalBudget


class Recording(LocalBudget):
    """A budget that never waits and remembers what each bucket was charged."""

    def __init__(self) -> None:
        super().__init__()
        self.charged: Counter[str] = Counter()

    def take(self, bucket: Bucket, *, max_wait: float, tokens: float = 1.0) -> float | None:
        self.charged[bucket.name] += tokens
        return 0.0


def test_each_include_is_charged_as_freshdesk_charges_it() -> None:
    limits = FreshdeskConnector.rate_limits
    assert limits.cost("GET", "/api/v2/tickets", {"include": "stats"}) == 3
    assert limits.cost("GET", "/api/v2/tickets", {"include": "stats,requester"}) == 5
    assert limits.cost("GET", "/api/v2/tickets/42", {"include": "stats"}) == 2
    assert limits.cost("GET", "/api/v2/tickets/42/conversations", {"include": "x"}) == 1
    assert limits.cost("PUT", "/api/v2/tickets/42", {}) == 1


def test_a_read_takes_from_the_account_budget_what_the_fake_says_it_used(
    fake: FakeFreshdesk, connector: FreshdeskConnector
) -> None:
    used: list[int] = []

    def count(response: requests.Response, *args: object, **kwargs: object) -> None:
        used.append(int(response.headers["X-RateLimit-Used-CurrentRequest"]))

    budget = Recording()
    connector.http.budget = budget
    connector.http.limits = FreshdeskConnector.rate_limits
    connector.http.session.hooks["response"].append(count)
    pages = list(connector.read_changed(None))
    connector.read_ticket(pages[0].tickets[0].id)

    assert sum(used) > len(used), "the read used includes: some requests cost more than one"
    assert budget.charged["freshdesk-eu"] == sum(used)
    lists = budget.charged["freshdesk-eu:tickets_list"]
    assert lists == len(pages), "the endpoint bucket counts requests, one a list page"
