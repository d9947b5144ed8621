"""Builders of Jira REST v3 JSON (shapes from the OpenAPI file's schemas) and connector setup.

Named apart from ``conftest`` so tests can import it (slaplug's own ``tests/conftest.py``
and the Zendesk plugin's are on the path too when the suites run together).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import responses
from slaplug_jira import JiraConfig, JiraConnector

from slaplug.model import Action, ActionKind, Metric

BASE = "https://acme.atlassian.net"
API = f"{BASE}/rest/api/3"
TOKEN = "jira-api-token-s3cret-0042"
HOOK = "jira-hook-secret-new-0042"
HOOK_OLD = "jira-hook-secret-old-0041"
ENV = {"JIRA_TEST_TOKEN": TOKEN, "JIRA_HOOK_OLD": HOOK_OLD, "JIRA_HOOK": HOOK}

AGENT = "5b10a2844c20165700ede21g"
CUSTOMER = "qm:1a2b3c4d-customer"
AUTOMATION = "557058:automation-app"
SLA_FIELD = "customfield_10050"


#: Response examples of the Jira OpenAPI, vendored verbatim in oas_examples.json (its
#: ``_source`` says where from; test_contract.py checks them against the spec).
OAS_EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "oas_examples.json").read_text(encoding="utf-8")
)["examples"]


def oas_example(name: str) -> Any:
    """A fresh copy of one documented answer, e.g. ``oas_example("getCurrentUser 200")``."""
    return copy.deepcopy(OAS_EXAMPLES[name]["body"])


#: ``GET /rest/api/3/myself`` as documented (``getCurrentUser``): Mia Krystof, whose
#: accountId is `AGENT`, in Australia/Sydney.
MYSELF_EXAMPLE: dict[str, Any] = oas_example("getCurrentUser 200")

#: ``GET /rest/api/3/field``: the OAS example's two system fields (``getFields``), plus
#: `SLA_FIELD` (a textfield), a textarea and a date time picker (`TIME_FIELD`) custom field
#: in the same ``FieldDetails`` shape (schema ``custom`` and ``customId`` as the OAS
#: ``JsonTypeBean`` describes them; the date time picker's key as the OAS
#: ``createCustomField`` lists it: "``datetime``: Stores a date with a time component (value:
#: ``com.atlassian.jira.plugin.system.customfieldtypes:datetime``)").
FIELDS = [
    *oas_example("getFields 200"),
    {
        "clauseNames": ["cf[10050]", "SLA status"],
        "custom": True,
        "id": SLA_FIELD,
        "key": SLA_FIELD,
        "name": "SLA status",
        "navigable": True,
        "orderable": True,
        "schema": {
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            "customId": 10050,
            "type": "string",
        },
        "searchable": True,
    },
    {
        "clauseNames": ["cf[10070]", "SLA notes"],
        "custom": True,
        "id": "customfield_10070",
        "key": "customfield_10070",
        "name": "SLA notes",
        "navigable": True,
        "orderable": True,
        "schema": {
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            "customId": 10070,
            "type": "string",
        },
        "searchable": True,
    },
    {
        "clauseNames": ["cf[10051]", "SLA breach at"],
        "custom": True,
        "id": "customfield_10051",
        "key": "customfield_10051",
        "name": "SLA breach at",
        "navigable": True,
        "orderable": True,
        "schema": {
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
            "customId": 10051,
            "type": "datetime",
        },
        "searchable": True,
    },
]
#: A date time picker custom field (in `FIELDS`).
TIME_FIELD = "customfield_10051"


def make_connector(**overrides: Any) -> JiraConnector:
    """A connector on `BASE` with basic auth; nothing sleeps (retries and bulk polls)."""
    settings: dict[str, Any] = {
        "base_url": BASE,
        "email": "ops@acme.example",
        "api_token_env": "JIRA_TEST_TOKEN",
        "projects": ["SUP"],
        "webhook_secret_env": ["JIRA_HOOK_OLD", "JIRA_HOOK"],
        "fields": {"sla_resolution_status": SLA_FIELD},
        "groups": {"escalations": "acc-escalations"},
        "retry": {"jitter": 0, "backoff_initial": 0.5},
        **overrides,
    }
    config = JiraConfig.load(settings, connector="jira", environ=ENV)
    assert isinstance(config, JiraConfig)
    connector = JiraConnector(config)
    connector.http.sleep = lambda seconds: None
    return connector


def user(account_id: str, kind: str = "atlassian", name: str = "") -> dict[str, Any]:
    """A UserDetails object."""
    return {
        "accountId": account_id,
        "accountType": kind,
        "active": True,
        "displayName": name or account_id,
        "self": f"{API}/user?accountId={account_id}",
    }


def myself(account_id: str = AGENT, time_zone: str = "UTC") -> dict[str, Any]:
    """``GET /rest/api/3/myself``: the API user (a ``User``; shape of the OAS example)."""
    return {
        **user(account_id, name="SLA Bot"),
        "emailAddress": "ops@acme.example",
        "timeZone": time_zone,
        "locale": "en_US",
    }


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def comment(
    cid: str, author: dict[str, Any], created: str, text: str = "hello", *, public: bool = True
) -> dict[str, Any]:
    """A Comment as JSM returns it (``jsdPublic`` tells public from internal)."""
    return {
        "id": cid,
        "self": f"{API}/issue/10001/comment/{cid}",
        "author": author,
        "updateAuthor": author,
        "body": adf(text),
        "created": created,
        "updated": created,
        "jsdPublic": public,
    }


def item(field: str, before: str | None, after: str | None) -> dict[str, Any]:
    """A ChangeDetails item of a status or priority change."""
    return {
        "field": field,
        "fieldId": field,
        "fieldtype": "jira",
        "from": "1",
        "fromString": before,
        "to": "2",
        "toString": after,
    }


def history(hid: str, created: str, *items: dict[str, Any], author: str = AGENT) -> dict[str, Any]:
    """A Changelog (one history with its items)."""
    return {"id": hid, "author": user(author), "created": created, "items": list(items)}


def status(name: str, category: str = "indeterminate") -> dict[str, Any]:
    return {"name": name, "id": "1", "statusCategory": {"key": category, "name": category}}


def issue(
    key: str,
    iid: str,
    *,
    created: str = "2026-03-02T08:00:00.000+0000",
    updated: str = "2026-03-02T10:00:00.000+0000",
    status_name: str = "Waiting for support",
    category: str = "indeterminate",
    priority: str | None = "High",
    reporter: str = CUSTOMER,
    labels: tuple[str, ...] = (),
    comments: tuple[dict[str, Any], ...] = (),
    comment_total: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An IssueBean with the fields the connector asks for."""
    fields: dict[str, Any] = {
        "summary": f"Issue {key}",
        "status": status(status_name, category),
        "priority": {"name": priority, "id": "2"} if priority else None,
        "labels": list(labels),
        "assignee": None,
        "reporter": user(reporter, "customer"),
        "created": created,
        "updated": updated,
        "issuetype": {"name": "Service Request"},
        "comment": {
            "comments": list(comments),
            "maxResults": len(comments),
            "total": len(comments) if comment_total is None else comment_total,
            "startAt": 0,
        },
        **extra,
    }
    return {"id": iid, "key": key, "self": f"{API}/issue/{iid}", "fields": fields}


