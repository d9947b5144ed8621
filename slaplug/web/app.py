"""The ASGI app of ``slaplug serve``: a thin FastAPI adapter over `slaplug.web.events`.

FastAPI because it publishes an OpenAPI document from the routes (docs/webhooks-openapi.json)
and runs on uvicorn; the webhook route reads the raw body itself (signatures are over the
exact bytes) and leaves every decision to the sans-I/O core.

Routes: ``POST /webhooks/{connector}``, ``GET /healthz``, ``GET /metrics`` and
``GET /tickets/{connector}/{ticket_id}/sla``. Every error answers
``{"error": ..., "detail": ...}``. The dashboard and customer pages (``/dashboard``,
``/customer/<token>``; `slaplug.web.pages`) are added beside them, outside the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from slaplug.config import Settings
from slaplug.rules.versions import VersionedPack
from slaplug.runtime import Runtime, open_runtime
from slaplug.views.ticket import explain_ticket
from slaplug.web.events import (
    DEFAULT_MAX_BODY,
    Checked,
    Reply,
    check,
    error_reply,
    keeps_header,
    loggable,
    stored,
    too_large,
)
from slaplug.web.inbox_writer import InboxWriter
from slaplug.web.metrics import CONTENT_TYPE_LATEST, Metrics
from slaplug.web.pages.auth import shown_path
from slaplug.web.pages.routes import install_pages, require_manager
from slaplug.web.pages.service import Pages
from slaplug.web.worker import Worker

__all__ = ["create_app", "openapi_document"]

log = logging.getLogger("slaplug.web")


class Accepted(BaseModel):
    """A delivery stored in the inbox (202), or one stored before (200, a retry or replay)."""

    status: Literal["accepted", "duplicate"]
    delivery_id: str = Field(description="The platform's delivery id, as de-duplicated.")


class ErrorBody(BaseModel):
    """Every error's body."""

    error: str = Field(description="A stable code: malformed, bad_signature, unknown_connector...")
    detail: str = Field(description="What went wrong, for people; never a secret.")


class Health(BaseModel):
    """The server is up, its worker runs and its store answers."""

    status: Literal["ok"]
    worker: bool
    inbox: dict[str, int] = Field(description="Inbox deliveries by state.")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody} for s in statuses}


_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    503: "unavailable",
}


class _WorkerPool(Protocol):
    """What the app needs from workers running elsewhere (`WorkerSupervisor` has it)."""

    @property
    def alive(self) -> bool:
        """True while the workers run (or are being restarted)."""

    @property
    def count(self) -> int:
        """Worker processes wanted (0: they run elsewhere)."""

    @property
    def running(self) -> int:
        """Worker processes running and ready now."""

    def wake(self) -> None:
        """A delivery was stored."""

    def start(self) -> None:
        """Start the workers."""

    def stop(self) -> None:
        """Stop the workers."""


@runtime_checkable
class _LaneWaker(Protocol):
    """Workers woken per connector (`slaplug.jobs.engine.Enqueuer`: a drain job queued)."""

    def wake_lane(self, connector: str) -> None:
        """A delivery for ``connector`` was stored."""


@dataclass
class _State:
    runtime: Runtime
    metrics: Metrics
    inbox: InboxWriter
    #: The worker thread in this process, or None when workers run in their own processes.
    worker: Worker | None
    workers: _WorkerPool | None
    #: Runs the explain view when no worker thread does: the rules pack is used from one
    #: thread at a time.
    explainer: ThreadPoolExecutor | None

    def wake(self, connector: str) -> None:
        if self.worker is not None:
            self.worker.wake()
        elif isinstance(self.workers, _LaneWaker):
            # The distributed engine: the delivery queues its connector's drain job.
            self.workers.wake_lane(connector)
        elif self.workers is not None:
            self.workers.wake()

    def on_pack(self, job: Callable[[], Any]) -> Future[Any]:
        """Run ``job`` where the rules pack may be used (one thread at a time uses it).

        Raises:
            RuntimeError: The worker thread that owns the pack is not running.
        """
        if self.explainer is not None:
            return self.explainer.submit(job)
        assert self.worker is not None
        return self.worker.call(job)

    @property
    def worker_alive(self) -> bool:
        if self.worker is not None:
            return self.worker.alive
        return self.workers is not None and self.workers.alive


