"""Field history from Zendesk: ``Change`` child events of group, assignee, organization, type,
tags and custom fields become FIELD_CHANGED events, named as the ticket's own fields are.

Both readers are held to their own endpoint's shape (reference §1.1):

* the ticket audits API (``GET /api/v2/tickets/{id}/audits``): ``{"type": "Change",
  "field_name": "group_id", "value": "...", "previous_value": "..."}``, ids as text as in
  zenpy's recorded ``specification/zendesk/audit.json`` (``"field_name": "group_id",
  "type": "Create", "value": "26425647"``); Zendesk's "Ticket Audits" reference, "Change
  event": ``field_name``, ``value``, ``previous_value``; custom fields are named by their id;
* the incremental ticket events export: the field is the child event's own key (zenpy
  ``specification/zendesk/ticket_event.json``), tags as ``tags`` / ``added_tags`` /
  ``removed_tags`` (Zendesk's "Incremental Exports" reference, ticket event child events),
  custom fields as ``custom_ticket_fields: {"<id>": value}`` (a real child event quoted in
  a zendesk-java-client fork, ``org.zendesk.client.v2.model.ChildEvent``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import responses
from slaplug_zendesk import ZendeskConfig, ZendeskConnector
from slaplug_zendesk.cursor import ZendeskCursor
from slaplug_zendesk.fake import FakeZendesk

from slaplug.explain import explain, render_text
from slaplug.model import EventKind, TicketEvent
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync

BASE = "https://d3v-zenpydev.zendesk.com"
RATE = {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "688"}
AGENT, OTHER, REQUESTER = 1276936927, 1276936928, 1276936999
T0 = "2026-03-02T08:00:00Z"  # Monday 09:00 in Berlin
T1 = "2026-03-03T09:00:00Z"  # Tuesday 10:00 in Berlin


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZD_REPLAY_TOKEN", "replay-token-0001")
    config = ZendeskConfig(
        base_url=BASE,
        email="ops@acme.test",
        api_token_env="ZD_REPLAY_TOKEN",
        retry={"jitter": 0},
        fields={"waiting_on": 360012},
    )
    with ZendeskConnector(config, instance="zendesk-eu") as conn:
        conn.sleep = lambda seconds: None
        yield conn


def _ticket(tid: int, **extra) -> dict:
    return {
        "id": tid,
        "status": "open",
        "priority": "normal",
        "subject": "Printer on fire",
        "type": "incident",
        "requester_id": REQUESTER,
        "assignee_id": OTHER,
        "group_id": 26425648,
        "organization_id": 472989028,
        "tags": ["billing", "vip"],
        "custom_fields": [{"id": 360012, "value": "vendor"}],
        "created_at": T0,
        "updated_at": T1,
        **extra,
    }


SIDELOADS = {
    "users": [
        {"id": AGENT, "role": "agent", "email": "ana@acme.test"},
        {"id": OTHER, "role": "agent", "email": "ben@acme.test"},
        {"id": REQUESTER, "role": "end-user", "email": "sink@example.com"},
    ],
    "groups": [{"id": 26425647, "name": "l1"}, {"id": 26425648, "name": "l2"}],
    "organizations": [{"id": 472989027, "name": "acme"}, {"id": 472989028, "name": "gold"}],
}

#: One agent's update as the audits API shows it: every tracked field changed at once.
HANDOFF_AUDIT = {
    "id": 55882825999,
    "ticket_id": 7,
    "created_at": T1,
    "author_id": AGENT,
    "metadata": {"system": {}, "custom": {}},
    "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
    "events": [
        {
            "id": 1,
            "type": "Change",
            "field_name": "group_id",
            "value": "26425648",
            "previous_value": "26425647",
        },
        {
            "id": 2,
            "type": "Change",
            "field_name": "assignee_id",
            "value": str(OTHER),
            "previous_value": str(AGENT),
        },
        {
            "id": 3,
            "type": "Change",
            "field_name": "organization_id",
            "value": "472989028",
            "previous_value": "472989027",
        },
        {
            "id": 4,
            "type": "Change",
            "field_name": "type",
            "value": "incident",
            "previous_value": "question",
        },
        {
            "id": 5,
            "type": "Change",
            "field_name": "tags",
            "value": ["vip", "billing"],
            "previous_value": ["billing"],
        },
        {
            "id": 6,
            "type": "Change",
            "field_name": "360012",
            "value": "vendor",
            "previous_value": None,
        },
    ],
}
CREATE_AUDIT = {
    "id": 55882825727,
    "ticket_id": 7,
    "created_at": T0,
    "author_id": REQUESTER,
    "events": [
        {"id": 7, "type": "Create", "field_name": "status", "value": "open"},
        {"id": 8, "type": "Create", "field_name": "group_id", "value": "26425647"},
        {"id": 9, "type": "Comment", "author_id": REQUESTER, "public": True, "body": "Help"},
    ],
}

EXPECTED = [
    ("group", "l1", "l2"),
    ("assignee", "ana@acme.test", "ben@acme.test"),
    ("organization", "acme", "gold"),
    ("type", "question", "incident"),
    ("tags", ("billing",), ("billing", "vip")),
    ("fields.waiting_on", None, "vendor"),
]


def _changes(events: tuple[TicketEvent, ...]) -> list[tuple]:
    return [(e.field, e.old, e.value) for e in events if e.kind is EventKind.FIELD_CHANGED]


@responses.activate
def test_audits_api_changes_become_field_changes_named_as_the_ticket_names_them(
    connector,
) -> None:
    responses.get(
        f"{BASE}/api/v2/tickets/7.json", json={"ticket": _ticket(7), **SIDELOADS}, headers=RATE
    )
    responses.get(
        f"{BASE}/api/v2/tickets/7/audits.json",
        json={
            "audits": [HANDOFF_AUDIT, CREATE_AUDIT],
            "meta": {"has_more": False, "after_cursor": None},
        },
        headers=RATE,
    )
    ticket = connector.read_ticket("7")
    assert _changes(ticket.events) == EXPECTED
    changes = [e for e in ticket.events if e.kind is EventKind.FIELD_CHANGED]
    assert {e.at for e in changes} == {datetime(2026, 3, 3, 10, tzinfo=ZoneInfo("Europe/Berlin"))}
    assert {e.actor for e in changes} == {str(AGENT)}
    # The creating audit's Create of group_id says nothing the first Change does not.
    assert (ticket.group, ticket.organization, ticket.assignee) == ("l2", "gold", "ben@acme.test")
    assert ticket.fields == {"waiting_on": "vendor"}


@responses.activate
def test_an_organization_the_ticket_left_is_named_through_show_many(connector) -> None:
    # Only the current organization is sideloaded; the former one is asked for once, with
    # GET /api/v2/organizations/show_many.json?ids= (Zendesk's "Show Many Organizations").
    sideloads = {**SIDELOADS, "organizations": [{"id": 472989028, "name": "gold"}]}
    responses.get(
        f"{BASE}/api/v2/tickets/7.json", json={"ticket": _ticket(7), **sideloads}, headers=RATE
    )
    responses.get(
        f"{BASE}/api/v2/tickets/7/audits.json",
        json={"audits": [HANDOFF_AUDIT], "meta": {"has_more": False, "after_cursor": None}},
        headers=RATE,
    )
    many = responses.get(
        f"{BASE}/api/v2/organizations/show_many.json",
        json={"organizations": [{"id": 472989027, "name": "acme"}], "count": 1},
        match=[responses.matchers.query_param_matcher({"ids": "472989027"})],
        headers=RATE,
    )
    ticket = connector.read_ticket("7")
    assert ("organization", "acme", "gold") in _changes(ticket.events)
    assert many.call_count == 1


@responses.activate
def test_the_events_export_shape_gives_the_same_history(connector) -> None:
    # The export keys each change by its field, as zenpy's ticket_event.json shows for status.
    child = {"via": "Web form", "via_reference_id": None, "event_type": "Change"}
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        json={
            "ticket_events": [
                {
                    "id": 55882825999,
                    "ticket_id": 7,
                    "timestamp": int(datetime.fromisoformat(T1).timestamp()),
                    "created_at": T1,
                    "updater_id": AGENT,
                    "via": "Web form",
                    "event_type": "Audit",
                    "child_events": [
                        {**child, "id": 1, "group_id": 26425648, "previous_value": 26425647},
                        {**child, "id": 2, "assignee_id": OTHER, "previous_value": AGENT},
                        {
                            **child,
                            "id": 3,
                            "organization_id": 472989028,
                            "previous_value": 472989027,
                        },
                        {**child, "id": 4, "type": "incident", "previous_value": "question"},
                        # Only the added and removed tags, as the export may list them.
                        {
                            **child,
                            "id": 5,
                            "tags": ["billing", "vip"],
                            "added_tags": ["vip"],
                            "removed_tags": [],
                        },
                        # A custom field under custom_ticket_fields (a recorded real export child
                        # event: zendesk-java-client fork, model.ChildEvent).
                        {
                            **child,
                            "id": 6,
                            "custom_ticket_fields": {"360012": "vendor"},
                            "previous_value": None,
                        },
                    ],
                }
            ],
            "count": 1,
            "end_time": int(datetime.fromisoformat(T1).timestamp()),
            "end_of_stream": True,
        },
    )
    responses.get(
        f"{BASE}/api/v2/incremental/tickets/cursor.json",
        json={"tickets": [_ticket(7)], **SIDELOADS, "after_cursor": "c1", "end_of_stream": True},
        headers=RATE,
    )
    pages = list(connector.read_changed(ZendeskCursor("T0", 1772438400).encode()))
    (ticket,) = [t for p in pages for t in p.tickets]
    assert _changes(ticket.events) == EXPECTED


@responses.activate
def test_a_removed_tag_alone_rebuilds_both_lists(connector) -> None:
    child = {"via": "Rule", "event_type": "Change"}
    stamp = int(datetime.fromisoformat(T1).timestamp())
    responses.get(
        f"{BASE}/api/v2/incremental/ticket_events.json",
        json={
            "ticket_events": [
                {
                    "id": 9,
                    "ticket_id": 7,
                    "timestamp": stamp,
                    "updater_id": -1,
                    "child_events": [
                        {
                            **child,
                            "id": 1,
                            "tags": ["billing"],
                            "added_tags": [],
                            "removed_tags": ["vip"],
                        }
                    ],
                }
            ],
            "end_time": stamp,
            "end_of_stream": True,
        },
    )
    responses.get(
        f"{BASE}/api/v2/incremental/tickets/cursor.json",
        json={
            "tickets": [_ticket(7, tags=["billing"])],
            **SIDELOADS,
            "after_cursor": "c1",
            "end_of_stream": True,
        },
        headers=RATE,
    )
    pages = list(connector.read_changed(ZendeskCursor("T0", stamp - 60).encode()))
    (ticket,) = [t for p in pages for t in p.tickets]
    assert _changes(ticket.events) == [("tags", ("billing", "vip"), ("billing",))]
    assert ticket.events[-1].actor == "-1" and ticket.events[-1].at - ticket.created_at == (
        timedelta(days=1, hours=1)
    )


# -- the handoff on the fake Zendesk: read, synced, stored, explained ---------------------------

BER = ZoneInfo("Europe/Berlin")
PACK = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: standard-sla
    calendar: office
    targets:
      resolution: {"*": 40h}
  - name: l2-ola
    kind: ola
    match: {group: l2}
    calendar: office
    targets:
      resolution: {"*": 4h}
"""

