"""Field history from Jira: changelog items of assignee, labels, issue type, the group field,
JSM Organizations and Request Type and mapped custom fields become FIELD_CHANGED events; JSM's
organization and request type are read (found through ``GET /rest/api/3/field``) and usable in
rules and contracts.

Payload sources: the changelog item shape is the OAS ``ChangeDetails`` (``field``,
``fieldId``, ``fieldtype``, ``from``, ``fromString``, ``to``, ``toString``); the labels change
below is the OAS ``getChangeLogs`` 200 example (``fromString: "label-1"``, ``toString:
"label-1 label-2"``) with its placeholder ``fieldId`` named ``labels``; the JSM fields'
schemas (``com.atlassian.servicedesk:sd-customer-organizations``, type ``array`` of
``sd-customerorganization``; ``com.atlassian.servicedesk:vp-origin``, type
``sd-customerrequesttype``) are as a recorded createmeta and field list of JSM sites show
them, and the Organizations value is a list of ``{"id", "name"}``, the Request Type value
``{"requestType": {"id", "name", ...}}`` (public JSM test doubles).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jira_support import (
    AGENT,
    API,
    FIELDS,
    SLA_FIELD,
    calls,
    changelogs,
    history,
    issue,
    make_connector,
    search_page,
    sent,
)
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira
from slaplug_jira.fake.generate import (
    FIELD_ORGANIZATIONS,
    FIELD_REQUEST_TYPE,
    FIELD_SUPPORT_TEAM,
)

from slaplug.errors import ProblemsError
from slaplug.explain import explain, render_text
from slaplug.model import EventKind
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync

ORG_FIELD, RT_FIELD, TEAM_FIELD = "customfield_10002", "customfield_10010", "customfield_10056"
OTHER = "5b10a2844c20165700ede99z"
JSM_FIELDS = [
    *FIELDS,
    {
        "id": ORG_FIELD,
        "key": ORG_FIELD,
        "name": "Organizations",
        "custom": True,
        "schema": {
            "type": "array",
            "items": "sd-customerorganization",
            "custom": "com.atlassian.servicedesk:sd-customer-organizations",
            "customId": 10002,
        },
    },
    {
        "id": RT_FIELD,
        "key": RT_FIELD,
        "name": "Request Type",
        "custom": True,
        "schema": {
            "type": "sd-customerrequesttype",
            "custom": "com.atlassian.servicedesk:vp-origin",
            "customId": 10010,
        },
    },
]


def change(field_id: str, before: str | None, after: str | None, **raw: str | None) -> dict:
    """A ChangeDetails item; ``from``/``to`` default to None (as for labels in the OAS)."""
    return {
        "field": field_id,
        "fieldId": field_id,
        "fieldtype": "custom" if field_id.startswith("customfield_") else "jira",
        "from": raw.get("frm"),
        "fromString": before,
        "to": raw.get("to"),
        "toString": after,
    }


def test_changelog_items_become_field_changes_and_jsm_fields_are_read(rsps) -> None:
    rsps.replace("GET", f"{API}/field", json=JSM_FIELDS)
    jira = make_connector(group_field=TEAM_FIELD)
    current = issue(
        "SUP-1",
        "10001",
        labels=("label-1", "label-2"),
        **{
            ORG_FIELD: [{"id": 2, "name": "Globex"}],
            RT_FIELD: {"requestType": {"id": "12", "name": "Report a bug"}},
            TEAM_FIELD: {"value": "l2", "id": "10301"},
            SLA_FIELD: "breached",
        },
    )
    rsps.get(f"{API}/search/jql", json=search_page([current]))
    at = "2026-03-03T09:00:00.000+0000"
    rsps.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs(
            {
                "10001": [
                    history(
                        "10002",
                        at,
                        change("labels", "label-1", "label-1 label-2"),
                        change("assignee", "Ana", "Ben", frm=AGENT, to=OTHER),
                        change("issuetype", "Service Request", "Incident", frm="1", to="2"),
                        change(TEAM_FIELD, "l1", "l2", frm="10300", to="10301"),
                        change(ORG_FIELD, "[Acme Corp]", "[Globex]"),
                        change(RT_FIELD, "Get IT help", "Report a bug"),
                        change(SLA_FIELD, None, "breached"),
                        change("summary", "old summary", "new summary"),
                    )
                ]
            }
        ),
    )
    (page,) = list(jira.read_changed(None))
    (ticket,) = page.tickets
    assert ticket.organization == "Globex"
    assert ticket.fields["request_type"] == "Report a bug"
    assert ticket.group == "l2"
    changes = [
        (e.field, e.old, e.value) for e in ticket.events if e.kind is EventKind.FIELD_CHANGED
    ]
    assert changes == [
        ("tags", ("label-1",), ("label-1", "label-2")),
        ("assignee", AGENT, OTHER),
        ("type", "Service Request", "Incident"),
        ("group", "l1", "l2"),
        ("organization", "Acme Corp", "Globex"),
        ("fields.request_type", "Get IT help", "Report a bug"),
        ("fields.sla_resolution_status", None, "breached"),
    ]
    assert {e.at for e in ticket.events if e.kind is EventKind.FIELD_CHANGED} == {
        datetime(2026, 3, 3, 9, tzinfo=UTC)
    }
    # The JSM fields were asked for by the search and followed by the bulk changelog.
    (search,) = calls(rsps, "GET", "/search/jql")
    assert ORG_FIELD in search.request.url and RT_FIELD in search.request.url
    (bulk,) = calls(rsps, "POST", "/changelog/bulkfetch")
    assert sent(bulk)["fieldIds"] == [
        "status",
        "priority",
        "assignee",
        "labels",
        "issuetype",
        TEAM_FIELD,
        ORG_FIELD,
        RT_FIELD,
        SLA_FIELD,
    ]


def test_more_than_ten_followed_fields_read_the_whole_changelog(rsps) -> None:
    # bulkfetch takes at most 10 fieldIds (OAS BulkChangelogRequestBean, maxItems 10).
    many = {f"f{n}": f"customfield_{10100 + n}" for n in range(6)}
    jira = make_connector(fields=many)
    rsps.get(f"{API}/search/jql", json=search_page([issue("SUP-1", "10001")]))
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    list(jira.read_changed(None))
    (bulk,) = calls(rsps, "POST", "/changelog/bulkfetch")
    assert "fieldIds" not in sent(bulk)


def test_configured_jsm_fields_skip_the_field_list(rsps) -> None:
    jira = make_connector(organization_field=ORG_FIELD, request_type_field=RT_FIELD)
    rsps.get(f"{API}/search/jql", json=search_page([issue("SUP-1", "10001")]))
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    list(jira.read_changed(None))
    assert not calls(rsps, "GET", "/field")
    with pytest.raises(ProblemsError, match=r"organization_field: .*looks like customfield_10002"):
        make_connector(organization_field="Organizations")


# -- the fake Jira: JSM fields served, the handoff through the changelog -------------------------

BER = ZoneInfo("Europe/Berlin")
PACK = """\
version: 1
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: globex-bugs
    match: {organization: Globex, fields.request_type: Report a bug}
    calendar: office
    targets:
      first_response: {"*": 2h}
      resolution: {"*": 16h}
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
MON = datetime(2026, 3, 2, 9, tzinfo=BER)


