"""The webhook core (`slaplug.web.events`), the worker and the app, in process.

The core is tested with a small signed connector and a real SQLite store; the worker and the
app with the tinydesk connector against its fake server and the shipped rules pack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from tinydesk import WEBHOOK_SECRET, TinyConfig, TinyConnector, TinyFake

from slaplug.config import Settings
from slaplug.connectors import WebhookEvent, sign, verify_signature
from slaplug.errors import RetriableAPIError, WebhookError
from slaplug.model import Ticket
from slaplug.rules.pack import RulePack
from slaplug.runtime import Runtime
from slaplug.store import Store
from slaplug.web.app import create_app
from slaplug.web.events import receive
from slaplug.web.metrics import Metrics
from slaplug.web.worker import Worker

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "default.yaml"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


class Signed:
    """A connector's webhook half: ``X-Sig: sha256=<hex>`` over the body, several secrets."""

    #: Kept with each delivery beside the allow-list (`slaplug.web.events.STORED_HEADERS`).
    webhook_headers = ("X-Sig",)

    def __init__(self, *secrets: str) -> None:
        self.secrets = secrets

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        sig = next((v for k, v in headers.items() if k.lower() == "x-sig"), None)
        verify_signature(sig, body, self.secrets, encoding="hex", prefix="sha256=")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            doc = json.loads(body)
            return WebhookEvent(str(doc["id"]), str(doc["ticket"]), "changed", NOW)
        except (ValueError, KeyError, TypeError):
            raise WebhookError("not a delivery: needs id and ticket", status=400) from None


