"""Tinydesk: a tiny helpdesk (fake server + connector) for testing the connector kit itself.

The API, on purpose nothing like a real platform's:

- ``GET /tickets?cursor=N`` -> ``{"tickets": [...], "next_cursor": "N+2" | null, "resume": "..."}``,
  two tickets a page; ``cursor`` is an index into the list of tickets.
- ``GET /tickets/<id>`` -> a ticket, or 404.
- ``POST /tickets/<id>/tags`` ``{"tag": t}``; ``POST /tickets/<id>/comments`` ``{"body", "key"}``.
- Bearer token auth; webhooks signed ``sha256=<hex HMAC of the body>`` in ``X-Tiny-Signature``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from slaplug.connectors import (
    ApplyResult,
    ApplyStatus,
    BearerAuth,
    Capability,
    Connector,
    ConnectorConfig,
    CursorPaginator,
    TicketPage,
    WebhookEvent,
    paginate,
    sign,
    verify_signature,
)
from slaplug.errors import ConflictError, SkippableAPIError, WebhookError
from slaplug.model import Action, ActionKind, EventKind, Metric, Ticket, TicketEvent
from slaplug.testing.fakeserver import FakeHelpdesk, Request, Response

TOKEN = "tiny-s3cret-token-0042"
WEBHOOK_SECRET = "tiny-webhook-secret-0042"
#: `TimedTinyConnector`'s pinned clock.
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


class TinyFake(FakeHelpdesk):
    """Five tickets in memory; token-checked."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[str, dict[str, Any]] = {
            str(i): {
                "id": i,  # an int on the wire: the connector must make it a string
                "created": f"2026-03-0{i}T09:00:00+01:00",
                "status": "open",
                "tags": [],
                "comments": [],
                # Deliberately out of order: the model sorts events.
                "events": [
                    {"kind": "agent_reply", "at": f"2026-03-0{i}T11:00:00Z"},
                    {"kind": "created", "at": f"2026-03-0{i}T08:00:00Z"},
                ],
            }
            for i in range(1, 6)
        }

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Response(401, {"error": "bad token"})
        parts = request.path.strip("/").split("/")
        if parts == ["tickets"] and request.method == "GET":
            start = int(request.query.get("cursor") or 0)
            ordered = list(self.tickets.values())
            page = ordered[start : start + 2]
            end = start + len(page)
            more = end < len(ordered)
            return Response(
                200,
                {
                    "tickets": page,
                    "next_cursor": str(end) if more else None,
                    "resume": str(end),
                },
            )
        if len(parts) >= 2 and parts[0] == "tickets":
            ticket = self.tickets.get(parts[1])
            if ticket is None:
                return Response(404, {"error": "no such ticket"})
            if len(parts) == 2 and request.method == "GET":
                return Response(200, ticket)
            if parts[2:] == ["tags"] and request.method == "POST":
                ticket["tags"].append(request.json()["tag"])
                return Response(201, {})
            if parts[2:] == ["comments"] and request.method == "POST":
                ticket["comments"].append(request.json())
                return Response(201, {})
        return Response(404, {"error": "no route"})


class TinyConfig(ConnectorConfig):
    api_token_env: str
    webhook_secret_env: list[str] | None = None


