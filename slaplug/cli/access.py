"""``slaplug customers token`` and ``slaplug dashboard token``: the web pages' credentials.

A token is printed once, when issued; the store keeps only its hash (`slaplug.store.access`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from slaplug.cli._common import CONFIG_OPTION, friendly_errors
from slaplug.errors import ConfigError
from slaplug.store.access import Scope

__all__ = ["customers", "dashboard"]


def _settings(config_path: str | None) -> Any:
    # Offline: issuing a page token reads the store and the rules, never a helpdesk.
    from slaplug.credits.run import load_offline_settings

    return load_offline_settings(config_path)


def _check_contract(settings: Any, contract: str, organization: str) -> list[str]:
    """Refuse a contract the rules do not declare; return notes on the organization."""
    from slaplug.credits.run import open_credits

    notes: list[str] = []
    with open_credits(settings) as ctx:
        if ctx.book.get(contract) is None:
            known = ", ".join(c.name for c in ctx.book.contracts) or "none"
            raise ConfigError(f"no contract named {contract!r} in the rules; contracts: {known}")
        orgs: set[str] = set()
        for t in ctx.store.iter_snapshots():
            c = ctx.book.contract_of(t)
            if c is not None and c.name == contract and t.organization:
                orgs.add(t.organization)
    if organization and orgs and organization not in orgs:
        notes.append(
            f"note: no synced ticket of {organization!r} belongs to {contract}; organizations "
            f"seen: {', '.join(sorted(orgs))} (the page stays empty until one does)"
        )
    if not organization and len(orgs) > 1:
        notes.append(
            f"note: {contract} covers {len(orgs)} organizations; this link shows all of their "
            "tickets. Give --organization to show one customer only its own."
        )
    return notes


def _link(settings: Any, token: str) -> str:
    base = settings.dashboard.public_url
    path = f"/customer/{token}"
    return f"{base}{path}" if base else path


@click.group()
def customers() -> None:
    """Customer pages: each customer's own SLA compliance, open tickets and credits."""


@customers.group("token")
def customer_token() -> None:
    """Issue, rotate, revoke and list the links that open a customer's page."""


def _show_issued(settings: Any, record: Any, token: str) -> None:
    click.echo(f"issued {record.id} for {record.contract}" + _org_text(record.organization))
    click.echo(f"token: {token}")
    click.echo(f"link:  {_link(settings, token)}")
    if not settings.dashboard.public_url:
        click.echo("(set dashboard.public_url in slaplug.yaml to print full links)", err=True)
    click.echo("Shown once: the store keeps only a hash of it.", err=True)


def _org_text(organization: str) -> str:
    return f", organization {organization}" if organization else ""


@customer_token.command("issue")
@CONFIG_OPTION
@click.option("--contract", required=True, help="The contract whose figures the page shows.")
@click.option("--organization", default="", help="Show only this organization's tickets.")
@click.option("--label", default="", help="A note to recognise the token by.")
@friendly_errors
def customer_issue(config_path: str | None, contract: str, organization: str, label: str) -> None:
    """Issue a customer page link (tokens issued before keep working; see rotate)."""
    _issue_customer(config_path, contract, organization, label, rotate=False)


@customer_token.command("rotate")
@CONFIG_OPTION
@click.option("--contract", required=True, help="The contract whose figures the page shows.")
@click.option("--organization", default="", help="Show only this organization's tickets.")
@click.option("--label", default="", help="A note to recognise the token by.")
@friendly_errors
def customer_rotate(config_path: str | None, contract: str, organization: str, label: str) -> None:
    """Issue a new link and revoke every earlier one of the same contract and organization."""
    _issue_customer(config_path, contract, organization, label, rotate=True)


