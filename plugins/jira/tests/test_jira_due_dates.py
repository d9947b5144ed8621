"""Dates without a time: Jira's system Due date and a date picker custom field, on the fake
and through the connector.

Sources (cited beside the code):

- values and edits: ``yyyy-MM-dd`` (OAS ``editIssue`` example ``"duedate": "2019-05-11"``;
  Atlassian's "JIRA REST API examples": a date picker takes ``"2011-10-03"``), refusals
  ``Error parsing date string: <text>`` (Jira's ``com.atlassian.jira.rest.Dates``) and
  ``Operation value must be a string`` (AtlassianPS/JiraPS#173, for ``duedate``): see
  ``slaplug_jira.fake.writes.EDIT_DATE``;
- the field list: ``{"type": "date", "system": "duedate"}``, clause names ``due``/``duedate``
  (AtlassianPS/JiraPS#173); a date picker's ``custom`` is
  ``com.atlassian.jira.plugin.system.customfieldtypes:datepicker``;
- changelog items: see ``slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT``;
- bulk edit: OAS ``JiraIssueFields.datePickerFields`` (``JiraDateField``: ``fieldId`` and
  ``date.formattedDate``; "d/mmm/yy format or ISO format", "To clear, set formattedDate to an
  empty string").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jira_support import action
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira
from slaplug_jira.fake.generate import FIELD_SLA_DUE_DATE

from slaplug.connectors.base import ApplyStatus
from slaplug.errors import ConfigError
from slaplug.model import ActionKind, EventKind

NOW = 1_772_452_800.0  # 2026-03-02T12:00:00Z


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira.start(now=NOW, issues=0, bulk_polls=1) as f:
        yield f


@pytest.fixture
def api(fake: FakeJira) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.auth = fake.auth
        yield s


def url(fake: FakeJira, path: str) -> str:
    return f"{fake.base_url}/rest/api/3/{path}"


def edit(api: requests.Session, fake: FakeJira, key: str, **fields: Any) -> requests.Response:
    return api.put(url(fake, f"issue/{key}"), json={"fields": fields})


def items_of(api: requests.Session, fake: FakeJira, key: str, field: str) -> list[Any]:
    page = api.get(url(fake, f"issue/{key}/changelog")).json()
    return [i for h in page["values"] for i in h["items"] if i["fieldId"] == field]


def bulk(api: requests.Session, fake: FakeJira, key: str, edited: dict[str, Any]) -> Any:
    body = {
        "selectedIssueIdsOrKeys": [key],
        "selectedActions": [FIELD_SLA_DUE_DATE],
        "editedFieldsInput": edited,
    }
    return api.post(url(fake, "bulk/issues/fields"), json=body)


def test_the_field_list_has_the_due_date_and_a_date_picker(
    fake: FakeJira, api: requests.Session
) -> None:
    fields = {f["id"]: f for f in api.get(url(fake, "field")).json()}
    due, picker = fields["duedate"], fields[FIELD_SLA_DUE_DATE]
    assert (due["custom"], due["schema"], due["clauseNames"]) == (
        False,
        {"type": "date", "system": "duedate"},
        ["due", "duedate"],
    )
    assert picker["custom"] is True
    assert picker["schema"] == {
        "type": "date",
        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
        "customId": 10057,
    }


def test_dates_are_edited_and_shown_as_yyyy_mm_dd_and_cleared_with_null(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    assert fake.issue(key)["fields"]["duedate"] is None
    r = edit(api, fake, key, duedate="2026-03-05", **{FIELD_SLA_DUE_DATE: "2026-03-06"})
    assert r.status_code == 204, r.text
    for version in ("3", "2"):
        shown = fake.issue(key, version)["fields"]
        assert (shown["duedate"], shown[FIELD_SLA_DUE_DATE]) == ("2026-03-05", "2026-03-06")
    assert edit(api, fake, key, duedate=None).status_code == 204
    assert fake.issue(key)["fields"]["duedate"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-03-05T10:00:00Z", "Error parsing date string: 2026-03-05T10:00:00Z"),
        ("05/Mar/26", "Error parsing date string: 05/Mar/26"),
        ("2026-02-30", "Error parsing date string: 2026-02-30"),
        (20260305, "Operation value must be a string"),
    ],
)
@pytest.mark.parametrize("field", ["duedate", FIELD_SLA_DUE_DATE])
def test_a_malformed_date_is_refused_as_jira_refuses_it(
    fake: FakeJira, api: requests.Session, field: str, value: Any, message: str
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    r = edit(api, fake, key, **{field: value})
    assert (r.status_code, r.json()) == (400, {"errorMessages": [], "errors": {field: message}})
    assert fake.issue(key)["fields"][field] is None


def test_due_date_and_date_picker_changes_are_logged_as_jira_logs_them(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    edit(api, fake, key, duedate="2026-03-05", **{FIELD_SLA_DUE_DATE: "2026-03-06"})
    edit(api, fake, key, duedate=None)
    assert items_of(api, fake, key, "duedate") == [
        {"field": "duedate", "fieldtype": "jira", "fieldId": "duedate", "from": None,
         "fromString": None, "to": "2026-03-05", "toString": "2026-03-05 00:00:00.0"},
        {"field": "duedate", "fieldtype": "jira", "fieldId": "duedate", "from": "2026-03-05",
         "fromString": "2026-03-05 00:00:00.0", "to": None, "toString": None},
    ]  # fmt: skip
    assert items_of(api, fake, key, FIELD_SLA_DUE_DATE) == [
        {"field": "SLA due date", "fieldtype": "custom", "fieldId": FIELD_SLA_DUE_DATE,
         "from": None, "fromString": None, "to": "2026-03-06", "toString": "06/Mar/26"},
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["2026-03-09", "9/Mar/26", "09-03-2026"])
def test_bulk_edit_sets_a_date_picker_from_date_picker_fields(
    fake: FakeJira, api: requests.Session, text: str
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    r = bulk(api, fake, key, {"datePickerFields": [
        {"fieldId": FIELD_SLA_DUE_DATE, "date": {"formattedDate": text}}
    ]})  # fmt: skip
    assert r.status_code == 201, r.text
    fake.complete_tasks()
    assert fake.issue(key)["fields"][FIELD_SLA_DUE_DATE] == "2026-03-09"
    r = bulk(api, fake, key, {"datePickerFields": [
        {"fieldId": FIELD_SLA_DUE_DATE, "date": {"formattedDate": ""}}
    ]})  # fmt: skip
    assert r.status_code == 201, r.text
    fake.complete_tasks()
    assert fake.issue(key)["fields"][FIELD_SLA_DUE_DATE] is None


def test_bulk_edit_refuses_a_date_picker_in_the_text_list_or_a_bad_date(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    as_text = {"singleLineTextFields": [{"fieldId": FIELD_SLA_DUE_DATE, "text": "2026-03-09"}]}
    r = bulk(api, fake, key, as_text)
    assert r.status_code == 400
    assert "send it in datePickerFields" in r.json()["errors"][0]["message"]
    bad = {"datePickerFields": [{"fieldId": FIELD_SLA_DUE_DATE,
                                 "date": {"formattedDate": "next tuesday"}}]}  # fmt: skip
    r = bulk(api, fake, key, bad)
    assert r.json() == {"errors": [{
        "message": f"{FIELD_SLA_DUE_DATE}: Error parsing date string: next tuesday"
    }]}  # fmt: skip
    fake.complete_tasks()
    assert fake.issue(key)["fields"][FIELD_SLA_DUE_DATE] is None  # nothing was queued


def test_a_dumped_site_keeps_its_due_dates(
    fake: FakeJira, api: requests.Session, tmp_path: Any
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    edit(api, fake, key, duedate="2026-03-05")
    fake.dump_seed(tmp_path / "site.json")
    with FakeJira.start(seed=tmp_path / "site.json", now=NOW) as again:
        assert again.issue(key)["fields"]["duedate"] == "2026-03-05"


# -- the connector --------------------------------------------------------------------------


def connector(fake: FakeJira, bulk_min: int = 50, **fields: str) -> JiraConnector:
    config = JiraConfig.load(
        {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
         "projects": ["SUP"], "bulk_poll_interval": 0.02, "bulk_edit_min_issues": bulk_min,
         "fields": fields},
        connector="jira", environ={"T": fake.api_token},
    )  # fmt: skip
    assert isinstance(config, JiraConfig)
    return JiraConnector(config, instance="jira")


def test_the_connector_writes_a_date_picker_and_reads_its_history_as_the_field_shows(
    fake: FakeJira,
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    with connector(fake, follow_up=FIELD_SLA_DUE_DATE) as conn:
        set_to = [
            action(ActionKind.SET_FIELD, {"field": "follow_up", "value": day}, key, n)
            for n, day in enumerate(("2026-03-05", "2026-03-06"))
        ]
        assert [r.status for r in conn.apply(set_to[:1])] == [ApplyStatus.APPLIED]
        assert [r.status for r in conn.apply(set_to[1:])] == [ApplyStatus.APPLIED]
        assert [r.status for r in conn.apply(set_to[1:])] == [ApplyStatus.ALREADY]
        ticket = conn.read_ticket(key)
    changes = [
        (e.old, e.value)
        for e in ticket.events
        if e.kind is EventKind.FIELD_CHANGED and e.field == "fields.follow_up"
    ]
    assert changes == [(None, "2026-03-05"), ("2026-03-05", "2026-03-06")]
    assert ticket.fields["follow_up"] == "2026-03-06"


def test_an_instant_for_a_date_picker_fails_alone_before_any_edit(fake: FakeJira) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    with connector(fake, follow_up=FIELD_SLA_DUE_DATE) as conn:
        fake.clear_records()
        (result,) = conn.apply(
            [action(ActionKind.SET_FIELD, {"field": "follow_up", "value": "2026-03-05T09:00:00Z"},
                    key)]
        )  # fmt: skip
    assert result.status is ApplyStatus.FAILED
    assert "date picker" in (result.detail or "") and "format date" in (result.detail or "")
    assert fake.writes == []
    assert fake.issue(key)["fields"][FIELD_SLA_DUE_DATE] is None


def test_the_same_date_on_many_issues_is_not_sent_as_a_bulk_text_edit(fake: FakeJira) -> None:
    # The bulk API's singleLineTextFields take text fields only (OAS JiraIssueFields); the
    # fake refuses a date picker there, naming datePickerFields.
    keys = [fake.simulate("create", summary=f"VPN down {n}")["key"] for n in range(3)]
    with connector(fake, bulk_min=2, follow_up=FIELD_SLA_DUE_DATE) as conn:
        results = conn.apply([
            action(ActionKind.SET_FIELD, {"field": "follow_up", "value": "2026-03-05"}, k, n)
            for n, k in enumerate(keys)
        ])  # fmt: skip
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 3
    assert [fake.issue(k)["fields"][FIELD_SLA_DUE_DATE] for k in keys] == ["2026-03-05"] * 3
    assert not [w for w in fake.writes if not w.accepted]


# -- the system Due date under fields: ------------------------------------------------------


def test_fields_map_the_system_due_date_and_still_refuse_other_system_fields(
    fake: FakeJira,
) -> None:
    assert connector(fake, due="duedate").config.fields == {"due": "duedate"}
    with pytest.raises(ConfigError) as refused:
        connector(fake, resolved="resolutiondate")
    message = str(refused.value)
    assert "resolved: resolutiondate" in message and "duedate" in message


def test_the_connector_writes_the_due_date_and_reads_its_history_as_the_issue_shows_it(
    fake: FakeJira,
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    with connector(fake, due="duedate") as conn:
        set_to = [
            action(ActionKind.SET_FIELD, {"field": "due", "value": day}, key, n)
            for n, day in enumerate(("2026-03-05", "2026-03-06"))
        ]
        assert [r.status for r in conn.apply(set_to[:1])] == [ApplyStatus.APPLIED]
        assert [r.status for r in conn.apply(set_to[1:])] == [ApplyStatus.APPLIED]
        assert [r.status for r in conn.apply(set_to[1:])] == [ApplyStatus.ALREADY]
        ticket = conn.read_ticket(key)
    edits = [(w.method, w.path, w.body) for w in fake.writes if w.accepted]
    assert edits == [
        ("PUT", f"/rest/api/3/issue/{key}", {"fields": {"duedate": day}})
        for day in ("2026-03-05", "2026-03-06")
    ]
    changes = [
        (e.old, e.value)
        for e in ticket.events
        if e.kind is EventKind.FIELD_CHANGED and e.field == "fields.due"
    ]
    # The changelog's from/to, not its "2026-03-05 00:00:00.0" strings.
    assert changes == [(None, "2026-03-05"), ("2026-03-05", "2026-03-06")]
    assert ticket.fields["due"] == "2026-03-06" == fake.issue(key)["fields"]["duedate"]


def test_an_instant_for_the_due_date_fails_alone_saying_format_date(fake: FakeJira) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    with connector(fake, due="duedate") as conn:
        fake.clear_records()
        results = conn.apply([
            action(ActionKind.SET_FIELD, {"field": "due", "value": "2026-03-05T09:00:00Z"}, key),
            action(ActionKind.ADD_TAG, {"tag": "sla_due_set"}, key, 2),
        ])  # fmt: skip
    assert [r.status for r in results] == [ApplyStatus.FAILED, ApplyStatus.APPLIED]
    detail = results[0].detail or ""
    assert "Due date" in detail and "format date" in detail
    # The label went on without the due date: no refused edit, no date sent.
    assert [w.body for w in fake.writes] == [{"update": {"labels": [{"add": "sla_due_set"}]}}]
    assert fake.issue(key)["fields"]["duedate"] is None


def test_the_same_due_date_on_many_issues_is_edited_issue_by_issue(fake: FakeJira) -> None:
    # The bulk API's text list takes text fields only (OAS JiraIssueFields), and the Due
    # date is no custom field: one PUT per issue.
    keys = [fake.simulate("create", summary=f"VPN down {n}")["key"] for n in range(3)]
    with connector(fake, bulk_min=2, due="duedate") as conn:
        fake.clear_records()
        results = conn.apply([
            action(ActionKind.SET_FIELD, {"field": "due", "value": "2026-03-05"}, k, n)
            for n, k in enumerate(keys)
        ])  # fmt: skip
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 3
    assert [(w.method, w.path) for w in fake.writes] == [
        ("PUT", f"/rest/api/3/issue/{k}") for k in keys
    ]
    assert [fake.issue(k)["fields"]["duedate"] for k in keys] == ["2026-03-05"] * 3


def test_an_incremental_read_carries_the_due_date_and_its_history(fake: FakeJira) -> None:
    # The history comes from the bulk changelog read, with duedate among its fieldIds.
    key = fake.simulate("create", summary="VPN down")["key"]
    for day in ("2026-03-05", "2026-03-07"):
        fake.advance(60)
        fake.simulate("duedate", key, value=day)
    with connector(fake, due="duedate") as conn:
        (ticket,) = [t for page in conn.read_changed(None) for t in page.tickets]
        assert "duedate" in (conn.reader.history_fields() or ())
    changes = [
        (e.old, e.value)
        for e in ticket.events
        if e.kind is EventKind.FIELD_CHANGED and e.field == "fields.due"
    ]
    assert changes == [(None, "2026-03-05"), ("2026-03-05", "2026-03-07")]
    assert ticket.fields["due"] == "2026-03-07"
