"""`slaplug doctor` against the fake Freshdesk, as a real process: passing, then each failure.

The fake serves what the checks read, in Freshdesk's shapes (slaplug_freshdesk/fake/server.py,
docs/plugins/freshdesk.md "slaplug doctor"): ``GET /api/v2/agents/me`` answers with the key's
agent (401 ``invalid_credentials`` for a wrong key); ``GET /api/v2/ticket_fields`` lists the
custom fields and, in the ``status`` field's ``choices``, the account's status codes;
``GET /api/v2/groups`` and ``GET /api/v2/agents`` list who can be assigned.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml
from responses import matchers
from slaplug_freshdesk import FreshdeskConfig, FreshdeskConnector
from slaplug_freshdesk.fake import API_KEY, FakeFreshdesk

from slaplug.connectors.checks import CheckStatus, DoctorNeeds
from slaplug.errors import Problem
from slaplug.model import ActionKind
from slaplug.rules.writes import RuleWrite
from slaplug.testing.doctor import checks_of, run_doctor, statuses_of

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
          - set_priority: PRIORITY
          - set_status: STATUS
          - comment: "Breached."
    """
)
ASSIGN = "      - assign: {group: GROUP}\n      - assign: {user: USER}\n"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk(custom_statuses=(6,)) as f:
        yield f


def doctor(
    tmp_path: Path,
    fake: FakeFreshdesk,
    *,
    key: str = API_KEY,
    base_url: str | None = None,
    field: str = "sla_state",
    priority: str = "urgent",
    status: str = "waiting_on_customer",
    custom_statuses: dict[int, Any] | None = None,
    assign: tuple[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    rules = RULES.replace("FIELD", field).replace("PRIORITY", priority).replace("STATUS", status)
    if assign is not None:
        rules += ASSIGN.replace("GROUP", assign[0]).replace("USER", assign[1])
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "slaplug.yaml").write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": ["rules.yaml"],
                "connectors": {
                    "freshdesk": {
                        "plugin": "freshdesk",
                        "base_url": base_url or fake.base_url,
                        "api_key_env": "DOCTOR_FD_KEY",
                        "custom_statuses": custom_statuses
                        or {6: {"name": "waiting_on_customer", "like": "pending"}},
                        "timeout": 3,
                        "retry": {"max_attempts": 1},
                    }
                },
            }
        )
    )
    result = run_doctor(
        tmp_path / "slaplug.yaml", {"DOCTOR_FD_KEY": key}, plugin="slaplug-freshdesk"
    )
    return result.code, result.report, result.output


