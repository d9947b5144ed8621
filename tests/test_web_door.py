"""What `slaplug.web.events` refuses or drops at the door, before a delivery is stored.

Issue 14: credential headers were stored verbatim (a deny-list of three names), and bodies
nested 1,000 deep or naming ids like ``zen:ticket:٠١٢`` were answered 202 and then failed in
the worker after every retry. Each test here failed on the code before that issue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slaplug.connectors import WebhookEvent, sign, verify_signature
from slaplug.errors import WebhookError
from slaplug.store import Store
from slaplug.web import events
from slaplug.web.events import receive, stored_headers

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
#: `events.MAX_JSON_DEPTH`, spelled out so this module imports on the code before it.
MAX_JSON_DEPTH = 64
SECRET = "door-s3cret"


class Desk:
    """A connector's webhook half: ``X-Sig: sha256=<hex>``; a plain ``json.loads`` parse, as
    the shipped connectors do (a deep body makes it raise `RecursionError`)."""

    #: Headers its parse needs beyond the allow-list; X-Api-Key is a credential and must be
    #: dropped even when a connector names it.
    webhook_headers = ("X-Sig", "X-Api-Key")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        sig = next((v for k, v in headers.items() if k.lower() == "x-sig"), None)
        verify_signature(sig, body, [SECRET], encoding="hex", prefix="sha256=")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            doc = json.loads(body)
            return WebhookEvent(str(doc["id"]), doc["ticket"], "changed", NOW)
        except (ValueError, KeyError, TypeError):
            raise WebhookError("not a delivery: needs id and ticket", status=400) from None


CONNECTORS = {"desk": Desk()}


def signed(raw: bytes) -> dict[str, str]:
    return {"X-Sig": "sha256=" + sign(SECRET, raw, encoding="hex")}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'slaplug.db'}") as s:
        yield s


# -- 14.4: an allow-list of headers -----------------------------------------------------------


def test_only_allow_listed_headers_are_stored_and_no_credential_whatever_its_name(
    store: Store,
) -> None:
    body = json.dumps({"id": "d-1", "ticket": "7"}).encode()
    headers = signed(body) | {
        "Content-Type": "application/json",
        "User-Agent": "Zendesk Webhook",
        # Zendesk's API-key webhook authentication: the admin names the header.
        "X-Api-Key": "canary-api-key-1",
        "X-Zendesk-Auth": "canary-api-key-2",
        "Authorization": "Basic Y2FuYXJ5OnBhc3M=",
        "Cookie": "session=canary",
        "X-Forwarded-For": "203.0.113.9",
    }
    assert receive(CONNECTORS, store, "desk", headers, body).status == 202
    [item] = store.inbox_claim(10)
    assert dict(item.headers) == {
        "x-sig": headers["X-Sig"],
        "content-type": "application/json",
        "user-agent": "Zendesk Webhook",
    }
    assert "canary" not in json.dumps(dict(item.headers))


def test_a_zendesk_trigger_delivery_still_parses_from_its_stored_headers() -> None:
    """The worker parses the stored delivery again: the allow-list keeps what Zendesk's own
    parse needs (the webhook id and the signature timestamp name a trigger body's id)."""
    zendesk = pytest.importorskip("slaplug_zendesk.webhooks")
    # The headers every Zendesk webhook request carries (developer.zendesk.com/documentation/
    # webhooks/anatomy-of-a-webhook-request), plus an API-key authentication header.
    headers = {
        "x-zendesk-account-id": "123456",
        "x-zendesk-webhook-id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        "x-zendesk-webhook-invocation-id": "8350205582",
        "x-zendesk-webhook-signature": "EiqWE3SXTPQpPulBV6OSuuGziIishZNc1VwNZYqZrHU=",
        "x-zendesk-webhook-signature-timestamp": "2021-03-25T05:09:27Z",
        "X-Api-Key": "canary-api-key",
    }
    body = b'{"ticket_id": "35436"}'
    kept = stored_headers(headers)
    assert "x-api-key" not in kept
    assert zendesk.parse_delivery(kept, body, received_at=NOW) == zendesk.parse_delivery(
        headers, body, received_at=NOW
    )


# -- bodies no parser should be handed -------------------------------------------------------


def nested(depth: int) -> bytes:
    """A delivery whose ``extra`` field makes the whole body ``depth`` levels deep."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"id": "d-{depth}", "ticket": "7", "extra": {inner}}}'.encode()


def test_a_body_nested_1000_deep_is_refused_400_and_not_stored(store: Store) -> None:
    body = nested(1000)
    reply = receive(CONNECTORS, store, "desk", signed(body), body)
    assert reply.status == 400 and reply.body["error"] == "malformed"
    assert f"deeper than {MAX_JSON_DEPTH}" in reply.body["detail"]
    assert store.inbox_stats() == {}


def test_a_body_at_the_depth_limit_is_accepted(store: Store) -> None:
    body = nested(MAX_JSON_DEPTH)
    assert events.json_depth(body) == events.MAX_JSON_DEPTH == MAX_JSON_DEPTH
    assert receive(CONNECTORS, store, "desk", signed(body), body).status == 202
    over = nested(MAX_JSON_DEPTH + 1)
    assert receive(CONNECTORS, store, "desk", signed(over), over).status == 400


def test_json_depth_skips_brackets_in_strings_and_needs_no_recursion() -> None:
    assert events.json_depth(b'{"a": "[[[{{\\"[[", "b": [1, {"c": []}]}') == 4
    assert events.json_depth(b"42") == 0
    assert events.json_depth(b"[" * 200_000) == 200_000


@pytest.mark.parametrize(
    ("ticket", "why"),
    [
        ("\u0660\u0661\u0662", "only ASCII"),  # Arabic-Indic digits: int() reads them as 12
        ("\uff11\uff12", "only ASCII"),  # full-width digits
        ("1" * 4301, "4301 characters long"),  # past int()'s 4,300-digit limit
        ("", "only ASCII"),
        ("7 OR 1=1", "only ASCII"),
        ("7\x00", "only ASCII"),
        (12, "not a string"),  # a connector bug: WebhookEvent.ticket_id is a str
    ],
)
def test_a_ticket_id_that_is_not_sane_is_refused_400_and_not_stored(
    store: Store, ticket: object, why: str
) -> None:
    body = json.dumps({"id": "d-1", "ticket": ticket}).encode()
    reply = receive(CONNECTORS, store, "desk", signed(body), body)
    assert reply.status == 400 and reply.body["error"] == "malformed"
    assert why in reply.body["detail"] and "ticket id" in reply.body["detail"]
    assert len(reply.body["detail"]) < 300  # a 4,301-digit id is not echoed whole
    assert store.inbox_stats() == {}


@pytest.mark.parametrize("ticket", ["7", "35436", "SUP-123", "PROJ_2.x-1", "org/repo#12"])
def test_sane_ticket_ids_are_accepted(store: Store, ticket: str) -> None:
    body = json.dumps({"id": f"d-{ticket}", "ticket": ticket}).encode()
    assert receive(CONNECTORS, store, "desk", signed(body), body).status == 202


def test_zendesk_subject_with_arabic_indic_digits_is_refused_at_the_door(store: Store) -> None:
    """The real Zendesk parse reads ``zen:ticket:٠١٢`` as a number (``str.isdigit``); the
    generic check refuses it before it is stored."""
    zendesk = pytest.importorskip("slaplug_zendesk.webhooks")

    class Zendesk:
        def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
            pass  # the signature is not what this test is about

        def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
            return zendesk.parse_delivery(headers, body, received_at=NOW)  # type: ignore[no-any-return]

    # The event envelope (developer.zendesk.com/api-reference/webhooks/event-types/
    # webhook-event-types): id, type, subject "zen:ticket:<id>".
    body = json.dumps(
        {
            "id": "cbe4028c-7239-495d-b020-f22348516046",
            "type": "zen:event-type:ticket.status_changed",
            "subject": "zen:ticket:\u0660\u0661\u0662",
        }
    ).encode()
    reply = receive({"zendesk": Zendesk()}, store, "zendesk", {}, body)
    assert reply.status == 400 and store.inbox_stats() == {}


# -- 405 answers name the methods that are allowed -------------------------------------------


def test_405_answers_carry_an_allow_header(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from slaplug.web.app import create_app

    async def go() -> list[httpx.Response]:
        # No lifespan needed: a wrong method is refused by the router before any route runs.
        app = create_app(None)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://t"
        ) as http:
            return [
                await http.get("/webhooks/desk"),
                await http.put("/webhooks/desk", content=b"{}"),
                await http.post("/healthz"),
                await http.delete("/tickets/desk/1/sla"),
            ]

    webhook, put, health, sla = asyncio.run(go())
    for response, allowed in ((webhook, "POST"), (put, "POST"), (health, "GET"), (sla, "GET")):
        assert response.status_code == 405
        assert response.headers.get("allow") == allowed, response.request.url
        assert response.json()["error"] == "method_not_allowed"


def test_deliveries_stored_before_the_allow_list_are_scrubbed_when_the_server_starts(
    tmp_path: Path, store: Store
) -> None:
    import asyncio

    from sqlalchemy import select

    from slaplug.config import Settings
    from slaplug.runtime import Runtime
    from slaplug.store.schema import inbox
    from slaplug.web.app import create_app

    # Rows as the code before issue 14 stored them: every header but three.
    old = {"x-sig": "sha256=ab", "x-api-key": "canary-key", "content-type": "application/json"}
    for i in range(3):
        store.inbox_put("desk", f"d-{i}", old, b"{}")
    store.inbox_put("gone", "d-x", {"x-sig": "sha256=cd", "x-token": "canary-2"}, b"{}")
    store.inbox_put("desk", "d-clean", {"content-type": "application/json"}, b"{}")

    class NoWorkers:
        alive, count, running = True, 0, 0

        def wake(self) -> None: ...
        def start(self) -> None: ...
        def stop(self) -> None: ...

    settings = Settings(path=tmp_path / "slaplug.yaml", store="", rules=[], engine="python")
    runtime = Runtime(settings=settings, store=store, pack=None, connectors=CONNECTORS)  # type: ignore[arg-type]
    app = create_app(None, runtime=runtime, workers=NoWorkers())

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())
    with store.engine.connect() as conn:
        rows = dict(conn.execute(select(inbox.c.delivery_id, inbox.c.headers)).all())
    assert all("canary" not in text for text in rows.values())
    # Desk names X-Sig in webhook_headers; an unconfigured connector keeps the allow-list only.
    assert json.loads(rows["d-0"]) == {"x-sig": "sha256=ab", "content-type": "application/json"}
    assert json.loads(rows["d-x"]) == {}
    assert json.loads(rows["d-clean"]) == {"content-type": "application/json"}
    assert store.inbox_scrub_headers(events.keeps_header(CONNECTORS)) == 0


def test_a_deep_body_behind_a_bom_or_in_utf16_is_refused_too(store: Store) -> None:
    # json.loads reads both (it detects UTF-8 with a BOM, UTF-16 and UTF-32 from the bytes).
    text = nested(1000).decode()
    for body in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        reply = receive(CONNECTORS, store, "desk", signed(body), body)
        assert reply.status == 400 and "deeper than" in reply.body["detail"]
    assert store.inbox_stats() == {}
