"""Writes: one merged PUT per issue, labels add/remove, comments with markers, transitions,
bulk edit with task polling, and the statuses each outcome reports."""

from __future__ import annotations

from dataclasses import replace

from jira_support import (
    AGENT,
    API,
    SLA_FIELD,
    TIME_FIELD,
    action,
    adf,
    calls,
    comment,
    issue,
    make_connector,
    sent,
    user,
)
from responses import matchers
from slaplug_jira.write import comment_marker

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind as K


def current(rsps, key: str = "SUP-1", iid: str = "10001", **kw) -> None:
    rsps.get(f"{API}/issue/{key}", json=issue(key, iid, **kw))


def statuses(results) -> list[str]:
    return [r.status.value for r in results]


def test_edits_of_one_issue_merge_into_one_put_of_jira_operations(rsps, jira) -> None:
    current(rsps, labels=("sla_at_risk",), priority="High", **{SLA_FIELD: "at_risk"})
    rsps.put(f"{API}/issue/SUP-1", status=204)
    actions = [
        action(K.ADD_TAG, {"tag": "sla_breached"}, n=1),
        action(K.REMOVE_TAG, {"tag": "sla_at_risk"}, n=2),
        action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, n=3),
        action(K.SET_PRIORITY, {"priority": "urgent"}, n=4),
        action(K.ASSIGN, {"group": "escalations"}, n=5),
    ]
    assert statuses(jira.apply(actions)) == ["applied"] * 5
    (put,) = calls(rsps, "PUT", "/issue/SUP-1")
    assert sent(put) == {
        "fields": {
            SLA_FIELD: "breached",
            "priority": {"name": "Highest"},
            "assignee": {"accountId": "acc-escalations"},
        },
        "update": {"labels": [{"add": "sla_breached"}, {"remove": "sla_at_risk"}]},
    }


def test_what_is_already_in_place_is_not_written(rsps, jira) -> None:
    current(rsps, labels=("sla_breached",), priority="Highest", **{SLA_FIELD: "breached"})
    actions = [
        action(K.ADD_TAG, {"tag": "sla_breached"}, n=1),
        action(K.REMOVE_TAG, {"tag": "sla_at_risk"}, n=2),
        action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, n=3),
        action(K.SET_PRIORITY, {"priority": "urgent"}, n=4),
    ]
    assert statuses(jira.apply(actions)) == ["already"] * 4
    assert [c.request.method for c in rsps.calls] == ["GET"]


def test_select_fields_get_the_option_and_jsm_sla_fields_are_never_written(rsps) -> None:
    jira = make_connector(
        fields={"sla_resolution_status": SLA_FIELD, "time_to_resolution": "customfield_10030"}
    )
    current(
        rsps,
        **{
            SLA_FIELD: {"value": "at_risk", "id": "1"},
            "customfield_10030": {"id": "2", "name": "Time to resolution", "ongoingCycle": {}},
        },
    )
    rsps.put(f"{API}/issue/SUP-1", status=204)
    results = jira.apply(
        [
            action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, n=1),
            action(K.SET_FIELD, {"field": "time_to_resolution", "value": "x"}, n=2),
            action(K.SET_FIELD, {"field": "unmapped", "value": "x"}, n=3),
        ]
    )
    assert statuses(results) == ["applied", "failed", "failed"]
    assert "read-only" in results[1].detail and "fields:" in results[2].detail
    assert sent(calls(rsps, "PUT", "/issue/SUP-1")[0]) == {
        "fields": {SLA_FIELD: {"value": "breached"}}
    }