def checks(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return checks_of(report, "freshdesk")


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return statuses_of(report, "freshdesk")


def test_a_good_setup_passes_every_check(tmp_path: Path, fake: FakeFreshdesk) -> None:
    code, report, out = doctor(tmp_path, fake)
    assert code == 0, report
    assert statuses(report) == {
        "credentials": "ok",
        "field sla_state": "ok",  # cf_sla_state
        "custom status 6": "ok",
        "status waiting_on_customer": "ok",
        "priority urgent": "ok",
    }
    assert "slaplug@fake-freshdesk.test" in checks(report)["credentials"]["detail"]
    assert API_KEY not in out


@pytest.mark.parametrize("field", ["sla_state", "cf_sla_state"])
def test_fields_named_without_cf_pass_with_or_without_the_prefix(
    tmp_path: Path, field: str
) -> None:
    """An account whose fields are named without ``cf_`` (as Freshdesk named fields made in
    2015-2016: the reference's own ticket_fields example, support article 216548) used to
    fail the doctor: it looked up ``cf_sla_state`` only."""
    with FakeFreshdesk(custom_statuses=(6,), legacy_field_names=True) as legacy:
        code, report, _ = doctor(tmp_path, legacy, field=field)
    assert code == 0, report
    assert checks(report)[f"field {field}"]["detail"] == "sla_state (SLA state)"


def test_a_wrong_key_fails_credentials_and_is_not_printed(
    tmp_path: Path, fake: FakeFreshdesk
) -> None:
    code, report, out = doctor(tmp_path, fake, key="wrong-key-5f1e2d")
    assert code == 1
    assert statuses(report)["credentials"] == "fail"
    assert "wrong-key-5f1e2d" not in out


def test_missing_names_fail_at_the_rule_that_writes_them(
    tmp_path: Path, fake: FakeFreshdesk
) -> None:
    code, report, _ = doctor(
        tmp_path,
        fake,
        field="sla_deadline",
        priority="normal",  # Zendesk's word; Freshdesk says medium
        status="solved",  # Zendesk's word; Freshdesk says resolved
        assign=("Escalations", "nobody@fake-freshdesk.test"),
    )
    assert code == 1
    found = checks(report)
    rules = tmp_path / "rules.yaml"
    for name, needle in (
        (
            "field sla_deadline",
            "Freshdesk has no custom ticket field 'sla_deadline' or 'cf_sla_deadline'",
        ),
        ("priority normal", "Freshdesk has no priority 'normal'"),
        ("status solved", "Freshdesk has no status 'solved'"),
        ("group Escalations", "no Freshdesk group 'Escalations'"),
        ("agent nobody@fake-freshdesk.test", "no Freshdesk agent 'nobody@fake-freshdesk.test'"),
    ):
        assert found[name]["status"] == "fail", name
        assert needle in found[name]["detail"] and f"{rules}:" in found[name]["detail"]
    # The field's failure lists what the account has, so the user can pick the right name.
    listed = found["field sla_deadline"]["detail"]
    assert "cf_sla_due_date (SLA due date), cf_sla_state (SLA state)" in listed


def test_existing_assignees_warn_that_assign_is_not_written(
    tmp_path: Path, fake: FakeFreshdesk
) -> None:
    code, report, _ = doctor(
        tmp_path, fake, assign=("Second Line", "dana.agent@fake-freshdesk.test")
    )
    assert code == 0, report
    found = checks(report)
    assert found["group Second Line"]["status"] == "warn"
    assert "id 8" in found["group Second Line"]["detail"]
    assert found["agent dana.agent@fake-freshdesk.test"]["status"] == "warn"
    assert "does not write assign" in found["agent dana.agent@fake-freshdesk.test"]["detail"]


def test_a_custom_status_the_account_lacks_fails(tmp_path: Path, fake: FakeFreshdesk) -> None:
    code, report, _ = doctor(
        tmp_path,
        fake,
        status="pending",
        custom_statuses={7: {"name": "on_hold", "like": "pending"}},
    )
    assert code == 1
    found = checks(report)["custom status 7"]
    assert (
        found["status"] == "fail"
        and "lacks" in found["detail"]
        and "2, 3, 4, 5, 6" in found["detail"]
    )


def test_an_unreachable_helpdesk_fails_reachable(tmp_path: Path, fake: FakeFreshdesk) -> None:
    code, report, _ = doctor(tmp_path, fake, base_url="http://127.0.0.1:9")
    assert code == 1
    assert statuses(report)["reachable"] == "fail"


#: ``GET /api/v2/agents`` as recorded in sjkingo/python-freshdesk
#: ``freshdesk/v2/tests/sample_json_data/agents.json`` (trimmed to the keys read: ``id`` on
#: top, the person under ``contact``), served over two pages joined by a ``Link`` header.
RECORDED_AGENTS = [
    {"available": True, "occasional": False, "id": 1, "ticket_scope": 1,
     "contact": {"active": True, "email": "abc@xyz.com", "name": "Support"}},
    {"available": True, "occasional": False, "id": 432, "ticket_scope": 1,
     "contact": {"active": False, "email": "superman@freshdesk.com", "name": "Clark Kent"}},
]  # fmt: skip


@responses.activate
def test_recorded_agents_are_found_across_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "https://acme.freshdesk.com"
    monkeypatch.setenv("FD_KEY", "fd-key-unit-0042")
    conn = FreshdeskConnector(FreshdeskConfig(base_url=base, api_key_env="FD_KEY"))
    responses.get(f"{base}/api/v2/agents/me", json={**RECORDED_AGENTS[0]})
    responses.get(f"{base}/api/v2/ticket_fields", json=[])
    responses.get(
        f"{base}/api/v2/agents",
        json=RECORDED_AGENTS[:1],
        headers={"Link": f'<{base}/api/v2/agents?per_page=100&page=2>; rel="next"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    responses.get(
        f"{base}/api/v2/agents",
        json=RECORDED_AGENTS[1:],
        match=[matchers.query_param_matcher({"per_page": "100", "page": "2"})],
    )
    where = Problem("", "x", "rules.yaml", 9, 9)
    needs = DoctorNeeds(
        writes=tuple(
            RuleWrite(ActionKind.ASSIGN, ref, "user", "breach", where)
            for ref in ("superman@freshdesk.com", "Support", "432", "lois@freshdesk.com")
        ),
        kinds=frozenset({ActionKind.ASSIGN}),
    )
    found = {c.name: c for c in conn.doctor(needs)}
    assert found["credentials"].detail == "abc@xyz.com (agent 1)"
    assert found["agent superman@freshdesk.com"].detail.startswith("id 432,")
    assert found["agent Support"].detail.startswith("id 1,")
    assert found["agent 432"].status is CheckStatus.WARN
    missing = found["agent lois@freshdesk.com"]
    assert missing.status is CheckStatus.FAIL and "rules.yaml:9:9" in missing.detail
