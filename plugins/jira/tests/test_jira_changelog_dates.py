"""Date and date time fields in Jira changelogs, and in bulk edits.

What Jira writes into a changelog item for a date or date time field (sources at
``slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT``): ``from``/``to`` are ISO 8601 values and
``fromString``/``toString`` display text, never Unix time:

- date time picker: ``"to": "2026-03-02T10:00:00+0000", "toString": "02/Mar/26 10:00 AM"``;
- date picker: ``"to": "2026-03-02", "toString": "02/Mar/26"``;
- the system Due date: ``"to": "2026-03-02", "toString": "2026-03-02 00:00:00.0"``.

Status and priority items carry ids in ``from``/``to`` and names in the strings, as a
recorded Cloud webhook shows (reshufflehq/reshuffle-jira-connector README.md:
``{"field":"status","fieldtype":"jira","fieldId":"status","from":"3","fromString":"In
Progress","to":"10001","toString":"Selected for Development"}``).

The bulk edit's typed lists (OAS JiraIssueFields: ``singleLineTextFields`` "a single line
text field", ``dateTimePickerFields`` "the planned start date and time" in
``formattedDateTime``) each take their own field type; the fake refuses a field in another
type's list (its choice: the OAS records no answer, see ``slaplug_jira.fake.bulk``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.config import Normalizer
from slaplug_jira.events import map_events, to_ticket
from slaplug_jira.fake import FakeJira
from slaplug_jira.fake.data import FieldDef, JiraStore
from slaplug_jira.fake.generate import FIELD_SLA_BREACH_AT, FIELD_SLA_STATUS

from slaplug.model import EventKind

NOW = 1_772_452_800.0  # 2026-03-02T12:00:00Z
TEN = "2026-03-02T10:00:00.000+0000"
HALF_PAST_TWO = "2026-03-02T14:30:00.000+0000"


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


def items_of(api: requests.Session, fake: FakeJira, key: str, field: str) -> list[Any]:
    page = api.get(url(fake, f"issue/{key}/changelog")).json()
    return [i for h in page["values"] for i in h["items"] if i["fieldId"] == field]


def set_time(api: requests.Session, fake: FakeJira, key: str, value: str | None) -> None:
    r = api.put(url(fake, f"issue/{key}"), json={"fields": {FIELD_SLA_BREACH_AT: value}})
    assert r.status_code == 204, r.text


# -- the fake writes what Jira writes ---------------------------------------------------------


def test_a_date_time_change_is_iso_and_display_text_not_unix_milliseconds(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    set_time(api, fake, key, TEN)
    set_time(api, fake, key, HALF_PAST_TWO)
    set_time(api, fake, key, None)
    common = {"field": "SLA breach at", "fieldtype": "custom", "fieldId": FIELD_SLA_BREACH_AT}
    assert items_of(api, fake, key, FIELD_SLA_BREACH_AT) == [
        {
            **common,
            "from": None,
            "fromString": None,
            "to": "2026-03-02T10:00:00+0000",
            "toString": "02/Mar/26 10:00 AM",
        },
        {
            **common,
            "from": "2026-03-02T10:00:00+0000",
            "fromString": "02/Mar/26 10:00 AM",
            "to": "2026-03-02T14:30:00+0000",
            "toString": "02/Mar/26 2:30 PM",
        },
        {
            **common,
            "from": "2026-03-02T14:30:00+0000",
            "fromString": "02/Mar/26 2:30 PM",
            "to": None,
            "toString": None,
        },
    ]
    # The bulk changelog read shows the same items.
    bulk = api.post(
        url(fake, "changelog/bulkfetch"),
        json={"issueIdsOrKeys": [key], "fieldIds": [FIELD_SLA_BREACH_AT]},
    ).json()
    shown = [
        i for log in bulk["issueChangeLogs"] for h in log["changeHistories"] for i in h["items"]
    ]
    assert shown == items_of(api, fake, key, FIELD_SLA_BREACH_AT)


def test_a_date_time_change_is_written_in_the_sites_zone() -> None:
    with FakeJira.start(now=NOW, issues=0, time_zone="Australia/Sydney") as fake:
        key = fake.simulate("create", summary="VPN down")["key"]
        with requests.Session() as api:
            api.auth = fake.auth
            set_time(api, fake, key, TEN)
            (item,) = items_of(api, fake, key, FIELD_SLA_BREACH_AT)
    assert (item["to"], item["toString"]) == ("2026-03-02T21:00:00+1100", "02/Mar/26 9:00 PM")


def test_a_date_picker_change_is_an_iso_date_and_jiras_date_picker_text() -> None:
    store = JiraStore()
    start = "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"
    store.fields = [FieldDef("customfield_10015", "Start date", {"type": "date", "custom": start})]
    item = store._item("customfield_10015", "2026-02-27", "2026-03-02")
    assert (item.from_, item.from_string, item.to, item.to_string) == (
        "2026-02-27",
        "27/Feb/26",
        "2026-03-02",
        "02/Mar/26",
    )


def test_status_and_priority_items_carry_ids_and_names_as_recorded(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down", priority="Medium")["key"]
    fake.simulate("priority", key, value="Highest")
    api.post(url(fake, f"issue/{key}/transitions"), json={"transition": {"id": "11"}})
    (priority,) = items_of(api, fake, key, "priority")
    (status,) = items_of(api, fake, key, "status")
    assert priority == {
        "field": "priority",
        "fieldtype": "jira",
        "fieldId": "priority",
        "from": "3",
        "fromString": "Medium",
        "to": "1",
        "toString": "Highest",
    }
    assert status == {
        "field": "status",
        "fieldtype": "jira",
        "fieldId": "status",
        "from": "1",
        "fromString": "Open",
        "to": "3",
        "toString": "In Progress",
    }


# -- the connector reads a date field's history as the field shows it ---------------------------


def _item(fid: str, name: str, before: tuple[Any, Any], after: tuple[Any, Any]) -> Any:
    return {
        "field": name,
        "fieldtype": "custom" if fid.startswith("c") else "jira",
        "fieldId": fid,
        "from": before[0],
        "fromString": before[1],
        "to": after[0],
        "toString": after[1],
    }


def test_changelog_dates_become_the_values_the_fields_show() -> None:
    settings = {"base_url": "https://a.atlassian.net", "pat_env": "X"}
    config = JiraConfig.load(settings, connector="jira", environ={"X": "a-long-pat-token"})
    assert isinstance(config, JiraConfig)
    created = datetime(2026, 3, 2, 9, tzinfo=UTC)
    items = [
        _item(
            FIELD_SLA_BREACH_AT,
            "SLA breach at",
            (None, None),
            ("2026-03-02T10:00:00+0000", "02/Mar/26 10:00 AM"),
        ),
        _item(
            "customfield_10015",
            "Start date",
            ("2026-02-27", "27/Feb/26"),
            ("2026-03-02", "02/Mar/26"),
        ),
        _item(
            "duedate",
            "duedate",
            ("2026-03-05", "2026-03-05 00:00:00.0"),
            ("2026-03-06", "2026-03-06 00:00:00.0"),
        ),
        _item(FIELD_SLA_STATUS, "SLA status", (None, "ok"), (None, "breached")),
    ]
    events = map_events(
        created=created,
        reporter=None,
        status="Open",
        priority=None,
        histories=[{"id": "1", "created": "2026-03-02T09:30:00.000+0000", "items": items}],
        comments=[],
        norm=Normalizer(config),
        tracked={
            FIELD_SLA_BREACH_AT: "fields.due_at",
            "customfield_10015": "fields.start",
            "duedate": "fields.due",
            FIELD_SLA_STATUS: "fields.sla",
        },
    )
    changed = {e.field: (e.old, e.value) for e in events if e.kind is EventKind.FIELD_CHANGED}
    assert changed == {
        "fields.due_at": (None, TEN),
        "fields.start": ("2026-02-27", "2026-03-02"),
        "fields.due": ("2026-03-05", "2026-03-06"),
        "fields.sla": ("ok", "breached"),
    }


def test_a_date_time_recorded_in_the_authors_zone_reads_in_the_zone_the_issue_shows() -> None:
    # Jira records the change in the zone of whoever made it (here Sydney); the issue shows
    # the field in the reader's zone (UTC): one instant, so one text.
    settings = {"base_url": "https://a.atlassian.net", "pat_env": "X"}
    config = JiraConfig.load(settings, connector="jira", environ={"X": "a-long-pat-token"})
    assert isinstance(config, JiraConfig)
    recorded = _item(
        FIELD_SLA_BREACH_AT,
        "SLA breach at",
        ("2026-03-02T21:00:00+1100", "02/Mar/26 9:00 PM"),
        ("2026-03-03T01:30:00+1100", "03/Mar/26 1:30 AM"),
    )
    issue = {
        "key": "SUP-1",
        "fields": {
            "created": "2026-03-02T09:00:00.000+0000",
            "status": {"name": "Open"},
            FIELD_SLA_BREACH_AT: HALF_PAST_TWO,
        },
    }
    history = {"id": "1", "created": "2026-03-02T09:30:00.000+0000", "items": [recorded]}
    ticket = to_ticket(
        issue,
        histories=[history],
        comments=[],
        norm=Normalizer(config),
        instance="jira",
        base_url="https://a.atlassian.net",
        field_ids={"sla_breach_at": FIELD_SLA_BREACH_AT},
    )
    (change,) = [e for e in ticket.events if e.kind is EventKind.FIELD_CHANGED]
    assert (change.old, change.value) == (TEN, HALF_PAST_TWO)
    assert ticket.fields["sla_breach_at"] == change.value


def test_a_live_date_time_field_read_back_from_history_equals_its_value(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    set_time(api, fake, key, TEN)
    set_time(api, fake, key, HALF_PAST_TWO)
    config = JiraConfig.load(
        {
            "base_url": fake.base_url,
            "email": fake.email,
            "api_token_env": "T",
            "projects": ["SUP"],
            "fields": {"sla_breach_at": FIELD_SLA_BREACH_AT},
        },
        connector="jira",
        environ={"T": fake.api_token},
    )
    with JiraConnector(config, instance="jira") as conn:
        ticket = conn.read_ticket(key)
    changes = [(e.old, e.value) for e in ticket.events if e.kind is EventKind.FIELD_CHANGED]
    assert changes == [(None, TEN), (TEN, HALF_PAST_TWO)]
    assert ticket.fields["sla_breach_at"] == changes[-1][1]


# -- bulk edit: each typed list takes its own field type ---------------------------------------


def bulk(api: requests.Session, fake: FakeJira, keys: list[str], edited: dict[str, Any]) -> Any:
    actions = [i.get("fieldId") for v in edited.values() for i in v]
    body = {"selectedIssueIdsOrKeys": keys, "selectedActions": actions, "editedFieldsInput": edited}
    return api.post(url(fake, "bulk/issues/fields"), json=body)


def test_a_date_time_sent_as_a_text_field_is_refused(fake: FakeJira, api: requests.Session) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]
    r = bulk(
        api, fake, [key], {"singleLineTextFields": [{"fieldId": FIELD_SLA_BREACH_AT, "text": TEN}]}
    )
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert FIELD_SLA_BREACH_AT in error["message"]
    assert "dateTimePickerFields" in error["message"]
    fake.complete_tasks()
    assert fake.issue(key)["fields"][FIELD_SLA_BREACH_AT] is None
    text = bulk(
        api,
        fake,
        [key],
        {
            "dateTimePickerFields": [
                {"fieldId": FIELD_SLA_STATUS, "dateTime": {"formattedDateTime": TEN}}
            ]
        },
    )
    assert text.status_code == 400 and "singleLineTextFields" in text.json()["errors"][0]["message"]


def test_bulk_date_times_are_set_cleared_and_refused_in_the_bulk_error_shape(
    fake: FakeJira, api: requests.Session
) -> None:
    key = fake.simulate("create", summary="VPN down")["key"]

    def send(text: str) -> Any:
        return bulk(
            api,
            fake,
            [key],
            {
                "dateTimePickerFields": [
                    {"fieldId": FIELD_SLA_BREACH_AT, "dateTime": {"formattedDateTime": text}}
                ]
            },
        )

    assert send("2026-03-02T10:00:00Z").status_code == 201
    fake.complete_tasks()
    assert datetime.fromisoformat(fake.issue(key)["fields"][FIELD_SLA_BREACH_AT]) == datetime(
        2026, 3, 2, 10, tzinfo=UTC
    )
    assert send("").status_code == 201  # OAS: "To clear, provide an empty string"
    fake.complete_tasks()
    assert fake.issue(key)["fields"][FIELD_SLA_BREACH_AT] is None
    bad = send("next tuesday")
    assert bad.status_code == 400
    assert bad.json() == {
        "errors": [{"message": f"{FIELD_SLA_BREACH_AT}: Error parsing time: next tuesday"}]
    }
