"""Prometheus metrics of the webhook server, served at ``GET /metrics``.

Each app has its own registry (not prometheus-client's global one), so several apps in one
process (tests) do not collide, and the page shows only slaplug's series plus the process.

=========================================  ==========  ============================================
name                                       type        labels / meaning
=========================================  ==========  ============================================
slaplug_webhook_deliveries_total           counter     connector, outcome (accepted, duplicate,
                                                       bad_signature, malformed, too_large,
                                                       unknown_connector, unavailable)
slaplug_webhook_ack_seconds                histogram   connector: request received to answer ready
slaplug_inbox_items                        gauge       state (pending, leased, done, dead), read
                                                       from the store at each scrape
slaplug_worker_items_total                 counter     connector, outcome (done, retry, dead)
slaplug_worker_lag_seconds                 histogram   connector: stored to processed
slaplug_worker_batch_seconds               histogram   one drained batch, reads to write-back
slaplug_worker_alive                       gauge       worker processes running (1 while an
                                                       in-process worker thread runs)
slaplug_connections_closed_total           counter     reason (head_timeout, body_timeout, cap):
                                                       connections closed by ``slaplug serve``'s
                                                       limits on slow clients
=========================================  ==========  ============================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

#: Acknowledgement buckets: the goal is a p99 under 50 ms, so resolve well below it.
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Worker lag buckets: seconds to minutes (retries back off for minutes).
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


#: Why `slaplug.web.server.GuardedH11Protocol` closed a connection.
CLOSE_REASONS = ("head_timeout", "body_timeout", "cap")


class _ClosedConnections:
    """Reads the counts the server's protocol keeps (a plain dict it updates) at each scrape."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "slaplug_connections_closed",
            "Connections closed by the limits on slow clients, by reason.",
            labels=["reason"],
        )
        for reason in CLOSE_REASONS:
            family.add_metric([reason], float(self.counts.get(reason, 0)))
        yield family


class Metrics:
    """The server's metrics, in a registry of their own.

    Args:
        inbox_stats: Returns the inbox's items by state; called at each scrape.
        connections_closed: The server protocol's counts of connections closed by its limits
            (`slaplug.web.server.GuardedH11Protocol.closed`), read at each scrape; None
            (embedded, tests) shows zeros.
    """

    def __init__(
        self,
        inbox_stats: Callable[[], Mapping[str, int]] | None = None,
        *,
        connections_closed: Mapping[str, int] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        # The dict itself, even empty: the protocol fills it later.
        closed = {} if connections_closed is None else connections_closed
        self.registry.register(_ClosedConnections(closed))
        self._inbox_stats = inbox_stats
        self.deliveries = Counter(
            "slaplug_webhook_deliveries",
            "Webhook deliveries answered, by connector and outcome.",
            ["connector", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "slaplug_webhook_ack_seconds",
            "Seconds from receiving a delivery to having its answer ready.",
            ["connector"],
            buckets=_ACK_BUCKETS,
            registry=self.registry,
        )
        self.inbox_items = Gauge(
            "slaplug_inbox_items",
            "Inbox deliveries by state (pending, leased, done, dead).",
            ["state"],
            registry=self.registry,
        )
        self.worker_items = Counter(
            "slaplug_worker_items",
            "Inbox deliveries the worker finished, by connector and outcome (done, retry, dead).",
            ["connector", "outcome"],
            registry=self.registry,
        )
        self.worker_lag = Histogram(
            "slaplug_worker_lag_seconds",
            "Seconds from storing a delivery to finishing it.",
            ["connector"],
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.worker_batch = Histogram(
            "slaplug_worker_batch_seconds",
            "Seconds one drained batch took: reads, evaluation and write-back.",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.worker_alive = Gauge(
            "slaplug_worker_alive",
            "Webhook workers running (threads or processes).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The exposition text; refreshes the inbox gauge first (a failed read leaves it)."""
        if self._inbox_stats is not None:
            try:
                stats = self._inbox_stats()
            except Exception:  # the store is down: /healthz says so; metrics still render
                stats = None
            if stats is not None:
                for state in ("pending", "leased", "done", "dead"):
                    self.inbox_items.labels(state).set(stats.get(state, 0))
        return generate_latest(self.registry)
