"""A canary credential never leaks: not into the store, the logs, or any error text.

A full run (a sync over the Zendesk fake, then webhook deliveries through the worker) with a
canary API token, behind a proxy on 127.0.0.1 that answers some requests with error bodies
echoing the credential the way real servers and proxies have: the ``Authorization`` value's
base64 without its scheme (opensearch-project/opensearch-java#1218: a 403 message carrying
the base64 credentials), ``Basic%20...`` URL-encoded in an echoed request line, the decoded
``user:password`` pair (xmidt-org/caduceus#192), the token URL-encoded in an echoed query
(ConsenSys/orchestrate#939: the URL with its secret in an error), and a hex dump of the
header. Then every table of the store, every log line (captured at DEBUG) and every error
text is searched for every encoding of the canary: plain, base64 of the Basic pair and of the
token at each of the three alignments (both alphabets), URL-encoded, hex.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from slaplug_zendesk.fake import FakeZendesk
from sqlalchemy import MetaData, select

from slaplug.errors import SlaplugError
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync
from slaplug.web.worker import Worker

zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
REPO = Path(__file__).resolve().parent.parent

# '+', '/' and '=' make the URL-encoded forms differ from the plain one.
CANARY = "cAn4ry+T0k/en=7f3e2d1c9b8a"


#: A backfill: these tests are about writing, which a default go-live holds for history.
BACKFILL = {"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}
#: The sync's "now", pinned (a Thursday, 13:00 in Berlin): the shipped rules measure Berlin
#: business hours, so with a real clock what the sync wrote (and so which faults it met)
#: depended on the weekday and hour the test ran. The fake's clock starts three days earlier,
#: at the instant its account is built against (``DEFAULT_END``, a Monday noon UTC).
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)

def encodings(secret: str, pair: str) -> dict[str, str]:
    """Every form of the canary to search for, by name."""
    header = "Basic " + base64.b64encode(pair.encode()).decode()
    forms: dict[str, str] = {"plain": secret, "pair": pair}
    forms["header hex"] = binascii.hexlify(header.encode()).decode()[12:]  # after "Basic "
    for name, value in (("token", secret), ("pair", pair)):
        raw = value.encode()
        forms[f"{name} url"] = quote(value, safe="")
        forms[f"{name} url-plus"] = quote_plus(value)
        forms[f"{name} url-lower"] = quote(value, safe="").lower()
        forms[f"{name} hex"] = binascii.hexlify(raw).decode()
        forms[f"{name} HEX"] = binascii.hexlify(raw).decode().upper()
        for alphabet, encode in (("std", base64.b64encode), ("url", base64.urlsafe_b64encode)):
            forms[f"{name} b64 {alphabet}"] = encode(raw).decode().rstrip("=")
            # Any base64 holding the value at byte offset k (mod 3) holds these characters.
            for k in range(3):
                lead = (3 - k) % 3
                groups = (len(raw) - lead) // 3
                forms[f"{name} b64 {alphabet} align {k}"] = encode(
                    raw[lead : lead + 3 * groups]
                ).decode()
    return forms


class EchoingProxy:
    """Forwards to the fake; answers chosen requests with an error echoing the credential."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.echoed: list[str] = []  # the bodies of the faults it answered
        self.lock = threading.Lock()
        self.count = 0
        #: Paths answered with a fault every time (their retries too).
        self.doomed: set[str] = set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.fault(self.command, self.path, self.headers.get("Authorization", ""))
                if fault is not None:
                    status, text = fault
                    self._answer(status, text.encode(), "text/html; charset=utf-8")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                r = requests.request(
                    self.command, proxy.upstream + self.path, headers=headers, data=body,
                    timeout=30, allow_redirects=False,
                )
                # The fake writes its own origin into next-page links; point them here.
                out = r.content.replace(proxy.upstream.encode(), proxy.base_url.encode())
                self._answer(r.status_code, out, r.headers.get("Content-Type", ""))

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _any  # noqa: N815 - stdlib's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fault(self, method: str, path: str, authorization: str) -> tuple[int, str] | None:
        """Every 4th request, and every write, answered with an echo of the credential."""
        with self.lock:
            self.count += 1
            n = self.count
        doomed = path.split("?", maxsplit=1)[0] in self.doomed
        if not doomed and method == "GET" and n % 4 and "/tickets/" not in path:
            return None
        if not doomed and method == "GET" and "/tickets/" in path and n % 2:
            return None
        b64 = authorization.removeprefix("Basic ").strip()
        pair = base64.b64decode(b64).decode()
        user, _, token = pair.partition(":")
        shapes = [
            f'{{"error": "invalid credentials", "received": "{b64}"}}',
            f"<html><body>502 Bad Gateway<pre>{method} {path} Authorization=Basic%20{b64}"
            "</pre></body></html>",
            f"upstream refused user '{pair}' for {path}",
            f"<pre>{method} {path}?api_token={quote(token, safe='')}&user={quote(user)}</pre>",
            f"header dump: {binascii.hexlify(authorization.encode()).decode()}",
        ]
        text = shapes[n % len(shapes)]
        with self.lock:
            self.echoed.append(text)
        # 503: retried inline, then left in the outbox with its last error.
        return 503, text

    def __enter__(self) -> EchoingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def store_texts(url: str) -> Iterator[tuple[str, str]]:
    """``(table.column, text)`` for every value of every table in the store."""
    with Store.open(url) as store:
        meta = MetaData()
        meta.reflect(store.engine)
        assert {"outbox", "ledger", "inbox", "snapshots", "quarantine"} <= set(meta.tables)
        with store.engine.connect() as conn:
            for table in meta.tables.values():
                for row in conn.execute(select(table)):
                    for column, value in row._mapping.items():
                        if value is None:
                            continue
                        if isinstance(value, bytes):
                            yield f"{table.name}.{column}", value.decode("latin-1")
                        else:
                            yield f"{table.name}.{column}", str(value)


