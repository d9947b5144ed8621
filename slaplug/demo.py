"""``slaplug demo``: the whole job against the bundled fake helpdesks, nothing to install.

It starts the fake helpdesks on 127.0.0.1 (a few weeks of tickets each), writes a
configuration and a SQLite store into a folder, runs one sync, shows what was breached and what
was written where, runs a second sync to show that nothing is written twice, lists the at-risk
queue (``slaplug status``) and explains one breached ticket (``slaplug explain CONNECTOR:ID``),
naming the commands that show them again from the store it leaves behind.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import yaml

from slaplug.config import load_settings
from slaplug.connectors.base import Connector
from slaplug.credits.source import ContractBook
from slaplug.explain import render_text
from slaplug.progress import go_live_lines
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.runtime import open_runtime
from slaplug.store import Store
from slaplug.sync import Summary, Sync
from slaplug.testing.fake_zendesk import FakeZendesk
from slaplug.testing.mailbox import Mailbox
from slaplug.views import ClockQuery, connector_links, explain_synced, status_view
from slaplug.views.terminal import render_plain

__all__ = ["run_demo"]

_ZENDESK_TOKEN_ENV = "SLAPLUG_DEMO_ZENDESK_TOKEN"
_JIRA_TOKEN_ENV = "SLAPLUG_DEMO_JIRA_TOKEN"


@contextmanager
def _fakes(stack: ExitStack) -> Iterator[dict[str, Any]]:
    """Start every fake helpdesk this install has; yield connector sections by name."""
    # The fake's clock runs three days behind: its open tickets have been waiting since, as
    # if slaplug were connected three days after they came in (see the backfill below).
    zendesk = stack.enter_context(
        FakeZendesk.start(
            now=datetime.now(UTC) - timedelta(days=3),
            tickets=300,
            days=28,
            job_complete_after=0.2,
        )
    )
    os.environ[_ZENDESK_TOKEN_ENV] = zendesk.api_token
    sections: dict[str, Any] = {
        "zendesk": {
            "plugin": "zendesk",
            "base_url": zendesk.base_url,
            "email": zendesk.email,
            "api_token_env": _ZENDESK_TOKEN_ENV,
            "fields": {"sla_resolution_status": 360000000103},
        }
    }
    jira = _start_fake_jira(stack)
    if jira is not None:
        sections["jira"] = jira
    yield sections


def _start_fake_jira(stack: ExitStack) -> dict[str, Any] | None:
    try:  # optional: the fake Jira ships with the Jira connector's test support
        from slaplug.testing.fake_jira import FakeJira  # noqa: PLC0415
    except ImportError:
        return None
    jira = stack.enter_context(FakeJira.start())
    os.environ[_JIRA_TOKEN_ENV] = jira.api_token
    return {
        "plugin": "jira",
        "base_url": jira.base_url,
        "email": jira.email,
        "api_token_env": _JIRA_TOKEN_ENV,
        "projects": ["SUP"],
        "fields": {"sla_resolution_status": "customfield_10050"},
    }


#: The channels the shipped rules notify; the demo delivers each to its local mailbox.
_DEMO_CHANNELS = ("team-lead", "support-manager", "second-line-lead")


def _write_config(
    folder: Path, rules: Path, sections: dict[str, Any], notify: dict[str, list[str]]
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
                "escalate_from": (datetime.now(UTC) - timedelta(days=7)).date().isoformat(),
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


def _show_jira_contracts(store: Store, pack: RulePack | VersionedPack, now: datetime) -> None:
    """Per-organization contracts on Jira tickets: JSM's Organizations field chooses the
    contract (``match: {organization: ...}``), as Zendesk's organization does."""
    orgs = {t.key: t.organization or "(none)" for t in store.iter_snapshots("jira")}
    if not orgs:
        return  # no fake Jira in this install
    tally: Counter[tuple[str, str, bool]] = Counter()
    for contract, sample in ContractBook(pack).samples(store.iter_snapshots("jira"), now):
        if not sample.cancelled:
            tally[(contract.name, orgs[sample.ticket_key], sample.breached)] += 1
    click.echo("\nContracts on Jira tickets, by JSM organization (decided targets):")
    for name, org in sorted({(c, o) for c, o, _ in tally}):
        met, missed = tally[(name, org, False)], tally[(name, org, True)]
        click.echo(f"  {name:<12} {org:<12} {met:>5} met {missed:>5} missed")
    click.echo("  (slaplug credits --period YYYY-MM: the credit each contract owes)")