class Buggy(Signed):
    """Verifies correctly, then crashes while parsing (a connector bug)."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise KeyError("oops")


class DownInbox:
    def inbox_put(self, *args: Any, **kwargs: Any) -> bool:
        raise OSError("disk full")


def signed(
    body: dict[str, Any] | bytes, secret: str = "s3cret-new"
) -> tuple[dict[str, str], bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"X-Sig": "sha256=" + sign(secret, raw, encoding="hex")}, raw


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'slaplug.db'}") as s:
        yield s


CONNECTORS = {"desk": Signed("s3cret-old", "s3cret-new")}


# -- the core -------------------------------------------------------------------------------


def test_new_delivery_is_stored_then_answered_202(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    reply = receive(CONNECTORS, store, "desk", headers, body)
    assert (reply.status, reply.body) == (202, {"status": "accepted", "delivery_id": "d-1"})
    assert reply.event is not None and reply.event.ticket_id == "7"
    [item] = store.inbox_claim(10)
    assert (item.connector, item.delivery_id, item.body) == ("desk", "d-1", body)


def test_duplicate_delivery_id_is_answered_200_never_409(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    assert receive(CONNECTORS, store, "desk", headers, body).status == 202
    again = receive(CONNECTORS, store, "desk", headers, body)
    assert (again.status, again.body["status"], again.outcome) == (200, "duplicate", "duplicate")
    assert store.inbox_stats() == {"pending": 1}


def test_bad_or_missing_signature_is_401_with_a_json_error(store: Store) -> None:
    _, body = signed({"id": "d-1", "ticket": "7"})
    for headers in ({"X-Sig": "sha256=" + "0" * 64}, {}, signed(body, "not-a-secret")[0]):
        reply = receive(CONNECTORS, store, "desk", headers, body)
        assert reply.status == 401 and reply.body["error"] == "bad_signature"
        assert set(reply.body) == {"error", "detail"}
        assert "s3cret" not in json.dumps(reply.body)
    assert store.inbox_stats() == {}


def test_both_secrets_of_a_rotation_are_accepted(store: Store) -> None:
    for i, secret in enumerate(["s3cret-old", "s3cret-new"]):
        headers, body = signed({"id": f"d-{i}", "ticket": "7"}, secret)
        assert receive(CONNECTORS, store, "desk", headers, body).status == 202


def test_body_over_the_limit_is_413_and_at_the_limit_is_accepted(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    assert receive(CONNECTORS, store, "desk", headers, body, max_body=len(body)).status == 202
    reply = receive(CONNECTORS, store, "desk", headers, body + b" ", max_body=len(body))
    assert reply.status == 413 and reply.body["error"] == "too_large"


def test_unknown_connector_is_404_and_names_no_configured_connector(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    reply = receive(CONNECTORS, store, "freshdesk", headers, body)
    assert reply.status == 404 and reply.body["error"] == "unknown_connector"
    assert "desk'" not in reply.body["detail"].replace("freshdesk'", "")


def test_malformed_signed_body_is_400_with_a_json_error(store: Store) -> None:
    for raw in (b"not json", b"[]", b'{"id": "d-1"}'):
        headers, body = signed(raw)
        reply = receive(CONNECTORS, store, "desk", headers, body)
        assert reply.status == 400, raw
        assert reply.body == {"error": "malformed", "detail": "not a delivery: needs id and ticket"}


def test_a_connector_crashing_on_a_signed_body_keeps_the_delivery(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    reply = receive({"desk": Buggy("s3cret-new")}, store, "desk", headers, body)
    assert reply.status == 202 and reply.body["delivery_id"].startswith("sha256:")
    # A retry of the same bytes is still recognised.
    assert receive({"desk": Buggy("s3cret-new")}, store, "desk", headers, body).status == 200


def test_inbox_down_is_503_with_retry_after_so_the_sender_retries() -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    reply = receive(CONNECTORS, DownInbox(), "desk", headers, body)
    assert reply.status == 503 and reply.headers == {"Retry-After": "5"}
    assert reply.body["error"] == "unavailable"


def test_credentials_in_headers_are_not_stored(store: Store) -> None:
    headers, body = signed({"id": "d-1", "ticket": "7"})
    headers |= {"Authorization": "Bearer jwt-secret", "Cookie": "session=1"}
    receive(CONNECTORS, store, "desk", headers, body)
    [item] = store.inbox_claim(10)
    assert "authorization" not in item.headers and "cookie" not in item.headers
    assert item.headers["x-sig"] == headers["X-Sig"]


def test_overlong_delivery_ids_are_stored_as_their_hash(store: Store) -> None:
    headers, body = signed({"id": "x" * 5000, "ticket": "7"})
    reply = receive(CONNECTORS, store, "desk", headers, body)
    assert reply.status == 202 and reply.body["delivery_id"].startswith("sha256:")
    assert receive(CONNECTORS, store, "desk", headers, body).status == 200


# -- the worker ------------------------------------------------------------------------------


class Flaky(TinyConnector):
    """Reading fails ``failures`` times (a helpdesk having a bad minute), then works."""

    failures = 0

    def read_ticket(self, ticket_id: str) -> Ticket:
        if self.failures:
            self.failures -= 1
            raise RetriableAPIError("503 from the helpdesk", retry_after=60)
        return super().read_ticket(ticket_id)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flaky]:
    monkeypatch.setenv("TINY_TOKEN", "tiny-s3cret-token-0042")
    monkeypatch.setenv("TINY_HOOK", WEBHOOK_SECRET)
    with TinyFake() as fake:
        config = TinyConfig(
            base_url=fake.base_url,
            api_token_env="TINY_TOKEN",
            webhook_secret_env=["TINY_HOOK"],
            retry={"jitter": 0, "backoff_initial": 0.01, "max_attempts": 1},
        )
        with Flaky(config, instance="tiny") as connector:
            yield connector


@pytest.fixture
def pack() -> Iterator[RulePack]:
    with RulePack.load([RULES], engine="python") as p:
        yield p


def tiny_delivery(delivery_id: str, ticket_id: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {"id": delivery_id, "ticket_id": ticket_id, "type": "ticket.updated"}
    ).encode()
    return {"X-Tiny-Signature": "sha256=" + sign(WEBHOOK_SECRET, body, encoding="hex")}, body


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_worker_reads_each_ticket_once_per_batch_and_marks_items_done(
    store: Store, pack: RulePack, tiny: Flaky
) -> None:
    for i, ticket in enumerate(["1", "1", "2"]):
        headers, body = tiny_delivery(f"d-{i}", ticket)
        assert receive({"tiny": tiny}, store, "tiny", headers, body).status == 202
    worker = Worker(store, pack, {"tiny": tiny})
    reads = tiny.http.stats.reads
    assert worker.drain() == 3
    assert tiny.http.stats.reads - reads == 2  # ticket 1 named twice, read once
    assert store.inbox_stats() == {"done": 3}
    assert store.load_snapshot("tiny", "1") is not None
    assert store.load_snapshot("tiny", "2") is not None


def test_nothing_valid_is_lost_when_the_helpdesk_fails_the_worker(
    store: Store, pack: RulePack, tiny: Flaky
) -> None:
    clock = Clock()
    headers, body = tiny_delivery("d-1", "3")
    receive({"tiny": tiny}, store, "tiny", headers, body, now=clock.now)
    tiny.failures = 2
    worker = Worker(store, pack, {"tiny": tiny}, clock=clock)
    assert worker.drain() == 1
    assert store.inbox_stats() == {"pending": 1}
    assert worker.drain() == 0  # backing off: Retry-After 60 s
    clock.now += timedelta(minutes=2)
    assert worker.drain() == 1
    assert store.inbox_stats() == {"pending": 1}
    clock.now += timedelta(minutes=5)
    assert worker.drain() == 1
    assert store.inbox_stats() == {"done": 1}
    assert store.load_snapshot("tiny", "3") is not None


def test_an_item_held_by_a_dead_worker_is_finished_once_its_lease_lapses(
    store: Store, pack: RulePack, tiny: Flaky
) -> None:
    clock = Clock()
    headers, body = tiny_delivery("d-1", "4")
    receive({"tiny": tiny}, store, "tiny", headers, body, now=clock.now)
    # Another process claimed it, then died (kill -9): the row stays leased to it.
    assert len(store.inbox_claim(10, now=clock.now, worker_id="gone:1")) == 1
    worker = Worker(store, pack, {"tiny": tiny}, clock=clock)
    assert worker.drain() == 0
    clock.now += store.settings.lease + timedelta(seconds=1)
    assert worker.drain() == 1
    assert store.inbox_stats() == {"done": 1}


def test_a_failing_pipeline_leaves_items_pending_for_a_retry(
    store: Store, pack: RulePack, tiny: Flaky, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, body = tiny_delivery("d-1", "5")
    receive({"tiny": tiny}, store, "tiny", headers, body)
    worker = Worker(store, pack, {"tiny": tiny})

    def broken(name: str, tickets: Any) -> Any:
        raise RuntimeError("store went away")

    monkeypatch.setattr(worker.sync, "process", broken)
    assert worker.drain() == 1
    assert store.inbox_stats() == {"pending": 1}


def test_worker_thread_starts_with_what_the_inbox_holds_and_evaluates_on_its_own_thread(
    store: Store, pack: RulePack, tiny: Flaky
) -> None:
    headers, body = tiny_delivery("d-1", "1")
    receive({"tiny": tiny}, store, "tiny", headers, body)
    worker = Worker(store, pack, {"tiny": tiny}, poll_interval=0.01)
    worker.start()
    try:
        assert worker.call(lambda: threading.current_thread().name).result(10) == (
            "slaplug-webhook-worker"
        )
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while store.inbox_stats() != {"done": 1} and datetime.now(UTC) < deadline:
            worker.call(lambda: None).result(10)
        assert store.inbox_stats() == {"done": 1}
    finally:
        worker.stop()
    assert not worker.alive
    with pytest.raises(RuntimeError):
        worker.call(lambda: None)


# -- the app -----------------------------------------------------------------------------------


class Client:
    """The app in process (httpx's ASGI transport), its lifespan run, driven synchronously.

    Not starlette's TestClient: it warns (an error here) unless another httpx is installed.
    """

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")
        self.loop.run_until_complete(
            self.stack.enter_async_context(app.router.lifespan_context(app))
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()


@pytest.fixture
def client(store: Store, pack: RulePack, tiny: Flaky, tmp_path: Path) -> Iterator[Client]:
    settings = Settings(path=tmp_path / "slaplug.yaml", store="", rules=[RULES], engine="python")
    runtime = Runtime(settings=settings, store=store, pack=pack, connectors={"tiny": tiny})
    app = create_app(None, runtime=runtime, max_body=4096, worker_options={"poll_interval": 0.05})
    c = Client(app)
    try:
        yield c
    finally:
        c.close()


def test_app_answers_each_status_with_a_json_body(client: Client) -> None:
    headers, body = tiny_delivery("d-1", "1")
    assert client.post("/webhooks/tiny", content=body, headers=headers).status_code == 202
    assert client.post("/webhooks/tiny", content=body, headers=headers).status_code == 200
    bad = client.post("/webhooks/tiny", content=body, headers={"X-Tiny-Signature": "sha256=00"})
    assert bad.status_code == 401 and set(bad.json()) == {"error", "detail"}
    junk_headers, junk = tiny_delivery("d-2", "1")
    malformed = client.post(
        "/webhooks/tiny",
        content=b"{}",
        headers={"X-Tiny-Signature": "sha256=" + sign(WEBHOOK_SECRET, b"{}", encoding="hex")},
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed"
    assert client.post("/webhooks/nope", content=junk, headers=junk_headers).status_code == 404
    big = client.post("/webhooks/tiny", content=b"x" * 5000, headers=headers)
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    for response in (client.get("/webhooks/tiny"), client.get("/nowhere")):
        assert response.status_code in (404, 405) and set(response.json()) == {"error", "detail"}


def test_app_health_metrics_and_the_sla_view(client: Client, store: Store) -> None:
    # The explain view shows a ticket's contents: a manager token opens it (docs/dashboard.md).
    refused = client.get("/tickets/tiny/1/sla")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    _, token = store.issue_token("manager")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/tickets/tiny/1/sla", headers=auth).json()["error"] == "unknown_ticket"
    headers, body = tiny_delivery("d-1", "1")
    client.post("/webhooks/tiny", content=body, headers=headers)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while client.get("/healthz").json()["inbox"] != {"done": 1}:
        assert datetime.now(UTC) < deadline, "the worker did not finish the delivery"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["worker"] is True
    view = client.get("/tickets/tiny/1/sla", headers=auth)
    assert view.status_code == 200
    assert view.json()["ticket"] == {
        "id": "1",
        "connector": "tiny",
        "subject": view.json()["ticket"]["subject"],
        "status": "open",
        "priority": view.json()["ticket"]["priority"],
    }
    assert {"clocks", "actions", "policies", "at"} <= set(view.json())
    assert client.get("/tickets/zendesk/1/sla", headers=auth).status_code == 404
    text = client.get("/metrics").text
    assert 'slaplug_webhook_deliveries_total{connector="tiny",outcome="accepted"} 1.0' in text
    assert 'slaplug_inbox_items{state="done"} 1.0' in text
    assert "slaplug_webhook_ack_seconds_bucket" in text
    assert "slaplug_worker_lag_seconds_count" in text


def test_each_delivery_is_logged_once_accepted_and_once_processed_without_its_body(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """QA #13: `slaplug serve` logged refusals only, and an unknown connector as "unknown"."""
    caplog.set_level(logging.INFO, logger="slaplug.web")
    headers, body = tiny_delivery("d-1", "1")
    assert client.post("/webhooks/tiny", content=body, headers=headers).status_code == 202
    assert client.post("/webhooks/tiny", content=body, headers=headers).status_code == 200
    asked = "x" * 100 + "\nlevel=error forged"  # a name that would forge a log line
    lost = client.post(f"/webhooks/{quote(asked)}", content=body, headers=headers)
    assert lost.status_code == 404
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    # The worker logs once the store has the delivery done: wait for the line itself.
    while not any("processed" in r.getMessage() for r in caplog.records):
        assert datetime.now(UTC) < deadline, "the worker did not finish the delivery"
        time.sleep(0.02)
    assert client.get("/healthz").json()["inbox"] == {"done": 1}
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("slaplug.web")]
    about = [line for line in lines if line.startswith("webhook to ")]
    assert about[:2] == [
        "webhook to tiny accepted: delivery 'd-1', ticket 1, event 'ticket.updated'",
        "webhook to tiny duplicate: delivery 'd-1', ticket 1, event 'ticket.updated'",
    ]
    (refused,) = [line for line in about if "refused" in line]
    shown = repr("x" * 64)
    assert refused.startswith(
        f"webhook to unknown connector {shown}... (119 characters) refused 404"
    )
    assert "\n" not in refused and len(refused) < 300  # the detail quotes it cut too
    (processed,) = [line for line in about if "processed" in line]
    assert processed.startswith("webhook to tiny processed: delivery 'd-1', ")
    assert not [line for line in lines if body.decode() in line or WEBHOOK_SECRET in line]
    # The metric's label stays bounded: any name not configured counts as "unknown".
    text = client.get("/metrics").text
    assert 'connector="unknown",outcome="unknown_connector"' in text and "xxxx" not in text


