"""`slaplug doctor` against the fake Jira, as a real process: passing, then each failure.

The fake enforces what the checks rely on: ``GET /rest/api/3/myself`` answers with the
token's user (401 for a bad token); ``GET /rest/api/3/mypermissions`` answers in the OAS
``getMyPermissions`` shape from the user's permissions (404 for a project the user cannot
browse), and the writes refuse what a user may not do (fakes/jira_permissions.py);
``/field``, ``/priority``, ``/status`` and ``/user/search`` list what exists
(docs/plugins/jira.md, "slaplug doctor").
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from slaplug_jira.fake import FakeJira

from slaplug.testing.doctor import checks_of, run_doctor, statuses_of

AGENT = "ana.souza@fake-jira.test"
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
          - add_tag: sla-breached
          - assign: {group: GROUP}
          - assign: {user: USER}
          - set_priority: PRIORITY
          - set_status: STATUS
          - comment: "Breached."
    """
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeJira]:
    with FakeJira.start(issues=5, time_zone="America/Los_Angeles") as f:
        yield f


@pytest.fixture
def agent(fake: FakeJira) -> Iterator[str]:
    """An agent without admin rights; its permissions are restored after the test."""
    fake.set_user(AGENT, admin=False, project_admin=True, denied=())
    yield AGENT
    fake.set_user(AGENT, admin=False, project_admin=False, denied=())


def doctor(
    tmp_path: Path,
    fake: FakeJira,
    *,
    email: str | None = None,
    token: str | None = None,
    base_url: str | None = None,
    projects: tuple[str, ...] = ("SUP",),
    field: str = "sla_status",
    group: str = "second-line",
    user: str = AGENT,
    priority: str = "urgent",
    status: str = "pending",
    extra: dict[str, Any] | None = None,
    drop: str | None = None,
) -> tuple[int, dict[str, Any], str]:
    lines = RULES.splitlines(keepends=True)
    rules_text = "".join(ln for ln in lines if drop is None or f"- {drop}:" not in ln)
    rules = (
        rules_text.replace("FIELD", field)
        .replace("GROUP", group)
        .replace("USER", user)
        .replace("PRIORITY", priority)
        .replace("STATUS", status)
    )
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "slaplug.yaml").write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": ["rules.yaml"],
                "connectors": {
                    "jira": {
                        "plugin": "jira",
                        "base_url": base_url or fake.base_url,
                        "email": email or fake.email,
                        "api_token_env": "DOCTOR_JIRA_TOKEN",
                        "projects": list(projects),
                        "fields": {"sla_status": "customfield_10050"},
                        "groups": {"second-line": "account-of-second-line"},
                        "timeout": 3,
                        "retry": {"max_attempts": 1},
                        **(extra or {}),
                    }
                },
            }
        )
    )
    result = run_doctor(
        tmp_path / "slaplug.yaml",
        {"DOCTOR_JIRA_TOKEN": token or fake.api_token},
        plugin="slaplug-jira",
    )
    return result.code, result.report, result.output


