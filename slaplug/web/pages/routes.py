"""The pages' routes on the ``slaplug serve`` app: ``/dashboard...`` for managers,
``/customer/<token>...`` for each customer, ``/static/slaplug.css``.

All are GET and read-only (nothing is stored, not even a closed period's first result);
none is in the OpenAPI document of the webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from slaplug.errors import ConfigError, UnknownTicketError
from slaplug.reports.as_json import render_json
from slaplug.serialize import TicketFormatError
from slaplug.views import ClockQuery, ClockState, row_to_dict, select
from slaplug.web.pages import customer as cust
from slaplug.web.pages import manager as mgr
from slaplug.web.pages.auth import CHALLENGE, customer_of, manager_allowed, presented_token
from slaplug.web.pages.figures import labels_back
from slaplug.web.pages.html import CSS, SECURITY_HEADERS, e, html_page, json_page, link, page
from slaplug.web.pages.service import EngineUnavailableError, Pages, Snapshot

__all__ = ["CUSTOMER_PERIODS", "RefusedError", "install_pages", "require_manager"]

#: Periods on a customer page: the current one and the five before it.
CUSTOMER_PERIODS = 6
#: The at-risk queue's default states.
_QUEUE_STATES = (ClockState.BREACHED, ClockState.AT_RISK)
_FILTERS = ("connector", "state", "team", "customer", "policy")


class RefusedError(Exception):
    """A request refused; ``response`` is the answer (a 401, a 404, a 400)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _error_page(
    status: int, title: str, text: str, headers: dict[str, str] | None = None
) -> Response:
    return html_page(page(title, f"<p>{e(text)}</p>"), status, headers)


async def require_manager(request: Request, p: Pages, *, as_json: bool = False) -> None:
    """Refuse (401, with the basic-auth challenge) a request without a manager token.

    Raises:
        RefusedError: The answer to send instead; `install_pages` registers its handler.
    """
    token = presented_token(request)
    ok = token is not None and await run_in_threadpool(
        manager_allowed, token, p.options.manager_token, p.store
    )
    if ok:
        return
    text = (
        "This needs a manager token: send it as a bearer token, or as the password when "
        "your browser asks (docs/dashboard.md)."
    )
    if as_json:
        refusal = json_page({"error": "unauthorized", "detail": text}, 401)
        refusal.headers.update(CHALLENGE)
        raise RefusedError(refusal)
    raise RefusedError(_error_page(401, "Sign in", text, CHALLENGE))


