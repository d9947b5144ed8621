"""Contract tests: every request the connector sends, and every canned answer it is fed,
validated against Atlassian's OpenAPI description of the Jira Cloud platform REST API v3.

The spec is the trimmed copy vendored beside these tests (specs/README.md: the
operations slaplug's tests call, whole, and the schemas they use), or the file named by
``SLAPLUG_JIRA_SPEC`` (the full one); the tests skip, saying so, when it is absent. It is
loaded once per session from a patched copy in memory: the full spec's four enum defaults of
``''`` (which strict validators reject; the trimmed copy keeps none of them) are dropped, and
its placeholder server is replaced by the test site. The file itself is never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from jira_support import (
    AGENT,
    API,
    BASE,
    FIELDS,
    MYSELF_EXAMPLE,
    OAS_EXAMPLES,
    SLA_FIELD,
    action,
    changelogs,
    comment,
    history,
    issue,
    item,
    make_connector,
    myself,
    search_page,
    user,
)
from responses import matchers
from slaplug_jira.cursor import JiraCursor
from slaplug_jira.doctor import PERMISSIONS

from slaplug.connectors.checks import DoctorNeeds
from slaplug.errors import Problem
from slaplug.model import ActionKind as K
from slaplug.rules.writes import RuleWrite

openapi_core = pytest.importorskip(
    "openapi_core", reason="pip install openapi-core for the contract tests"
)
from openapi_core import OpenAPI  # noqa: E402
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse  # noqa: E402

# The trimmed copy sits beside these tests (specs/), with the fake Jira's contract tests.
SPEC = Path(
    os.environ.get("SLAPLUG_JIRA_SPEC")
    or Path(__file__).resolve().parent / "specs" / "jira-platform-v3.trimmed.openapi.json"
)


def _drop_empty_enum_defaults(node: Any) -> int:
    """Remove ``default: ''`` where ``''`` is not among the enum values; return how many."""
    dropped = 0
    if isinstance(node, dict):
        if node.get("default") == "" and "enum" in node and "" not in node["enum"]:
            del node["default"]
            dropped += 1
        for value in node.values():
            dropped += _drop_empty_enum_defaults(value)
    elif isinstance(node, list):
        for value in node:
            dropped += _drop_empty_enum_defaults(value)
    return dropped


@pytest.fixture(scope="session")
def spec() -> OpenAPI:
    """The Jira platform spec, loaded once, patched in memory."""
    if not SPEC.is_file():
        pytest.skip(f"Jira OpenAPI spec not found at {SPEC}; set SLAPLUG_JIRA_SPEC to its path")
    data = json.loads(SPEC.read_text(encoding="utf-8"))
    # The full spec has four, the trimmed copy none: any other count is a changed spec.
    dropped = _drop_empty_enum_defaults(data)
    assert dropped in (0, 4), f"the spec changed ({dropped}): re-check the enum defaults"
    data["servers"] = [{"url": BASE}]
    return OpenAPI.from_dict(data)


@pytest.fixture
def checked(spec: OpenAPI) -> Iterator[responses.RequestsMock]:
    """A RequestsMock whose every call is validated against the spec after the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/myself", json=myself())
        mock.get(f"{API}/field", json=FIELDS)
        yield mock
        assert mock.calls, "the test made no request to check"
        for call in mock.calls:
            validate(spec, call)


def validate(spec: OpenAPI, call: Any) -> None:
    request = RequestsOpenAPIRequest(call.request)
    where = f"{call.request.method} {call.request.url}"
    try:
        spec.validate_request(request)
    except Exception as exc:
        pytest.fail(
            f"request does not match the spec: {where}: {exc!r} {getattr(exc, '__cause__', '')!r}"
        )
    if isinstance(call.response, Exception):
        pytest.fail(f"no canned response for {where}: {call.response}")
    if call.response.status_code == 204:
        return  # the spec gives its 204s a JSON media type, but a 204 has no body (RFC 9110)
    # Jira writes offsets as +0000 (so do the spec's own examples), which the spec's
    # "date-time" (RFC 3339) refuses; the canned answers keep Jira's form for the unit
    # tests, so the response check sees them in RFC 3339 form.
    call.response._content = call.response.content.replace(b'+0000"', b'+00:00"')
    try:
        spec.validate_response(request, RequestsOpenAPIResponse(call.response))
    except Exception as exc:
        pytest.fail(
            f"canned response does not match the spec: {where}: {exc!r} {getattr(exc, '__cause__', '')!r}"
        )