def checks(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return checks_of(report, "jira")


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return statuses_of(report, "jira")


def test_a_good_setup_passes_every_check(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake)
    assert code == 0, report
    assert statuses(report) == {
        "webhook secret": "warn",  # none configured: serve would refuse deliveries
        "credentials": "ok",
        "time zone": "ok",
        "permission browse SUP": "ok",
        "permission edit SUP": "ok",
        "permission transition SUP": "ok",
        "permission comment SUP": "ok",
        "permission quiet edits SUP": "ok",  # the admin: Administer Jira
        "permission bulk change": "ok",
        "field sla_status": "ok",
        "priority urgent": "ok",  # written as Highest
        "status pending": "ok",  # Waiting for customer
        "group second-line": "ok",
        f"user {AGENT}": "ok",
    }
    zone = checks(report)["time zone"]["detail"]
    assert "America/Los_Angeles" in zone and "profile" in zone


def test_a_configured_zone_says_it_overrides_the_profile(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake, extra={"jql_timezone": "Europe/Berlin"})
    assert code == 0, report
    detail = checks(report)["time zone"]["detail"]
    assert "jql_timezone Europe/Berlin overrides" in detail and "America/Los_Angeles" in detail


def test_a_wrong_token_fails_credentials_and_is_not_printed(tmp_path: Path, fake: FakeJira) -> None:
    code, report, out = doctor(tmp_path, fake, token="wrong-token-5f1e2d")
    assert code == 1
    assert statuses(report)["credentials"] == "fail"
    assert "wrong-token-5f1e2d" not in out


@pytest.mark.parametrize(
    ("denied", "check"),
    [
        ("EDIT_ISSUES", "permission edit SUP"),
        ("TRANSITION_ISSUES", "permission transition SUP"),
        ("ADD_COMMENTS", "permission comment SUP"),
    ],
)
def test_a_missing_write_permission_the_rules_need_fails(
    tmp_path: Path, fake: FakeJira, agent: str, denied: str, check: str
) -> None:
    fake.set_user(agent, denied=[denied])
    code, report, _ = doctor(tmp_path, fake, email=agent)
    assert code == 1
    found = checks(report)[check]
    assert found["status"] == "fail" and denied in found["detail"]
    assert "grant" in found["fix"]
    others = {n: s for n, s in statuses(report).items() if n.startswith("permission")}
    assert [n for n, s in others.items() if s == "fail"] == [check]


def test_a_permission_the_rules_do_not_need_is_not_a_failure(
    tmp_path: Path, fake: FakeJira, agent: str
) -> None:
    fake.set_user(agent, denied=["TRANSITION_ISSUES"])
    code, report, _ = doctor(tmp_path, fake, email=agent, drop="set_status")
    assert code == 0, report
    assert statuses(report)["permission transition SUP"] == "skip"


def test_the_fake_refuses_the_writes_it_reports_missing(fake: FakeJira, agent: str) -> None:
    fake.set_user(agent, denied=["EDIT_ISSUES", "BULK_CHANGE"])
    key = next(iter(fake.store.issues.values())).key
    r = requests.put(
        f"{fake.base_url}/rest/api/3/issue/{key}",
        json={"update": {"labels": [{"add": "x"}]}},
        auth=fake.auth_for(agent),
        timeout=10,
    )
    assert r.status_code == 400 and "permission" in r.json()["errorMessages"][0]
    r = requests.post(
        f"{fake.base_url}/rest/api/3/bulk/issues/fields",
        json={
            "selectedIssueIdsOrKeys": [key],
            "selectedActions": ["labels"],
            "editedFieldsInput": {
                "labelsFields": [
                    {
                        "fieldId": "labels",
                        "bulkEditMultiSelectFieldOption": "ADD",
                        "labels": [{"name": "x"}],
                    }
                ]
            },
        },
        auth=fake.auth_for(agent),
        timeout=10,
    )
    assert r.status_code == 400
    r = requests.get(
        f"{fake.base_url}/rest/api/3/mypermissions",
        params={"projectKey": "SUP", "permissions": "EDIT_ISSUES,BULK_CHANGE,ADD_COMMENTS"},
        auth=fake.auth_for(agent),
        timeout=10,
    )
    have = {k: v["havePermission"] for k, v in r.json()["permissions"].items()}
    assert have == {"EDIT_ISSUES": False, "BULK_CHANGE": False, "ADD_COMMENTS": True}


def test_the_fake_hides_issues_from_a_user_who_cannot_browse(fake: FakeJira, agent: str) -> None:
    fake.set_user(agent, denied=["BROWSE_PROJECTS"])
    key = next(iter(fake.store.issues.values())).key
    api = f"{fake.base_url}/rest/api/3"
    r = requests.get(f"{api}/issue/{key}", auth=fake.auth_for(agent), timeout=10)
    assert r.status_code == 404
    r = requests.get(
        f"{api}/search/jql",
        params={"jql": "project = SUP ORDER BY key", "fields": "summary"},
        auth=fake.auth_for(agent),
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["issues"] == []
    r = requests.get(f"{api}/issue/{key}", auth=fake.auth, timeout=10)
    assert r.status_code == 200  # the admin still sees it


def test_no_browse_fails_and_no_project_admin_or_bulk_warns(
    tmp_path: Path, fake: FakeJira, agent: str
) -> None:
    fake.set_user(agent, project_admin=False, denied=["BULK_CHANGE"])
    code, report, _ = doctor(tmp_path, fake, email=agent)
    assert code == 0, report  # warnings only
    found = checks(report)
    assert found["permission quiet edits SUP"]["status"] == "warn"
    assert "notifyUsers=false" in found["permission quiet edits SUP"]["detail"]
    assert found["permission bulk change"]["status"] == "warn"
    assert "one issue at a time" in found["permission bulk change"]["detail"]
    fake.set_user(agent, denied=["BROWSE_PROJECTS"])
    code, report, _ = doctor(tmp_path, fake, email=agent)
    assert code == 1
    browse = checks(report)["permission browse SUP"]
    assert browse["status"] == "fail" and "404" in browse["detail"]


def test_an_unknown_project_fails(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake, projects=("SUP", "NOPE"))
    assert code == 1
    found = checks(report)
    assert found["permission browse SUP"]["status"] == "ok"
    assert found["permission browse NOPE"]["status"] == "fail"
    assert "'NOPE'" in found["permission browse NOPE"]["detail"]


def test_missing_names_fail_at_the_rule_that_writes_them(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(
        tmp_path,
        fake,
        field="sla_deadline",
        group="escalations",
        user="nobody@fake-jira.test",
        priority="p1",
        status="parked",
    )
    assert code == 1
    found = checks(report)
    rules = tmp_path / "rules.yaml"
    for name, needle in (
        ("field sla_deadline", "no Jira field is mapped for 'sla_deadline'"),
        ("group escalations", "group 'escalations' is not mapped under groups:"),
        ("user nobody@fake-jira.test", "no Jira user found for 'nobody@fake-jira.test'"),
        ("priority p1", "Jira has no priority 'p1'"),
        ("status parked", "Jira has no status 'parked'"),
    ):
        assert found[name]["status"] == "fail", name
        assert needle in found[name]["detail"] and f"{rules}:" in found[name]["detail"]


def test_a_mapped_id_that_does_not_exist_fails(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake, field="customfield_99999")
    assert code == 1
    field = checks(report)["field customfield_99999"]
    assert field["status"] == "fail" and "which Jira does not have" in field["detail"]


def test_a_priority_mapped_to_a_name_jira_lacks_fails(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake, extra={"priorities": {"Sev1": "urgent"}})
    assert code == 1
    assert "Jira has no priority 'Sev1'" in checks(report)["priority urgent"]["detail"]


def test_an_unreachable_helpdesk_fails_reachable(tmp_path: Path, fake: FakeJira) -> None:
    code, report, _ = doctor(tmp_path, fake, base_url="http://127.0.0.1:9")
    assert code == 1
    assert statuses(report)["reachable"] == "fail"