#: A policy with a live field (as in tests/test_live_fields.py): resolution's deadline is
#: shown in ``sla_resolution_due``.
LIVE_RULES = """\
policies:
  - name: support
    targets:
      resolution: {urgent: 4h, "*": 24h}
    live_fields:
      resolution: sla_resolution_due
"""


def test_the_sla_view_shows_each_live_field_and_its_planned_values_as_explain_json_does(
    store: Store, tiny: Flaky, tmp_path: Path
) -> None:
    """``live_fields`` of ``/tickets/.../sla``: the value the rules give the field now, the
    clock it shows, and the store's writes of it, the same as ``slaplug explain --json``."""
    from slaplug.model import EventKind, TicketEvent
    from slaplug.rules.live import LiveValue, live_action
    from slaplug.views import explain_synced

    rules = tmp_path / "live.yaml"
    rules.write_text(LIVE_RULES, encoding="utf-8")
    # Opened an hour ago: the clock runs while the test does, its deadline fixed.
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    due = (opened + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ticket = Ticket(
        id="7",
        connector="tiny",
        created_at=opened,
        status="open",
        priority="normal",
        events=(TicketEvent(EventKind.CREATED, opened),),
        updated_at=opened,
    )
    store.save_snapshots([ticket], now=opened)
    (key,) = store.plan_live(
        [
            (
                live_action(LiveValue(ticket, "sla_resolution_due", due, None), 1),
                "sla_resolution_due",
                1,
            )
        ],
        now=opened,
    )
    (claimed,) = store.outbox_claim("tiny", now=opened)
    store.complete(claimed.key, "applied", now=opened + timedelta(seconds=5))
    settings = Settings(path=tmp_path / "slaplug.yaml", store="", rules=[rules], engine="python")
    with RulePack.load([rules], engine="python") as pack:
        runtime = Runtime(settings=settings, store=store, pack=pack, connectors={"tiny": tiny})
        client = Client(create_app(None, runtime=runtime, worker_options={"poll_interval": 0.05}))
        try:
            auth = {"Authorization": f"Bearer {store.issue_token('manager')[1]}"}
            view = client.get("/tickets/tiny/7/sla", headers=auth)
        finally:
            client.close()
        cli = explain_synced(store, pack, "tiny", "7", datetime.now(UTC))
    assert view.status_code == 200, view.text
    (field,) = view.json()["live_fields"]
    assert {k: field[k] for k in ("field", "now", "clock", "held")} == {
        "field": "sla_resolution_due",
        "now": due,
        "clock": "support/resolution#1",
        "held": False,
    }
    assert [
        (w["seq"], w["value"], w["status"], w["planned_at"], w["done_at"]) for w in field["writes"]
    ] == [(1, due, "applied", opened.isoformat(), (opened + timedelta(seconds=5)).isoformat())]
    assert store.ledger_status(key) == "applied"
    assert view.json()["live_fields"] == cli["live_fields"]


def test_metrics_render_even_when_the_store_is_down() -> None:
    def down() -> dict[str, int]:
        raise OSError("gone")

    assert b"slaplug_worker_alive" in Metrics(down).render()
