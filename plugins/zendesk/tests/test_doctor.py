"""`slaplug doctor` against the fake Zendesk, as a real process: passing, then each failure.

The fake enforces what the checks rely on: `GET /api/v2/users/me` answers with the token's
user (401 for a bad token); the incremental exports are admin-only (403 for an agent, as
"Allowed For: Admins" in Zendesk's incremental export reference); `GET /api/v2/ticket_fields`
and `GET /api/v2/groups` list what exists (docs/plugins/zendesk.md, "Endpoints and payloads").
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from slaplug_zendesk.fake import FakeZendesk

from slaplug.testing.doctor import run_doctor, statuses_of

RULES = textwrap.dedent(
    """\
    policies:
      - name: standard
        calendar: 24x7
        targets:
          resolution: {urgent: 4h, high: 8h, normal: 24h, low: 48h}
    escalations:
      - name: breach
        when: {metric: resolution, breached: true}
        actions:
          - set_field: {field: FIELD, value: breached}
          - assign: {group: GROUP}
          - set_priority: PRIORITY
          - comment: "Breached."
    """
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(tickets=5) as f:
        yield f


def doctor(
    tmp_path: Path,
    fake: FakeZendesk,
    *,
    email: str | None = None,
    token: str | None = None,
    base_url: str | None = None,
    field: str = "sla_status",
    group: str = "second-line",
    priority: str = "urgent",
    fields: dict[str, int] | None = None,
) -> tuple[int, dict[str, Any], str]:
    rules = RULES.replace("FIELD", field).replace("GROUP", group).replace("PRIORITY", priority)
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "slaplug.yaml").write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": ["rules.yaml"],
                "connectors": {
                    "zendesk": {
                        "plugin": "zendesk",
                        "base_url": base_url or fake.base_url,
                        "email": email or fake.email,
                        "api_token_env": "DOCTOR_ZD_TOKEN",
                        "fields": fields or {},
                        "timeout": 3,
                        "retry": {"max_attempts": 1},
                    }
                },
            }
        )
    )
    result = run_doctor(
        tmp_path / "slaplug.yaml",
        {"DOCTOR_ZD_TOKEN": token or fake.api_token},
        plugin="slaplug-zendesk",
    )
    return result.code, result.report, result.output


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return statuses_of(report, "zendesk")


def test_a_good_setup_passes_every_check(tmp_path: Path, fake: FakeZendesk) -> None:
    code, report, _ = doctor(tmp_path, fake)
    assert code == 0, report
    assert statuses(report) == {
        "webhook secret": "warn",  # none configured: serve would refuse deliveries
        "credentials": "ok",
        "role": "ok",
        "field sla_status": "ok",  # found by its title "SLA status"
        "group second-line": "ok",
        "priority urgent": "ok",
    }


def test_a_wrong_token_fails_credentials_and_is_not_printed(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    code, report, out = doctor(tmp_path, fake, token="wrong-token-5f1e2d")
    assert code == 1
    assert statuses(report)["credentials"] == "fail"
    assert "wrong-token-5f1e2d" not in out


def test_an_agent_token_fails_the_admin_role_the_exports_need(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    code, report, _ = doctor(tmp_path, fake, email="ana.souza@fake-zendesk.test")
    assert code == 1
    [role] = [c for c in report["checks"] if c["name"] == "role"]
    assert role["status"] == "fail" and "admin-only" in role["detail"]
    # And the fake agrees: an agent's read of the export is refused.
    r = requests.get(
        f"{fake.base_url}/api/v2/incremental/tickets/cursor.json?start_time=0",
        auth=("ana.souza@fake-zendesk.test/token", fake.api_token),
        timeout=10,
    )
    assert r.status_code == 403


def test_missing_names_fail_at_the_rule_that_writes_them(tmp_path: Path, fake: FakeZendesk) -> None:
    code, report, _ = doctor(
        tmp_path,
        fake,
        field="sla_deadline",
        group="escalations",
        priority="p1",
        fields={"sla_status": 999},
    )
    assert code == 1
    checks = {c["name"]: c for c in report["checks"] if c["subject"] == "zendesk"}
    rules = tmp_path / "rules.yaml"
    for name, needle in (
        ("field sla_deadline", "no Zendesk ticket field 'sla_deadline'"),
        ("group escalations", "no Zendesk group 'escalations'"),
        ("priority p1", "Zendesk has no priority 'p1'"),
    ):
        assert checks[name]["status"] == "fail"
        assert needle in checks[name]["detail"] and f"{rules}:" in checks[name]["detail"]


def test_a_mapped_id_that_does_not_exist_fails(tmp_path: Path, fake: FakeZendesk) -> None:
    code, report, _ = doctor(tmp_path, fake, fields={"sla_status": 999})
    assert code == 1
    [field] = [c for c in report["checks"] if c["name"] == "field sla_status"]
    assert field["status"] == "fail" and "field id 999" in field["detail"]


def test_an_unreachable_helpdesk_fails_reachable(tmp_path: Path, fake: FakeZendesk) -> None:
    code, report, _ = doctor(tmp_path, fake, base_url="http://127.0.0.1:9")
    assert code == 1
    assert statuses(report)["reachable"] == "fail"