def _connector(fake: FakeJira) -> JiraConnector:
    user_name, token = fake.auth
    config = JiraConfig.load(
        {
            "base_url": fake.base_url,
            "email": user_name,
            "api_token_env": "FAKE_JIRA_TOKEN",
            "group_field": FIELD_SUPPORT_TEAM,
            "start_date": "2026-03-01",
            "retry": {"jitter": 0, "backoff_initial": 0.5},
        },
        connector="jira",
        environ={"FAKE_JIRA_TOKEN": token},
    )
    assert isinstance(config, JiraConfig)
    return JiraConnector(config)


def test_the_l2_ola_starts_at_the_handoff_on_the_fake_jira(tmp_path: Path) -> None:
    now = datetime(2026, 3, 3, 12, tzinfo=BER)
    rules = tmp_path / "rules.yaml"
    rules.write_text(PACK, encoding="utf-8")
    with FakeJira.start(now=now, issues=0) as fake:
        customer = next(u for u in fake.store.users.values() if u.account_type == "customer")
        key = fake.add_issue(
            created=MON.isoformat(),
            reporter=customer.account_id,
            summary="Checkout fails",
            issue_type="Incident",
            fields={
                FIELD_SUPPORT_TEAM: "l1",
                FIELD_ORGANIZATIONS: ["Globex"],
                FIELD_REQUEST_TYPE: "Report a bug",
            },
            events=[
                {
                    "at": datetime(2026, 3, 3, 10, tzinfo=BER).isoformat(),
                    "author": "ana.souza@fake-jira.test",
                    "changes": {FIELD_SUPPORT_TEAM: "l2"},
                }
            ],
        )
        # The fake serves JSM's fields as the site lists them, and the handoff in the changelog.
        served = fake.issue(key)["fields"]
        assert served[FIELD_ORGANIZATIONS][0]["name"] == "Globex"
        assert served[FIELD_REQUEST_TYPE]["requestType"]["name"] == "Report a bug"
        with (
            _connector(fake) as conn,
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
            RulePack.load([rules], engine="python") as pack,
        ):
            summary = Sync(store, pack, {"jira": conn}, clock=lambda: now).run_once()
            assert summary.tickets_read == 1
            ticket = store.load_snapshot("jira", key)
            assert ticket is not None
            assert (ticket.group, ticket.organization) == ("l2", "Globex")
            assert ticket.fields["request_type"] == "Report a bug"
            assert [
                (e.field, e.old, e.value)
                for e in ticket.events
                if e.kind is EventKind.FIELD_CHANGED
            ] == [("group", "l1", "l2")]
            stored = {
                r.measure.policy: r.measure
                for r in store.measures_between(now - timedelta(days=30), now + timedelta(days=1))
            }
            # The customer's policy chosen by JSM organization and request type.
            assert set(stored) == {"globex-bugs", "l2-ola"}
            ola = stored["l2-ola"]
            assert ola.start == datetime(2026, 3, 3, 10, tzinfo=BER)
            assert (ola.elapsed, ola.breached_at) == (timedelta(hours=2), None)
            doc = explain(pack, ticket, now)
            assert "l2-ola / resolution (cycle 1): RUNNING, 2h of 4h" in render_text(doc)
            clock = next(c for c in doc["clocks"] if c["policy"] == "l2-ola")
            assert clock["start"] == "2026-03-03T10:00:00+01:00"
