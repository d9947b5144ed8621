"""Fuzzing the webhook app in process: no body, header set or path ever gets a 5xx.

Hypothesis sends arbitrary bytes, JSON-ish bodies (signed and unsigned), odd headers and
connector names to the real app (FastAPI, the sans-I/O core, a SQLite inbox) through httpx's
ASGI transport. Every answer must be a 2xx or 4xx with a JSON body; refusals carry
``{"error", "detail"}``. Also checks that docs/webhooks-openapi.json is the app's document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaplug.config import Settings
from slaplug.connectors import WebhookEvent, sign, verify_signature
from slaplug.errors import TicketNotFoundError, WebhookError
from slaplug.model import Ticket
from slaplug.rules.pack import RulePack
from slaplug.runtime import Runtime
from slaplug.store import Store
from slaplug.web.app import create_app, openapi_document

REPO = Path(__file__).resolve().parent.parent
SECRET = "fuzz-secret"


class Desk:
    """A connector's webhook half (``X-Sig``), reading nothing: tickets are never found."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_signature(headers.get("X-Sig"), body, [SECRET], encoding="hex", prefix="sha256=")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        doc = json.loads(body)  # deliberately naive: a crash here must not become a 5xx
        if not isinstance(doc, dict) or "id" not in doc:
            raise WebhookError("no id", status=400)
        return WebhookEvent(str(doc["id"]), str(doc.get("ticket")), "x", datetime.now(UTC))

    def read_ticket(self, ticket_id: str) -> Ticket:
        raise TicketNotFoundError(f"no ticket {ticket_id}")


class App:
    """The app with its lifespan entered, on a private event loop."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.store = Store.open(f"sqlite:///{tmp / 'fuzz.db'}")
        self.pack = RulePack.load([REPO / "rules" / "default.yaml"], engine="python")
        settings = Settings(path=tmp / "slaplug.yaml", store="", rules=[], engine="python")
        runtime = Runtime(settings, self.store, self.pack, {"desk": Desk()})  # type: ignore[dict-item]
        app = create_app(None, runtime=runtime, max_body=2048)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")
        self.loop.run_until_complete(
            self.stack.enter_async_context(app.router.lifespan_context(app))
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, path, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()
        self.pack.close()
        self.store.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    a = App(tmp_path_factory.mktemp("fuzz"))
    try:
        yield a
    finally:
        a.close()


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    doc = response.json()
    if response.status_code >= 400:
        assert set(doc) == {"error", "detail"}, doc
        assert SECRET not in response.text


header_names = st.sampled_from(
    ["X-Sig", "Content-Type", "Content-Length", "X-Zendesk-Webhook-Signature", "Authorization"]
) | st.from_regex(r"\AX-[A-Za-z0-9-]{1,20}\Z")
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = (
    st.binary(max_size=3000)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"id": json_values, "ticket": json_values}, optional={"extra": json_values}
    ).map(lambda v: json.dumps(v).encode())
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    body=bodies,
    headers=st.dictionaries(header_names, header_values, max_size=5),
    sign_it=st.booleans(),
)
def test_any_delivery_gets_a_2xx_or_4xx_with_a_json_body(
    app: App, body: bytes, headers: dict[str, str], sign_it: bool
) -> None:
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    if sign_it:
        headers["X-Sig"] = "sha256=" + sign(SECRET, body, encoding="hex")
    _check(app.send("POST", "/webhooks/desk", content=body, headers=headers))


@FUZZ
@given(
    connector=st.text(min_size=1, max_size=40).filter(
        lambda s: "/" not in s and s not in (".", "..")
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    ticket=st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s and s not in (".", "..")),
)
def test_any_path_gets_a_2xx_or_4xx_with_a_json_body(
    app: App, connector: str, method: str, ticket: str
) -> None:
    from urllib.parse import quote

    c, t = quote(connector, safe=""), quote(ticket, safe="")
    for path in (f"/webhooks/{c}", f"/tickets/{c}/{t}/sla", f"/{c}"):
        _check(app.send(method, path, content=b"{}"))


def test_published_openapi_document_is_current() -> None:
    published = json.loads((REPO / "docs" / "webhooks-openapi.json").read_text(encoding="utf-8"))
    assert published == openapi_document(), (
        "docs/webhooks-openapi.json is stale; regenerate it with: python -c "
        "'import json; from slaplug.web.app import openapi_document; "
        "print(json.dumps(openapi_document(), indent=2))' > docs/webhooks-openapi.json"
    )
