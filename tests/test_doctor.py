"""`slaplug doctor`: the shared checks and how a connector's own checks are run and shown.

The platforms' own checks are tested with their plugins against their fakes; here a small
connector over the Tinydesk fake stands in, so the runner itself is what is tested.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tinydesk import TOKEN, TinyConnector, TinyFake

from slaplug import hookimpl
from slaplug.cli import main
from slaplug.connectors import Connector
from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.model import ActionKind
from slaplug.plugins import pm

RULES = textwrap.dedent(
    """\
    calendars:
      office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
    policies:
      - name: standard
        calendar: office
        targets:
          first_response: {high: 1h, normal: 4h}
    escalations:
      - name: warn
        when: {metric: first_response, percent: {gte: 75}}
        actions:
          - add_tag: sla_warning
          - set_field: {field: sla_status, value: at_risk}
          - set_field: {field: sla_deadline, value: "{{ measure.deadline }}"}
      - name: breach
        when: {metric: first_response, breached: true}
        actions:
          - comment: "Breached."
          - notify: {channel: pager, message: "ticket {{ ticket.id }} breached"}
    """
)

#: The rules without the field Tinydesk lacks; sla_status is set by both escalations.
HEALTHY_RULES = RULES.replace(
    '      - set_field: {field: sla_deadline, value: "{{ measure.deadline }}"}\n', ""
).replace(
    '      - comment: "Breached."\n',
    '      - comment: "Breached."\n      - set_field: {field: sla_status, value: breached}\n',
)

#: The fields Tinydesk "has": sla_deadline is missing, so the rules' write of it must fail.
TINY_FIELDS = {"sla_status"}


class CheckedTiny(TinyConnector):
    """Tinydesk with live checks: the credentials, and the fields the rules set."""

    name = "checkedtiny"

    def doctor(self, needs: DoctorNeeds) -> Iterator[Check]:
        self.http.get_json("tickets")  # raises AuthenticationError on a bad token
        yield Check("credentials", CheckStatus.OK, "the token reads tickets")
        for w in needs.named(ActionKind.SET_FIELD):
            if w.name in TINY_FIELDS:
                yield Check(f"field {w.name}", CheckStatus.OK, "exists")
            else:
                yield Check(
                    f"field {w.name}",
                    CheckStatus.FAIL,
                    str(w.problem(f"no field {w.name!r} on this helpdesk")),
                    "create the field, or change the rule",
                )


class _Plugin:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(CheckedTiny)
        register(TinyConnector)

    @hookimpl
    def register_notifiers(self, register: Callable[[str, Any], None]) -> None:
        register("pager", lambda channel, message, action, ticket: None)


@pytest.fixture
def plugin() -> Iterator[None]:
    pm.register(_Plugin(), name="doctor-test-plugin")
    yield
    pm.unregister(name="doctor-test-plugin")


@pytest.fixture
def fake() -> Iterator[TinyFake]:
    with TinyFake() as f:
        yield f


def write_config(tmp_path: Path, connectors: str, rules: str = RULES) -> Path:
    (tmp_path / "rules.yaml").write_text(rules)
    cfg = tmp_path / "slaplug.yaml"
    cfg.write_text(
        f"store: sqlite:///{tmp_path / 'store.db'}\nrules: [rules.yaml]\nconnectors:\n"
        + textwrap.indent(textwrap.dedent(connectors), "  ")
    )
    return cfg


def doctor(cfg: Path, *args: str, token: str = TOKEN) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["doctor", "--config", str(cfg), *args],
        env={"TINY_TOKEN": token, "TINY_HOOK": "hook-secret-0042"},
    )
    return result.exit_code, result.output


def test_a_healthy_setup_passes_and_names_every_check(plugin, fake, tmp_path) -> None:
    cfg = write_config(
        tmp_path,
        f"desk: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN,"
        " webhook_secret_env: [TINY_HOOK]}\n",
        HEALTHY_RULES,
    )
    code, out = doctor(cfg, "--json", token=TOKEN)
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    names = [(c["subject"], c["name"], c["status"]) for c in report["checks"]]
    assert ("store", "store", "ok") in names
    assert ("rules", "notify pager", "ok") in names
    assert ("desk", "credentials", "ok") in names
    # sla_status is written by two escalations: checked once.
    assert names.count(("desk", "field sla_status", "ok")) == 1
    assert TOKEN not in out


def test_a_missing_field_fails_at_the_rule_that_writes_it(plugin, fake, tmp_path) -> None:
    cfg = write_config(
        tmp_path,
        f"desk: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}\n",
        RULES.replace("{{ measure.deadline }}", "fixed"),
    )
    code, out = doctor(cfg)
    assert code == 1
    line = next(x for x in out.splitlines() if "field sla_deadline" in x)
    rules = tmp_path / "rules.yaml"
    lineno = next(i for i, x in enumerate(rules.read_text().splitlines(), 1) if "sla_deadline" in x)
    assert line.startswith("fail") and f"{rules}:{lineno}:" in line
    assert "-> create the field, or change the rule" in out
    assert "1 failed" in out.splitlines()[-1]


def test_templated_names_are_not_checked_against_the_helpdesk(plugin, fake, tmp_path) -> None:
    rules = RULES.replace("field: sla_deadline", "field: 'sla_{{ ticket.priority }}'")
    cfg = write_config(
        tmp_path,
        f"desk: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}\n",
        rules,
    )
    code, out = doctor(cfg)
    assert code == 0, out
    assert "sla_{{" not in out


def test_bad_credentials_fail_that_connector_and_the_others_are_still_checked(
    plugin, fake, tmp_path
) -> None:
    cfg = write_config(
        tmp_path,
        f"""\
        broken: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}
        plain: {{plugin: tiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}
        """,
    )
    code, out = doctor(cfg, "--json", token="wrong-token-123456")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    broken = [c for c in report["checks"] if c["subject"] == "broken"]
    assert [c["status"] for c in broken] == ["warn", "fail"]  # no webhook secret; credentials
    assert broken[1]["fix"].startswith("check the credentials")
    plain = [c for c in report["checks"] if c["subject"] == "plain"]
    # A connector without checks of its own says so rather than claiming all is well.
    assert [c["status"] for c in plain][-1] == "skip"
    assert "wrong-token-123456" not in out


def test_an_unreachable_helpdesk_says_so_with_what_to_do(plugin, tmp_path) -> None:
    cfg = write_config(
        tmp_path,
        "desk: {plugin: checkedtiny, base_url: 'http://127.0.0.1:9', api_token_env: TINY_TOKEN,"
        " timeout: 2, retry: {max_attempts: 1}}\n",
    )
    code, out = doctor(cfg)
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("fail") and "desk" in x)
    assert "reachable:" in line
    assert "check base_url" in out


def test_a_channel_without_a_deliverer_fails_at_its_rule(fake, tmp_path) -> None:
    pm.register(
        type("OnlyConnectors", (), {"register_connectors": _Plugin.register_connectors})(),
        name="doctor-test-connectors",
    )
    try:
        cfg = write_config(
            tmp_path,
            f"desk: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}\n",
            HEALTHY_RULES,
        )
        code, out = doctor(cfg)
    finally:
        pm.unregister(name="doctor-test-connectors")
    assert code == 1
    line = next(x for x in out.splitlines() if "notify pager" in x)
    assert line.startswith("fail") and "rules.yaml:" in line and "pager" in line


def test_an_unknown_connector_is_a_usage_error(plugin, fake, tmp_path) -> None:
    cfg = write_config(
        tmp_path,
        f"desk: {{plugin: checkedtiny, base_url: '{fake.base_url}', api_token_env: TINY_TOKEN}}\n",
    )
    code, out = doctor(cfg, "--connector", "nope")
    assert code == 2 and "configured: desk" in out
