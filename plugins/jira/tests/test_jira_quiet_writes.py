"""Jira writes (issue 13, item 6): SLA edits do not e-mail every watcher, and a multi-line
text field is always written as ADF.

* ``PUT /rest/api/3/issue/{key}?notifyUsers=false`` keeps Jira from e-mailing the issue's
  watchers about slaplug's labels and fields. It needs *Administer Jira* or *Administer
  projects* (OAS ``editIssue``, parameter ``notifyUsers``). The OAS says a request without
  them "is ignored", but Jira Cloud refuses the **whole edit** with 403 (recorded in
  LetPeopleWork/Lighthouse ``docs/feature/quiet-jira-writeback/slices/
  slice-03-spike-jira-notification-suppression.md``), so the connector sends the edit again
  without the parameter, once, and from then on does not ask for that project.
* ``description``, ``environment`` and ``textarea`` custom fields "take Atlassian Document
  Format content" in v3 (OAS ``editIssue``); a plain string, even ``""``, is refused. An
  empty field is written as an empty ``doc`` (ADF's doc node: "content: an array of zero or
  more nodes", developer.atlassian.com/cloud/jira/platform/apis/document/nodes/doc/).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from jira_support import API, action, calls, issue, make_connector, sent
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira
from slaplug_jira.fake.generate import FIELD_SLA_NOTES

from slaplug.connectors import ApplyStatus
from slaplug.errors import AuthenticationError
from slaplug.model import ActionKind

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: Jira Cloud's answer to notifyUsers=false without admin rights, as recorded (module doc).
NO_DISCARD = {
    "errorMessages": [
        "To discard the user notification either admin or project admin permissions are required."
    ],
    "errors": {},
}
EMPTY_DOC = {"type": "doc", "version": 1, "content": []}


def connect(fake: FakeJira, email: str, **overrides: Any) -> JiraConnector:
    user, token = fake.auth_for(email)
    config = JiraConfig.load(
        {
            "base_url": fake.base_url,
            "email": user,
            "api_token_env": "FAKE_JIRA_TOKEN",
            "retry": {"jitter": 0, "backoff_initial": 0.5},
            "bulk_edit_min_issues": 0,
            "fields": {"sla_notes": FIELD_SLA_NOTES, "sla_status": "customfield_10050"},
            **overrides,
        },
        connector="jira",
        environ={"FAKE_JIRA_TOKEN": token},
    )
    assert isinstance(config, JiraConfig)
    connector = JiraConnector(config)
    connector.http.sleep = lambda seconds: None
    return connector


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira.start(now=NOW, issues=0) as f:
        for n in range(3):
            f.simulate("create", summary=f"VPN down {n}")
        yield f


def open_keys(fake: FakeJira) -> list[str]:
    with fake.lock:
        return [i.key for i in fake.store.issues.values()]


def edits(fake: FakeJira) -> list[Any]:
    return [w for w in fake.writes if w.method == "PUT" and "/assignee" not in w.path]


# -- against the fake ---------------------------------------------------------------------


def test_an_admin_edits_without_emailing_the_watchers(fake) -> None:
    first, second = open_keys(fake)[:2]
    with connect(fake, fake.email) as jira:
        results = jira.apply(
            [
                action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, first, 1),
                action(ActionKind.SET_FIELD, {"field": "sla_status", "value": "late"}, second, 2),
            ]
        )
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 2
    assert [(w.query.get("notifyUsers"), w.accepted) for w in edits(fake)] == [("false", True)] * 2
    assert fake.watcher_emails == {}


def test_a_project_admin_edits_quietly_too(fake) -> None:
    key = open_keys(fake)[0]
    agent = fake.set_user("ben.okafor@fake-jira.test", project_admin=True)
    with connect(fake, agent) as jira:
        (result,) = jira.apply([action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, key)])
    assert result.status is ApplyStatus.APPLIED
    assert fake.watcher_emails == {}


def test_without_admin_rights_the_edit_is_sent_again_loud_once_per_project(fake, caplog) -> None:
    first, second = open_keys(fake)[:2]
    with connect(fake, "ben.okafor@fake-jira.test") as jira:
        one = jira.apply([action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, first, 1)])
        two = jira.apply([action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, second, 2)])
    assert [r.status for r in one + two] == [ApplyStatus.APPLIED] * 2
    assert [(w.query.get("notifyUsers"), w.status) for w in edits(fake)] == [
        ("false", 403),  # refused whole: nothing written
        (None, 204),  # the same edit, watchers e-mailed
        (None, 204),  # the project is known loud now: no second 403
    ]
    assert edits(fake)[0].body == edits(fake)[1].body
    assert fake.watcher_emails == {first: 1, second: 1}
    assert sum("Administer projects" in r.getMessage() for r in caplog.records) == 1


def test_an_empty_multi_line_field_is_written_as_adf(fake) -> None:
    key = open_keys(fake)[0]
    assert fake.issue(key)["fields"][FIELD_SLA_NOTES] is None
    with connect(fake, fake.email) as jira:
        first = jira.apply(
            [
                action(
                    ActionKind.SET_FIELD, {"field": "sla_notes", "value": "Breached at 10:00"}, key
                )
            ]
        )
        assert first[0].status is ApplyStatus.APPLIED, first[0].detail
        notes = fake.issue(key)["fields"][FIELD_SLA_NOTES]
        assert notes["type"] == "doc" and "Breached at 10:00" in str(notes)
        again = jira.apply(
            [
                action(
                    ActionKind.SET_FIELD, {"field": "sla_notes", "value": "Breached at 10:00"}, key
                )
            ]
        )
        assert again[0].status is ApplyStatus.ALREADY
        cleared = jira.apply(
            [action(ActionKind.SET_FIELD, {"field": "sla_notes", "value": ""}, key, 2)]
        )
        assert cleared[0].status is ApplyStatus.APPLIED, cleared[0].detail
        assert edits(fake)[-1].body == {"fields": {FIELD_SLA_NOTES: EMPTY_DOC}}
        assert fake.issue(key)["fields"][FIELD_SLA_NOTES] is None
        # Emptying an empty field writes nothing.
        still = jira.apply(
            [action(ActionKind.SET_FIELD, {"field": "sla_notes", "value": ""}, key, 3)]
        )
        assert still[0].status is ApplyStatus.ALREADY


# -- replayed documented payloads (responses) ---------------------------------------------


def test_the_recorded_403_makes_one_loud_retry_of_the_identical_edit(rsps) -> None:
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001"))
    rsps.put(
        f"{API}/issue/SUP-1",
        status=403,
        json=NO_DISCARD,
        match=[responses.matchers.query_param_matcher({"notifyUsers": "false"})],
    )
    rsps.put(f"{API}/issue/SUP-1", status=204, match=[responses.matchers.query_param_matcher({})])
    (result,) = jira.apply([action(ActionKind.ADD_TAG, {"tag": "sla_breached"})])
    assert result.status is ApplyStatus.APPLIED
    puts = calls(rsps, "PUT", "/issue/SUP-1")
    assert [c.request.url.partition("?")[2] for c in puts] == ["notifyUsers=false", ""]
    assert sent(puts[0]) == sent(puts[1]) == {"update": {"labels": [{"add": "sla_breached"}]}}


def test_a_403_that_survives_the_loud_retry_is_a_permission_error(rsps) -> None:
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001"))
    rsps.put(
        f"{API}/issue/SUP-1",
        status=403,
        json={"errorMessages": ["You do not have permission to edit issues here."], "errors": {}},
    )
    with pytest.raises(AuthenticationError, match="403"):
        jira.apply([action(ActionKind.ADD_TAG, {"tag": "sla_breached"})])
    assert len(calls(rsps, "PUT", "/issue/SUP-1")) == 2


def test_the_field_list_tells_a_textarea_whose_value_is_null(rsps) -> None:
    jira = make_connector(fields={"sla_notes": "customfield_10070"})
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", customfield_10070=None))
    rsps.put(f"{API}/issue/SUP-1", status=204)
    (result,) = jira.apply(
        [action(ActionKind.SET_FIELD, {"field": "sla_notes", "value": "Breached"})]
    )
    assert result.status is ApplyStatus.APPLIED
    (put,) = calls(rsps, "PUT", "/issue/SUP-1")
    assert sent(put) == {
        "fields": {
            "customfield_10070": {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Breached"}]}
                ],
            }
        }
    }