def _show_status(
    store: Store, pack: RulePack | VersionedPack, connectors: Mapping[str, Connector], config: Path
) -> None:
    """The at-risk queue as ``slaplug status`` prints it (plain text, the first few)."""
    view = status_view(
        store,
        pack,
        datetime.now(UTC),
        ClockQuery.build(states=["breached", "at-risk"], limit=8),
        links=connector_links(connectors),
    )
    click.echo(f"\n$ slaplug status --state breached,at-risk --limit 8 --config {config}\n")
    click.echo(render_plain(view, ZoneInfo("UTC")), nl=False)


def run_demo(folder: Path, rules: Path) -> None:
    """Run the demo, printing as it goes."""
    with ExitStack() as stack:
        sections = stack.enter_context(_fakes(stack))
        mailbox = stack.enter_context(Mailbox())
        notify = {
            name: [mailbox.url(to=f"{name}@demo.example", sender="slaplug@demo.example")]
            for name in _DEMO_CHANNELS
        }
        config = _write_config(folder, rules, sections, notify)
        click.echo(
            f"slaplug demo: fake helpdesks on 127.0.0.1, configuration and store in {folder}/"
        )
        for name, section in sections.items():
            click.echo(f"  {name:<8} {section['base_url']}")
        click.echo(f"  mailbox  smtp://127.0.0.1:{mailbox.port} (the rules' notify channels)")
        settings = load_settings(config)
        with open_runtime(settings) as rt:
            job = Sync(
                rt.store,
                rt.pack,
                rt.connectors,
                escalate_from=settings.escalate_from,
                channels=rt.settings.notify,
            )
            first = job.run_once()
            _show(first, "\nFirst sync")
            for line in go_live_lines(first):
                click.echo(line)
            breaches = Counter((c, m) for c, _, m in first.breaches)
            click.echo("\nBreached clocks:")
            for (conn, metric), n in sorted(breaches.items()):
                click.echo(f"  {conn:<8} {metric:<30} {n}")
            click.echo("\nWritten back:")
            for conn, ticket, kind, params in first.written[:15]:
                shown = {
                    k: (v[:70] + "...") if isinstance(v, str) and len(v) > 70 else v
                    for k, v in params.items()
                }
                click.echo(f"  {conn:<8} #{ticket:<6} {kind:<12} {shown}")
            if len(first.written) > 15:
                click.echo(f"  ... and {len(first.written) - 15} more")
            _show_mail(mailbox)
            second = job.run_once()
            _show(second, "\nSecond sync (the platform changed only by our own writes)")
            _show_jira_contracts(rt.store, rt.pack, datetime.now(UTC))
            _show_status(rt.store, rt.pack, rt.connectors, config)
            # Explain a ticket we wrote to, so what it says can be checked on the fake.
            picked = [(c, t) for c, t, _, _ in first.written] or [
                (c, t) for c, t, _ in first.breaches
            ]
            if picked:
                conn, ticket_id = picked[0]
                if rt.store.load_snapshot(conn, ticket_id) is not None:
                    command = f"slaplug explain {conn}:{ticket_id} --config {config}"
                    click.echo(f"\n$ {command}\n")
                    doc = explain_synced(
                        rt.store,
                        rt.pack,
                        conn,
                        ticket_id,
                        datetime.now(UTC),
                        links=connector_links(rt.connectors),
                    )
                    click.echo(render_text(doc))
                    click.echo(
                        f"\nThe store stays in {folder}/; look again without calling a helpdesk:\n"
                        f"  slaplug status --config {config}\n  {command}"
                    )
