"""``slaplug demo``: the whole job against the bundled fake helpdesks, nothing to install.

It starts the fake helpdesks on 127.0.0.1 (a few weeks of tickets each), writes a
configuration and a SQLite store into a folder, runs one sync, shows what was breached and what
was written where, runs a second sync to show that nothing is written twice, and explains one
breached ticket.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import yaml

from slaplug.config import load_settings
from slaplug.credits.source import ContractBook
from slaplug.explain import explain, render_text
from slaplug.progress import go_live_lines
from slaplug.rules.pack import RulePack
from slaplug.runtime import open_runtime
from slaplug.store import Store
from slaplug.summary import BreachFate, Summary
from slaplug.sync import Sync
from slaplug.testing.fake_zendesk import FakeZendesk
from slaplug.testing.fakes.zendesk_data import Group
from slaplug.testing.mailbox import Mailbox

__all__ = ["run_demo"]

_ZENDESK_TOKEN_ENV = "SLAPLUG_DEMO_ZENDESK_TOKEN"
_JIRA_TOKEN_ENV = "SLAPLUG_DEMO_JIRA_TOKEN"
_ESCALATIONS_GROUP = 204  # beside the fake's first-line (201), second-line, billing


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
    # The shipped rules assign breached tickets to this group: an account using them has it
    # (`slaplug doctor` checks), so the demo's helpdesk has it too, and no action fails.
    with zendesk.lock:
        zendesk.store.groups[_ESCALATIONS_GROUP] = Group(_ESCALATIONS_GROUP, "escalations")
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


def _show_jira_contracts(store: Store, pack: RulePack, now: datetime) -> None:
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
            _show_breaches(first)
            _show_written(first)
            _show_mail(mailbox)
            second = job.run_once()
            _show(second, "\nSecond sync (the platform changed only by our own writes)")
            _show_jira_contracts(rt.store, rt.pack, datetime.now(UTC))
            # Explain a ticket we wrote to, so what it says can be checked on the fake.
            picked = [(w.connector, w.ticket_id) for w in first.written] or [
                (b.connector, b.ticket_id) for b in first.breaches
            ]
            if picked:
                conn, ticket_id = picked[0]
                snapshot = rt.store.load_snapshot(conn, ticket_id)
                if snapshot is not None:
                    click.echo(f"\n$ slaplug explain ... {conn}:{ticket_id}\n")
                    click.echo(render_text(explain(rt.pack, snapshot, datetime.now(UTC))))