def install_pages(app: FastAPI, pages: Callable[[], Pages]) -> None:
    """Add the dashboard's and the customer pages' routes to ``app``.

    Args:
        app: The ``slaplug serve`` app.
        pages: Returns the running app's `Pages` (made when the app starts).
    """

    async def manager(request: Request, as_json: bool = False) -> Pages:
        p = pages()
        await require_manager(request, p, as_json=as_json)
        return p

    @app.exception_handler(RefusedError)
    async def refused(request: Request, exc: RefusedError) -> Response:
        return exc.response

    @app.exception_handler(EngineUnavailableError)
    async def unavailable(request: Request, exc: EngineUnavailableError) -> Response:
        text = f"The figures cannot be measured now ({exc}); try again in a moment."
        return _error_page(503, "Unavailable", text, {"Retry-After": "10"})

    @app.get("/static/slaplug.css", include_in_schema=False)
    async def stylesheet() -> Response:
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(CSS, media_type="text/css", headers=headers)

    def refresh(p: Pages) -> int:
        return max(int(p.options.refresh_s), 5)

    def queue(
        snap: Snapshot, request: Request, limit: int | None
    ) -> tuple[ClockQuery, dict[str, str]]:
        filters = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
        states: Any = [s for s in filters["state"].split(",") if s.strip()] or _QUEUE_STATES
        if filters["state"] == "all":
            states = None
        try:
            query = ClockQuery.build(
                connectors=filters["connector"] or None,
                states=states,
                teams=filters["team"] or None,
                customers=filters["customer"] or None,
                policies=filters["policy"] or None,
                limit=limit,
            )
        except ValueError as exc:
            raise RefusedError(_error_page(400, "Bad filter", str(exc))) from None
        return query, {k: v for k, v in filters.items() if v}

    def page_number(request: Request) -> int:
        text = request.query_params.get("page", "1")
        return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        p = await manager(request)
        snap = await p.snapshot()
        query, filters = queue(snap, request, None)
        found = select(snap.view.rows, query)
        per, number = p.options.queue_limit, page_number(request)
        rows = found[(number - 1) * per : number * per]
        results = await p.results(snap, None)
        teams = await p.teams(snap)
        actions = await run_in_threadpool(p.store.recent_actions, 20)
        sends = await run_in_threadpool(p.store.recent_sends, 20)
        b = snap.view.breaches
        body = (
            mgr.cards(snap.view.counts, len(b.today), len(b.this_period), b.period.label)
            + mgr.queue_section(
                rows,
                matched=len(found),
                page=number,
                per_page=per,
                filters=filters,
                zone=snap.zone,
            )
            + mgr.compliance_section(results, "Compliance this period, per customer and severity")
            + mgr.team_section(teams, "Compliance this period, per team")
            + mgr.activity_section(actions, sends, snap.zone, "Latest written and notified")
        )
        return html_page(page("SLA dashboard", body, nav=mgr.NAV, at=snap.at, refresh=refresh(p)))

    @app.get("/dashboard/queue.json", include_in_schema=False)
    async def queue_json(request: Request) -> Response:
        p = await manager(request, as_json=True)
        snap = await p.snapshot()
        query, _ = queue(snap, request, p.options.queue_limit)
        found = select(snap.view.rows, query)
        return json_page({"at": snap.at.isoformat(), "clocks": [row_to_dict(r) for r in found]})

    def period_param(request: Request) -> str | None:
        text = request.query_params.get("period", "").strip()
        return text or None

    async def compliance_results(p: Pages, snap: Snapshot, label: str | None) -> Any:
        try:
            return await p.results(snap, label)
        except ConfigError as exc:
            raise RefusedError(_error_page(400, "Bad period", str(exc))) from None

    @app.get("/dashboard/compliance", include_in_schema=False)
    async def compliance(request: Request) -> Response:
        p = await manager(request)
        snap = await p.snapshot()
        label = period_param(request)
        results = await compliance_results(p, snap, label)
        try:
            teams = await p.teams(snap, label)
        except ConfigError as exc:
            raise RefusedError(_error_page(400, "Bad period", str(exc))) from None
        title = f"Compliance {label}" if label else "Compliance this period"
        form = (
            '<p class="mute">Another period: /dashboard/compliance?period=2026-10 (or 2026-Q4); '
            "the same figures as <code>slaplug report --period ...</code>, as JSON at "
            f"{link('/dashboard/compliance.json' + (f'?period={label}' if label else ''), 'compliance.json')}.</p>"
        )
        body = (
            form
            + mgr.compliance_section(results, f"{title}, per customer and severity")
            + mgr.team_section(teams, f"{title}, per team")
        )
        return html_page(page(title, body, nav=mgr.NAV, at=snap.at, refresh=refresh(p)))

    @app.get("/dashboard/compliance.json", include_in_schema=False)
    async def compliance_json(request: Request) -> Response:
        p = await manager(request, as_json=True)
        snap = await p.snapshot()
        try:
            results = await p.results(snap, period_param(request))
        except ConfigError as exc:
            return json_page({"error": "bad_request", "detail": str(exc)}, 400)
        # The document of `slaplug report --format json`, byte for byte.
        return Response(
            render_json(results), media_type="application/json", headers=SECURITY_HEADERS
        )

    @app.get("/dashboard/tickets/{connector}/{ticket_id}", include_in_schema=False)
    async def ticket(request: Request, connector: str, ticket_id: str) -> Response:
        p = await manager(request)
        try:
            doc = await p.explain(connector, ticket_id)
        except UnknownTicketError as exc:
            return _error_page(404, "No such ticket", str(exc))
        except TicketFormatError as exc:
            return _error_page(422, "Ticket cannot be shown", str(exc))
        actions = await run_in_threadpool(p.store.ticket_actions, connector, ticket_id)
        body = mgr.ticket_body(doc, actions, p.zone)
        title = f"Ticket {connector}:{ticket_id}"
        return html_page(page(title, body, nav=mgr.NAV, at=p.clock()))

    @app.get("/dashboard/activity", include_in_schema=False)
    async def activity(request: Request) -> Response:
        p = await manager(request)
        actions = await run_in_threadpool(p.store.recent_actions, 200)
        sends = await run_in_threadpool(p.store.recent_sends, 200)
        body = mgr.activity_section(actions, sends, p.zone, "Written and notified, newest first")
        return html_page(
            page("Written and notified", body, nav=mgr.NAV, at=p.clock(), refresh=refresh(p))
        )

    # -- customers --------------------------------------------------------------------------

    async def customer_view(
        token: str, as_json: bool = False
    ) -> tuple[Pages, Any, list[Any], list[Any], Snapshot]:
        p = pages()
        who = await run_in_threadpool(customer_of, token, p.store)
        contract = p.book.get(who.contract) if who is not None else None
        if (who is None or contract is None) and as_json:
            raise RefusedError(json_page({"error": "not_found", "detail": "no such link"}, 404))
        if who is None or contract is None:
            raise RefusedError(
                _error_page(
                    404,
                    "Link not valid",
                    "This link is not valid: it may have been replaced or revoked. Ask your "
                    "service manager for the current one.",
                )
            )
        snap = await p.snapshot()
        results = []
        for label in labels_back(contract, snap.at, CUSTOMER_PERIODS):
            if who.organization:
                # One organization of a shared contract: its part, as `slaplug credits
                # --organization` gives it (frozen, or as of the period's end).
                results += await p.organization_results(snap, contract, label, who.organization)
            else:
                results += await p.results(snap, label, only=contract.name)
        rows = cust.customer_rows(snap.view.rows, who, p.contract_policies(contract))
        return p, who, results, rows, snap

    @app.get("/customer/{token}", include_in_schema=False)
    async def customer_page(token: str) -> Response:
        p, who, results, rows, snap = await customer_view(token)
        name = who.organization or who.contract
        contract = p.book.get(who.contract)
        assert contract is not None
        body = cust.customer_body(who, results, rows, contract.zone, snap.at)
        return html_page(page(f"Service levels: {name}", body, at=snap.at, refresh=refresh(p)))

    @app.get("/customer/{token}/figures.json", include_in_schema=False)
    async def customer_json(token: str) -> Response:
        _, who, results, rows, snap = await customer_view(token, as_json=True)
        return json_page({"at": snap.at.isoformat(), **cust.customer_doc(who, results, rows)})