#: A ticket opened in l1 on Monday 09:00 (Berlin) and handed to l2 on Tuesday at 10:00, in
#: the fake's seed format (docs/testing/fake-zendesk.md); the fake serves these audits in
#: both shapes (audits API and events export, fakes/zendesk_render.py).
HANDOFF_SEED = {
    "now": "2026-03-03T11:00:00Z",  # Tuesday 12:00 in Berlin
    "groups": [{"id": 1, "name": "l1"}, {"id": 2, "name": "l2"}],
    "organizations": [{"id": 501, "name": "acme"}, {"id": 502, "name": "gold"}],
    "users": [
        # The API user the connector signs in as (the fake's admin, fakes/zendesk_generate.py).
        {"id": 10001, "name": "Ada Admin", "email": "admin@fake-zendesk.test", "role": "admin"},
        {"id": 10, "name": "Ana Agent", "email": "ana@acme.test", "role": "agent"},
        {"id": 20, "name": "Carl Customer", "email": "carl@example.com", "role": "end-user"},
    ],
    "tickets": [
        {
            "id": 7,
            "subject": "Printer on fire",
            "status": "open",
            "priority": "normal",
            "requester_id": 20,
            "group_id": 2,
            "organization_id": 502,
            "created_at": T0,
            "updated_at": T1,
        }
    ],
    "audits": [
        {
            "id": 100,
            "ticket_id": 7,
            "created_at": T0,
            "author_id": 20,
            "events": [
                {"type": "Create", "field_name": "status", "value": "open"},
                {"type": "Create", "field_name": "priority", "value": "normal"},
                {"type": "Create", "field_name": "group_id", "value": 1},
                {"type": "Create", "field_name": "organization_id", "value": 501},
                {"type": "Comment", "body": "Help", "public": True, "author_id": 20},
            ],
        },
        {
            "id": 101,
            "ticket_id": 7,
            "created_at": T1,
            "author_id": 10,
            "events": [
                {"type": "Change", "field_name": "group_id", "value": 2, "previous_value": 1},
                # The customer's organization corrected in the same update: only the new one
                # is sideloaded with the ticket, the old one is named through show_many.
                {
                    "type": "Change",
                    "field_name": "organization_id",
                    "value": 502,
                    "previous_value": 501,
                },
            ],
        },
    ],
}