def test_incremental_reads_conform(checked) -> None:
    jira = make_connector()
    c1 = comment("1", user(AGENT), "2026-03-02T09:00:00.000+0000")
    served = {
        None: search_page([issue("SUP-1", "10001", comments=(c1,), comment_total=2)], "t1"),
        "t1": search_page([issue("SUP-2", "10002")]),
    }

    def search(request: Any) -> tuple[int, dict[str, str], str]:
        token = parse_qs(urlsplit(request.url).query).get("nextPageToken", [None])[0]
        return 200, {}, json.dumps(served[token])

    checked.add_callback(
        responses.GET, f"{API}/search/jql", callback=search, content_type="application/json"
    )
    first = {
        "fieldIds": ["status", "priority", "assignee", "labels", "issuetype", SLA_FIELD],
        "maxResults": 1000,
    }
    checked.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs(
            {
                "10001": [
                    history("1", "2026-03-02T09:30:00.000+0000", item("status", "Open", "Resolved"))
                ]
            },
            "c1",
        ),
        match=[matchers.json_params_matcher({**first, "issueIdsOrKeys": ["10001"]})],
    )
    checked.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs({}),
        match=[matchers.json_params_matcher({"nextPageToken": "c1"}, strict_match=False)],
    )
    checked.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs({}),
        match=[matchers.json_params_matcher({**first, "issueIdsOrKeys": ["10002"]})],
    )
    checked.get(
        f"{API}/issue/SUP-1/comment",
        json={"comments": [c1], "startAt": 0, "maxResults": 100, "total": 1},
    )
    pages = list(jira.read_changed(None))
    list(jira.read_changed(pages[-1].cursor))


def test_reading_one_issue_conforms(checked) -> None:
    jira = make_connector()
    raw = issue("SUP-1", "10001")
    raw["changelog"] = {"startAt": 0, "maxResults": 1, "total": 2, "histories": []}
    checked.get(f"{API}/issue/SUP-1", json=raw)
    checked.get(
        f"{API}/issue/SUP-1/changelog",
        json={
            "values": [
                history("1", "2026-03-02T09:00:00.000+0000", item("priority", "High", "Highest"))
            ],
            "startAt": 0,
            "maxResults": 100,
            "total": 1,
            "isLast": True,
        },
    )
    jira.read_ticket("SUP-1")


def test_writes_conform(checked) -> None:
    jira = make_connector()
    checked.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", labels=("sla_at_risk",)))
    checked.put(f"{API}/issue/SUP-1", status=204)
    checked.get(
        f"{API}/user/search",
        json=[
            {"accountId": "acc-ann", "accountType": "atlassian", "emailAddress": "ann@acme.example"}
        ],
    )
    checked.post(
        f"{API}/issue/SUP-1/comment",
        status=201,
        json=comment("9", user("me", "app"), "2026-03-05T12:00:00.000+0000", public=False),
    )
    checked.get(
        f"{API}/issue/SUP-1/transitions",
        json={
            "transitions": [{"id": "21", "name": "Resolve", "to": {"name": "Resolved", "id": "5"}}]
        },
    )
    checked.post(f"{API}/issue/SUP-1/transitions", status=204)
    results = jira.apply(
        [
            action(K.ADD_TAG, {"tag": "sla_breached"}, n=1),
            action(K.REMOVE_TAG, {"tag": "sla_at_risk"}, n=2),
            action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, n=3),
            action(K.SET_PRIORITY, {"priority": "urgent"}, n=4),
            action(K.ASSIGN, {"user": "ann@acme.example"}, n=5),
            action(K.COMMENT, {"body": "SLA breached.", "public": False}, n=6),
            action(K.SET_STATUS, {"status": "solved"}, n=7),
        ]
    )
    assert {r.status.value for r in results} == {"applied"}


def test_bulk_edit_conforms(checked) -> None:
    jira = make_connector(bulk_edit_min_issues=2)
    for n in (1, 2):
        checked.get(f"{API}/issue/SUP-{n}", json=issue(f"SUP-{n}", f"1000{n}"))
    checked.post(f"{API}/bulk/issues/fields", status=201, json={"taskId": "10641"})
    checked.get(
        f"{API}/bulk/queue/10641",
        json={
            "taskId": "10641",
            "status": "COMPLETE",
            "progressPercent": 100,
            "processedAccessibleIssues": [10001, 10002],
            "totalIssueCount": 2,
        },
    )
    results = jira.apply(
        [
            action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, f"SUP-{n}")
            for n in (1, 2)
        ]
    )
    assert {r.status.value for r in results} == {"applied"}
    (bulk,) = [c for c in checked.calls if c.request.url.endswith("/bulk/issues/fields")]
    assert SLA_FIELD in bulk.request.body.decode()


