"""Jira's system Due date under ``fields:``, end to end: real syncs against the fake Jira.

The Due date holds ``yyyy-MM-dd`` or null and is set on issue edit as ``fields.duedate``
(OAS ``editIssue`` example ``"duedate": "2019-05-11"``); anything else is refused with 400
"Error parsing date string" (AtlassianPS/JiraPS#173; ``slaplug_jira.fake.writes.EDIT_DATE``).
Its changelog items say ``fieldId`` ``duedate``, ``fieldtype`` ``jira``, ``from``/``to``
``2026-12-02`` (docs/testing/fake-jira.md). The field list shows it as
``{"type": "date", "system": "duedate"}`` (AtlassianPS/JiraPS#173).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira
from slaplug_jira.fake.generate import FIELD_SLA_BREACH_AT

from slaplug.model import EventKind
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync
from slaplug.testing.doctor import run_doctor

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIVE_RULES = """\
policies:
  - name: support
    pause_statuses: [pending]
    targets:
      resolution: {urgent: 4h, "*": 24h}
    live_fields:
      resolution: {field: due, format: date}
"""
#: An escalation on the due date: YYYY-MM-DD texts compare by code point, so in date order.
DUE_RULES = """\
policies:
  - name: support
    targets:
      resolution: {"*": 72h}
escalations:
  - name: due-soon
    when: {metric: resolution, fields.due: {lte: "2026-12-02"}}
    actions:
      - add_tag: due_soon
"""


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira.start(now=T0.timestamp(), issues=0, bulk_polls=1) as f:
        yield f


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _config(fake: FakeJira, **fields: str) -> JiraConfig:
    config = JiraConfig.load(
        {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
         "projects": ["SUP"], "bulk_poll_interval": 0.02, "fields": fields},
        connector="jira", environ={"T": fake.api_token},
    )  # fmt: skip
    assert isinstance(config, JiraConfig)
    return config


class _Syncs:
    """Runs syncs two fake minutes apart and counts the accepted writes of each."""

    def __init__(self, fake: FakeJira, job: Sync) -> None:
        self.fake, self.job = fake, job

    def step(self) -> tuple[Any, int]:
        self.fake.advance(120)
        before = len([w for w in self.fake.writes if w.accepted])
        summary = self.job.run_once()
        return summary, len([w for w in self.fake.writes if w.accepted]) - before


def test_a_live_resolution_deadline_goes_in_the_due_date_once_and_reads_back_from_history(
    tmp_path: Path, fake: FakeJira
) -> None:
    rules = _write(tmp_path, LIVE_RULES)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([rules], engine="python") as pack, \
            JiraConnector(_config(fake, due="duedate"), instance="jira") as conn:  # fmt: skip
        job = Sync(store, pack, {"jira": conn}, clock=lambda: datetime.fromtimestamp(fake.now, UTC))
        job.run_once()
        key = fake.simulate("create", summary="VPN down", priority="Medium")["key"]
        opened = datetime.fromisoformat(fake.issue(key)["fields"]["created"])
        syncs = _Syncs(fake, job)
        fake.clear_records()

        summary, writes = syncs.step()
        due = (opened + timedelta(hours=24)).date().isoformat()  # 2026-12-02
        assert fake.issue(key)["fields"]["duedate"] == due
        assert (summary.live_writes, writes) == (1, 1)
        (edit,) = [w for w in fake.writes if w.accepted]
        assert (edit.method, edit.path, edit.body) == (
            "PUT", f"/rest/api/3/issue/{key}", {"fields": {"duedate": due}}
        )  # fmt: skip
        summary, writes = syncs.step()  # the deadline did not move: nothing is written
        assert (summary.live_writes, writes) == (0, 0)
        assert not [w for w in fake.writes if not w.accepted]  # no refused edit

        ticket = conn.read_ticket(key)
    changes = [
        (e.old, e.value)
        for e in ticket.events
        if e.kind is EventKind.FIELD_CHANGED and e.field == "fields.due"
    ]
    # The text written, not the changelog's display string "2026-12-02 00:00:00.0".
    assert changes == [(None, due)]
    assert ticket.fields["due"] == due


def test_a_rule_on_the_due_date_fires_once_the_date_is_on_or_before_its_literal(
    tmp_path: Path, fake: FakeJira
) -> None:
    rules = _write(tmp_path, DUE_RULES)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([rules], engine="python") as pack, \
            JiraConnector(_config(fake, due="duedate"), instance="jira") as conn:  # fmt: skip
        job = Sync(store, pack, {"jira": conn}, clock=lambda: datetime.fromtimestamp(fake.now, UTC))
        job.run_once()
        key = fake.simulate("create", summary="VPN down", priority="Medium")["key"]
        syncs = _Syncs(fake, job)

        def due(day: str) -> None:  # an agent sets the Due date in Jira
            fake.simulate("duedate", key, value=day)

        def labels() -> list[str]:
            return list(fake.issue(key)["fields"]["labels"])

        syncs.step()
        assert labels() == []  # no due date: missing, lte does not match
        due("2026-12-05")
        syncs.step()
        assert labels() == []
        due("2026-12-02")
        syncs.step()
        assert labels() == ["due_soon"]


# -- doctor: a live field's format against the field's type ---------------------------------


def _doctor(tmp_path: Path, fake: FakeJira, live: str, field: str) -> dict[str, Any]:
    rules = _write(tmp_path, LIVE_RULES.replace("{field: due, format: date}", live))
    (tmp_path / "slaplug.yaml").write_text(yaml.safe_dump({
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "rules": [str(rules)],
        "connectors": {"jira": {
            "plugin": "jira", "base_url": fake.base_url, "email": fake.email,
            "api_token_env": "DUE_JIRA_TOKEN", "projects": ["SUP"], "fields": {"due": field},
            "timeout": 3, "retry": {"max_attempts": 1},
        }},
    }))  # fmt: skip
    result = run_doctor(
        tmp_path / "slaplug.yaml", {"DUE_JIRA_TOKEN": fake.api_token}, plugin="slaplug-jira"
    )
    check: dict[str, Any] = result.checks("jira")["field due"]
    return check


def test_doctor_fails_a_date_time_live_field_on_the_due_date_at_its_rule(
    tmp_path: Path, fake: FakeJira
) -> None:
    check = _doctor(tmp_path, fake, "due", "duedate")  # format instant, the default
    assert check["status"] == "fail"
    text = str(check)
    assert "Due date" in text and "format: date" in text
    assert f"{tmp_path / 'rules.yaml'}:7:" in text  # where the live field is declared
    assert _doctor(tmp_path, fake, "{field: due, format: date}", "duedate")["status"] == "ok"


def test_doctor_fails_a_date_live_field_on_a_date_time_picker(
    tmp_path: Path, fake: FakeJira
) -> None:
    check = _doctor(tmp_path, fake, "{field: due, format: date}", FIELD_SLA_BREACH_AT)
    assert check["status"] == "fail"
    assert "date time picker" in str(check) and "format: instant" in str(check)
    assert _doctor(tmp_path, fake, "due", FIELD_SLA_BREACH_AT)["status"] == "ok"