def test_the_l2_ola_starts_at_the_handoff_on_the_fake_zendesk(make_connector, tmp_path) -> None:
    now = datetime(2026, 3, 3, 12, tzinfo=BER)
    rules = tmp_path / "rules.yaml"
    rules.write_text(PACK, encoding="utf-8")
    fake = FakeZendesk.start(seed=HANDOFF_SEED)
    try:
        # The fake's audits API writes ids as text, as zenpy's recorded audit does.
        change = fake.audits(7)[-1]["events"][0]
        assert (change["field_name"], change["value"], change["previous_value"]) == (
            "group_id",
            "2",
            "1",
        )
        conn = make_connector(fake, start_time=int(datetime(2026, 3, 1).timestamp()))
        asked: list[tuple[str, object]] = []
        get_json = conn.http.get_json

        def spy(path: str, params: object = None, **kw: object) -> object:
            if "organizations" in path:
                asked.append((path, params))
            return get_json(path, params=params, **kw)  # type: ignore[arg-type]

        conn.http.get_json = spy  # type: ignore[method-assign]
        with (
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
            RulePack.load([rules], engine="python") as pack,
        ):
            summary = Sync(store, pack, {"zendesk-eu": conn}, clock=lambda: now).run_once()
            assert summary.tickets_read == 1
            ticket = store.load_snapshot("zendesk-eu", "7")
            assert ticket is not None and ticket.group == "l2"
            assert _changes(ticket.events) == [
                ("group", "l1", "l2"),
                ("organization", "acme", "gold"),
            ]
            # The export sideloaded only "gold"; "acme" was asked for by id.
            assert asked == [("api/v2/organizations/show_many.json", {"ids": "501"})]
            stored = {
                r.measure.policy: r.measure
                for r in store.measures_between(now - timedelta(days=30), now + timedelta(days=1))
            }
            ola = stored["l2-ola"]
            assert ola.start == datetime(2026, 3, 3, 10, tzinfo=BER)
            assert (ola.elapsed, ola.breached_at) == (timedelta(hours=2), None)
            assert ola.deadline == datetime(2026, 3, 3, 14, tzinfo=BER)
            assert stored["standard-sla"].start == datetime(2026, 3, 2, 9, tzinfo=BER)

            doc = explain(pack, ticket, now)
            clock = next(c for c in doc["clocks"] if c["policy"] == "l2-ola")
            assert clock["start"] == "2026-03-03T10:00:00+01:00"
            text = render_text(doc)
            assert "l2-ola / resolution (cycle 1): RUNNING, 2h of 4h" in text
            # The history in the zone the clocks read in (Berlin), with the agent's id: the
            # handoff Zendesk dated 09:00 UTC reads 10:00, where the l2 clock starts.
            assert "2026-03-03T10:00:00+01:00  group: l1 -> l2 (10)" in text
    finally:
        fake.stop()
