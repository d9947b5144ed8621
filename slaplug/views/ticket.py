"""One synced ticket's explain view, from its stored snapshot (``slaplug explain zendesk:286``,
``GET /tickets/{connector}/{id}/sla``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from slaplug.errors import UnknownTicketError
from slaplug.explain import explain
from slaplug.model import Ticket
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedPack
from slaplug.store import Store
from slaplug.store.live import LiveWrite
from slaplug.views.clocks import LinkFor, snapshot_link

__all__ = ["explain_synced", "explain_ticket", "parse_ticket_ref", "synced_ticket"]


def parse_ticket_ref(ref: str) -> tuple[str, str]:
    """``"zendesk:286"`` as ``("zendesk", "286")``: the connector, then the id after the
    first colon (Jira keys such as ``jira:SUP-12`` keep their dash).

    Raises:
        ValueError: No colon, or an empty side; the message shows the form.
    """
    connector, sep, ticket_id = ref.strip().partition(":")
    if not sep or not connector or not ticket_id:
        raise ValueError(f"{ref!r} is not a ticket reference; write CONNECTOR:ID, e.g. zendesk:286")
    return connector, ticket_id


def synced_ticket(
    store: Store,
    connector: str,
    ticket_id: str,
    *,
    known: Collection[str] | None = None,
) -> Ticket:
    """The stored snapshot of ``connector:ticket_id``.

    Args:
        store: The store.
        connector: The connector's name.
        ticket_id: The ticket's id there.
        known: The configured connectors' names, to tell a misspelt connector from a
            ticket not synced yet (None: not checked).

    Raises:
        UnknownTicketError: No such connector, or no snapshot of the ticket; the message says
            what to do.
    """
    if known is not None and connector not in known:
        names = ", ".join(sorted(known)) or "none"
        raise UnknownTicketError(
            f"no connector named {connector!r}; configured: {names}",
            connector=connector,
            ticket_id=ticket_id,
        )
    ticket = store.load_snapshot(connector, ticket_id)
    if ticket is None:
        raise UnknownTicketError(
            f"ticket {connector}:{ticket_id} is not in the store: run `slaplug sync` to "
            f"read it from the helpdesk, or check the id (`slaplug status --connector "
            f"{connector} --all` lists the synced tickets)",
            connector=connector,
            ticket_id=ticket_id,
        )
    return ticket


def explain_ticket(
    pack: RulePack | VersionedPack,
    ticket: Ticket,
    now: datetime,
    *,
    links: LinkFor = snapshot_link,
    recorded: Mapping[tuple[str, str, int], str | None] | None = None,
    live: Mapping[str, list[LiveWrite]] | None = None,
) -> dict[str, Any]:
    """`slaplug.explain.explain` of ``ticket`` at ``now``, plus ``link`` (its page on the
    helpdesk, or None): the document of ``slaplug explain --json`` and of
    ``GET /tickets/{connector}/{id}/sla``. ``recorded``: see `slaplug.explain.explain`.
    ``live``: the ticket's `Store.live_history`, shown as each live field's ``writes``
    (None: a ticket from a file, which the store holds no writes for).

    Raises:
        TicketFormatError: See `slaplug.explain.explain`.
    """
    doc = explain(pack, ticket, now, recorded)
    doc["link"] = links(ticket) or ticket.url
    if live is not None:
        _add_live_writes(doc, live)
    return doc


def explain_synced(
    store: Store,
    pack: RulePack | VersionedPack,
    connector: str,
    ticket_id: str,
    now: datetime,
    *,
    known: Collection[str] | None = None,
    links: LinkFor = snapshot_link,
) -> dict[str, Any]:
    """`explain_ticket` of the ticket's stored snapshot (`synced_ticket`). No helpdesk is
    called. With rules versions, each clock also shows the version its measure history
    recorded (`Store.measure_versions`).

    Raises:
        UnknownTicketError: See `synced_ticket`.
        TicketFormatError: See `slaplug.explain.explain`.
    """
    ticket = synced_ticket(store, connector, ticket_id, known=known)
    recorded = store.measure_versions(ticket.key) if _labelled(pack) else None
    live = store.live_history(connector, ticket_id)
    return explain_ticket(pack, ticket, now, links=links, recorded=recorded, live=live)


def _add_live_writes(doc: dict[str, Any], history: Mapping[str, list[LiveWrite]]) -> None:
    """Each live field's values planned so far, newest first (``writes``: value, ledger
    status, when), beside what it should show now. A field the rules no longer declare but
    the ledger holds is listed too (``declared`` False): the sync leaves it as it is."""
    fields = {f["field"]: f for f in doc.get("live_fields", [])}
    for name in sorted(history.keys() - fields.keys()):
        fields[name] = {"field": name, "now": None, "clock": None, "held": True, "declared": False}
    for name, f in fields.items():
        f["writes"] = [
            {
                "seq": w.seq,
                "value": w.value,
                "status": w.status,
                "planned_at": w.planned_at.isoformat(),
                "done_at": w.done_at.isoformat() if w.done_at else None,
                "detail": w.detail,
            }
            for w in history.get(name, [])
        ]
    if fields:
        doc["live_fields"] = [fields[k] for k in sorted(fields)]


def _labelled(pack: RulePack | VersionedPack) -> bool:
    return isinstance(pack, VersionedPack) and pack.labelled