def search_page(issues: list[dict[str, Any]], token: str | None = None) -> dict[str, Any]:
    """A SearchAndReconcileResults page: ``nextPageToken`` only when more follow."""
    page: dict[str, Any] = {"issues": issues, "isLast": token is None}
    if token:
        page["nextPageToken"] = token
    return page


def changelogs(logs: dict[str, list[dict[str, Any]]], token: str | None = None) -> dict[str, Any]:
    """A BulkChangelogResponseBean."""
    page: dict[str, Any] = {
        "issueChangeLogs": [{"issueId": i, "changeHistories": h} for i, h in logs.items()]
    }
    if token:
        page["nextPageToken"] = token
    return page


def sent(call: Any) -> Any:
    """The JSON body of a captured request."""
    return json.loads(call.request.body)


def calls(rsps: responses.RequestsMock, method: str, path: str) -> list[Any]:
    """Captured calls with this method whose URL path ends with ``path``."""
    return [
        c
        for c in rsps.calls
        if c.request.method == method and c.request.url.split("?")[0].endswith(path)
    ]


def action(kind: ActionKind, params: dict[str, Any], ticket: str = "SUP-1", n: int = 1) -> Action:
    """An action keyed the way the rules key them."""
    return Action(
        kind=kind,
        params=params,
        connector="jira",
        ticket_id=ticket,
        key=f"jira:{ticket}:customer-sla:resolution:1:resolution-breached:1:{n}",
        escalation="resolution-breached",
        level=1,
        policy="customer-sla",
        metric=Metric.RESOLUTION,
        cycle=1,
    )