class TinyConnector(Connector):
    """A correct connector: passes the whole suite."""

    name: ClassVar[str] = "tiny"
    Config = TinyConfig
    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK, Capability.WEBHOOK})
    #: For the scenario: how the platform signs a delivery, and the signed timestamp's header.
    timestamp_header: ClassVar[str | None] = None

    @staticmethod
    def sign_delivery(
        body: bytes, *, secret: str | None = None, age: float = 0.0
    ) -> dict[str, str]:
        return sign_tiny(body, secret=secret, age=age)

    def auth(self) -> requests.auth.AuthBase:
        # The kit's auth (docs/plugins/connector-kit.md), as a third-party connector uses it.
        return BearerAuth.from_config(self.config, "api_token")

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        paginator = CursorPaginator("next_cursor")

        def fetch(token: str | None) -> Any:
            return self.http.get_json("tickets", params={"cursor": token} if token else None)

        for page in paginate(fetch, paginator, cursor):
            tickets = [self._ticket(raw) for raw in page.data["tickets"]]
            yield TicketPage(tickets, page.data.get("resume"))

    def read_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.http.get_json(f"tickets/{ticket_id}"))

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        return [self._apply_one(a) for a in actions]

    def _apply_one(self, action: Action) -> ApplyResult:
        try:
            raw = self.http.get_json(f"tickets/{action.ticket_id}")
            if action.kind is ActionKind.ADD_TAG:
                if action.params["tag"] in raw["tags"]:
                    return ApplyResult(action.key, ApplyStatus.ALREADY)
                self.http.request(
                    "POST", f"tickets/{action.ticket_id}/tags", json=dict(action.params)
                )
            elif action.kind is ActionKind.COMMENT:
                if any(c.get("key") == action.key for c in raw["comments"]):
                    return ApplyResult(action.key, ApplyStatus.ALREADY)
                body = {"body": action.params["body"], "key": action.key}
                self.http.request("POST", f"tickets/{action.ticket_id}/comments", json=body)
            else:
                return ApplyResult(action.key, ApplyStatus.SKIPPED, f"{action.kind} unsupported")
        except SkippableAPIError as exc:
            return ApplyResult(action.key, ApplyStatus.FAILED, str(exc))
        except ConflictError as exc:
            return ApplyResult(action.key, ApplyStatus.CONFLICT, str(exc))
        return ApplyResult(action.key, ApplyStatus.APPLIED)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_signature(
            headers.get("X-Tiny-Signature"),
            body,
            self.config.secrets("webhook_secret"),
            encoding="hex",
            prefix="sha256=",
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            doc = json.loads(body)
            return WebhookEvent(
                delivery_id=str(doc["id"]),
                ticket_id=str(doc["ticket_id"]),
                kind=str(doc["type"]),
                received_at=datetime.now(UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookError(f"malformed tinydesk webhook: {exc}", status=400) from None

    def _ticket(self, raw: Mapping[str, Any]) -> Ticket:
        return Ticket(
            id=raw["id"],
            connector=self.instance,
            platform=self.name,
            created_at=datetime.fromisoformat(raw["created"]),
            status=raw["status"],
            tags=frozenset(raw["tags"]),
            events=tuple(
                TicketEvent(EventKind(e["kind"]), datetime.fromisoformat(e["at"]))
                for e in raw["events"]
            ),
        )


def tiny_actions() -> list[Action]:
    def action(kind: ActionKind, params: dict[str, Any], ticket: str) -> Action:
        return Action(
            kind=kind,
            params=params,
            connector="tiny",
            ticket_id=ticket,
            key=f"tiny:{ticket}:p:first_response:1:warn:1:{kind}",
            escalation="warn",
            level=1,
            policy="p",
            metric=Metric.FIRST_RESPONSE,
            cycle=1,
        )

    return [
        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "1"),
        action(ActionKind.COMMENT, {"body": "SLA at 75 %", "public": False}, "2"),
    ]


def signed_delivery() -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": "d-1", "ticket_id": "3", "type": "ticket.updated"}).encode()
    return sign_tiny(body), body


def sign_tiny(body: bytes, *, secret: str | None = None, age: float = 0.0) -> dict[str, str]:
    """Headers of ``body`` signed as Tinydesk signs (the body only: ``age`` is unused)."""
    signature = sign(secret or WEBHOOK_SECRET, body, encoding="hex")
    return {"X-Tiny-Signature": f"sha256={signature}", "X-Tiny-Delivery": "d-1"}


def sign_timed(body: bytes, *, secret: str | None = None, age: float = 0.0) -> dict[str, str]:
    """Headers of ``body`` signed as `TimedTinyConnector` expects, ``age`` s before `NOW`."""
    stamp = str(int(NOW.timestamp() - age))
    signature = sign(secret or WEBHOOK_SECRET, f"{stamp}.".encode() + body, encoding="hex")
    return {"X-Tiny-Signature": f"sha256={signature}", "X-Tiny-Timestamp": stamp}


class TimedTinyConnector(TinyConnector):
    """Tinydesk with Zendesk-style webhooks: the signature covers a timestamp, checked fresh.

    ``X-Tiny-Signature: sha256=<hex HMAC of "<X-Tiny-Timestamp>." + body>``; the clock is
    pinned at `NOW`.
    """

    tolerance: ClassVar[float] = 300.0
    timestamp_header: ClassVar[str | None] = "X-Tiny-Timestamp"

    @staticmethod
    def sign_delivery(
        body: bytes, *, secret: str | None = None, age: float = 0.0
    ) -> dict[str, str]:
        return sign_timed(body, secret=secret, age=age)

    def clock(self) -> datetime:
        return NOW

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        stamp = headers.get("X-Tiny-Timestamp")
        if not stamp or not stamp.isdigit():
            raise WebhookError("tinydesk webhook: no X-Tiny-Timestamp", status=401)
        if abs(self.clock().timestamp() - int(stamp)) > self.tolerance:
            raise WebhookError("tinydesk webhook: stale timestamp", status=401)
        verify_signature(
            headers.get("X-Tiny-Signature"),
            f"{stamp}.".encode() + body,
            self.config.secrets("webhook_secret"),
            encoding="hex",
            prefix="sha256=",
        )


def tiny_scenario(cls: type[TinyConnector], monkeypatch: Any) -> Iterator[Any]:
    """Yield a `Scenario` for ``cls`` against a fresh `TinyFake`."""
    from slaplug.testing import Scenario, WebhookSample

    monkeypatch.setenv("TINY_TOKEN", TOKEN)
    monkeypatch.setenv("TINY_HOOK_OLD", "an-old-rotated-secret")
    monkeypatch.setenv("TINY_HOOK", WEBHOOK_SECRET)
    with TinyFake() as fake:
        config = TinyConfig(
            base_url=fake.base_url,
            api_token_env="TINY_TOKEN",
            webhook_secret_env=["TINY_HOOK_OLD", "TINY_HOOK"],
            retry={"jitter": 0, "backoff_initial": 0.5},
        )
        body = signed_delivery()[1]
        webhook = WebhookSample(
            cls.sign_delivery(body),
            body,
            ticket_id="3",
            signature_header="X-Tiny-Signature",
            sign=cls.sign_delivery,
            timestamp_header=cls.timestamp_header,
        )
        with cls(config, instance="tiny-eu") as connector:
            yield Scenario(
                connector=connector,
                control=fake,
                ticket_id="1",
                actions=tiny_actions(),
                webhook=webhook,
                min_pages=3,
                ticket_ids=list(fake.tickets),
            )


logger = logging.getLogger("tinydesk")