def _json(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it exceeds ``limit`` (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: Settings | None,
    *,
    runtime: Runtime | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    worker_options: dict[str, Any] | None = None,
    workers: _WorkerPool | None = None,
    connections_closed: Mapping[str, int] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the app. The store, rules and connectors open when it starts, the worker too.

    Args:
        settings: Validated settings; the app opens its runtime from them at start-up and
            closes it at shutdown. None only to render the OpenAPI document.
        runtime: An already open runtime to use instead (the caller closes it); ``slaplug
            serve`` opens it first so configuration errors show before the port is bound.
        max_body: The body-size limit of a delivery, in bytes.
        worker_options: Keyword arguments of `Worker` (batch, poll_interval...).
        workers: Workers in processes of their own (`slaplug.web.processes.WorkerSupervisor`),
            started and stopped with the app and woken when a delivery is stored. None (the
            default, for embedding and tests) runs one worker thread in this process.
        connections_closed: The server protocol's counts of connections it closed, by
            reason (`slaplug.web.server.uvicorn_options` makes them), for ``/metrics``.
        clock: The pages' "now" (tests pin it); default the current time.
    """
    holder: dict[str, _State] = {}
    pages_holder: dict[str, Pages] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            rt = runtime
            if rt is None:
                if settings is None:
                    raise RuntimeError("create_app(None) only renders the OpenAPI document")
                rt = stack.enter_context(open_runtime(settings))
            # Stores written before the header allow-list kept credential headers (issue 14):
            # drop them before serving. Rows that need nothing are only read.
            keep = keeps_header(rt.connectors)
            scrubbed = await run_in_threadpool(rt.store.inbox_scrub_headers, keep)
            if scrubbed:
                log.warning(
                    "removed headers outside the allow-list from %d stored deliveries", scrubbed
                )
            metrics = Metrics(rt.store.inbox_stats, connections_closed=connections_closed)
            writer = InboxWriter(rt.store)
            stack.callback(writer.stop)
            worker: Worker | None = None
            explainer: ThreadPoolExecutor | None = None
            if workers is None:
                options = dict(worker_options or {})
                if settings is not None:
                    options.setdefault("claim_batch", settings.outbox.batch)
                    options.setdefault("escalate_from", settings.escalate_from)
                worker = Worker(
                    rt.store,
                    rt.pack,
                    rt.connectors,
                    metrics=metrics,
                    channels=rt.settings.notify,
                    **options,
                )
                worker.start()
                stack.callback(worker.stop)
            else:
                explainer = ThreadPoolExecutor(1, thread_name_prefix="slaplug-explain")
                stack.callback(explainer.shutdown, cancel_futures=True)
                workers.start()
                stack.callback(workers.stop)
                # The worker processes keep their own item metrics; this process counts them.
                pool = workers
                metrics.worker_alive.set_function(lambda: float(pool.running))
            st = _State(rt, metrics, writer, worker, workers, explainer)
            holder["state"] = st
            pages_holder["pages"] = Pages(
                rt, st.on_pack, rt.settings.dashboard, clock or (lambda: datetime.now(UTC))
            )
            yield

    app = FastAPI(
        title="slaplug webhooks",
        version="1",
        summary="Helpdesk webhooks in, SLA fields and escalations out within seconds.",
        description='See docs/webhooks.md. Every error answers `{"error": ..., "detail": ...}`.',
        lifespan=lifespan,
    )

    def state() -> _State:
        return holder["state"]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = _ERROR_CODES.get(exc.status_code, "error")
        # The exception's headers too: a 405 carries the route's ``Allow`` (RFC 9110 §15.5.6:
        # "MUST generate an Allow header field"), which Starlette puts there.
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "bad_request", "detail": "invalid request"}, 400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # A customer's page has its credential in the path: logged by its public id only.
        path = shown_path(request.url.path)
        log.exception("unexpected error on %s %s", request.method, path)
        return JSONResponse({"error": "internal", "detail": "unexpected error; see the log"}, 500)

    @app.post(
        "/webhooks/{connector}",
        status_code=202,
        response_model=Accepted,
        responses={
            200: {"model": Accepted, "description": "A duplicate of a stored delivery."},
            **_errors(400, 401, 404, 413, 503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The platform's webhook body, exactly as signed.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
        summary="Receive a helpdesk webhook",
    )
    async def webhook(connector: str, request: Request) -> Response:
        """Verify, de-duplicate and store a delivery; the work happens after the answer.

        202: stored in the inbox. 200: a delivery with this id was stored before (never 409,
        which Jira retries). 401: bad signature. 400: malformed body (not the platform's
        shape, JSON nested deeper than 64 levels, or a ticket id that is not sane). 404:
        unknown connector. 413: body over the limit. 503: the inbox cannot store it now; retry.
        """
        started = time.perf_counter()
        st = state()
        accepted: Checked | None = None
        try:
            body = await _read_body(request, max_body)
        except ClientDisconnect:
            return _json(error_reply(400, "the client went away before sending the body"))
        if body is None:
            reply = too_large(max_body)
        else:
            # On the event loop: checking is a HMAC and a JSON parse, cheaper than the hop to
            # a thread and back. Only the store write leaves the loop, to the batching writer.
            checked = check(
                st.runtime.connectors,
                connector,
                dict(request.headers.items()),
                body,
                max_body=max_body,
            )
            if isinstance(checked, Reply):
                reply = checked
            else:
                accepted = checked
                result: bool | BaseException
                try:
                    future = st.inbox.submit(connector, checked.delivery_id, checked.headers, body)
                    result = await asyncio.wrap_future(future)
                except Exception as exc:
                    result = exc
                reply = stored(checked, result)
        if reply.status == 202:
            if isinstance(st.workers, _LaneWaker):
                await run_in_threadpool(st.wake, connector)  # a job queued: store I/O
            else:
                st.wake(connector)
        known = connector in st.runtime.connectors
        # The metric's label stays one of the configured names (an unknown one, whatever a
        # request puts in the URL, counts as "unknown"); the log line names what was asked.
        label = connector if known else "unknown"
        st.metrics.deliveries.labels(label, reply.outcome).inc()
        st.metrics.ack_seconds.labels(label).observe(time.perf_counter() - started)
        if reply.status >= 400:
            to = label if known else f"unknown connector {loggable(connector)}"
            log.info("webhook to %s refused %d: %s", to, reply.status, reply.body["detail"])
        elif accepted is not None:
            # One line per delivery: what came and what became of it, never its body.
            event = accepted.event
            log.info(
                "webhook to %s %s: delivery %s, ticket %s, event %s",
                label,
                reply.outcome,
                loggable(accepted.delivery_id),
                "-" if event is None or event.ticket_id is None else event.ticket_id,
                "-" if event is None else loggable(event.kind),
            )
        return _json(reply)

    @app.get("/healthz", response_model=Health, responses=_errors(503), summary="Health")
    async def healthz() -> Response:
        """200 when the worker runs and the store answers, else 503."""
        st = state()
        try:
            inbox = await run_in_threadpool(st.runtime.store.inbox_stats)
        except Exception:
            return _json(error_reply(503, "the store does not answer"))
        if not st.worker_alive:
            return _json(error_reply(503, "the webhook worker is not running"))
        if st.workers is not None and st.workers.count > 0 and st.workers.running == 0:
            # Starting, or every worker is being restarted: deliveries are still stored.
            return _json(error_reply(503, "no webhook worker is ready yet"))
        running = st.worker is not None or (st.workers is not None and st.workers.running > 0)
        return JSONResponse({"status": "ok", "worker": running, "inbox": inbox})

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
        summary="Prometheus metrics",
    )
    async def metrics() -> Response:
        """Deliveries by outcome, acknowledgement latency, inbox depth, worker lag."""
        text = await run_in_threadpool(state().metrics.render)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/tickets/{connector}/{ticket_id}/sla",
        responses=_errors(401, 404, 503),
        summary="Explain a ticket's SLA clocks",
    )
    async def sla(connector: str, ticket_id: str, request: Request) -> Response:
        """The explain view of the ticket's stored snapshot, now, as JSON (as ``slaplug explain
        --json``): clocks, counted and paused time, closures, escalations that would fire.

        Needs a manager token (bearer, or basic auth's password; see docs/dashboard.md): the
        server that serves customer pages must not show one customer another's tickets."""
        await require_manager(request, pages_holder["pages"], as_json=True)
        st = state()
        if connector not in st.runtime.connectors:
            return _json(error_reply(404, f"no connector named {connector!r}"))
        snapshot = await run_in_threadpool(st.runtime.store.load_snapshot, connector, ticket_id)
        if snapshot is None:
            return _json(
                error_reply(
                    404,
                    f"no snapshot of {connector} ticket {ticket_id!r} yet",
                    error="unknown_ticket",
                )
            )
        pack, conn = st.runtime.pack, st.runtime.connectors[connector]
        recorded = None
        if isinstance(pack, VersionedPack) and pack.labelled:
            # With rules versions: also the version each clock's history was recorded under.
            recorded = await run_in_threadpool(st.runtime.store.measure_versions, snapshot.key)
        # Each live field's planned values, as `slaplug explain CONNECTOR:ID --json` lists them.
        live = await run_in_threadpool(st.runtime.store.live_history, connector, ticket_id)

        def job() -> dict[str, Any]:
            # The same document as ``slaplug explain CONNECTOR:ID --json`` (slaplug.views).
            return explain_ticket(
                pack,
                snapshot,
                datetime.now(UTC),
                links=lambda t: conn.ticket_url(t.id),
                recorded=recorded,
                live=live,
            )

        if st.explainer is not None:
            return JSONResponse(await asyncio.wrap_future(st.explainer.submit(job)))
        try:
            # On the worker's thread: the rules pack is used from one thread at a time.
            assert st.worker is not None
            future = st.worker.call(job)
        except RuntimeError:
            return _json(error_reply(503, "the webhook worker is not running"))
        return JSONResponse(await asyncio.wrap_future(future))

    install_pages(app, lambda: pages_holder["pages"])
    return app


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, as published in docs/webhooks-openapi.json."""
    return create_app(None).openapi()