def test_comments_are_internal_adf_with_a_marker_and_not_posted_twice(rsps, jira) -> None:
    first = action(
        K.COMMENT, {"body": "SLA breached.\n\nTeam lead notified.", "public": False}, n=1
    )
    current(rsps)
    rsps.post(
        f"{API}/issue/SUP-1/comment",
        status=201,
        json=comment("9", user("me"), "2026-03-05T12:00:00.000+0000"),
    )
    assert statuses(jira.apply([first])) == ["applied"]
    body = sent(calls(rsps, "POST", "/comment")[0])
    assert body["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
    assert body["body"]["type"] == "doc" and body["body"]["version"] == 1
    texts = [n["content"][0]["text"] for n in body["body"]["content"]]
    marker = comment_marker(jira.marker_key, first.key)
    assert texts == ["SLA breached.", "Team lead notified.", marker]
    assert first.key not in str(body)  # a keyed hash, not the key in clear

    rsps.reset()
    # The API user's own internal note (AGENT is /myself's accountId, see conftest).
    posted = comment("9", user(AGENT), "2026-03-05T12:00:00.000+0000", public=False)
    posted["body"] = body["body"]
    current(rsps, comments=(posted,))
    assert statuses(jira.apply([first])) == ["already"]
    assert not calls(rsps, "POST", "/comment")


def test_set_status_goes_through_the_transition_to_that_status(rsps, jira) -> None:
    current(rsps, status_name="Waiting for support")
    rsps.get(
        f"{API}/issue/SUP-1/transitions",
        json={
            "transitions": [
                {"id": "11", "name": "Respond to customer", "to": {"name": "Waiting for customer"}},
                {"id": "21", "name": "Resolve", "to": {"name": "Resolved"}},
            ]
        },
    )
    rsps.post(f"{API}/issue/SUP-1/transitions", status=204)
    assert statuses(jira.apply([action(K.SET_STATUS, {"status": "pending"})])) == ["applied"]
    assert sent(calls(rsps, "POST", "/transitions")[0]) == {"transition": {"id": "11"}}


def test_set_status_fails_clearly_without_a_transition_and_is_already_when_there(
    rsps, jira
) -> None:
    current(rsps, status_name="Waiting for support")
    rsps.get(
        f"{API}/issue/SUP-1/transitions",
        json={"transitions": [{"id": "21", "name": "Resolve", "to": {"name": "Resolved"}}]},
    )
    (result,) = jira.apply([action(K.SET_STATUS, {"status": "hold"})])
    assert result.status is ApplyStatus.FAILED
    assert "no transition of SUP-1 leads to 'hold' (reachable: Resolved)" in result.detail
    (again,) = jira.apply([action(K.SET_STATUS, {"status": "open"})])
    assert again.status is ApplyStatus.ALREADY


def test_assign_by_email_looks_the_user_up_once(rsps, jira) -> None:
    current(rsps)
    current(rsps, "SUP-2", "10002")
    rsps.get(
        f"{API}/user/search",
        json=[
            {"accountId": "acc-ann", "emailAddress": "ann@acme.example", "accountType": "atlassian"}
        ],
        match=[matchers.query_param_matcher({"query": "ann@acme.example"})],
    )
    rsps.put(f"{API}/issue/SUP-1", status=204)
    rsps.put(f"{API}/issue/SUP-2", status=204)
    results = jira.apply(
        [
            action(K.ASSIGN, {"user": "ann@acme.example"}, "SUP-1"),
            action(K.ASSIGN, {"user": "ann@acme.example"}, "SUP-2"),
            action(K.ASSIGN, {"group": "nobody-mapped"}, "SUP-2", n=2),
        ]
    )
    assert statuses(results) == ["applied", "applied", "failed"]
    assert "map group 'nobody-mapped'" in results[2].detail
    assert len(calls(rsps, "GET", "/user/search")) == 1
    assert sent(calls(rsps, "PUT", "/issue/SUP-2")[0]) == {
        "fields": {"assignee": {"accountId": "acc-ann"}}
    }


def test_a_409_is_a_conflict_and_a_missing_issue_a_failure(rsps, jira) -> None:
    current(rsps)
    rsps.put(
        f"{API}/issue/SUP-1",
        status=409,
        json={"errorMessages": ["conflicting update"], "errors": {}},
    )
    rsps.get(
        f"{API}/issue/SUP-404",
        status=404,
        json={"errorMessages": ["Issue does not exist"], "errors": {}},
    )
    results = jira.apply(
        [
            action(K.ADD_TAG, {"tag": "x"}, "SUP-1"),
            action(K.ADD_TAG, {"tag": "x"}, "SUP-404"),
        ]
    )
    assert statuses(results) == ["conflict", "failed"]
    assert "SUP-404" in results[1].detail


def test_notify_and_shadow_actions_are_skipped_without_a_call(rsps, jira) -> None:
    results = jira.apply(
        [
            action(K.NOTIFY, {"channel": "team-lead", "message": "hi"}),
            replace(action(K.ADD_TAG, {"tag": "x"}), shadow=True),
        ]
    )
    assert statuses(results) == ["skipped", "skipped"]
    assert not rsps.calls


def test_many_issues_with_the_same_edit_use_one_bulk_task_polled_to_completion(rsps) -> None:
    jira = make_connector(bulk_edit_min_issues=3, bulk_poll_interval=2.0)
    waits: list[float] = []
    jira.http.sleep = waits.append
    keys = [f"SUP-{n}" for n in range(1, 4)]
    for n, key in enumerate(keys, 1):
        current(rsps, key, f"1000{n}")
    rsps.post(f"{API}/bulk/issues/fields", status=201, json={"taskId": "10641"})
    rsps.get(
        f"{API}/bulk/queue/10641",
        json={"taskId": "10641", "status": "RUNNING", "progressPercent": 50},
    )
    rsps.get(
        f"{API}/bulk/queue/10641",
        json={
            "taskId": "10641",
            "status": "COMPLETE",
            "progressPercent": 100,
            "processedAccessibleIssues": [10001, 10002],
            "failedAccessibleIssues": {"10003": ["Field is not on the screen"]},
            "invalidOrInaccessibleIssueCount": 0,
            "totalIssueCount": 3,
        },
    )
    actions = [action(K.ADD_TAG, {"tag": "sla_breached"}, k) for k in keys]
    actions += [
        action(K.SET_FIELD, {"field": "sla_resolution_status", "value": "breached"}, k, n=2)
        for k in keys
    ]
    results = jira.apply(actions)
    assert statuses(results) == ["applied", "applied", "failed"] * 2
    assert "Field is not on the screen" in results[2].detail
    assert not calls(rsps, "PUT", "/issue/SUP-1")
    (bulk,) = calls(rsps, "POST", "/bulk/issues/fields")
    assert sent(bulk) == {
        "selectedIssueIdsOrKeys": keys,
        "selectedActions": ["labels", SLA_FIELD],
        "editedFieldsInput": {
            "labelsFields": [
                {
                    "fieldId": "labels",
                    "bulkEditMultiSelectFieldOption": "ADD",
                    "labels": [{"name": "sla_breached"}],
                }
            ],
            "singleLineTextFields": [{"fieldId": SLA_FIELD, "text": "breached"}],
        },
        "sendBulkNotification": False,
    }
    assert waits == [2.0]  # one poll found it running, the next complete


def test_without_the_bulk_permission_it_falls_back_to_one_put_per_issue(rsps) -> None:
    jira = make_connector(bulk_edit_min_issues=2)
    for n in (1, 2):
        current(rsps, f"SUP-{n}", f"1000{n}")
        rsps.put(f"{API}/issue/SUP-{n}", status=204)
    rsps.post(
        f"{API}/bulk/issues/fields",
        status=403,
        json={"errorMessages": ["You need the Bulk change permission"]},
    )
    results = jira.apply([action(K.ADD_TAG, {"tag": "t"}, f"SUP-{n}") for n in (1, 2)])
    assert statuses(results) == ["applied", "applied"]
    assert len(calls(rsps, "PUT", "")) == 2
    assert jira.writer.bulk_min == 0


def test_a_bulk_task_that_does_not_finish_in_time_is_a_conflict(rsps) -> None:
    jira = make_connector(bulk_edit_min_issues=2, bulk_poll_interval=1.0, bulk_timeout=2.0)
    for n in (1, 2):
        current(rsps, f"SUP-{n}", f"1000{n}")
    rsps.post(f"{API}/bulk/issues/fields", status=201, json={"taskId": "7"})
    rsps.get(f"{API}/bulk/queue/7", json={"taskId": "7", "status": "RUNNING"})
    results = jira.apply([action(K.ADD_TAG, {"tag": "t"}, f"SUP-{n}") for n in (1, 2)])
    assert statuses(results) == ["conflict", "conflict"]
    assert len(calls(rsps, "GET", "/bulk/queue/7")) == 3  # polls counted, not timed


def test_edits_then_comments_then_transition_in_that_order(rsps, jira) -> None:
    current(rsps)
    rsps.put(f"{API}/issue/SUP-1", status=204)
    rsps.post(f"{API}/issue/SUP-1/comment", status=201, json={"id": "1", "body": adf("x")})
    rsps.get(
        f"{API}/issue/SUP-1/transitions",
        json={"transitions": [{"id": "21", "to": {"name": "Resolved"}}]},
    )
    rsps.post(f"{API}/issue/SUP-1/transitions", status=204)
    jira.apply(
        [
            action(K.SET_STATUS, {"status": "solved"}, n=1),
            action(K.COMMENT, {"body": "done", "public": False}, n=2),
            action(K.ADD_TAG, {"tag": "t"}, n=3),
        ]
    )
    order = [
        (c.request.method, c.request.url.split("/rest/api/3/")[1].split("?")[0]) for c in rsps.calls
    ]
    assert order == [
        ("GET", "issue/SUP-1"),
        ("GET", "myself"),  # whose comments count as slaplug's own (read once)
        ("PUT", "issue/SUP-1"),
        ("POST", "issue/SUP-1/comment"),
        ("GET", "issue/SUP-1/transitions"),
        ("POST", "issue/SUP-1/transitions"),
    ]


# -- date time picker fields (a live field's deadline) -------------------------------------
# Jira takes yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm on edit and refuses "Z", "+00:00" and a time
# without milliseconds ("Error parsing time: ..."; the recorded answers are cited at
# slaplug_jira.fake.writes.EDIT_TIME).


def time_connector():
    return make_connector(fields={"sla_breach_at": TIME_FIELD}, bulk_edit_min_issues=3)


def test_a_date_time_field_is_written_in_the_format_jira_takes_on_edit(rsps) -> None:
    jira = time_connector()
    for n, (key, value) in enumerate(
        [("SUP-1", "2026-12-07T15:00:00Z"), ("SUP-2", "2026-12-07T16:00:00+01:00")], 1
    ):
        current(rsps, key, f"1000{n}", **{TIME_FIELD: None})
        rsps.put(f"{API}/issue/{key}", status=204)
        result = jira.apply([action(K.SET_FIELD, {"field": "sla_breach_at", "value": value}, key)])
        assert statuses(result) == ["applied"]
    puts = [sent(c)["fields"][TIME_FIELD] for c in calls(rsps, "PUT", "")]
    assert puts == ["2026-12-07T15:00:00.000+0000", "2026-12-07T16:00:00.000+0100"]


def test_a_date_time_field_showing_the_same_instant_in_its_zone_is_already_set(rsps) -> None:
    current(rsps, **{TIME_FIELD: "2026-12-07T16:00:00.000+0100"})
    result = time_connector().apply(
        [action(K.SET_FIELD, {"field": "sla_breach_at", "value": "2026-12-07T15:00:00Z"})]
    )
    assert statuses(result) == ["already"]
    assert not calls(rsps, "PUT", "/issue/SUP-1")


def test_a_date_or_a_paused_text_in_a_date_time_field_fails_saying_what_to_do(rsps) -> None:
    current(rsps, **{TIME_FIELD: None})
    results = time_connector().apply(
        [
            action(K.SET_FIELD, {"field": "sla_breach_at", "value": "2026-12-07"}, n=1),
            action(K.SET_FIELD, {"field": "sla_breach_at", "value": "paused"}, n=2),
        ]
    )
    assert statuses(results) == ["failed", "failed"]
    assert "format instant or local" in results[0].detail and TIME_FIELD in results[0].detail
    assert not calls(rsps, "PUT", "/issue/SUP-1")


def test_the_same_deadline_on_many_issues_is_not_sent_as_a_bulk_text_edit(rsps) -> None:
    # The bulk API's singleLineTextFields are text fields only; a date time picker has its own
    # dateTimePickerFields (OAS JiraIssueFields), whose format the OAS leaves open.
    keys = [f"SUP-{n}" for n in range(1, 4)]
    for n, key in enumerate(keys, 1):
        current(rsps, key, f"1000{n}", **{TIME_FIELD: None})
        rsps.put(f"{API}/issue/{key}", status=204)
    value = "2026-12-07T15:00:00Z"
    results = time_connector().apply(
        [action(K.SET_FIELD, {"field": "sla_breach_at", "value": value}, k) for k in keys]
    )
    assert statuses(results) == ["applied"] * 3
    assert not calls(rsps, "POST", "/bulk/issues/fields")
    assert len(calls(rsps, "PUT", "")) == 3
