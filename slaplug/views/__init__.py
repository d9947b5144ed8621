"""Read-only views of what slaplug knows, from its store alone (no helpdesk is called).

The one computation behind ``slaplug status``, ``slaplug explain CONNECTOR:ID``, the digest,
``GET /tickets/{connector}/{id}/sla`` and the web dashboard:

- `measure_clocks`: every clock of every synced ticket, measured now from its snapshot, as
  `ClockRow`s (ticket, measure, `ClockState`, link to the helpdesk, contract);
  `measure_tickets` does the same for tickets given;
- `ClockQuery` and `select`: filter by connector, state, policy, team, customer; sort by
  time left; limit;
- `breach_summary`: the breaches today and in the current period;
- `status_view` and `status_to_dict`: all of the above in one pass, and its JSON;
- `explain_synced`: one synced ticket's explain view from its stored snapshot
  (`explain_ticket` for a ticket at hand), with its link.

Example::

    with Store.open(url) as store, RulePack.load(paths) as pack:
        view = status_view(store, pack, datetime.now(UTC),
                           ClockQuery.build(states=["at-risk", "breached"], connectors="zendesk"))
        for row in view.rows:
            print(row.ticket.key, row.state, row.time_left, row.link)

See docs/status.md.
"""

from __future__ import annotations

from slaplug.views.breaches import BreachSummary, breach_summary, breaches_between
from slaplug.views.clocks import (
    AT_RISK_WITHIN,
    ClockQuery,
    ClockRow,
    ClockState,
    LinkFor,
    classify,
    connector_links,
    count_states,
    measure_clocks,
    measure_tickets,
    select,
    snapshot_link,
)
from slaplug.views.status import (
    SCHEMA_VERSION,
    StatusView,
    row_to_dict,
    status_to_dict,
    status_view,
)
from slaplug.views.ticket import (
    explain_synced,
    explain_ticket,
    parse_ticket_ref,
    synced_ticket,
)

__all__ = [
    "AT_RISK_WITHIN",
    "SCHEMA_VERSION",
    "BreachSummary",
    "ClockQuery",
    "ClockRow",
    "ClockState",
    "LinkFor",
    "StatusView",
    "breach_summary",
    "breaches_between",
    "classify",
    "connector_links",
    "count_states",
    "explain_synced",
    "explain_ticket",
    "measure_clocks",
    "measure_tickets",
    "parse_ticket_ref",
    "row_to_dict",
    "select",
    "snapshot_link",
    "status_to_dict",
    "status_view",
    "synced_ticket",
]
