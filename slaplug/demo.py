"""``slaplug demo``: the whole job against the bundled fake helpdesks, nothing to install.

It starts the fake helpdesks the installed connector plugins offer to it (hook
``register_fakes``, ``demo=``) on 127.0.0.1, a few weeks of tickets each, writes a
configuration and a SQLite store into a folder, runs one sync, shows what was breached and what
was written where, runs a second sync to show that nothing is written twice, lists the at-risk
queue (``slaplug status``) and explains one breached ticket (``slaplug explain CONNECTOR:ID``),
naming the commands that show them again from the store it leaves behind.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import click
import yaml

from slaplug.config import load_settings
from slaplug.connectors.base import Connector
from slaplug.credits.source import ContractBook
from slaplug.explain import render_text
from slaplug.hookspecs import DemoConnection, DemoFake
from slaplug.jobs.local import SyncPass
from slaplug.plugins import get_demo_fakes
from slaplug.progress import go_live_lines
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.runtime import open_runtime
from slaplug.store import Store
from slaplug.summary import BreachFate, Summary
from slaplug.testing.mailbox import Mailbox
from slaplug.views import ClockQuery, connector_links, explain_synced, status_view
from slaplug.views.terminal import render_plain

__all__ = ["demo_instant", "run_demo"]


def _iso(t: datetime) -> str:
    """``t`` as the demo prints it in commands: ISO 8601, seconds, ``Z`` for UTC."""
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def demo_instant(real: datetime) -> datetime:
    """The instant the demo runs at: the latest Thursday 12:00 UTC at or before ``real``.

    The fakes generate the same account every time, placed before the instant they are given;
    the rules count business hours (weekdays). Run at the real time, the demo's story changed
    with the weekday and the hour (on a Sunday noon no resolution clock had run out since the
    go-live cutoff, so nobody was notified). Run at the same point of the week, it tells the
    same story every week: the same tickets breached, written to and notified about (a public
    holiday of the rules' calendar in the week before can move a deadline).
    """
    real = real.astimezone(UTC)
    days_back = (real.weekday() - 3) % 7  # Thursday is weekday 3
    anchor = (real - timedelta(days=days_back)).replace(hour=12, minute=0, second=0, microsecond=0)
    return anchor if anchor <= real else anchor - timedelta(days=7)


def _start_fakes(stack: ExitStack, now: datetime) -> dict[str, DemoConnection]:
    """Start every fake the installed plugins offer to the demo; their connections by name.

    The plugins choose the fakes and their data (hook ``register_fakes``, ``demo=``): the
    core names no platform.

    Raises:
        click.ClickException: No installed plugin offers one.
    """
    offered = get_demo_fakes()
    if not offered:
        raise click.ClickException(
            "no installed plugin offers a fake helpdesk for the demo (hook register_fakes, "
            "demo=...); install a connector plugin that ships one, or check "
            "SLAPLUG_LOAD_PLUGINS"
        )
    connections: dict[str, DemoConnection] = {}
    for name, start in offered.items():
        connection = stack.enter_context(_call_start(start, now))
        os.environ.update(connection.environ)  # the credentials the section names
        connections[name] = connection
    return connections


def _call_start(start: DemoFake, now: datetime) -> AbstractContextManager[DemoConnection]:
    """``start(now)``; ``start()`` for a plugin written before the demo passed its instant."""
    try:
        takes_now = bool(inspect.signature(start).parameters)
    except (TypeError, ValueError):  # a builtin or C callable: give it the instant
        takes_now = True
    legacy = cast("Callable[[], AbstractContextManager[DemoConnection]]", start)
    return start(now) if takes_now else legacy()


#: The channels the shipped rules notify; the demo delivers each to its local mailbox.
_DEMO_CHANNELS = ("team-lead", "support-manager", "second-line-lead")


def _write_config(
    folder: Path,
    rules: Path,
    sections: dict[str, Any],
    notify: dict[str, list[str]],
    now: datetime,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    store = (folder / "slaplug.db").resolve()
    for leftover in folder.glob("slaplug.db*"):
        leftover.unlink()  # every demo starts from an empty store, like a first install
    config = folder / "slaplug.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{store}",
                "rules": [str(rules.resolve())],
                # A backfill of the fakes' last week: older thresholds are measured, not
                # escalated (a real first sync escalates nothing from before it started).
                "escalate_from": (now - timedelta(days=7)).date().isoformat(),
                "connectors": sections,
                "notify": notify,
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return config


def _show(summary: Summary, title: str) -> None:
    click.echo(
        f"{title}: {summary.tickets_read} tickets read, {summary.planned} actions planned, "
        f"{summary.applied} written, {summary.already} already there, {summary.skipped} skipped, "
        f"{summary.failed} failed; "
        f"API calls {summary.api_reads} reads / {summary.api_writes} writes; {summary.seconds:.1f}s"
    )
    for reason, n in sorted(summary.skipped_by.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"  skipped {n}: {reason}")


def _show_breaches(summary: Summary) -> None:
    """Each breached clock once, and what the sync did about it."""
    tally: Counter[tuple[str, str, BreachFate]] = Counter(
        (b.connector, b.clock, b.fate) for b in summary.breaches
    )
    click.echo(
        f"\nBreached clocks: {summary.breached_clocks}, each counted once, by what the sync "
        "did about them"
    )
    click.echo(
        f"  {'':<8} {'policy/metric':<30} {'since cutoff':>12} {'before cutoff':>13} "
        f"{'solved/closed':>13}"
    )
    for conn, clock in sorted({(c, k) for c, k, _ in tally}):
        click.echo(
            f"  {conn:<8} {clock:<30} {tally[(conn, clock, BreachFate.SINCE_CUTOFF)]:>12} "
            f"{tally[(conn, clock, BreachFate.BEFORE_CUTOFF)]:>13} "
            f"{tally[(conn, clock, BreachFate.TICKET_DONE)]:>13}"
        )
    click.echo(
        "  since cutoff: breached since the go-live cutoff on an open ticket; the rules' "
        "escalations for it are written, once\n"
        "  before cutoff: history, recorded and never escalated\n"
        "  solved/closed: nothing is ever written on a done ticket"
    )


def _show_written(summary: Summary) -> None:
    """What was written where, and the escalation level and clock that planned each write."""
    tickets = {(w.connector, w.ticket_id) for w in summary.written}
    click.echo(
        f"\nWritten back: {summary.applied} actions on {len(tickets)} tickets, each planned by "
        "an escalation level whose threshold was crossed since the cutoff (<- why)"
    )
    for w in summary.written[:15]:
        shown = " ".join(
            f"{k}={(v[:60] + '...') if isinstance(v, str) and len(v) > 60 else v}"
            for k, v in w.params.items()
        )
        click.echo(f"  {w.connector:<8} #{w.ticket_id:<6} {w.kind:<12} {shown}")
        click.echo(f"  {'':<8} {'':<7} <- {w.why}")
    if len(summary.written) > 15:
        click.echo(f"  ... and {len(summary.written) - 15} more")


def _show_mail(mailbox: Mailbox) -> None:
    mail = mailbox.received()
    to = Counter(str(m["To"]) for m in mail)
    click.echo(f"\nNotifications in the local mailbox: {len(mail)}")
    for address, n in sorted(to.items()):
        click.echo(f"  {address:<32} {n}")
    if mail:
        first = mail[0]
        body = first.get_body(preferencelist=("plain",))
        click.echo(f"\n  Subject: {first['Subject']}")
        if body is not None:
            for line in body.get_content().strip().splitlines():
                click.echo(f"  | {line}")


def _show_contracts(
    store: Store, pack: RulePack | VersionedPack, now: datetime, connector: str, heading: str
) -> None:
    """The contracts decided on one connector's tickets, by the tickets' organization (the
    rules' ``match: {organization: ...}`` chooses the contract)."""
    orgs = {t.key: t.organization or "(none)" for t in store.iter_snapshots(connector)}
    if not orgs:
        return
    tally: Counter[tuple[str, str, bool]] = Counter()
    for contract, sample in ContractBook(pack).samples(store.iter_snapshots(connector), now):
        if not sample.cancelled:
            tally[(contract.name, orgs[sample.ticket_key], sample.breached)] += 1
    click.echo(f"\nContracts on {heading} (decided targets):")
    for name, org in sorted({(c, o) for c, o, _ in tally}):
        met, missed = tally[(name, org, False)], tally[(name, org, True)]
        click.echo(f"  {name:<12} {org:<12} {met:>5} met {missed:>5} missed")
    click.echo("  (slaplug credits --period YYYY-MM: the credit each contract owes)")


def _show_status(
    store: Store,
    pack: RulePack | VersionedPack,
    connectors: Mapping[str, Connector],
    config: Path,
    now: datetime,
) -> None:
    """The at-risk queue as ``slaplug status`` prints it (plain text, the first few)."""
    view = status_view(
        store,
        pack,
        now,
        ClockQuery.build(states=["breached", "at-risk"], limit=8),
        links=connector_links(connectors),
    )
    click.echo(
        f"\n$ slaplug status --state breached,at-risk --limit 8 --config {config} "
        f"--at {_iso(now)}\n"
    )
    click.echo(render_plain(view, ZoneInfo("UTC")), nl=False)


def run_demo(folder: Path, rules: Path, now: datetime | None = None) -> None:
    """Run the demo at ``now`` (default: `demo_instant` of the real time), printing as it goes."""
    now = now or demo_instant(datetime.now(UTC))
    with ExitStack() as stack:
        connections = _start_fakes(stack, now)
        sections = {name: dict(c.section) for name, c in connections.items()}
        mailbox = stack.enter_context(Mailbox())
        notify = {
            name: [mailbox.url(to=f"{name}@demo.example", sender="slaplug@demo.example")]
            for name in _DEMO_CHANNELS
        }
        config = _write_config(folder, rules, sections, notify, now)
        click.echo(
            f"slaplug demo: fake helpdesks on 127.0.0.1, configuration and store in {folder}/"
        )
        click.echo(
            f"  runs at  {now:%a %Y-%m-%d %H:%M} UTC, the same point of the working week every "
            "time (--at to choose)"
        )
        for name, section in sections.items():
            click.echo(f"  {name:<8} {section['base_url']}")
        click.echo(f"  mailbox  smtp://127.0.0.1:{mailbox.port} (the rules' notify channels)")
        settings = load_settings(config)
        with open_runtime(settings) as rt:
            # What `slaplug sync` runs: the jobs, in this process (slaplug.jobs.local).
            job = SyncPass(rt, escalate_from=settings.escalate_from, clock=lambda: now)
            first = job.run_once()
            _show(first, "\nFirst sync")
            for line in go_live_lines(first):
                click.echo(line)
            _show_breaches(first)
            _show_written(first)
            _show_mail(mailbox)
            second = job.run_once()
            _show(second, "\nSecond sync (the platform changed only by our own writes)")
            for name, connection in connections.items():
                if connection.contracts_heading:
                    heading = connection.contracts_heading
                    _show_contracts(rt.store, rt.pack, now, name, heading)
            _show_status(rt.store, rt.pack, rt.connectors, config, now)
            # Explain a ticket we wrote to, so what it says can be checked on the fake.
            picked = [(w.connector, w.ticket_id) for w in first.written] or [
                (b.connector, b.ticket_id) for b in first.breaches
            ]
            if picked:
                conn, ticket_id = picked[0]
                if rt.store.load_snapshot(conn, ticket_id) is not None:
                    at = f"--at {_iso(now)}"
                    command = f"slaplug explain {conn}:{ticket_id} --config {config} {at}"
                    click.echo(f"\n$ {command}\n")
                    doc = explain_synced(
                        rt.store,
                        rt.pack,
                        conn,
                        ticket_id,
                        now,
                        links=connector_links(rt.connectors),
                    )
                    click.echo(render_text(doc))
                    click.echo(
                        f"\nThe store stays in {folder}/; look again without calling a helpdesk:\n"
                        f"  slaplug status --config {config} {at}\n  {command}\n"
                        "(without --at they measure at the real time: the clocks have run on "
                        "since the demo's instant)"
                    )
