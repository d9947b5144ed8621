"""Contract tests: the fake Jira's responses, and the requests these tests send, validate
against Atlassian's published OpenAPI for Jira Cloud (platform v3) with openapi-core.

The spec is vendored beside this file, trimmed to the operations these tests call and the
schemas they use (specs/README.md: source, version, and how ``specs/trim_jira_spec.py`` makes
it), so the tests run in a fresh clone; ``SLAPLUG_JIRA_SPEC`` points them at another copy (the
full 2.4 MB one). Without openapi-core they skip. It is loaded once per session and
patched in memory, never on disk:

* four enum defaults of ``''`` that strict validators reject are dropped (specs/README.md);
* ``ChangeDetails.from/to/fromString/toString`` become nullable: the spec's own changelog
  example has ``"from": null``, and Jira sends null for fields that had no value;
* ``date-time`` accepts Jira's ``2026-03-02T12:00:00.000+0000`` (offset without a colon),
  the form of every timestamp in the spec's own examples.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from slaplug_jira.fake import FakeJira

openapi_core = pytest.importorskip("openapi_core", reason="openapi-core is not installed")
from openapi_core.contrib.requests import (  # noqa: E402 - after the importorskip
    RequestsOpenAPIRequest,
    RequestsOpenAPIResponse,
)

NOW = 1_772_452_800.0
DEFAULT_SPEC = Path(__file__).resolve().parent / "specs/jira-platform-v3.trimmed.openapi.json"


def spec_path() -> Path:
    """``$SLAPLUG_JIRA_SPEC``, else the trimmed copy vendored in specs/ beside this file."""
    return Path(os.environ.get("SLAPLUG_JIRA_SPEC") or DEFAULT_SPEC)


def _drop_bad_enum_defaults(node: Any) -> None:
    if isinstance(node, dict):
        if "enum" in node and "default" in node and node["default"] not in node["enum"]:
            del node["default"]
        for value in node.values():
            _drop_bad_enum_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_bad_enum_defaults(value)


def _jira_date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


@pytest.fixture(scope="session")
def raw_spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.skip(f"Jira OpenAPI spec not found at {path}; set SLAPLUG_JIRA_SPEC")
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="session")
def openapi(raw_spec: dict[str, Any]) -> Any:
    spec = copy.deepcopy(raw_spec)
    _drop_bad_enum_defaults(spec)
    for name in ("from", "to", "fromString", "toString"):
        spec["components"]["schemas"]["ChangeDetails"]["properties"][name]["nullable"] = True
    # Any 127.0.0.1 port is "the server".
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    config = openapi_core.Config(extra_format_validators={"date-time": _jira_date_time})
    return openapi_core.OpenAPI.from_dict(spec, config=config)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeJira]:
    with FakeJira.start(now=NOW, bulk_polls=2) as f:
        yield f


def _open_key(fake: FakeJira, skip: int) -> str:
    with fake.lock:
        issues = sorted(
            (i for i in fake.store.issues.values() if i.status in ("1", "3", "10001")),
            key=lambda i: i.id,
        )
        return issues[skip].key


ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "SLA breached"}]}],
}
JQL = 'project in (SUP) AND updated >= "2026-02-01 00:00" ORDER BY updated ASC, key ASC'

#: (case id, method, path under /rest/api/3, query, JSON body, expected status).
#: ``{open}`` is an unresolved issue's key; ``{task}`` a bulk task id.
CASES: list[tuple[str, str, str, dict[str, Any], Any, int]] = [
    ("getServerInfo", "GET", "/serverInfo", {}, None, 200),
    ("getCurrentUser", "GET", "/myself", {}, None, 200),
    ("getFields", "GET", "/field", {}, None, 200),
    ("getMyPermissions", "GET", "/mypermissions", {"projectKey": "SUP", "permissions": "BROWSE_PROJECTS,EDIT_ISSUES,TRANSITION_ISSUES,ADD_COMMENTS,ADMINISTER_PROJECTS,ADMINISTER,BULK_CHANGE"}, None, 200),
    ("getMyPermissions global", "GET", "/mypermissions", {"permissions": "BULK_CHANGE"}, None, 200),
    ("getMyPermissions 404", "GET", "/mypermissions", {"projectKey": "NOPE", "permissions": "BROWSE_PROJECTS"}, None, 404),
    ("getMyPermissions 400", "GET", "/mypermissions", {"permissions": "NOT_A_PERMISSION"}, None, 400),
    ("getPriorities", "GET", "/priority", {}, None, 200),
    ("getPriority", "GET", "/priority/2", {}, None, 200),
    ("getStatuses", "GET", "/status", {}, None, 200),
    ("getStatus", "GET", "/status/10001", {}, None, 200),
    ("getStatusCategories", "GET", "/statuscategory", {}, None, 200),
    ("getResolutions", "GET", "/resolution", {}, None, 200),
    ("getUser", "GET", "/user", {"accountId": "{me}"}, None, 200),
    ("findUsers", "GET", "/user/search", {"query": "ana"}, None, 200),
    ("getAllUsers", "GET", "/users/search", {"maxResults": 5}, None, 200),
    ("search GET", "GET", "/search/jql", {"jql": JQL, "fields": "*all", "expand": "names,schema,changelog", "maxResults": 5}, None, 200),
    ("search GET ids", "GET", "/search/jql", {"jql": JQL}, None, 200),
    ("search POST", "POST", "/search/jql", {}, {"jql": JQL, "fields": ["summary", "status", "updated"], "maxResults": 5}, 200),
    ("search bad JQL", "GET", "/search/jql", {"jql": "order by key"}, None, 400),
    ("getIssue", "GET", "/issue/SUP-1", {"expand": "changelog,names,schema,transitions"}, None, 200),
    ("getIssue 404", "GET", "/issue/SUP-99999", {}, None, 404),
    ("getChangeLogs", "GET", "/issue/SUP-1/changelog", {"maxResults": 2}, None, 200),
    ("getBulkChangelogs", "POST", "/changelog/bulkfetch", {}, {"issueIdsOrKeys": ["SUP-1", "SUP-2", "SUP-3"], "fieldIds": ["status"], "maxResults": 2}, 200),
    ("getComments", "GET", "/issue/SUP-3/comment", {"expand": "properties", "orderBy": "-created"}, None, 200),
    ("getComment", "GET", "/issue/SUP-3/comment/{comment}", {"expand": "properties"}, None, 200),
    ("getComment 404", "GET", "/issue/SUP-3/comment/99999999", {}, None, 404),
    ("addComment", "POST", "/issue/{open}/comment", {}, {"body": ADF, "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}, 201),
    ("editIssue 204", "PUT", "/issue/{open}", {}, {"fields": {"customfield_10050": "breached"}, "update": {"labels": [{"add": "sla-breached"}]}}, 204),
    ("editIssue 200", "PUT", "/issue/{open}", {"returnIssue": "true"}, {"fields": {"priority": {"name": "High"}}}, 200),
    ("editIssue 400", "PUT", "/issue/{open}", {}, {"fields": {"customfield_10030": "x"}}, 400),
    ("editIssue quiet", "PUT", "/issue/{open}", {"notifyUsers": "false"}, {"update": {"labels": [{"add": "quiet"}]}}, 204),
    ("editIssue textarea ADF", "PUT", "/issue/{open}", {}, {"fields": {"customfield_10055": ADF}}, 204),
    ("editIssue textarea emptied", "PUT", "/issue/{open}", {}, {"fields": {"customfield_10055": {"type": "doc", "version": 1, "content": []}}}, 204),
    ("editIssue textarea string", "PUT", "/issue/{open}", {}, {"fields": {"customfield_10055": ""}}, 400),
    ("editIssue dates", "PUT", "/issue/{open}", {}, {"fields": {"duedate": "2026-03-05", "customfield_10057": "2026-03-06"}}, 204),
    ("editIssue bad date", "PUT", "/issue/{open}", {}, {"fields": {"duedate": "05/Mar/26"}}, 400),
    ("getTransitions", "GET", "/issue/{open}/transitions", {}, None, 200),
    ("doTransition", "POST", "/issue/{open}/transitions", {}, {"transition": {"id": "31"}}, 204),
    ("assignIssue", "PUT", "/issue/{open}/assignee", {}, {"accountId": "{me}"}, 204),
    ("submitBulkEdit", "POST", "/bulk/issues/fields", {}, {
        "selectedIssueIdsOrKeys": ["{open}"],
        "selectedActions": ["labels", "priority"],
        "editedFieldsInput": {
            "labelsFields": [{"fieldId": "labels", "bulkEditMultiSelectFieldOption": "ADD", "labels": [{"name": "bulk"}]}],
            "priority": {"priorityId": "2"},
        },
    }, 201),
    ("submitBulkEdit datePickerFields", "POST", "/bulk/issues/fields", {}, {
        "selectedIssueIdsOrKeys": ["{open}"],
        "selectedActions": ["customfield_10057"],
        "editedFieldsInput": {
            "datePickerFields": [{"fieldId": "customfield_10057", "date": {"formattedDate": "2026-03-09"}}],
        },
    }, 201),
    ("getBulkOperationProgress", "GET", "/bulk/queue/{task}", {}, None, 200),
]  # fmt: skip


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return (
            value.format(**names) if "{" in value and "}" in value and " " not in value else value
        )
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def _validate(openapi: Any, response: requests.Response) -> None:
    request = RequestsOpenAPIRequest(response.request)
    openapi.validate_request(request)
    if response.status_code == 204:
        # The spec gives its 204s an application/json content of schema {}, which
        # openapi-core then requires; HTTP 204 has no body, so check the status is listed.
        assert response.content == b""
        return
    openapi.validate_response(request, RequestsOpenAPIResponse(response))


def _documented(raw_spec: dict[str, Any], method: str, path: str, status: int) -> bool:
    template = next(
        p
        for p in raw_spec["paths"]
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)), path)
        and method.lower() in raw_spec["paths"][p]
    )
    return str(status) in raw_spec["paths"][template][method.lower()]["responses"]


@pytest.mark.parametrize(
    ("case", "method", "path", "query", "body", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_request_and_response_match_the_spec(
    openapi: Any,
    raw_spec: dict[str, Any],
    fake: FakeJira,
    case: str,
    method: str,
    path: str,
    query: dict[str, Any],
    body: Any,
    status: int,
) -> None:
    names = {"open": _open_key(fake, len(case) % 7), "me": fake.store.agents()[0].account_id}
    if "{task}" in path:
        names["task"] = _submit_task(fake)
    if "{comment}" in path:
        with fake.lock:
            issue = fake.store.issue("SUP-3")
            assert issue is not None
            names["comment"] = str(fake.store.comments[issue.id][0].id)
    r = requests.request(
        method,
        f"{fake.base_url}/rest/api/3{_fill(path, names)}",
        params=_fill(query, names),
        json=_fill(body, names),
        auth=fake.auth,
        timeout=10,
    )
    assert r.status_code == status, r.text
    assert _documented(raw_spec, method, f"/rest/api/3{_fill(path, names)}".split("?")[0], status)
    _validate(openapi, r)


def _submit_task(fake: FakeJira) -> str:
    r = requests.post(
        f"{fake.base_url}/rest/api/3/bulk/issues/fields",
        json={
            "selectedIssueIdsOrKeys": ["SUP-5"],
            "selectedActions": ["customfield_10050"],
            "editedFieldsInput": {
                "singleLineTextFields": [{"fieldId": "customfield_10050", "text": "ok"}]
            },
        },
        auth=fake.auth,
        timeout=10,
    )
    return str(r.json()["taskId"])


def test_notify_users_false_without_admin_rights_is_a_documented_403(
    openapi: Any, raw_spec: dict[str, Any], fake: FakeJira
) -> None:
    agent = fake.store.agents()[1]
    assert not (agent.admin or agent.project_admin)
    key = _open_key(fake, 3)
    path = f"/rest/api/3/issue/{key}"
    r = requests.put(
        f"{fake.base_url}{path}",
        params={"notifyUsers": "false"},
        json={"update": {"labels": [{"add": "quiet"}]}},
        auth=fake.auth_for(agent.email),
        timeout=10,
    )
    assert r.status_code == 403 and _documented(raw_spec, "PUT", path, 403)
    assert "admin or project admin" in r.json()["errorMessages"][0]
    assert "quiet" not in fake.issue(key)["fields"]["labels"]  # the whole edit was refused
    _validate(openapi, r)


def test_401_is_a_documented_response(
    openapi: Any, raw_spec: dict[str, Any], fake: FakeJira
) -> None:
    r = requests.get(f"{fake.base_url}/rest/api/3/myself", timeout=10)
    assert r.status_code == 401 and _documented(raw_spec, "GET", "/rest/api/3/myself", 401)
    # The request lacks the credentials the spec requires: check the response only.
    openapi.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))


def test_v2_bodies_validate_against_the_same_operations(openapi: Any, fake: FakeJira) -> None:
    # Jira serves /rest/api/2 with the same shapes, rich text as strings; the OAS is v3-only,
    # so the v2 exchange is checked against the v3 operation of the same path.
    for path in ("/issue/SUP-1", "/issue/SUP-3/comment", "/issue/SUP-1/changelog"):
        r = requests.get(f"{fake.base_url}/rest/api/2{path}", auth=fake.auth, timeout=10)
        assert r.status_code == 200
        r.request.url = (r.request.url or "").replace("/rest/api/2/", "/rest/api/3/")
        _validate(openapi, r)


def test_every_spec_operation_the_fake_serves_has_a_contract_case(
    raw_spec: dict[str, Any], fake: FakeJira
) -> None:
    covered = {(m, re.sub(r"SUP-\d+|\{open\}", "{issueIdOrKey}", p)) for _, m, p, *_ in CASES}
    served = set()
    for path, ops in raw_spec["paths"].items():
        sample = re.sub(r"\{issueIdOrKey\}", "SUP-1", path)
        sample = re.sub(r"\{[^}]+\}", "1", sample)
        for method in ops:
            if method.upper() in ("GET", "POST", "PUT", "DELETE") and fake.handles(method, sample):
                served.add((method.upper(), path))
    # /search (startAt) is served only to answer 410 Gone: the spec still lists it.
    served -= {("GET", "/rest/api/3/search"), ("POST", "/rest/api/3/search")}
    missing = {
        (m, p)
        for m, p in served
        if not any(
            cm == m
            and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)), "/rest/api/3" + cp)
            for cm, cp in covered
        )
    }
    assert served and not missing, f"operations without a contract case: {sorted(missing)}"
