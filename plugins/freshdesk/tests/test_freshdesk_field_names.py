"""Custom fields named without ``cf_``, end to end against the fake Freshdesk.

Freshdesk named fields made in 2015-2016 without the prefix (the API v2 reference's own
"List All Ticket Fields" example: ``department``, ``rating``; support article 216548:
``gadget``; sjkingo/python-freshdesk ``freshdesk/v2/tests/sample_json_data/ticket_1.json``,
recorded in 2016: ``custom_fields`` keyed ``parent_or_child``...). `FakeFreshdesk` serves
such an account with ``legacy_field_names=True``. Each test here failed before: the
connector wrote ``cf_<name>`` whatever the account called the field.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from slaplug_freshdesk import FreshdeskConfig, FreshdeskConnector
from slaplug_freshdesk.fake import API_KEY, FakeFreshdesk
from test_freshdesk_conformance import action

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind


@pytest.fixture
def legacy() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk(legacy_field_names=True) as fake:
        yield fake


@pytest.fixture
def conn(legacy: FakeFreshdesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[FreshdeskConnector]:
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    config = FreshdeskConfig(base_url=legacy.base_url, api_key_env="FRESHDESK_API_KEY")
    with FreshdeskConnector(config, instance="freshdesk-eu") as c:
        yield c


def test_the_fake_names_and_keys_its_fields_without_cf(legacy: FakeFreshdesk) -> None:
    assert set(legacy.tickets[1]["custom_fields"]) == {"sla_state", "sla_due_date"}
    assert legacy.custom_field_types == {"sla_due_date": "custom_date"}


@pytest.mark.parametrize("field", ["sla_state", "cf_sla_state"])
def test_a_field_is_written_read_and_found_in_place_under_the_accounts_key(
    legacy: FakeFreshdesk, conn: FreshdeskConnector, field: str
) -> None:
    set_it = action(ActionKind.SET_FIELD, {"field": field, "value": "breached"}, "1")
    assert [r.status for r in conn.apply([set_it], fresh={set_it.key})] == [ApplyStatus.APPLIED]
    assert legacy.tickets[1]["custom_fields"]["sla_state"] == "breached"
    assert "cf_sla_state" not in legacy.tickets[1]["custom_fields"]
    # The reader shows it under the account's key, and the writer finds it in place.
    assert conn.read_ticket("1").fields["sla_state"] == "breached"
    assert conn.apply([set_it])[0].status is ApplyStatus.ALREADY


def test_a_date_field_and_a_tag_go_in_one_put(legacy: FakeFreshdesk, conn) -> None:
    actions = [
        action(ActionKind.SET_FIELD, {"field": "cf_sla_due_date", "value": "2026-03-09"}, "2"),
        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "2"),
    ]
    results = conn.apply(actions, fresh={a.key for a in actions})
    assert [r.status for r in results] == [ApplyStatus.APPLIED, ApplyStatus.APPLIED]
    puts = [r.json() for r in legacy.received if r.method == "PUT"]
    assert puts == [{"tags": ["sla_warn"], "custom_fields": {"sla_due_date": "2026-03-09"}}]


def test_a_field_the_account_lacks_fails_listing_its_fields(legacy, conn) -> None:
    wrong = action(ActionKind.SET_FIELD, {"field": "sla_deadline", "value": "x"}, "1")
    result = conn.apply([wrong], fresh={wrong.key})[0]
    assert result.status is ApplyStatus.FAILED
    assert "sla_due_date (SLA due date), sla_state (SLA state)" in result.detail
    assert not [r for r in legacy.received if r.method == "PUT"]


def test_the_legacy_fake_refuses_the_prefixed_key_as_freshdesk_would(legacy) -> None:
    """What the connector used to send: an unexpected field, 400 ``invalid_field``."""
    r = requests.put(
        f"{legacy.base_url}/api/v2/tickets/1",
        json={"custom_fields": {"cf_sla_state": "breached"}},
        auth=(API_KEY, "X"),
        timeout=5,
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "invalid_field"