def _issue_customer(
    config_path: str | None, contract: str, organization: str, label: str, *, rotate: bool
) -> None:
    """Issue a customer token; with ``rotate``, revoke the subject's earlier ones with it."""
    from slaplug.store import Store

    settings = _settings(config_path)
    for note in _check_contract(settings, contract, organization):
        click.echo(note, err=True)
    with Store.open(settings.store) as store:
        record, token = store.issue_token(
            "customer", contract=contract, organization=organization, label=label
        )
        gone = (
            store.revoke_tokens(
                scope="customer", contract=contract, organization=organization, keep=record.id
            )
            if rotate
            else None
        )
    _show_issued(settings, record, token)
    if gone is not None:
        click.echo(f"revoked {len(gone)} earlier token(s): {', '.join(gone) or '-'}")


def _revoke(config_path: str | None, scope: Scope, ids: tuple[str, ...], **subject: Any) -> None:
    from slaplug.store import Store

    settings = _settings(config_path)
    if not ids and not any(subject.values()):
        raise click.UsageError("name the token ids to revoke (see `token list`)")
    with Store.open(settings.store) as store:
        known = {t.id: t for t in store.list_tokens(scope)}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ConfigError(f"no {scope} token with id {unknown[0]!r}; see `token list`")
        if ids:
            gone = store.revoke_tokens(ids=list(ids), scope=scope)
        else:
            gone = store.revoke_tokens(scope=scope, **subject)
    click.echo(f"revoked {len(gone)} token(s): {', '.join(gone) or '-'}")


@customer_token.command("revoke")
@CONFIG_OPTION
@click.argument("ids", nargs=-1)
@click.option("--contract", default=None, help="Every token of this contract instead.")
@click.option("--organization", default=None, help="With --contract: only this organization's.")
@friendly_errors
def customer_revoke(
    config_path: str | None, ids: tuple[str, ...], contract: str | None, organization: str | None
) -> None:
    """Revoke customer tokens by id, or every token of a contract; their links stop at once."""
    if organization is not None and contract is None:
        raise click.UsageError("--organization needs --contract")
    _revoke(config_path, "customer", ids, contract=contract, organization=organization)


def _list(config_path: str | None, scope: Scope, as_json: bool) -> None:
    from slaplug.store import Store

    settings = _settings(config_path)
    with Store.open(settings.store) as store:
        tokens = store.list_tokens(scope)
    rows = [
        {
            "id": t.id,
            "contract": t.contract,
            "organization": t.organization,
            "label": t.label,
            "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{len(rows)} {scope} token(s)")
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        who = f"{r['contract']}{_org_text(str(r['organization']))}  " if scope == "customer" else ""
        label = f"  {r['label']!r}" if r["label"] else ""
        click.echo(f"{r['id']}  {who}{state}  issued {r['created_at']}{label}")


@customer_token.command("list")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@friendly_errors
def customer_list(config_path: str | None, as_json: bool) -> None:
    """List customer tokens (ids, contract, organization, state); never the tokens themselves."""
    _list(config_path, "customer", as_json)


@click.group()
def dashboard() -> None:
    """The managers' dashboard of ``slaplug serve`` (docs/dashboard.md)."""


@dashboard.group("token")
def manager_token() -> None:
    """Issue, revoke and list dashboard tokens (beside dashboard.manager_token)."""


@manager_token.command("issue")
@CONFIG_OPTION
@click.option("--label", default="", help="Whose token it is, to revoke it later.")
@friendly_errors
def manager_issue(config_path: str | None, label: str) -> None:
    """Issue a dashboard token; send it as a bearer token or as the basic-auth password."""
    from slaplug.store import Store

    settings = _settings(config_path)
    with Store.open(settings.store) as store:
        record, token = store.issue_token("manager", label=label)
    click.echo(f"issued {record.id}")
    click.echo(f"token: {token}")
    click.echo("Shown once: the store keeps only a hash of it.", err=True)


@manager_token.command("revoke")
@CONFIG_OPTION
@click.argument("ids", nargs=-1, required=True)
@friendly_errors
def manager_revoke(config_path: str | None, ids: tuple[str, ...]) -> None:
    """Revoke dashboard tokens by id."""
    _revoke(config_path, "manager", ids)


@manager_token.command("list")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@friendly_errors
def manager_list(config_path: str | None, as_json: bool) -> None:
    """List dashboard tokens (ids, labels, state); never the tokens themselves."""
    _list(config_path, "manager", as_json)