def test_no_encoding_of_the_canary_reaches_the_store_logs_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'slaplug.db'}"
    errors: list[str] = []
    with FakeZendesk.start(
        now=NOW - timedelta(days=3),
        tickets=60,
        days=10,
        api_token=CANARY,
        job_complete_after=0.05,
        job_polls=1,
    ) as fake, EchoingProxy(fake.base_url) as proxy:
        pair = f"{fake.email}/token:{CANARY}"
        forms = encodings(CANARY, pair)
        caplog.set_level(logging.DEBUG)
        config = zd.ZendeskConfig.load(
            {"base_url": proxy.base_url, "email": fake.email, "api_token_env": "ZD_CANARY",
             "fields": {"sla_resolution_status": 360000000103}, "job_poll_interval": 0.02,
             "retry": {"max_attempts": 2, "backoff_initial": 0, "jitter": 0, "max_wait": 1}},
            connector="zendesk", environ={"ZD_CANARY": CANARY},
        )
        now = NOW
        with Store.open(url) as store, \
                RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=BACKFILL)
            for _ in range(3):  # a read fault stops a pass; the next one goes on
                try:
                    summary = job.run_once()
                    errors.append(json.dumps(summary.as_dict()))
                except SlaplugError as exc:
                    errors += [str(exc), repr(exc)]
            # The webhook path: deliveries whose ticket reads fault, kept with their error.
            ids = sorted(fake.store.tickets)[:8]
            proxy.doomed |= {f"/api/v2/tickets/{i}.json" for i in ids[:4]}
            for n, ticket_id in enumerate(ids):
                body = {"id": f"d-{n}", "type": "zen:event-type:ticket.status_changed",
                        "subject": f"zen:ticket:{ticket_id}", "detail": {"id": str(ticket_id)}}
                store.inbox_put("zendesk", f"d-{n}", {"content-type": "application/json"},
                                json.dumps(body).encode(), now=now)
            Worker(store, pack, {"zendesk": conn}, clock=lambda: now).drain()
            stats = store.outbox_stats()
            inbox = store.inbox_stats()
            errors += [d.last_error or "" for d in store.outbox_dead_letters()]
        # The run met the faults: the canary was sent and echoed back, in every shape.
        assert len(proxy.echoed) >= 10, proxy.echoed
        echoed = "\n".join(proxy.echoed)
        for name in ("pair", "token url", "pair b64 std"):
            assert forms[name] in echoed, f"the proxy never echoed the {name} form"
        assert stats.pending + stats.dead > 0 or stats.ledger.get("failed"), stats
        assert inbox.get("pending", 0) + inbox.get("dead", 0) > 0, inbox

    texts = [*store_texts(url)]
    assert any("helpdesk says" in t for where, t in texts if where == "outbox.last_error"), (
        "no fault reached outbox.last_error: the search below would prove nothing"
    )
    assert any(where == "inbox.last_error" for where, _ in texts)
    seen = [*texts, *((f"log {r.name}", r.getMessage()) for r in caplog.records)]
    seen += [("log text", caplog.text)]
    seen += [("error", e) for e in errors]
    leaks = [
        (where, name)
        for where, text in seen
        for name, form in forms.items()
        if form in text
    ]
    assert leaks == [], leaks[:20]
