"""The figures behind the pages, measured at most once per refresh interval.

Measuring every synced ticket is what costs (the status view and the contracts' samples):
`Pages` does it on the rules pack's thread, keeps the result for ``dashboard.refresh``, and
lets one request compute while concurrent ones wait for the same result. Everything the pages
show of one refresh comes from that one snapshot, so two numbers on a page always agree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi.concurrency import run_in_threadpool

from slaplug.config import DashboardSettings
from slaplug.credits.model import Contract, PeriodResult
from slaplug.credits.run import configured_digest, empty_part
from slaplug.credits.source import ContractBook
from slaplug.runtime import Runtime
from slaplug.views import ClockQuery, StatusView, explain_synced, status_view
from slaplug.web.pages.figures import (
    PartResult,
    Sampling,
    contract_results,
    current_label,
    ended_wanted,
    part_results,
    take_ended,
    take_samples,
)

__all__ = ["EngineUnavailableError", "Pages", "Snapshot"]

T = TypeVar("T")

#: How a job reaches the thread that may use the rules pack.
OnPack = Callable[[Callable[[], Any]], "Future[Any]"]


class EngineUnavailableError(Exception):
    """The thread that may use the rules pack is not running (the pages answer 503)."""


@dataclass
class Snapshot:
    """One refresh: every open clock, the contracts' samples, and the figures of the current
    periods (open, so never frozen meanwhile: computed once per snapshot).

    Attributes:
        view: Every open clock (and breaches today and this period), least time left first.
        sampling: Every contract's decided measures.
        zone: Where the dashboard's "today" begins (the first contract's zone, else UTC).
    """

    at: datetime
    view: StatusView
    sampling: Sampling
    zone: ZoneInfo
    current: list[PeriodResult] | None = None
    teams: list[tuple[str, PartResult]] | None = None


class Pages:
    """What the page routes share: the runtime, the settings, the snapshot cache."""

    def __init__(
        self,
        runtime: Runtime,
        on_pack: OnPack,
        options: DashboardSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.options = options
        self.clock = clock
        self._on_pack = on_pack
        self._snapshot: Snapshot | None = None
        self._taken = 0.0
        self._computing: asyncio.Lock | None = None

    # Made on first use, not at start-up: an app embedded without rules serves its webhooks.
    @cached_property
    def book(self) -> ContractBook:
        """The contracts of the rules pack in force."""
        return ContractBook(self.runtime.pack)

    @cached_property
    def digest(self) -> str:
        """The rules' fingerprint, recorded with each result (as ``slaplug report`` does)."""
        return configured_digest(self.runtime.settings, self.book.rules.labelled)

    @property
    def zone(self) -> ZoneInfo:
        """Where the dashboard's days begin: the first contract's zone, else UTC."""
        first = self.book.contracts[0] if self.book.contracts else None
        return first.zone if first is not None else ZoneInfo("UTC")

    @property
    def period_kind(self) -> str:
        """The first contract's period (month or quarter), for "breaches this period"."""
        first = self.book.contracts[0] if self.book.contracts else None
        return first.period_kind if first is not None else "month"

    def contract_policies(self, contract: Contract) -> frozenset[str]:
        """The policies whose clocks count for ``contract`` (its own list, else every sla
        policy: what the credits computation counts)."""
        if contract.policies is not None:
            return contract.policies
        versions = self.book.rules.versions
        return frozenset(p.name for v in versions for p in v.pack.policies if p.kind == "sla")

    async def snapshot(self) -> Snapshot:
        """The current snapshot, measured again once it is older than the refresh interval."""
        if self._computing is None:
            self._computing = asyncio.Lock()
        async with self._computing:
            fresh = time.monotonic() - self._taken < self.options.refresh_s
            if self._snapshot is None or not fresh:
                self._snapshot = await self._measure()
                self._taken = time.monotonic()
            return self._snapshot

    async def _measure(self) -> Snapshot:
        now = self.clock()
        store, pack, book = self.store, self.runtime.pack, self.book
        connectors = self.runtime.connectors

        def link(t: Any) -> str | None:
            conn = connectors.get(t.connector)
            return conn.ticket_url(t.id) if conn is not None else None

        def job() -> tuple[StatusView, Sampling]:
            view = status_view(
                store,
                pack,
                now,
                ClockQuery(),
                links=link,
                zone=self.zone,
                period=self.period_kind,
            )
            return view, take_samples(book, store.iter_snapshots, now)

        view, sampling = await asyncio.wrap_future(self._submit(job))
        return Snapshot(now, view, sampling, self.zone)

    async def results(
        self, snap: Snapshot, label: str | None, only: str | None = None
    ) -> list[PeriodResult]:
        """Contracts' results for ``label`` (None: each one's current period), as ``slaplug
        report`` computes them at the snapshot's time. The current periods' are kept with the
        snapshot; a named period's are read again each time (one frozen meanwhile by
        ``slaplug credits`` shows frozen at once)."""
        kept = label is None and only is None
        if kept and snap.current is not None:
            return snap.current
        await self.ended(snap, label, only=only)
        found: list[PeriodResult] = await run_in_threadpool(
            contract_results,
            self.store,
            self.book,
            snap.sampling,
            label,
            digest=self.digest,
            only=only,
        )
        if kept:
            snap.current = found
        return found

    async def ended(
        self,
        snap: Snapshot,
        label: str | None,
        *,
        only: str | None = None,
        frozen_too: bool = False,
    ) -> None:
        """Measure, once per snapshot, the tickets as of the end of each contract's period
        ``label`` that has ended (not frozen, unless ``frozen_too``), as ``slaplug report``
        measures it: `ended_wanted`, then `take_ended` on the rules pack's thread."""
        wanted = await run_in_threadpool(
            ended_wanted,
            self.store,
            self.book,
            snap.sampling,
            label,
            only=only,
            frozen_too=frozen_too,
        )
        if wanted:
            store, book = self.store, self.book
            await asyncio.wrap_future(
                self._submit(lambda: take_ended(book, store.iter_snapshots, snap.sampling, wanted))
            )

    async def organization_results(
        self, snap: Snapshot, contract: Contract, label: str, organization: str
    ) -> list[PeriodResult]:
        """Contract ``contract``'s figures for ``label`` over one organization's tickets: the
        current period's computed live; a period that has ended, the organization's part of
        the contract's result as ``slaplug credits --organization`` gives it (frozen, or
        measured as of the period's end). A period frozen before slaplug kept each
        customer's part is computed over its tickets as of its end (never stored)."""
        if label == current_label(contract, snap.at):
            parts = part_results(
                self.book,
                snap.sampling,
                contract.name,
                label,
                "organization",
                digest=self.digest,
                only=organization,
            )
            return [r.result for r in parts]
        out: list[PeriodResult] = []
        for r in await self.results(snap, label, only=contract.name):
            if r.parts is None:  # frozen before parts were kept
                await self.ended(snap, label, only=contract.name, frozen_too=True)
                parts = part_results(
                    self.book,
                    snap.sampling,
                    contract.name,
                    label,
                    "organization",
                    digest=self.digest,
                    only=organization,
                )
                out += [p.result for p in parts]
                continue
            part = r.part(organization) or empty_part(self.book, r, organization, label)
            if part is not None:
                out.append(part)
        return out

    async def teams(self, snap: Snapshot, label: str | None = None) -> list[tuple[str, PartResult]]:
        """Each contract's figures per team for ``label`` (None: the current periods; those
        are kept with the snapshot), by the same computation over each team's tickets (as
        of its end, for a period that has ended)."""
        if label is None and snap.teams is not None:
            return snap.teams
        await self.ended(snap, label, frozen_too=True)
        out: list[tuple[str, PartResult]] = []
        for c in self.book.contracts:
            parts = part_results(self.book, snap.sampling, c.name, label, "team")
            out += [(c.name, r) for r in parts]
        if label is None:
            snap.teams = out
        return out

    def _submit(self, job: Callable[[], Any]) -> Future[Any]:
        try:
            return self._on_pack(job)
        except RuntimeError as exc:  # the webhook worker that owns the pack stopped
            raise EngineUnavailableError(str(exc)) from None

    async def explain(self, connector: str, ticket_id: str) -> dict[str, Any]:
        """The explain view of a synced ticket, now (raises `UnknownTicketError`)."""
        now = self.clock()
        store, pack, connectors = self.store, self.runtime.pack, self.runtime.connectors

        def link(t: Any) -> str | None:
            conn = connectors.get(t.connector)
            return conn.ticket_url(t.id) if conn is not None else None

        def job() -> dict[str, Any]:
            return explain_synced(
                store, pack, connector, ticket_id, now, known=set(connectors) or None, links=link
            )

        result: dict[str, Any] = await asyncio.wrap_future(self._submit(job))
        return result