def test_the_validator_catches_a_request_jira_would_refuse(spec) -> None:
    """The check is live: an unknown body property of the bulk changelog is reported."""
    with responses.RequestsMock() as mock:
        mock.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
        requests.post(
            f"{API}/changelog/bulkfetch",
            json={"issueIdsOrKeys": ["1"], "fields": ["status"]},
            timeout=5,
        )
        with pytest.raises(pytest.fail.Exception, match="request does not match"):
            validate(spec, mock.calls[0])


def test_the_vendored_examples_are_the_specs_own(spec) -> None:
    """oas_examples.json (replayed by test_jira_documented_payloads.py and others) holds the
    spec's response examples verbatim."""
    raw = json.loads(SPEC.read_text(encoding="utf-8"))
    assert OAS_EXAMPLES
    for name, example in OAS_EXAMPLES.items():
        operation_id, status = name.split()
        op = raw["paths"][example["path"]][example["method"].lower()]
        assert op["operationId"] == operation_id
        documented = op["responses"][status]["content"]["application/json"]["example"]
        assert json.loads(documented) == example["body"], name


def test_the_connectors_myself_read_conforms(spec) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/myself", json=MYSELF_EXAMPLE)
        mock.get(f"{API}/field", json=FIELDS)  # JSM's fields are looked up once
        mock.get(f"{API}/search/jql", json=search_page([]))
        list(make_connector().read_changed(JiraCursor(1772445600000).encode()))
        for call in mock.calls:
            validate(spec, call)


def test_the_doctors_reads_conform(spec) -> None:
    """`slaplug doctor`'s requests, fed answers in the spec's shapes, validate both ways.

    ``/mypermissions`` answers each asked key in the shape of the OAS ``getMyPermissions``
    example (``{"permissions": {"EDIT_ISSUES": {"description", "havePermission", "id",
    "key", "name", "type"}}}``).
    """

    def write(kind: K, name: str, role: str = "") -> RuleWrite:
        return RuleWrite(kind, name, role, "breach", Problem("", "x", "rules.yaml", 1, 1))

    granted = {
        "permissions": {
            k: {
                "description": k,
                "havePermission": k != "BULK_CHANGE",
                "id": str(n),
                "key": k,
                "name": k.title(),
                "type": "GLOBAL" if k in ("ADMINISTER", "BULK_CHANGE") else "PROJECT",
            }
            for n, k in enumerate(PERMISSIONS)
        }
    }
    found_user = {**user(AGENT, name="Mia Krystof"), "emailAddress": "mia@example.com"}
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/myself", json=MYSELF_EXAMPLE)
        mock.get(f"{API}/mypermissions", json=granted)
        mock.get(f"{API}/field", json=FIELDS)
        mock.get(
            f"{API}/priority", json=[{"id": "1", "name": "Highest", "self": f"{API}/priority/1"}]
        )
        mock.get(
            f"{API}/status", json=[{"id": "10002", "name": "Done", "self": f"{API}/status/10002"}]
        )
        mock.get(f"{API}/user/search", json=[found_user])
        needs = DoctorNeeds(
            writes=(
                write(K.SET_FIELD, "sla_resolution_status"),
                write(K.SET_PRIORITY, "urgent"),
                write(K.SET_STATUS, "solved"),
                write(K.ASSIGN, "mia@example.com", "user"),
            ),
            kinds=frozenset({K.SET_FIELD, K.SET_PRIORITY, K.SET_STATUS, K.ASSIGN, K.COMMENT}),
        )
        with make_connector() as conn:
            found = {c.name: c.status.value for c in conn.doctor(needs)}
        assert found["permission bulk change"] == "warn" and found["status solved"] == "ok"
        assert "fail" not in found.values(), found
        asked = parse_qs(urlsplit(calls_to(mock, "/mypermissions")[0].request.url).query)
        assert asked["projectKey"] == ["SUP"]
        for call in mock.calls:
            validate(spec, call)


def calls_to(mock: responses.RequestsMock, path: str) -> list[Any]:
    return [c for c in mock.calls if urlsplit(c.request.url).path.endswith(path)]
